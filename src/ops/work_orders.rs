//! `grace work-orders [show | assign | comment | close | reopen]`.

use serde_json::{json, Value};

use super::incidents::encode;
use super::table::{ago, line, print_json, table, text};
use super::{RemoteArgs, WorkOrderCommand};

pub async fn work_orders(
    command: Option<WorkOrderCommand>,
    list: RemoteArgs,
) -> anyhow::Result<()> {
    let (id, action, body, remote) = match command {
        None => return listed(list).await,
        Some(WorkOrderCommand::Show { id, remote }) => return show(&id, remote).await,
        Some(WorkOrderCommand::Assign {
            id,
            assignee,
            remote,
        }) => (id, "assign", json!({ "assignee": assignee }), remote),
        Some(WorkOrderCommand::Comment { id, text, remote }) => {
            (id, "comment", json!({ "note": text }), remote)
        }
        Some(WorkOrderCommand::Close { id, note, remote }) => {
            (id, "close", json!({ "note": note }), remote)
        }
        Some(WorkOrderCommand::Reopen { id, note, remote }) => {
            (id, "reopen", json!({ "note": note }), remote)
        }
    };
    let remote = remote.connect()?;
    let order = remote
        .post(&format!("/work-orders/{}/{action}", encode(&id)), body)
        .await?;
    match remote.json {
        true => print_json(&order),
        false => println!(
            "{id}: {} (assignee {})",
            text(&order["status"]),
            text(&order["assignee"])
        ),
    }
    Ok(())
}

async fn listed(remote: RemoteArgs) -> anyhow::Result<()> {
    let remote = remote.connect()?;
    let page = remote.get("/work-orders?limit=50").await?;
    if remote.json {
        print_json(&page);
        return Ok(());
    }
    let orders = page["items"].as_array().cloned().unwrap_or_default();
    if orders.is_empty() {
        println!("no work orders");
        return Ok(());
    }
    let mut out = table(&[
        "id", "status", "incident", "assignee", "playbook", "reason", "created",
    ]);
    for order in orders {
        out.add_row(vec![
            text(&order["work_order_id"]),
            text(&order["status"]),
            format!("#{}", order["incident_id"]),
            text(&order["assignee"]),
            text(&order["playbook_id"]),
            text(&order["reason"]),
            ago(&order["created_at"]),
        ]);
    }
    println!("{out}");
    Ok(())
}

async fn show(id: &str, remote: RemoteArgs) -> anyhow::Result<()> {
    let remote = remote.connect()?;
    let order = remote.get(&format!("/work-orders/{}", encode(id))).await?;
    if remote.json {
        print_json(&order);
        return Ok(());
    }
    println!(
        "{} — {} on incident #{}",
        text(&order["work_order_id"]),
        text(&order["status"]),
        order["incident_id"]
    );
    for key in [
        "reason",
        "playbook_id",
        "failing_step",
        "assignee",
        "created_at",
        "closed_at",
        "resolution",
    ] {
        println!("  {key:<13} {}", text(&order[key]));
    }
    println!("  output        {}", line(&text(&order["output"]), 100));
    for comment in order["comments"].as_array().cloned().unwrap_or_default() {
        let comment: &Value = &comment;
        println!(
            "  💬 {} {}: {}",
            text(&comment["at"]),
            text(&comment["by"]),
            text(&comment["text"])
        );
    }
    Ok(())
}

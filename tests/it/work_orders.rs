//! Work orders with a life, and notes on incidents: a person assigns a work order, comments,
//! closes it with a resolution and reopens it; each step is on the incident's timeline, a step
//! the work order's state does not allow is a 409, and a missing field a 400 naming it. A note
//! on an incident is on its timeline as written, by the token's name.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{spawn_app, TestApp, FAILING_PLAYBOOK, TOKENS_HEAD};

const TIMEOUT: Duration = Duration::from_secs(20);

async fn change(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    app.call("POST", path, Some(token), Some(&body)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_work_order_is_assigned_commented_closed_and_reopened_on_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{TOKENS_HEAD}{FAILING_PLAYBOOK}");
    let app = spawn_app(dir.path(), &config);
    let ann = app.create_token("ann", "operate", &[]);
    let (status, _) = change(
        &app,
        &ann,
        "/events",
        json!({ "type": "payment.gateway_timeout", "source": "checkout" }),
    )
    .await;
    assert_eq!(status, 403, "ann operates, she does not ingest");
    let feeder = app.create_token("feeder", "ingest", &[]);
    let (status, _) = change(
        &app,
        &feeder,
        "/events",
        json!({ "type": "payment.gateway_timeout", "source": "checkout" }),
    )
    .await;
    assert_eq!(status, 202);
    let reader = app.create_token("reader", "read", &[]);
    let incident = crate::common::eventually("the escalation", TIMEOUT, || async {
        let response = reqwest::Client::new()
            .get(app.url("/monitoring/incidents"))
            .bearer_auth(&reader)
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        body["items"]
            .as_array()?
            .iter()
            .find(|i| i["status"] == "escalated")
            .cloned()
    })
    .await;
    let id = incident["work_order_id"].as_str().unwrap().to_owned();
    let path = |action: &str| format!("/work-orders/{id}/{action}");

    let (status, body) = change(&app, &ann, &path("assign"), json!({})).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (400, json!("assignee")),
        "{body}"
    );
    let (status, order) = change(
        &app,
        &ann,
        &path("assign"),
        json!({ "assignee": "bob", "note": "yours" }),
    )
    .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["assignee"], "bob");
    assert_eq!(order["comments"][0]["by"], "ann");
    let (status, _) = change(&app, &reader, &path("comment"), json!({ "note": "hi" })).await;
    assert_eq!(status, 403, "a read token cannot change it");
    let (status, order) = change(
        &app,
        &ann,
        &path("comment"),
        json!({ "note": "the gateway's certificate expired" }),
    )
    .await;
    assert_eq!(
        (status, order["comments"].as_array().unwrap().len()),
        (200, 2)
    );
    let (status, body) = change(&app, &ann, &path("close"), json!({})).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (400, json!("note")),
        "{body}"
    );
    let (status, order) = change(
        &app,
        &ann,
        &path("close"),
        json!({ "note": "renewed the certificate" }),
    )
    .await;
    assert_eq!(
        (status, order["status"].clone(), order["resolution"].clone()),
        (200, json!("closed"), json!("renewed the certificate"))
    );
    let (status, body) = change(&app, &ann, &path("close"), json!({ "note": "again" })).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = change(&app, &ann, &path("assign"), json!({ "assignee": "cy" })).await;
    assert_eq!(status, 409, "a closed one is reopened first: {body}");
    let (status, order) = change(&app, &ann, &path("reopen"), json!({})).await;
    assert_eq!(
        (status, order["status"].clone(), order["closed_at"].clone()),
        (200, json!("open"), Value::Null)
    );
    let (status, _) = change(&app, &ann, &format!("/work-orders/{id}/shred"), json!({})).await;
    assert_eq!(status, 404);
    let (status, _) = change(
        &app,
        &ann,
        "/work-orders/WO-none/close",
        json!({ "note": "x" }),
    )
    .await;
    assert_eq!(status, 404);

    let incident_id = incident["id"].as_u64().unwrap();
    let (status, note) = change(
        &app,
        &ann,
        &format!("/monitoring/incidents/{incident_id}/notes"),
        json!({ "text": "customers see timeouts" }),
    )
    .await;
    assert_eq!((status, note["by"].clone()), (201, json!("ann")), "{note}");
    let (status, body) = change(
        &app,
        &ann,
        &format!("/monitoring/incidents/{incident_id}/notes"),
        json!({ "text": "" }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = change(
        &app,
        &ann,
        "/monitoring/incidents/9999/notes",
        json!({ "text": "x" }),
    )
    .await;
    assert_eq!(status, 404);

    let (_, detail) = app
        .call(
            "GET",
            &format!("/monitoring/incidents/{incident_id}"),
            Some(&reader),
            None,
        )
        .await;
    let timeline = detail["timeline"].as_array().unwrap();
    let actions: Vec<&str> = timeline
        .iter()
        .filter(|e| e["type"] == "work_order.updated")
        .map(|e| e["data"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["assign", "comment", "close", "reopen"]);
    let noted = timeline
        .iter()
        .find(|e| e["type"] == "incident.note")
        .expect("the note on the timeline");
    assert_eq!(noted["data"]["note"]["text"], "customers see timeouts");
    let (_, stored) = app
        .call("GET", &format!("/work-orders/{id}"), Some(&reader), None)
        .await;
    assert_eq!(stored["assignee"], "bob");
    assert_eq!(stored["status"], "open");
}

//! Handing an incident to people: escalations posted to webhooks with retries and recorded,
//! and an incident past `escalate_after_ms` becoming a work order.

use std::time::Duration;

use super::TIMEOUT;
use crate::common::{eventually, spawn_app, CONFIG_HEAD};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_is_posted_to_webhooks_with_retries_and_recorded() {
    let (addr, seen) = crate::common::receiver(1).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{CONFIG_HEAD}
[[playbooks]]
id = "switch_gateway"
on = ["payment.*"]
sources = ["monitors", "pushed"]
steps = [{{ kind = "command", argv = ["false"] }}]

[[webhooks]]
id = "ops"
url = "http://{addr}/ops"
backoff_ms = [100, 100]

[[webhooks]]
id = "slack"
url = "http://{addr}/slack"
format = "slack"
backoff_ms = [100]
"#
    );
    let app = spawn_app(dir.path(), &config);
    let event = json!({ "type": "payment.gateway_timeout", "source": "checkout" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let escalated = app
        .incident_where("the failed run to escalate", TIMEOUT, |i| {
            i["status"] == "escalated"
        })
        .await;

    let deliveries = eventually("both deliveries", TIMEOUT, || async {
        let items = app.get_ok("/deliveries").await["items"].clone();
        let done = items
            .as_array()?
            .iter()
            .filter(|d| d["status"] == "delivered")
            .count();
        (done == 2).then_some(items)
    })
    .await;
    let by = |id: &str| {
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["webhook_id"] == id)
            .cloned()
            .unwrap()
    };
    // Each receiver path fails its first post: one retry each.
    assert_eq!(by("ops")["attempts"], 2);
    assert_eq!(by("slack")["attempts"], 2);
    assert_eq!(by("ops")["work_order_id"], escalated["work_order_id"]);

    let seen = seen.lock().unwrap().clone();
    let ops = seen.iter().find(|(path, _)| path == "/ops").unwrap();
    assert_eq!(
        ops.1["work_order"]["work_order_id"],
        escalated["work_order_id"]
    );
    assert_eq!(ops.1["incident"]["source"], "checkout");
    let slack = seen.iter().find(|(path, _)| path == "/slack").unwrap();
    let text = slack.1["text"].as_str().unwrap();
    assert!(text.contains("could not heal incident"), "{text}");
    assert!(text.contains("switch_gateway"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_past_escalate_after_ms_becomes_a_work_order_for_people() {
    let (addr, seen) = crate::common::receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{}
[[monitors]]
id = "nightly-backup"
kind = "heartbeat"
grace_ms = 300
interval_ms = 100
escalate_after_ms = 1500

[[webhooks]]
id = "slack"
url = "http://{addr}/slack"
format = "slack"
"#,
        CONFIG_HEAD
    );
    let app = spawn_app(dir.path(), &config);
    let escalated = app
        .incident_where("the overdue incident to escalate", TIMEOUT, |i| {
            i["status"] == "escalated"
        })
        .await;
    // Overdue checks run every second: a few more must not write another work order.
    crate::common::holds_for(
        "a single work order",
        Duration::from_millis(2500),
        || async {
            app.get_ok("/work-orders").await["items"]
                .as_array()
                .is_some_and(|orders| orders.len() == 1)
        },
    )
    .await;
    let orders = app.get_ok("/work-orders").await["items"].clone();
    let order = &orders[0];
    assert_eq!(order["reason"], "overdue");
    assert_eq!(order["work_order_id"], escalated["work_order_id"]);
    let text = eventually("the Slack message", TIMEOUT, || async {
        seen.lock()
            .unwrap()
            .first()
            .and_then(|(_, body)| body["text"].as_str().map(str::to_owned))
    })
    .await;
    assert!(text.contains("still active after"), "{text}");
    assert!(text.contains("nightly-backup"), "{text}");
}

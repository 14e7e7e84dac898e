//! What each kind of playbook step does: `http`, `set_trust` and `escalate` steps, retries and
//! `notify`, the incident fields a command may fill in, the shipped log-triage playbook, and the
//! order in which a trust step and its trust change are announced.

use std::time::Duration;

use super::TIMEOUT;
use crate::common::{eventually, spawn_app, Feed, CONFIG_HEAD};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_set_trust_and_escalate_steps_call_out_mark_and_hand_over() {
    let (addr, seen) = crate::common::receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{CONFIG_HEAD}
[[playbooks]]
id = "page_storage"
on = ["disk.full"]
sources = ["monitors", "pushed"]
steps = [
  {{ kind = "http", url = "http://{addr}/page", expect_status = [200] }},
  {{ kind = "set_trust", value = 0.2 }},
  {{ kind = "escalate", reason = "the disk needs a person" }},
]
"#
    );
    let app = spawn_app(dir.path(), &config);
    let event = json!({ "type": "disk.full", "source": "storage", "payload": { "secret": "x" } });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let escalated = app
        .incident_where("the hand-over", TIMEOUT, |i| i["status"] == "escalated")
        .await;
    let work_orders = app.get_ok("/work-orders").await;
    let order = &work_orders["items"][0];
    assert_eq!(order["work_order_id"], escalated["work_order_id"]);
    assert_eq!(order["failing_step"], "escalate");
    assert!(order["output"]
        .as_str()
        .unwrap()
        .contains("the disk needs a person"));

    let run = &app.get_ok("/monitoring/executions").await["items"][0];
    assert_eq!(run["steps"][0]["status"], "succeeded", "{run}");
    assert!(
        run["steps"][1]["output"]
            .as_str()
            .unwrap()
            .contains("set to 0.20"),
        "{run}"
    );
    let seen = seen.lock().unwrap().clone();
    let (path, body) = &seen[0];
    assert_eq!(path, "/page");
    assert_eq!(body["incident"]["source"], "storage");
    assert!(
        !body.to_string().contains("secret"),
        "only whitelisted incident fields leave: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_retry_notify_and_fill_in_only_whitelisted_fields() {
    let (addr, seen) = crate::common::receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("second-try");
    let config = format!(
        r#"{head}
[[playbooks]]
id = "page_payments"
on = ["payment.*"]
sources = ["monitors", "pushed"]
steps = [
  {{ kind = "command", argv = ["echo", "source={{incident.source}}", "id={{incident.id}}", "{{incident.severity}}"], allowed_values = ["checkout"] }},
  {{ kind = "command", argv = ["sh", "-c", "test -e {flag} || {{ touch {flag}; echo first try fails; exit 1; }}"], retries = 2, backoff_ms = [100] }},
  {{ kind = "notify", message = "Payments trouble: {{incident.title}} (#{{incident.id}})", webhooks = ["ops"] }},
]

[[webhooks]]
id = "ops"
url = "http://{addr}/ops"

[[webhooks]]
id = "other"
url = "http://{addr}/other"
"#,
        head = CONFIG_HEAD,
        flag = flag.display(),
    );
    let app = spawn_app(dir.path(), &config);
    let event = json!({
        "type": "payment.gateway_timeout",
        "source": "checkout",
        "severity": "high",
        "title": "Gateway timeouts; rm -rf / $(reboot)",
    });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let resolved = app
        .incident_where("the playbook to finish", TIMEOUT, |i| {
            i["status"] == "resolved"
        })
        .await;
    assert_eq!(resolved["resolved_by"], "playbook");
    let executions = app.get_ok("/monitoring/executions").await["items"].clone();
    let steps = executions[0]["steps"].as_array().unwrap().clone();

    let echoed = steps[0]["output"].as_str().unwrap();
    assert!(
        echoed.contains(&format!("source=checkout id={} high", resolved["id"])),
        "{echoed}"
    );
    // The retry: one failure, one success, both in the record.
    assert_eq!(steps[1]["status"], "succeeded");
    assert_eq!(steps[1]["attempts"], 2, "{:?}", steps[1]);
    let retried = steps[1]["output"].as_str().unwrap();
    assert!(retried.contains("first try fails"), "{retried}");
    assert!(retried.contains("retry 1 after 100 ms"), "{retried}");

    // The message goes to the webhook it names, and only there.
    let body = eventually("the notification", TIMEOUT, || async {
        seen.lock()
            .unwrap()
            .iter()
            .find(|(path, _)| path == "/ops")
            .map(|(_, body)| body.clone())
    })
    .await;
    assert_eq!(body["kind"], "notification");
    // Text for people may carry the title as sent; it never reaches a command.
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Payments trouble: Gateway timeouts; rm -rf / $(reboot)")
            && message.ends_with(&format!("(#{})", resolved["id"])),
        "{message}"
    );
    let delivery = eventually("the delivery record", TIMEOUT, || async {
        let items = app.get_ok("/deliveries").await["items"].clone();
        items
            .as_array()?
            .iter()
            .find(|d| d["status"] == "delivered")
            .cloned()
    })
    .await;
    assert_eq!(delivery["webhook_id"], "ops");
    assert!(delivery["notification_id"]
        .as_str()
        .unwrap()
        .starts_with("NT-"));
    crate::common::holds_for("nothing sent to /other", Duration::from_secs(1), || async {
        seen.lock()
            .unwrap()
            .iter()
            .all(|(path, _)| path != "/other")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_refuses_an_incident_field_that_is_not_a_plain_identifier() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{}
[[playbooks]]
id = "clean"
on = ["disk.*"]
sources = ["monitors", "pushed"]
steps = [{{ kind = "command", argv = ["echo", "{{incident.source}}"], allowed_values = ["db host (primary)"] }}]
"#,
        CONFIG_HEAD
    );
    let app = spawn_app(dir.path(), &config);
    // A source people can send but that is not safe as an argument.
    let event = json!({ "type": "disk.full", "source": "db host (primary)" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let escalated = app
        .incident_where("the refused run to escalate", TIMEOUT, |i| {
            i["status"] == "escalated"
        })
        .await;
    let orders = app.get_ok("/work-orders").await["items"].clone();
    let order = &orders[0];
    assert_eq!(order["incident_id"], escalated["id"]);
    let output = order["output"].as_str().unwrap();
    assert!(output.contains("not a plain identifier"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_log_triage_keeps_evidence_tells_people_and_leaves_the_incident_open() {
    let (addr, seen) = crate::common::receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("playbooks")).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/playbooks/log_error_triage.toml"
        ),
        dir.path().join("playbooks/log_error_triage.toml"),
    )
    .unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let config = format!(
        r#"{}
[[monitors]]
id = "app-log"
kind = "log"
path = "{}"
interval_ms = 100
rules = [{{ regex = "ERROR", event = "log.error_detected", severity = "high", title = "Errors in the app log" }}]

[[webhooks]]
id = "ops"
url = "http://{addr}/ops"
"#,
        CONFIG_HEAD,
        log.display()
    );
    let app = spawn_app(dir.path(), &config);
    app.monitor_state("app-log", "up", TIMEOUT).await;
    std::fs::write(&log, "starting\nERROR payment 42 declined: card expired\n").unwrap();

    let execution = eventually("the triage run to finish", TIMEOUT, || async {
        let items = app.get_ok("/monitoring/executions").await["items"].clone();
        items
            .as_array()?
            .iter()
            .find(|e| e["playbook_id"] == "log_error_triage" && e["status"] == "succeeded")
            .cloned()
    })
    .await;
    let evidence = execution["steps"][0]["output"].as_str().unwrap();
    assert!(evidence.contains("ERROR payment 42 declined"), "{evidence}");
    // The run is recorded before the incident hears of its end: wait for that.
    let incident = eventually("the triaged incident to settle", TIMEOUT, || async {
        let incident = app
            .get_ok(&format!(
                "/monitoring/incidents/{}",
                execution["incident_id"]
            ))
            .await;
        (incident["status"] != "mitigating").then_some(incident)
    })
    .await;
    assert_eq!(incident["status"], "open", "triage leaves it for people");
    assert!(incident["resolved_by"].is_null());
    let trust = app.get_ok("/monitors/app-log").await;
    assert_eq!(trust["trust"], 0.5, "{trust}");
    let body = eventually("the notification", TIMEOUT, || async {
        seen.lock().unwrap().first().map(|(_, body)| body.clone())
    })
    .await;
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("app-log"), "{message}");
}

/// A trust step's end is announced before the trust change it made, from one commit: in the
/// log, each `set_trust` / `restore_trust` step is `running`, then `succeeded`, then the
/// component's `trust.changed` right after it — never the change before the step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_step_is_announced_before_the_trust_change_it_made() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{CONFIG_HEAD}
[[playbooks]]
id = "mark_and_restore"
on = ["disk.full"]
sources = ["pushed"]
steps = [{{ kind = "set_trust", value = 0.2 }}, {{ kind = "restore_trust" }}]
"#
    );
    let app = spawn_app(dir.path(), &config);
    let event = json!({ "type": "disk.full", "source": "storage" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let feed = Feed::connect(&app, "?since=0").await;
    feed.wait_for("playbook.finished", TIMEOUT).await;
    let events = feed.snapshot();
    let seq_of = |what: &str, found: &dyn Fn(&serde_json::Value) -> bool| {
        let found: Vec<u64> = events
            .iter()
            .filter(|e| found(e))
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(found.len(), 1, "one {what} in {events:#?}");
        found[0]
    };
    let changes: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "trust.changed" && e["data"]["subject"] == "component:storage")
        .collect();
    // The incident's drop, then one change per trust step.
    assert_eq!(changes.len(), 3, "{changes:#?}");
    for (index, to) in [(0, 0.2), (1, 0.45)] {
        let step = |status: &'static str| {
            move |e: &serde_json::Value| {
                e["type"] == "playbook.step"
                    && e["data"]["index"] == index
                    && e["data"]["step"]["status"] == status
            }
        };
        let running = seq_of("running step", &step("running"));
        let succeeded = seq_of("succeeded step", &step("succeeded"));
        let change = changes[index + 1];
        let changed = change["seq"].as_u64().unwrap();
        assert!(running < succeeded, "step {index}: {events:#?}");
        assert_eq!(changed, succeeded + 1, "step {index}: {events:#?}");
        let moved_to = change["data"]["to"].as_f64().unwrap();
        assert!((moved_to - to).abs() < 1e-9, "{change}");
    }
}

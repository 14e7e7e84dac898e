//! Hand-overs that go wrong: a run's end the incident manager takes while the engine waits and
//! commits only after the engine's ask timed out, and a person's run whose commit failed.

use std::time::Duration;

use super::TIMEOUT;
use crate::common::{eventually, spawn_app_env};
use serde_json::json;

/// Longer than the engine's ask may wait (`RPC_TIMEOUT_MS`, 10 s) for the incident manager.
const HELD_MS: u64 = 12_000;

/// The incident manager takes a failed run's end (work order, delivery) while the engine still
/// waits, and holds it past the engine's ask: the engine asks again (the manager slow, not a
/// reason to fail), the first commit lands, and the second finds the run ended and writes
/// nothing. So the run ends once: one `playbook.finished`, one run counted, one work order,
/// delivered once — the delivery the manager committed is sent, though the engine never knew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_over_that_lands_after_its_ask_timed_out_ends_the_run_once() {
    let (addr, seen) = crate::common::receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[server]
bind = "127.0.0.1:0"
[store]
path = "db"

[[playbooks]]
id = "switch_gateway"
on = ["payment.*"]
sources = ["pushed"]
steps = [{{ kind = "command", argv = ["false"] }}]

[[webhooks]]
id = "ops"
url = "http://{addr}/ops"
"#
    );
    let hold = format!("incidents.handed_over=1*return({HELD_MS})");
    let app = spawn_app_env(dir.path(), &config, &[("FAILPOINTS", &hold)]);
    let event = json!({ "type": "payment.gateway_timeout", "source": "checkout" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let late = TIMEOUT + Duration::from_millis(HELD_MS);
    let incident = app
        .incident_where("the failed run to escalate", late, |i| {
            i["status"] == "escalated"
        })
        .await;
    // The engine's second hand-over, once the first has landed, is let go.
    eventually("the second hand-over found the run ended", late, || async {
        app.log()
            .contains("a hand-over landed after the run had ended")
            .then_some(())
    })
    .await;
    eventually("the work order delivered", TIMEOUT, || async {
        let items = app.get_ok("/deliveries").await["items"].clone();
        (items.as_array()?.first()?["status"] == "delivered").then_some(())
    })
    .await;
    let detail = app
        .get_ok(&format!("/monitoring/incidents/{}", incident["id"]))
        .await;
    let finished = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "playbook.finished")
        .count();
    assert_eq!(finished, 1, "{detail}");
    let playbook = app.get_ok("/playbooks/switch_gateway").await;
    assert_eq!(playbook["runs"], 1, "{playbook}");
    let orders = app.get_ok("/work-orders").await["items"].clone();
    assert_eq!(orders.as_array().unwrap().len(), 1, "{orders}");
    let deliveries = app.get_ok("/deliveries").await["items"].clone();
    assert_eq!(deliveries.as_array().unwrap().len(), 1, "{deliveries}");
    assert_eq!(seen.lock().unwrap().len(), 1, "posted once");
}

/// A person's run whose start could not be committed is answered with the error, and leaves
/// nothing behind: the engine restarts from the store, so the next try runs (no run held in
/// memory only, keeping the incident `Busy` and a sub-agent slot taken for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_run_whose_commit_failed_leaves_no_run_behind() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"[server]
bind = "127.0.0.1:0"
[store]
path = "memory"
[limits]
agents_max = 1

[[playbooks]]
id = "switch_gateway"
on = ["payment.*"]
sources = ["pushed"]
auto_run_min_trust = 0.99    # never by itself: people run it
steps = [{ kind = "command", argv = ["true"] }]
"#;
    let refuse = [("FAILPOINTS", "playbooks.start.refused=1*return")];
    let app = spawn_app_env(dir.path(), config, &refuse);
    let event = json!({ "type": "payment.gateway_timeout", "source": "checkout" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let incident = app
        .incident_where("the pushed incident", TIMEOUT, |i| i["status"] == "open")
        .await;
    let run = json!({ "incident_id": incident["id"] });
    let (status, body) = app.post_json("/playbooks/switch_gateway/run", &run).await;
    assert_eq!(status, 500, "the refused commit: {body}");
    eventually("a second try runs", TIMEOUT, || async {
        let (status, body) = app.post_json("/playbooks/switch_gateway/run", &run).await;
        assert_ne!(status, 409, "a phantom run holds the incident: {body}");
        (status == 202).then_some(())
    })
    .await;
    app.incident_where("the run to heal it", TIMEOUT, |i| {
        i["id"] == incident["id"] && i["status"] == "resolved"
    })
    .await;
}

//! What holds a playbook run back: a cooldown after a run, a circuit breaker after failures
//! (which escalates), and a trust bar below which a person must approve the run.

use super::TIMEOUT;
use crate::common::{eventually, spawn_app};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_holds_a_rerun_and_a_circuit_breaker_escalates() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
[server]
bind = "127.0.0.1:0"
[store]
path = "memory"
# Each event a new incident, not a relapse of the last: the limits here are per component.
[incidents]
reopen_window_ms = 0

[[playbooks]]
id = "flush_queue"
on = ["queue.backlog"]
sources = ["monitors", "pushed"]
steps = [{ kind = "command", argv = ["true"] }]
breaker_runs_max = 2
breaker_window_ms = 600000

[[playbooks]]
id = "rotate_keys"
on = ["auth.failures"]
sources = ["monitors", "pushed"]
steps = [{ kind = "command", argv = ["true"] }]
cooldown_ms = 600000
"#;
    let app = spawn_app(dir.path(), config);
    let push = |event_type: &'static str| {
        let app = &app;
        async move {
            let event = json!({ "type": event_type, "source": "orders" });
            assert_eq!(app.post_json("/events", &event).await.0, 202);
        }
    };
    // Each healed incident ends, so the next event opens a new one (no relapses here).
    let healed = |count: usize, event_type: &'static str| {
        let app = &app;
        async move {
            eventually(
                &format!("{count} healed {event_type} incidents"),
                TIMEOUT,
                || async {
                    let healed = app
                        .incidents("status=resolved")
                        .await
                        .into_iter()
                        .filter(|i| i["event_type"] == event_type)
                        .count();
                    (healed == count).then_some(())
                },
            )
            .await
        }
    };

    // Circuit breaker: two runs on "orders" are fine, the third is not.
    push("queue.backlog").await;
    healed(1, "queue.backlog").await;
    push("queue.backlog").await;
    healed(2, "queue.backlog").await;
    push("queue.backlog").await;
    let escalated = app
        .incident_where("the breaker to escalate", TIMEOUT, |i| {
            i["event_type"] == "queue.backlog" && i["status"] == "escalated"
        })
        .await;
    let work_orders = app.get_ok("/work-orders").await;
    let order = &work_orders["items"][0];
    assert_eq!(order["work_order_id"], escalated["work_order_id"]);
    assert!(order["run_id"].is_null(), "{order}");
    assert!(
        order["output"]
            .as_str()
            .unwrap()
            .contains("circuit breaker open"),
        "{order}"
    );
    let playbook = app.get_ok("/playbooks/flush_queue").await;
    assert_eq!(playbook["runs"], 2, "no third run");

    // Cooldown: the second incident within the cooldown waits for people.
    push("auth.failures").await;
    healed(1, "auth.failures").await;
    push("auth.failures").await;
    let held = app
        .incident_where("the second auth incident", TIMEOUT, |i| {
            i["event_type"] == "auth.failures" && i["status"] == "open"
        })
        .await;
    let detail = app
        .get_ok(&format!("/monitoring/incidents/{}", held["id"]))
        .await;
    let hold = eventually("the hold on the timeline", TIMEOUT, || async {
        let detail = app
            .get_ok(&format!("/monitoring/incidents/{}", held["id"]))
            .await;
        detail["timeline"]
            .as_array()?
            .iter()
            .find(|e| e["type"] == "playbook.held")
            .cloned()
    })
    .await;
    assert_eq!(hold["data"]["reason"], "cooldown", "{detail}");
    assert_eq!(app.get_ok("/playbooks/rotate_keys").await["runs"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playbook_below_its_trust_bar_waits_for_a_person_to_approve_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
[server]
bind = "127.0.0.1:0"
[store]
path = "memory"

[[playbooks]]
id = "purge_cache"
name = "Purge the cache"
on = ["cache.stale"]
sources = ["monitors", "pushed"]
steps = [{ kind = "command", argv = ["true"] }]
auto_run_min_trust = 0.9
"#;
    let app = spawn_app(dir.path(), config);
    let stale = json!({ "type": "cache.stale", "source": "catalog" });
    assert_eq!(app.post_json("/events", &stale).await.0, 202);
    let incident = app
        .incident_where("a suggestion instead of a run", TIMEOUT, |i| {
            i["suggestions"].as_array().is_some_and(|s| !s.is_empty())
        })
        .await;
    let id = incident["id"].as_u64().unwrap();
    let suggestion = &incident["suggestions"][0];
    assert_eq!(suggestion["playbook_id"], "purge_cache");
    assert_eq!(suggestion["status"], "pending");
    assert_eq!(suggestion["trust"], 0.5);
    assert_eq!(incident["status"], "open");
    let executions = app.get_ok("/monitoring/executions").await;
    assert!(
        executions["items"].as_array().unwrap().is_empty(),
        "it did not run by itself"
    );

    let sid = suggestion["suggestion_id"].as_str().unwrap();
    let path = |action: &str| format!("/monitoring/incidents/{id}/suggestions/{sid}/{action}");
    let (status, body) = app.post(&path("approve")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suggestion"]["status"], "approved");
    assert!(body["run_id"].is_string());
    let healed = app
        .incident_where("the approved run to heal it", TIMEOUT, |i| {
            i["id"] == id && i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook");
    assert_eq!(app.post(&path("approve")).await.0, 409, "decided once");

    // Still below the bar after one success (trust 2/3): when the problem comes back soon
    // (a relapse, the same incident reopened) it asks again, with a suggestion of its own.
    assert_eq!(app.post_json("/events", &stale).await.0, 202);
    let again = app
        .incident_where("the second suggestion", TIMEOUT, |i| {
            i["id"] == id
                && i["status"] == "open"
                && i["suggestions"].as_array().is_some_and(|s| s.len() == 2)
        })
        .await;
    assert_eq!(again["relapses"], 1);
    assert_eq!(
        again["suggestions"][0]["status"], "approved",
        "history stays"
    );
    assert_eq!(again["suggestions"][1]["suggestion_id"], "s2");
    let dismiss = format!("/monitoring/incidents/{id}/suggestions/s2/dismiss");
    let (status, body) = app.post(&dismiss).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suggestion"]["status"], "dismissed");
    assert!(body["run_id"].is_null());
    let still = app.get_ok(&format!("/monitoring/incidents/{id}")).await;
    assert_eq!(still["status"], "open");
    assert_eq!(still["suggestions"][1]["status"], "dismissed");
    let unknown = format!("/monitoring/incidents/{id}/suggestions/s9/approve");
    assert_eq!(app.post(&unknown).await.0, 404);
    let odd = format!("/monitoring/incidents/{id}/suggestions/s2/maybe");
    assert_eq!(app.post(&odd).await.0, 404);
}

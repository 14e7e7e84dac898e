//! Runs and deliveries that outlive Grace: a cooldown rebuilt after a restart, a pending
//! webhook delivery that survives `kill -9`, a crash on either side of a commit counted once, and a
//! run killed with Grace resumed or marked interrupted.

use super::TIMEOUT;
use crate::common::{eventually, spawn_app, TestApp};
use serde_json::json;

/// Cooldowns and circuit breakers are rebuilt from the recorded runs: a restart (even a
/// `kill -9`) does not let a playbook that just ran run again at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_holds_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
[server]
bind = "127.0.0.1:0"
[store]
path = "db"

[[playbooks]]
id = "rotate_keys"
on = ["auth.failures"]
sources = ["monitors", "pushed"]
steps = [{ kind = "command", argv = ["true"] }]
cooldown_ms = 600000
"#;
    let event = json!({ "type": "auth.failures", "source": "orders" });
    let app = spawn_app(dir.path(), config);
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    app.incident_where("the first incident healed", TIMEOUT, |i| {
        i["status"] == "resolved"
    })
    .await;
    app.kill_9();

    let app = spawn_app(dir.path(), config);
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let held = app
        .incident_where("the second incident", TIMEOUT, |i| i["status"] == "open")
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
    assert_eq!(hold["data"]["reason"], "cooldown", "{hold}");
    assert_eq!(app.get_ok("/playbooks/rotate_keys").await["runs"], 1);
}

/// Grace with its store on disk, a playbook that always fails on `payment.*`, and one webhook
/// `ops` whose keys (`url`, …) are `webhook`.
fn failing_playbook_on_disk(webhook: &str) -> String {
    format!(
        r#"[server]
bind = "127.0.0.1:0"
[store]
path = "db"

[[playbooks]]
id = "switch_gateway"
on = ["payment.*"]
sources = ["monitors", "pushed"]
steps = [{{ kind = "command", argv = ["false"] }}]

[[webhooks]]
id = "ops"
{webhook}
"#
    )
}

/// A work order whose webhook is down stays a pending delivery in the store: a `kill -9`
/// does not lose it, and the Grace that starts next sends it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_delivery_survives_kill_9_and_is_sent_after_restart() {
    let port = crate::common::free_port(); // nothing listens there yet
    let dir = tempfile::tempdir().unwrap();
    let webhook = format!("url = \"http://127.0.0.1:{port}/ops\"\nbackoff_ms = [600000]");
    let config = failing_playbook_on_disk(&webhook);
    let app = spawn_app(dir.path(), &config);
    let event = json!({ "type": "payment.gateway_timeout", "source": "checkout" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let escalated = app
        .incident_where("the failed run to escalate", TIMEOUT, |i| {
            i["status"] == "escalated"
        })
        .await;
    let pending = eventually("the pending delivery", TIMEOUT, || async {
        let items = app.get_ok("/deliveries").await["items"].clone();
        items.as_array()?.first().cloned()
    })
    .await;
    assert_eq!(pending["status"], "pending", "{pending}");
    assert_eq!(pending["work_order_id"], escalated["work_order_id"]);
    app.kill_9(); // its first try was refused; the next is ten minutes away

    let (_, seen) = crate::common::receiver_on(port, 0).await;
    let app = spawn_app(dir.path(), &config);
    let delivered = eventually("the delivery sent after the restart", TIMEOUT, || async {
        let items = app.get_ok("/deliveries").await["items"].clone();
        let items = items.as_array()?.clone();
        (items.first()?["status"] == "delivered").then_some(items)
    })
    .await;
    assert_eq!(delivered.len(), 1, "one delivery record: {delivered:?}");
    assert_eq!(delivered[0]["delivery_id"], pending["delivery_id"]);
    let posted = seen.lock().unwrap().clone();
    assert_eq!(posted.len(), 1, "posted once: {posted:?}");
    assert_eq!(
        posted[0].1["work_order"]["work_order_id"],
        escalated["work_order_id"]
    );
    let orders = app.get_ok("/work-orders").await["items"].clone();
    assert_eq!(
        orders.as_array().unwrap().len(),
        1,
        "one work order: {orders}"
    );
}

/// A crash just after a page of incidents is committed, or just before or after a run's start
/// or end is committed (the end on the engine's side of its hand-over or the incident
/// manager's), ends after a restart in the state no crash leaves: the incident
/// escalated, its run counted once in the playbook's trust, one work order, delivered once —
/// no run half-written (a run without its sub-agent, or announced but not recorded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_on_either_side_of_a_transitions_commit_counts_it_once() {
    let points = [
        "incidents.page.after_commit",
        "playbooks.start.before_commit",
        "playbooks.start.after_commit",
        "playbooks.finish.before_commit",
        "playbooks.finish.after_commit",
        "incidents.run_finished.before_commit",
        "incidents.run_finished.after_commit",
    ];
    for point in points {
        let (addr, seen) = crate::common::receiver(0).await;
        let dir = tempfile::tempdir().unwrap();
        let config = failing_playbook_on_disk(&format!("url = \"http://{addr}/ops\""));
        let crashing = crate::common::spawn_app_env(
            dir.path(),
            &config,
            &[("FAILPOINTS", &format!("{point}=return"))],
        );
        let event = json!({ "type": "payment.gateway_timeout", "source": "checkout" });
        assert_eq!(crashing.post_json("/events", &event).await.0, 202);
        crashing.wait_for_exit(point, TIMEOUT);

        let app = spawn_app(dir.path(), &config);
        let incident = app
            .incident_where("the incident escalated after the restart", TIMEOUT, |i| {
                i["status"] == "escalated"
            })
            .await;
        assert_eq!(incident["occurrences"], 1, "{point}: {incident}");
        eventually("the work order delivered", TIMEOUT, || async {
            let items = app.get_ok("/deliveries").await["items"].clone();
            (items.as_array()?.first()?["status"] == "delivered").then_some(())
        })
        .await;
        let playbook = app.get_ok("/playbooks/switch_gateway").await;
        assert_eq!(playbook["runs"], 1, "{point}: {playbook}");
        assert_eq!(playbook["successes"], 0, "{point}: {playbook}");
        // "checkout" comes only from pushed events: its runs count, but move no trust.
        assert_eq!(playbook["trust"], 0.5, "{point}: {playbook}");
        let orders = app.get_ok("/work-orders").await["items"].clone();
        assert_eq!(orders.as_array().unwrap().len(), 1, "{point}: {orders}");
        let deliveries = app.get_ok("/deliveries").await["items"].clone();
        assert_eq!(
            deliveries.as_array().unwrap().len(),
            1,
            "{point}: {deliveries}"
        );
        assert_eq!(seen.lock().unwrap().len(), 1, "{point}: posted once");
    }
}

/// Grace with its store on disk, a playbook on `payment.*` whose breaker opens after one run,
/// and one webhook `ops` at `addr`.
fn breaker_on_disk(addr: std::net::SocketAddr) -> String {
    format!(
        r#"[server]
bind = "127.0.0.1:0"
[store]
path = "db"

[[playbooks]]
id = "switch_gateway"
on = ["payment.*"]
sources = ["monitors", "pushed"]
steps = [{{ kind = "command", argv = ["true"] }}]
breaker_runs_max = 1
breaker_window_ms = 600000

[[webhooks]]
id = "ops"
url = "http://{addr}/ops"
"#
    )
}

/// A crash on either side of an escalation's commit (a circuit breaker's work order, its
/// delivery and `incident.escalated`, committed by the incident manager in one transaction)
/// ends after a restart with the incident escalated to exactly one work order, delivered once:
/// never a work order without its escalation, nor an escalation without its work order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_on_either_side_of_an_escalations_commit_escalates_it_once() {
    let points = [
        "playbooks.escalate.before_commit",
        "playbooks.escalate.after_commit",
        "incidents.escalate.before_commit",
        "incidents.escalate.after_commit",
    ];
    for point in points {
        let (addr, seen) = crate::common::receiver(0).await;
        let dir = tempfile::tempdir().unwrap();
        let config = breaker_on_disk(addr);
        let crashing = crate::common::spawn_app_env(
            dir.path(),
            &config,
            &[("FAILPOINTS", &format!("{point}=return"))],
        );
        let first = json!({ "type": "payment.gateway_timeout", "source": "checkout" });
        assert_eq!(crashing.post_json("/events", &first).await.0, 202);
        crashing
            .incident_where("the first run to heal", TIMEOUT, |i| {
                i["status"] == "resolved"
            })
            .await;
        let second = json!({ "type": "payment.declined", "source": "checkout" });
        assert_eq!(crashing.post_json("/events", &second).await.0, 202);
        crashing.wait_for_exit(point, TIMEOUT);

        let app = spawn_app(dir.path(), &config);
        let incident = app
            .incident_where(
                "the held incident escalated after the restart",
                TIMEOUT,
                |i| i["status"] == "escalated",
            )
            .await;
        assert_eq!(
            incident["event_type"], "payment.declined",
            "{point}: {incident}"
        );
        eventually("the work order delivered", TIMEOUT, || async {
            let items = app.get_ok("/deliveries").await["items"].clone();
            (items.as_array()?.first()?["status"] == "delivered").then_some(())
        })
        .await;
        let orders = app.get_ok("/work-orders").await["items"].clone();
        let orders = orders.as_array().unwrap().clone();
        assert_eq!(orders.len(), 1, "{point}: {orders:?}");
        assert_eq!(orders[0]["reason"], "circuit_breaker", "{point}");
        assert_eq!(
            orders[0]["work_order_id"], incident["work_order_id"],
            "{point}"
        );
        let deliveries = app.get_ok("/deliveries").await["items"].clone();
        assert_eq!(
            deliveries.as_array().unwrap().len(),
            1,
            "{point}: {deliveries}"
        );
        assert_eq!(seen.lock().unwrap().len(), 1, "{point}: posted once");
        let playbook = app.get_ok("/playbooks/switch_gateway").await;
        assert_eq!(playbook["runs"], 1, "{point}: the held incident never ran");
    }
}

/// Grace with its store on disk and a playbook on `batch.stuck` that waits `wait_ms`
/// (idempotent: resumed after a restart), then touches `marker`.
fn drain_batch(marker: &std::path::Path, wait_ms: u64) -> String {
    format!(
        r#"
[server]
bind = "127.0.0.1:0"
[store]
path = "store"

[[playbooks]]
id = "drain_batch"
on = ["batch.stuck"]
sources = ["monitors", "pushed"]
steps = [
  {{ kind = "wait", ms = {wait_ms} }},
  {{ kind = "command", argv = ["touch", "{}"] }},
]
"#,
        marker.display()
    )
}

/// The playbook's run as `GET /monitoring/executions` shows it, once step `index` is running.
async fn run_in_step(app: &TestApp, index: usize) -> serde_json::Value {
    eventually(&format!("a run in step {index}"), TIMEOUT, || async {
        let executions = app.get_ok("/monitoring/executions").await;
        let run = executions["items"][0].clone();
        (run["steps"][index]["status"] == "running").then_some(run)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_with_grace_resumes_or_is_marked_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("flushed");
    let reindex = r#"
[[playbooks]]
id = "reindex"
on = ["search.stale"]
sources = ["monitors", "pushed"]
steps = [{ kind = "command", argv = ["sleep", "30"] }]
"#;
    let config = drain_batch(&marker, 3000) + reindex;

    // An idempotent step (wait) in progress: after kill -9 and a start, the run goes on.
    let app = spawn_app(dir.path(), &config);
    let event = json!({ "type": "batch.stuck", "source": "billing" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let run = run_in_step(&app, 0).await;
    app.kill_9();
    let app = spawn_app(dir.path(), &config);
    let healed = app
        .incident_where("the resumed run to heal it", TIMEOUT, |i| {
            i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook");
    assert!(marker.exists(), "the step after the wait ran");
    let again = app
        .get_ok(&format!(
            "/monitoring/executions/{}",
            run["run_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        again["status"], "succeeded",
        "the same run finished: {again}"
    );
    let detail = app
        .get_ok(&format!("/monitoring/incidents/{}", healed["id"]))
        .await;
    let resumed = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "playbook.resumed")
        .cloned()
        .unwrap_or_else(|| panic!("no playbook.resumed: {detail}"));
    assert_eq!(resumed["data"]["from_step"], 0);

    // A command in progress is not safe to run twice: the run is interrupted and escalates.
    let event = json!({ "type": "search.stale", "source": "search" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let run = run_in_step(&app, 0).await;
    assert_eq!(run["playbook_id"], "reindex");
    app.kill_9();
    let app = spawn_app(dir.path(), &config);
    let escalated = app
        .incident_where("the interrupted run to escalate", TIMEOUT, |i| {
            i["source"] == "search" && i["status"] == "escalated"
        })
        .await;
    let interrupted = app
        .get_ok(&format!(
            "/monitoring/executions/{}",
            run["run_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(interrupted["status"], "interrupted", "{interrupted}");
    assert_eq!(interrupted["work_order_id"], escalated["work_order_id"]);
}

/// A crash on either side of a resume's commit (the run's record back at its step and
/// `playbook.resumed`, in one transaction) ends, after one more start, with the same run
/// finished, and each resume that was committed said once: one before the commit (the
/// crashed start resumed nothing), two after it (it resumed, then the next start did again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_on_either_side_of_a_resumes_commit_announces_each_resume_once() {
    for (point, resumes) in [
        ("playbooks.resume.before_commit", 1),
        ("playbooks.resume.after_commit", 2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("flushed");
        let config = drain_batch(&marker, 2000);
        let app = spawn_app(dir.path(), &config);
        let event = json!({ "type": "batch.stuck", "source": "billing" });
        assert_eq!(app.post_json("/events", &event).await.0, 202);
        let run = run_in_step(&app, 0).await;
        app.kill_9();
        let failpoint = format!("{point}=return");
        let crashing =
            crate::common::spawn_app_env(dir.path(), &config, &[("FAILPOINTS", &failpoint)]);
        crashing.wait_for_exit(point, TIMEOUT);

        let app = spawn_app(dir.path(), &config);
        let healed = app
            .incident_where("the resumed run to heal it", TIMEOUT, |i| {
                i["status"] == "resolved"
            })
            .await;
        assert!(marker.exists(), "{point}: the step after the wait ran");
        let run_id = run["run_id"].as_str().unwrap();
        let again = app
            .get_ok(&format!("/monitoring/executions/{run_id}"))
            .await;
        assert_eq!(again["status"], "succeeded", "{point}: {again}");
        let detail = app
            .get_ok(&format!("/monitoring/incidents/{}", healed["id"]))
            .await;
        let timeline = detail["timeline"].as_array().unwrap();
        let resumed = timeline.iter().filter(|e| e["type"] == "playbook.resumed");
        assert_eq!(resumed.count(), resumes, "{point}: {detail}");
        let playbook = app.get_ok("/playbooks/drain_batch").await;
        assert_eq!(playbook["runs"], 1, "{point}: {playbook}");
    }
}

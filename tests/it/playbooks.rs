//! Playbooks as code: files in `playbooks/` beside the config, the playbook API, and running a
//! playbook by hand on an active incident.

use std::time::Duration;

use crate::common::{eventually, spawn_app, Feed, TestApp, CONFIG_HEAD};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(20);

/// Grace with one playbook in `playbooks/switch.toml` that nothing triggers by itself.
fn app_with_manual_playbook(dir: &std::path::Path) -> TestApp {
    let marker = dir.join("switched");
    std::fs::create_dir_all(dir.join("playbooks")).unwrap();
    std::fs::write(
        dir.join("playbooks/switch.toml"),
        format!(
            r#"
[[playbooks]]
id = "switch_gateway"
name = "Switch payment gateway"
on = ["payment.*"]
sources = ["pushed"]
auto_run_min_trust = 0.99    # never by itself: people run it
steps = [{{ kind = "command", argv = ["touch", "{}"] }}]
"#,
            marker.display()
        ),
    )
    .unwrap();
    spawn_app(
        dir,
        "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_runs_a_playbook_from_a_file_on_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_manual_playbook(dir.path());

    let list = app.get_ok("/playbooks").await;
    assert_eq!(list["items"][0]["id"], "switch_gateway", "{list}");
    assert_eq!(list["items"][0]["steps"], json!(["command"]));
    assert_eq!(list["items"][0]["trust"], 0.5);

    let event = json!({ "type": "payment.gateway_timeout", "source": "checkout" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let incident = app
        .incident_where("the pushed incident", TIMEOUT, |i| i["status"] == "open")
        .await;
    let id = incident["id"].as_u64().unwrap();

    let (status, body) = app
        .post_json(
            "/playbooks/switch_gateway/run",
            &json!({ "incident_id": id }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let run_id = body["run_id"].as_str().unwrap().to_owned();
    let healed = app
        .incident_where("the manual run to heal it", TIMEOUT, |i| {
            i["id"] == id && i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook");
    assert!(dir.path().join("switched").exists());

    let playbook = app.get_ok("/playbooks/switch_gateway").await;
    assert_eq!(playbook["recent_runs"][0]["run_id"], run_id);
    assert_eq!(playbook["recent_runs"][0]["status"], "succeeded");
    assert_eq!(playbook["runs"], 1);
    assert!(playbook["trust"].as_f64().unwrap() > 0.5, "{playbook}");

    // What cannot be run says why.
    let run = |playbook: &'static str, body: serde_json::Value| {
        let app = &app;
        async move {
            app.post_json(&format!("/playbooks/{playbook}/run"), &body)
                .await
        }
    };
    let (status, body) = run("switch_gateway", json!({ "incident_id": id })).await;
    assert_eq!(status, 409, "a resolved incident: {body}");
    assert_eq!(run("nope", json!({ "incident_id": id })).await.0, 404);
    assert_eq!(
        run("switch_gateway", json!({ "incident_id": 999 })).await.0,
        404
    );
    let (status, body) = run("switch_gateway", json!({ "incident": id })).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "incident_id");
    assert_eq!(app.get("/playbooks/nope").await.0, 404);
}

#[test]
fn check_config_names_the_playbook_file_of_a_mistake() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("playbooks")).unwrap();
    std::fs::write(dir.path().join("grace.toml"), "").unwrap();
    std::fs::write(
        dir.path().join("playbooks/bad.toml"),
        "[[playbooks]]\nid = \"x\"\non = [\"db.*\"]\nsteps = [{ kind = \"command\", argv = [] }]\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_grace"))
        .arg("check-config")
        .arg(dir.path().join("grace.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("playbooks/bad.toml: playbooks[0].steps[0].argv"),
        "{stderr}"
    );
}

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

/// A crash just after a page of incidents is committed, or just before or after a finished
/// run's commit, ends after a restart in the state no crash leaves: the incident escalated,
/// its run counted once in the playbook's trust, one work order, delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_on_either_side_of_a_transitions_commit_counts_it_once() {
    let points = [
        "incidents.page.after_commit",
        "playbooks.finish.before_commit",
        "playbooks.finish.after_commit",
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
    let config = format!(
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
  {{ kind = "wait", ms = 3000 }},
  {{ kind = "command", argv = ["touch", "{}"] }},
]

[[playbooks]]
id = "reindex"
on = ["search.stale"]
sources = ["monitors", "pushed"]
steps = [{{ kind = "command", argv = ["sleep", "30"] }}]
"#,
        marker.display()
    );

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
async fn a_monitor_selector_limits_a_playbook_to_its_monitors() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{}
[[monitors]]
id = "billing-cron"
kind = "heartbeat"
grace_ms = 300
interval_ms = 100

[[monitors]]
id = "report-cron"
kind = "heartbeat"
grace_ms = 300
interval_ms = 100

[[playbooks]]
id = "kick_billing"
on = ["heartbeat.*"]
sources = ["monitors", "pushed"]
monitors = ["billing-cron"]
steps = [{{ kind = "set_trust", value = 0.9 }}]
"#,
        CONFIG_HEAD
    );
    let app = spawn_app(dir.path(), &config);
    let healed = app
        .incident_where("billing's incident to be handled", TIMEOUT, |i| {
            i["source"] == "billing-cron" && i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook");
    let other = app
        .incident_where("report's incident", TIMEOUT, |i| {
            i["source"] == "report-cron"
        })
        .await;
    assert_eq!(other["status"], "open", "not selected: left for people");
    crate::common::holds_for(
        "no run on the unselected monitor's incident",
        Duration::from_millis(1500),
        || async {
            let executions = app.get_ok("/monitoring/executions").await["items"].clone();
            executions
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["incident_id"] != other["id"])
        },
    )
    .await;
    // Billing keeps missing its beats, so its incidents keep coming back and being handled
    // (until the circuit breaker holds); report's never are.
    let playbook = app.get_ok("/playbooks/kick_billing").await;
    assert!(playbook["runs"].as_u64().unwrap() >= 1, "{playbook}");
    assert!(
        playbook["recent_runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|run| run["incident_id"] != other["id"]),
        "{playbook}"
    );
    assert_eq!(playbook["monitors"], json!(["billing-cron"]));
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

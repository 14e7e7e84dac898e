//! End to end: a real PostgreSQL outage is detected, becomes one incident, is healed (or
//! escalated) by a playbook run by a sub-agent, and the whole story is on the feed and in REST.

use std::time::Duration;

use crate::common::{eventually, holds_for, spawn_app, Feed, PgCluster, TestApp};
use serde_json::Value;

const HEAL_TIMEOUT: Duration = Duration::from_secs(60);

fn config(pg: &PgCluster, steps: &str) -> String {
    format!(
        r#"
[server]
bind = "127.0.0.1:0"

[store]
path = "store"

[[monitors]]
id = "orders-db"
kind = "postgres"
url = "{url}"
interval_ms = 200
timeout_ms = 1000
failures_before_down = 2

[[playbooks]]
id = "db_reconnect"
name = "Reconnect DB"
on = ["db.connection_lost"]
steps = [
{steps}
]
"#,
        url = pg.url()
    )
}

/// The event types on an incident's timeline, oldest first.
async fn timeline_types(app: &TestApp, incident: &Value) -> Vec<String> {
    let detail = app
        .get_ok(&format!("/monitoring/incidents/{}", incident["id"]))
        .await;
    detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn step_names(execution: &Value) -> Vec<(String, String)> {
    execution["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_is_healed_by_the_playbook_restarting_postgres() {
    let pg = PgCluster::start();
    let argv = serde_json::to_string(&pg.start_argv()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let steps = format!(
        r#"  {{ kind = "check" }},
  {{ kind = "command", argv = {argv}, timeout_ms = 30000 }},
  {{ kind = "reconnect", backoff_ms = [200, 400, 800] }},
  {{ kind = "verify" }},
  {{ kind = "restore_trust" }},"#
    );
    let app = spawn_app(dir.path(), &config(&pg, &steps));
    let feed = Feed::connect(&app, "").await;
    app.monitor_state("orders-db", "up", HEAL_TIMEOUT).await;
    assert!(
        app.incidents("").await.is_empty(),
        "no incident while healthy"
    );

    pg.stop();
    let incident = app
        .incident_where("the outage to be healed", HEAL_TIMEOUT, |i| {
            i["status"] == "resolved"
        })
        .await;
    assert!(
        pg.query_ok().await,
        "the playbook's command restarted PostgreSQL"
    );

    assert_eq!(incident["event_type"], "db.connection_lost");
    assert_eq!(incident["source"], "orders-db");
    assert_eq!(incident["resolved_by"], "playbook");
    assert_eq!(incident["occurrences"], 1);
    let seconds = incident["resolution_time_seconds"].as_f64().unwrap();
    assert!(seconds > 0.0 && seconds < 60.0, "resolution time {seconds}");
    assert!(
        (incident["trust"].as_f64().unwrap() - 0.7).abs() < 1e-9,
        "trust dropped on open"
    );

    // One incident, one run, every step logged.
    assert_eq!(app.incidents("").await.len(), 1);
    let executions = app.get_ok("/monitoring/executions").await["items"].clone();
    assert_eq!(executions.as_array().unwrap().len(), 1);
    let run_id = executions[0]["run_id"].as_str().unwrap().to_owned();
    let execution = app
        .get_ok(&format!("/monitoring/executions/{run_id}"))
        .await;
    assert_eq!(execution["status"], "succeeded");
    assert_eq!(execution["incident_id"], incident["id"]);
    assert_eq!(
        step_names(&execution),
        [
            ("check", "succeeded"),
            ("command", "succeeded"),
            ("reconnect", "succeeded"),
            ("verify", "succeeded"),
            ("restore_trust", "succeeded"),
        ]
        .map(|(n, s)| (n.to_owned(), s.to_owned()))
    );
    assert_eq!(execution["steps_completed"], 5);
    assert!(execution["steps"][0]["output"]
        .as_str()
        .unwrap()
        .contains("does not answer"));
    assert!(execution["steps"][3]["output"]
        .as_str()
        .unwrap()
        .contains("answered"));
    assert!(execution["duration_seconds"].as_f64().unwrap() > 0.0);

    let agents = app.get_ok("/monitoring/agents").await["items"].clone();
    assert_eq!(agents[0]["status"], "succeeded");
    assert_eq!(agents[0]["run_id"], run_id.as_str());
    // One success from the 0.5 prior: (1 + 1) / (1 + 2).
    assert!((agents[0]["trust_score"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);

    // Trust restored after verified recovery: 1.0 - 0.3 + 0.25.
    let monitors = app.get_ok("/monitors").await;
    assert!((monitors["items"][0]["trust"].as_f64().unwrap() - 0.95).abs() < 1e-9);
    app.monitor_state("orders-db", "up", HEAL_TIMEOUT).await;

    // The whole story on the live feed, in order, with no gaps.
    feed.wait_for("incident.resolved", HEAL_TIMEOUT).await;
    let types = feed.types();
    let position = |t: &str| {
        types
            .iter()
            .position(|x| x == t)
            .unwrap_or_else(|| panic!("no {t} in {types:?}"))
    };
    assert!(position("db.connection_lost") < position("incident.opened"));
    assert!(position("incident.opened") < position("playbook.started"));
    assert!(position("playbook.started") < position("agent.spawned"));
    assert!(position("agent.spawned") < position("playbook.step"));
    assert!(position("playbook.step") < position("playbook.finished"));
    assert!(position("playbook.finished") < position("incident.resolved"));
    assert!(
        types.iter().filter(|t| *t == "playbook.step").count() >= 10,
        "start and end of each step"
    );
    let seqs = feed.seqs();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gapless seqs: {seqs:?}"
    );

    // The incident's timeline tells the same story.
    let timeline = timeline_types(&app, &incident).await;
    for expected in [
        "db.connection_lost",
        "incident.opened",
        "playbook.started",
        "playbook.step",
        "incident.resolved",
    ] {
        assert!(
            timeline.iter().any(|t| t == expected),
            "{expected} missing from {timeline:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playbook_that_cannot_heal_escalates_to_a_work_order() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let steps = r#"  { kind = "check" },
  { kind = "reconnect", backoff_ms = [100, 200] },
  { kind = "verify" },
  { kind = "restore_trust" },"#;
    let app = spawn_app(dir.path(), &config(&pg, steps));
    let feed = Feed::connect(&app, "?types=incident.*").await;
    app.monitor_state("orders-db", "up", HEAL_TIMEOUT).await;

    pg.stop();
    let incident = app
        .incident_where("the incident to escalate", HEAL_TIMEOUT, |i| {
            i["status"] == "escalated"
        })
        .await;
    let work_order_id = incident["work_order_id"].as_str().expect("work order id");

    let work_orders = app.get_ok("/work-orders").await["items"].clone();
    let work_order = &work_orders[0];
    assert_eq!(work_order["work_order_id"], work_order_id);
    assert_eq!(work_order["incident_id"], incident["id"]);
    assert_eq!(work_order["failing_step"], "reconnect");
    assert!(work_order["output"].as_str().unwrap().contains("try 2"));

    let executions = app.get_ok("/monitoring/executions").await["items"].clone();
    assert_eq!(executions[0]["status"], "failed");
    assert_eq!(executions[0]["work_order_id"], work_order_id);
    assert_eq!(
        step_names(&executions[0]),
        [
            ("check", "succeeded"),
            ("reconnect", "failed"),
            ("verify", "pending"),
            ("restore_trust", "pending"),
        ]
        .map(|(n, s)| (n.to_owned(), s.to_owned()))
    );
    let agents = app.get_ok("/monitoring/agents").await["items"].clone();
    assert_eq!(agents[0]["status"], "failed");
    assert!((agents[0]["trust_score"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);

    // The feed's type filter holds, and the escalation is on it.
    feed.wait_for("incident.escalated", HEAL_TIMEOUT).await;
    assert!(
        feed.types().iter().all(|t| t.starts_with("incident.")),
        "{:?}",
        feed.types()
    );

    // Grace restarts while the component is still down, then PostgreSQL comes back by other
    // means: the escalated incident resolves on recovery.
    drop(feed);
    app.stop();
    let app = spawn_app(dir.path(), &config(&pg, steps));
    app.monitor_state("orders-db", "down", HEAL_TIMEOUT).await;
    pg.start_again();
    let resolved = app
        .incident_where(
            "the escalated incident to resolve on recovery",
            HEAL_TIMEOUT,
            |i| i["status"] == "resolved",
        )
        .await;
    assert_eq!(resolved["id"], incident["id"]);
    assert_eq!(resolved["resolved_by"], "recovery");
    holds_for("no second incident", Duration::from_secs(1), || async {
        app.incidents("").await.len() == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_that_recovers_while_its_playbook_fails_is_resolved_with_the_work_order_kept() {
    let pg = PgCluster::start();
    let argv = serde_json::to_string(&pg.start_argv()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL is back after `command`; the monitor (every 200 ms) sees it during the
    // reconnect's 1 s wait; verify passes; then the last step fails.
    let steps = format!(
        r#"  {{ kind = "check" }},
  {{ kind = "command", argv = {argv}, timeout_ms = 30000 }},
  {{ kind = "reconnect", backoff_ms = [1000] }},
  {{ kind = "verify" }},
  {{ kind = "command", argv = ["false"] }},"#
    );
    let app = spawn_app(dir.path(), &config(&pg, &steps));
    app.monitor_state("orders-db", "up", HEAL_TIMEOUT).await;
    pg.stop();
    let incident = app
        .incident_where("the incident to resolve", HEAL_TIMEOUT, |i| {
            i["status"] == "resolved"
        })
        .await;
    assert_eq!(incident["resolved_by"], "recovery");
    let work_order_id = incident["work_order_id"].as_str().expect("work order kept");
    let work_orders = app.get_ok("/work-orders").await["items"].clone();
    assert_eq!(work_orders[0]["work_order_id"], work_order_id);
    assert_eq!(work_orders[0]["failing_step"], "command");
    // The incident record is saved before the events announcing it reach the log: wait for
    // the timeline to hold both.
    let types = eventually(
        "the escalation and resolution on the timeline",
        HEAL_TIMEOUT,
        || async {
            let types = timeline_types(&app, &incident).await;
            let both = ["incident.escalated", "incident.resolved"]
                .iter()
                .all(|wanted| types.iter().any(|t| t == wanted));
            both.then_some(types)
        },
    )
    .await;
    let escalated = types
        .iter()
        .position(|t| *t == "incident.escalated")
        .expect("escalated");
    let resolved = types
        .iter()
        .position(|t| *t == "incident.resolved")
        .expect("resolved");
    assert!(escalated < resolved, "{types:?}");
}

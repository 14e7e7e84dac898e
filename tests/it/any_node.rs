//! Every node of a cluster serves everything: intake on a standby lands in the shared log
//! (acknowledged once it is there) and the leader's engines act on it; every node's `/ws`
//! carries the same events in the same order, across a takeover; a standby reads what is
//! stored itself and forwards to the leader what only the engines answer.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{
    healed, health, leader_and_standby, leads, role, stands_by, start_node, LEASE_MS, TAKEOVER_MAX,
    TIMEOUT,
};
use crate::common::browser::Browser;
use crate::common::{
    eventually, healed_from, spawn_app_env, Feed, PgCluster, SurrealServer, SurrealStorage,
    TestApp, PLAYBOOK,
};

/// The seq of the newest event in the log, as `node` reads it.
pub(crate) async fn log_head(node: &TestApp) -> u64 {
    health(node).await.1["last_seq"]
        .as_u64()
        .unwrap_or_default()
}

/// Waits until `feed` holds every event up to `head`, and checks it holds each once, in order.
pub(crate) async fn holds_the_log(feed: &Feed, head: u64, whose: &str) {
    eventually(
        &format!("{whose} feed to reach seq {head}"),
        TIMEOUT,
        || async { (feed.seqs().last().copied() >= Some(head)).then_some(()) },
    )
    .await;
    let seqs = feed.seqs();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "{whose} feed: every event once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_takes_intake_and_serves_one_feed_in_one_order_across_a_takeover() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let a = start_node(dir.path(), &server, "anywhere", "a");
    leads(&a, TIMEOUT).await;
    let b = start_node(dir.path(), &server, "anywhere", "b");
    let c = start_node(dir.path(), &server, "anywhere", "c");
    stands_by(&b, "a").await;
    stands_by(&c, "a").await;
    let feeds = [
        Feed::connect(&a, "?since=0").await,
        Feed::connect(&b, "?since=0").await,
        Feed::connect(&c, "?since=0").await,
    ];

    // Intake on a standby: acknowledged with its seq once in the shared log; the leader's
    // engines open the incident and heal it; another standby reads it from the store.
    let problem = json!({ "type": "search.stale", "source": "search-1" });
    let (status, taken) = b.post_json("/events", &problem).await;
    assert_eq!(status, 202, "{taken}");
    let first = healed_from(&c, "search-1").await;
    assert_eq!(
        a.get_ok(&format!("/monitoring/incidents/{}", first["id"]))
            .await["status"],
        "resolved"
    );

    // What only the engines answer, asked of a standby, comes from the leader.
    let (status, playbooks) = c.get("/playbooks").await;
    assert_eq!(status, 200, "{playbooks}");
    assert_eq!(playbooks, a.get_ok("/playbooks").await);
    let (status, refused) = c.get("/playbooks/no-such-playbook").await;
    assert_eq!(status, 404, "the leader's answer, as it gave it: {refused}");

    let head = log_head(&a).await;
    assert!(taken["seqs"][0].as_u64().unwrap() <= head, "{taken}");
    for (feed, whose) in feeds.iter().zip(["a's", "b's", "c's"]) {
        holds_the_log(feed, head, whose).await;
    }
    assert_eq!(
        feeds[1].snapshot(),
        feeds[2].snapshot(),
        "the same events, the same order"
    );

    // The whole cluster is seen from any node: `grace tree` asks each node for its tree, and
    // the dashboard on a standby names every node and who ran each step.
    the_cluster_is_seen_from(&c).await;

    // The leader dies; a standby takes over. The feed of the node that stays a standby goes
    // on without a break: every event once, in order, the new leader's too.
    a.kill_9();
    let next = tokio::select! {
        _ = leads(&b, TAKEOVER_MAX) => &b,
        _ = leads(&c, TAKEOVER_MAX) => &c,
    };
    let (stays, stays_feed) = if std::ptr::eq(next, &b) {
        (&c, &feeds[2])
    } else {
        (&b, &feeds[1])
    };
    assert_eq!(role(&health(stays).await.1), "standby");
    let next_id = if std::ptr::eq(next, &b) { "b" } else { "c" };
    stands_by(stays, next_id).await; // it forwards to the new leader once it has read it
    healed(stays, "search-2").await;
    let head = log_head(next).await;
    holds_the_log(stays_feed, head, "the remaining standby's").await;
    let types: BTreeSet<String> = stays_feed.types().into_iter().collect();
    assert!(types.contains("playbook.finished"), "{types:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_under_intake_on_a_standby_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let (a, b) = leader_and_standby(dir.path(), &server, "load").await;
    let b = Arc::new(b);

    // Batches of ten notes on b, one after another, each acknowledged with its seqs or refused.
    let done = Arc::new(AtomicBool::new(false));
    let load = {
        let (b, done) = (b.clone(), done.clone());
        tokio::spawn(async move {
            let mut acked: Vec<(u64, String)> = Vec::new();
            let mut batch = 0;
            while !done.load(Ordering::Acquire) {
                batch += 1;
                let notes: Vec<Value> = (0..10)
                    .map(|n| json!({ "type": "app.note", "source": format!("load-{batch}-{n}") }))
                    .collect();
                let (status, body) = b.post_json("/events", &json!(notes)).await;
                if status != 202 {
                    // Refused (a takeover, backpressure): not acknowledged; a moment's backoff.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
                let seqs = body["seqs"].as_array().unwrap();
                for (n, seq) in seqs.iter().enumerate() {
                    acked.push((seq.as_u64().unwrap(), format!("load-{batch}-{n}")));
                }
            }
            acked
        })
    };
    eventually("intake on b to be under way", TIMEOUT, || async {
        (log_head(&b).await >= 200).then_some(())
    })
    .await;
    a.kill_9();
    leads(&b, TAKEOVER_MAX).await;
    let after = log_head(&b).await;
    eventually(
        "intake on b to go on after the takeover",
        TIMEOUT,
        || async { (log_head(&b).await >= after + 200).then_some(()) },
    )
    .await;
    done.store(true, Ordering::Release);
    let acked = load.await.unwrap();

    // The log, read back from b's feed: gap-free, and every acknowledged event in it as sent.
    let head = log_head(&b).await;
    let feed = Feed::connect(&b, "?since=0").await;
    holds_the_log(&feed, head, "b's").await;
    let logged = feed.snapshot();
    for (seq, source) in &acked {
        let event = &logged[(*seq - 1) as usize];
        let sent = &event["data"]["source"];
        assert_eq!(sent, source.as_str(), "acknowledged seq {seq}: {event}");
    }
    assert!(acked.len() >= 400, "{} acknowledged", acked.len());
}

/// The PostgreSQL monitor and the playbook that restarts it, for every node.
fn postgres_config(pg: &PgCluster) -> String {
    let argv = serde_json::to_string(&pg.start_argv()).unwrap();
    format!(
        r#"
[[monitors]]
id = "orders-db"
kind = "postgres"
url = "{url}"
interval_ms = 200
timeout_ms = 1000
failures_before_down = 2

[[playbooks]]
id = "db_reconnect"
on = ["db.connection_lost"]
steps = [
  {{ kind = "check" }},
  {{ kind = "command", argv = {argv}, timeout_ms = 30000 }},
  {{ kind = "reconnect", backoff_ms = [200, 400, 800] }},
  {{ kind = "verify" }},
]
"#,
        url = pg.url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_outage_seen_through_three_nodes_is_one_incident_healed_by_one_node() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let node = |id: &str| {
        let root = dir.path().join(id);
        std::fs::create_dir_all(&root).unwrap();
        let config = format!(
            "{}[cluster]\nnode_id = \"{id}\"\nlease_ms = {LEASE_MS}\n{}{}",
            server.config_head("outage"),
            postgres_config(&pg),
            PLAYBOOK
        );
        spawn_app_env(&root, &config, &server.env())
    };
    let a = node("a");
    leads(&a, TIMEOUT).await;
    let (b, c) = (node("b"), node("c"));
    stands_by(&b, "a").await;
    stands_by(&c, "a").await;
    b.monitor_state("orders-db", "up", TIMEOUT).await;

    pg.stop();
    let incident = c
        .incident_where("the outage to be healed", Duration::from_secs(60), |i| {
            i["source"] == "orders-db" && i["status"] == "resolved"
        })
        .await;
    assert!(pg.query_ok().await, "the playbook restarted PostgreSQL");
    // One incident, one run, every step of it on one node under one epoch.
    for node in [&a, &b, &c] {
        let incidents = node.incidents("limit=10").await;
        assert_eq!(incidents.len(), 1, "{incidents:?}");
        assert_eq!(incidents[0]["id"], incident["id"]);
    }
    let runs = b.get_ok("/monitoring/executions").await["items"].clone();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let ran_by: BTreeSet<String> = runs[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["status"] != "skipped")
        .map(|step| step["ran_by"].to_string())
        .collect();
    assert_eq!(ran_by.len(), 1, "one node, one epoch: {ran_by:?}");

    // One problem pushed through two nodes is one incident too.
    let problem = json!({ "type": "search.stale", "source": "search-1" });
    for node in [&b, &c] {
        let (status, body) = node.post_json("/events", &problem).await;
        assert_eq!(status, 202, "{body}");
    }
    // Both applied: to the open incident (a second occurrence) or, healed meanwhile, reopening
    // it (a relapse) — one incident either way.
    let both = |i: &Value| {
        let count = |field: &str| i[field].as_u64().unwrap_or(0);
        i["source"] == "search-1"
            && i["status"] == "resolved"
            && count("occurrences") + count("relapses") >= 2
    };
    a.incident_where("both pushes applied", Duration::from_secs(30), both)
        .await;
    let search: Vec<Value> = a
        .incidents("limit=10")
        .await
        .into_iter()
        .filter(|i| i["source"] == "search-1")
        .collect();
    assert_eq!(search.len(), 1, "{search:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_more_info_events_than_the_lag_allows_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let (a, b) = leader_and_standby(dir.path(), &server, "info").await;
    // 6,000 events that change no incident, past `limits.incidents_lag_max` (4,096): the
    // leader's incident manager passes them, and b's intake sees it do so.
    let mut taken = 0;
    let started = std::time::Instant::now();
    while taken < 6_000 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{taken} taken in a minute"
        );
        let notes: Vec<Value> = (0..500)
            .map(|n| json!({ "type": "app.note", "source": format!("app-{n}"), "kind": "info" }))
            .collect();
        let (status, body) = b.post_json("/events", &json!(notes)).await;
        match status {
            202 => taken += 500,
            503 => tokio::time::sleep(Duration::from_millis(100)).await, // held back a moment
            _ => panic!("{status}: {body}"),
        }
    }
    assert!(
        a.incidents("limit=1").await.is_empty(),
        "info events open nothing"
    );
}

/// `grace tree` and the dashboard, asked of `node`, show all three nodes and who leads; the
/// dashboard says which node ran the heal's steps.
async fn the_cluster_is_seen_from(node: &TestApp) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_grace"))
        .args(["tree", "--addr", &node.addr.to_string()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("cluster of 3 nodes\n"), "{text}");
    for line in [
        "── node a — leader (engines@1)",
        "── node b — standby",
        "└── node c — standby",
        "kernel [supervisor] running",
        "playbooks [playbooks] running",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    assert_eq!(
        text.matches("kernel [supervisor]").count(),
        3,
        "each node's tree:\n{text}"
    );

    let browser = Browser::start("cluster").await;
    browser.goto(&node.url("/")).await;
    let tree = "document.getElementById('tree').innerText";
    browser
        .wait_for(
            "the cluster in the tree",
            &format!("{tree}.includes('node a — leader')"),
        )
        .await;
    let shown = browser.eval(tree).await;
    let shown = shown.as_str().unwrap();
    assert!(shown.contains("node c — standby"), "{shown}");
    assert!(shown.contains("serving this page"), "{shown}");
    let activity = "document.getElementById('activity').innerText";
    browser
        .wait_for(
            "who ran the steps",
            &format!("{activity}.includes('on node a')"),
        )
        .await;
    assert!(browser.errors().is_empty(), "{:?}", browser.errors());
}

//! Several Grace nodes on one real SurrealDB server: one leads (holds the engines' lease and
//! runs the engines), the others stand by and serve too; a leader killed with `kill -9`,
//! paused past its lease or stopped cleanly is replaced, the state carries over, and a paused
//! leader that wakes finds its writes fenced and stands by. What every node serves is tested
//! in `any_node.rs`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{
    eventually, healed_from, holds_for, spawn_app_env, Relay, SurrealServer, SurrealStorage,
    TestApp, PLAYBOOK,
};

/// The shortest lease allowed: takeovers within it plus a round (a third of it).
pub(crate) const LEASE_MS: u64 = 6_000;
/// What a takeover may take: the lease, a round, and a moment for the tree to start.
pub(crate) const TAKEOVER_MAX: Duration = Duration::from_millis(LEASE_MS + LEASE_MS / 3 + 2_000);
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// Starts node `id` in a directory of its own on `server`'s database `database`.
pub(crate) fn start_node(root: &Path, server: &SurrealServer, database: &str, id: &str) -> TestApp {
    start_node_via(root, server, database, id, &server.url())
}

/// Nodes `a` and `b` on `server`'s database `database`: `a` leading, `b` standing by.
pub(crate) async fn leader_and_standby(
    root: &Path,
    server: &SurrealServer,
    database: &str,
) -> (TestApp, TestApp) {
    let a = start_node(root, server, database, "a");
    leads(&a, TIMEOUT).await;
    let b = start_node(root, server, database, "b");
    stands_by(&b, "a").await;
    (a, b)
}

/// [`start_node`] reaching the server at `url`.
fn start_node_via(
    root: &Path,
    server: &SurrealServer,
    database: &str,
    id: &str,
    url: &str,
) -> TestApp {
    node_with(root, server, (database, url), id, PLAYBOOK)
}

/// Node `id` in `root/id` with `playbooks`, on `server`'s database reached at `url`.
pub(crate) fn node_with(
    root: &Path,
    server: &SurrealServer,
    (database, url): (&str, &str),
    id: &str,
    playbooks: &str,
) -> TestApp {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "{}[cluster]\nnode_id = \"{id}\"\nlease_ms = {LEASE_MS}\n{playbooks}",
        server.config_head_via(database, url)
    );
    spawn_app_env(&dir, &config, &server.env())
}

/// `/health` of `node`: its status code and body (0 when the request failed). On a fresh
/// connection each time: a swap of the routes closes kept-alive ones, and a request that
/// meets the close fails (as a client without retries would see it).
pub(crate) async fn health(node: &TestApp) -> (u16, Value) {
    let answer = reqwest::get(node.url("/health")).await;
    let Ok(answer) = answer else {
        return (0, Value::Null);
    };
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// Waits until `node` leads (its `/health` says so); how long that took.
pub(crate) async fn leads(node: &TestApp, within: Duration) -> Duration {
    let started = Instant::now();
    eventually("the node to lead", within, || async {
        role(&health(node).await.1).eq("leader").then_some(())
    })
    .await;
    started.elapsed()
}

/// Waits until `node` stands by with `leader` leading, as its `/health` says.
pub(crate) async fn stands_by(node: &TestApp, leader: &str) {
    eventually("the node to stand by", TIMEOUT, || async {
        let (status, body) = health(node).await;
        (status == 200 && role(&body) == "standby" && leader_of(&body) == leader).then_some(())
    })
    .await;
}

/// A `/health` body's role: `leader`, `standby`, or empty (not serving).
pub(crate) fn role(body: &Value) -> &str {
    body["cluster"]["role"].as_str().unwrap_or_default()
}

/// The leader a `/health` body names.
fn leader_of(body: &Value) -> &str {
    let serving = body["cluster"]["leader"]["node_id"].as_str();
    serving
        .or(body["leader"]["node_id"].as_str())
        .unwrap_or_default()
}

/// Posts a problem from `source` to `node` and waits for its incident to be healed.
pub(crate) async fn healed(node: &TestApp, source: &str) -> Value {
    let event = json!({ "type": "search.stale", "source": source });
    let (status, body) = node.post_json("/events", &event).await;
    assert_eq!(status, 202, "{body}");
    healed_from(node, source).await
}

pub(crate) fn signal(node: &TestApp, name: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(node.pid().to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_leads_the_others_stand_by_and_a_killed_leader_is_replaced_within_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let a = start_node(dir.path(), &server, "killed", "a");
    leads(&a, TIMEOUT).await;
    let b = start_node(dir.path(), &server, "killed", "b");
    let c = start_node(dir.path(), &server, "killed", "c");
    for standby in [&b, &c] {
        stands_by(standby, "a").await;
        let (_, body) = health(standby).await;
        let url = body["cluster"]["leader"]["url"].as_str().unwrap();
        assert!(url.contains(&a.addr.to_string()), "{body}");
    }
    let first = healed(&a, "search-1").await;
    let seen = a.get_ok("/cluster").await;
    assert_eq!(holders(&seen), [("a".to_owned(), 1)], "{seen}");
    let nodes = seen["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{seen}");
    assert!(nodes.iter().all(|node| node["live"] == true), "{seen}");

    a.kill_9();
    let started = Instant::now();
    let next = tokio::select! {
        _ = leads(&b, TAKEOVER_MAX) => &b,
        _ = leads(&c, TAKEOVER_MAX) => &c,
    };
    let took = started.elapsed();
    assert!(took <= TAKEOVER_MAX, "the takeover took {took:?}");
    // What the old leader did is there; the new one goes on from it, one incident each.
    let kept = next.incidents("limit=10").await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    let second = healed(next, "search-2").await;
    assert_eq!(second["id"], first["id"].as_u64().unwrap() + 1, "{second}");
    let other = if std::ptr::eq(next, &b) { &c } else { &b };
    assert_eq!(
        role(&health(other).await.1),
        "standby",
        "exactly one node leads"
    );
    // The new leader holds the lease at the next epoch; the killed one is seen going quiet.
    let seen = next.get_ok("/cluster").await;
    let held = holders(&seen);
    assert_eq!(held.len(), 1, "{seen}");
    assert_eq!(held[0].1, 2, "{seen}");
    assert_eq!(seen["node_id"], held[0].0.as_str(), "{seen}");
}

/// The nodes of a `/cluster` answer that hold the engines' lease, with its epoch.
fn holders(seen: &Value) -> Vec<(String, u64)> {
    let nodes = seen["nodes"].as_array().cloned().unwrap_or_default();
    nodes
        .iter()
        .flat_map(|node| {
            let leases = node["leases"].as_array().cloned().unwrap_or_default();
            leases
                .into_iter()
                .filter(|lease| lease["key"] == "engines")
                .map(|lease| {
                    let id = node["node_id"].as_str().unwrap_or_default().to_owned();
                    (id, lease["epoch"].as_u64().unwrap_or_default())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What the engines' lease covers (runs in flight, schedules), as `node`'s `/cluster` says.
async fn engines_covers(node: &TestApp) -> Vec<String> {
    let seen = node.get_ok("/cluster").await;
    let nodes = seen["nodes"].as_array().cloned().unwrap_or_default();
    let leases = nodes
        .iter()
        .flat_map(|node| node["leases"].as_array().cloned().unwrap_or_default());
    let engines: Vec<Value> = leases.filter(|lease| lease["key"] == "engines").collect();
    assert_eq!(engines.len(), 1, "{seen}");
    serde_json::from_value(engines[0]["covers"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_cleanly_hands_the_lease_over_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let (a, b) = leader_and_standby(dir.path(), &server, "clean").await;
    // The lease is read at start: a reload says a change to it needs a restart.
    let path = a.dir.join("grace.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let longer = format!("lease_ms = {}", LEASE_MS + 1_000);
    std::fs::write(
        &path,
        text.replace(&format!("lease_ms = {LEASE_MS}"), &longer),
    )
    .unwrap();
    let (status, report) = a.post("/config/reload").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["restart_required"], json!(["cluster"]), "{report}");
    a.stop();
    // A round of b's, not a whole lease.
    let took = leads(&b, Duration::from_millis(LEASE_MS)).await;
    assert!(took < Duration::from_millis(LEASE_MS), "took {took:?}");
    healed(&b, "search-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_paused_past_its_lease_is_fenced_and_stands_by_when_it_wakes() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let (a, b) = leader_and_standby(dir.path(), &server, "paused").await;
    let first = healed(&a, "search-1").await;

    signal(&a, "STOP");
    leads(&b, TAKEOVER_MAX).await;
    let second = healed(&b, "search-2").await;
    signal(&a, "CONT");

    // It notices at its next round, does not act on what it lost, and rejoins as a standby.
    stands_by(&a, "b").await;
    assert!(
        a.stdout_lines()
            .iter()
            .any(|line| line.contains("stands by")),
        "{:?}",
        a.stdout_lines()
    );
    let incidents = b.incidents("limit=10").await;
    let ids: Vec<&Value> = incidents.iter().map(|i| &i["id"]).collect();
    assert_eq!(
        ids,
        [&second["id"], &first["id"]],
        "no incident twice: {incidents:?}"
    );
    assert_eq!(role(&health(&b).await.1), "leader", "b still leads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_database_stops_leading_when_its_lease_ends() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let relay = Relay::start(format!("127.0.0.1:{}", server.port).parse().unwrap()).await;
    let through_relay = format!("ws://{}", relay.addr);
    let a = start_node_via(dir.path(), &server, "cut", "a", &through_relay);
    leads(&a, TIMEOUT).await;
    let b = start_node(dir.path(), &server, "cut", "b");
    stands_by(&b, "a").await;
    let first = healed(&a, "search-1").await;

    // Frozen: a's renewals go nowhere and get no answer.
    relay.freeze();
    leads(&b, TAKEOVER_MAX).await;
    eventually("a to step down", TAKEOVER_MAX, || async {
        let said = a.stdout_lines();
        said.iter()
            .any(|line| line.contains("stands by: the engines' lease could not be renewed"))
            .then_some(())
    })
    .await;
    assert_ne!(role(&health(&a).await.1), "leader");
    // Then cut: a stays a standby, b heals, nothing twice.
    relay.close();
    let second = healed(&b, "search-2").await;
    let incidents = b.incidents("limit=10").await;
    let ids: Vec<&Value> = incidents.iter().map(|i| &i["id"]).collect();
    assert_eq!(ids, [&second["id"], &first["id"]], "{incidents:?}");
    assert_ne!(role(&health(&a).await.1), "leader");
}

/// A playbook whose first and last steps leave a mark in `marks` (so the test sees how often
/// each really ran) around a wait long enough to kill its node in.
fn marking_playbook(marks: &Path) -> String {
    let marks = marks.display();
    format!(
        r#"
[[playbooks]]
id = "slow-reindex"
on = ["search.slow"]
sources = ["pushed"]
steps = [
  {{ kind = "command", argv = ["sh", "-c", "echo first >> {marks}"] }},
  {{ kind = "wait", ms = 8000 }},
  {{ kind = "command", argv = ["sh", "-c", "echo last >> {marks}"] }},
]
"#
    )
}

/// Node `id` with the marking playbook, on `server`'s database `database` reached at `url`.
fn marking_node(
    root: &Path,
    server: &SurrealServer,
    database: &str,
    id: &str,
    url: &str,
) -> TestApp {
    let playbook = marking_playbook(&root.join("marks"));
    node_with(root, server, (database, url), id, &playbook)
}

/// Pushes the slow problem through `node` and waits until its run is in its wait; its id.
async fn run_waiting(node: &TestApp) -> String {
    let problem = json!({ "type": "search.slow", "source": "search-1" });
    let (status, body) = node.post_json("/events", &problem).await;
    assert_eq!(status, 202, "{body}");
    eventually("the run to be in its wait", TIMEOUT, || async {
        let runs = node.get_ok("/monitoring/executions").await;
        let run = runs["items"].as_array()?.first()?.clone();
        (run["steps"][1]["status"] == "running").then(|| run["run_id"].as_str().unwrap().to_owned())
    })
    .await
}

/// Waits until run `path` has ended; checks it succeeded, its steps ran on a at epoch 1 and
/// on b at epoch 2 after, and each command left its mark once.
async fn ended_once_on_a_then_b(node: &TestApp, path: &str, marks: &Path) {
    let run = eventually("the run to end", TIMEOUT, || async {
        let run = node.get_if_ok(path).await?;
        (run["status"] != "running").then_some(run)
    })
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let ran_by: Vec<(String, u64)> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            let by = &step["ran_by"];
            let node = by["node_id"].as_str().unwrap().to_owned();
            (node, by["epoch"].as_u64().unwrap())
        })
        .collect();
    let expected = [("a", 1), ("b", 2), ("b", 2)].map(|(n, e)| (n.to_owned(), e));
    assert_eq!(ran_by, expected, "{run}");
    assert_eq!(std::fs::read_to_string(marks).unwrap(), "first\nlast\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_leader_is_killed_mid_step_is_resumed_by_the_next_within_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let a = marking_node(dir.path(), &server, "midrun", "a", &server.url());
    leads(&a, TIMEOUT).await;
    let b = marking_node(dir.path(), &server, "midrun", "b", &server.url());
    stands_by(&b, "a").await;
    let run_id = run_waiting(&b).await;
    // The run is the engines', owned through their lease: `/cluster` names it there.
    let covered = engines_covers(&b).await;
    assert!(covered.contains(&format!("run:{run_id}")), "{covered:?}");
    a.kill_9();
    let killed = Instant::now();

    // b takes the lease once it runs out and resumes the run at its wait, under epoch 2.
    let path = format!("/monitoring/executions/{run_id}");
    let resumed_within = Duration::from_millis(LEASE_MS + 1_000);
    eventually("b to resume the run", resumed_within, || async {
        let run = b.get_if_ok(&path).await?;
        (run["steps"][1]["ran_by"]["epoch"] == 2).then_some(())
    })
    .await;
    println!("resumed {:?} after the kill", killed.elapsed());
    ended_once_on_a_then_b(&b, &path, &dir.path().join("marks")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_mid_run_acts_on_nothing_it_lost_and_each_step_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let relay = Relay::start(format!("127.0.0.1:{}", server.port).parse().unwrap()).await;
    let through_relay = format!("ws://{}", relay.addr);
    let a = marking_node(dir.path(), &server, "cutrun", "a", &through_relay);
    leads(&a, TIMEOUT).await;
    let b = marking_node(dir.path(), &server, "cutrun", "b", &server.url());
    stands_by(&b, "a").await;
    let run_id = run_waiting(&b).await;
    // a goes on running, cut off from the database: its wait ends, but it may not start the
    // last step (its lease has run out by its own clock), and nothing it writes lands.
    relay.freeze();
    leads(&b, TAKEOVER_MAX).await;
    let path = format!("/monitoring/executions/{run_id}");
    let marks = dir.path().join("marks");
    ended_once_on_a_then_b(&b, &path, &marks).await;
    // Past the end of a's wait, had it gone on: still one mark each.
    holds_for(
        "each command to have run once",
        Duration::from_secs(3),
        || async { std::fs::read_to_string(&marks).unwrap() == "first\nlast\n" },
    )
    .await;
    relay.close();
}

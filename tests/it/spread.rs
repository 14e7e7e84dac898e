//! A cluster's spread monitors on a real SurrealDB server: each network monitor is probed by
//! one node at a time, under a lease row of its own, and the monitors spread over the live
//! nodes. A node joining takes only its share; one stopping cleanly hands its share back at
//! once; one killed with `kill -9` loses its share to the others within the lease and a
//! probe; one paused past its lease announces nothing under the leases it lost and rejoins.
//! A monitor probed by a standby opens and closes its incident on the leader, looks again when
//! a person resolves it while it goes on, and a person's pause reaches it through any node.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actors::cluster::{preferred_owner, LeaseKey, NodeId};
use serde_json::Value;

use crate::any_node::{holds_the_log, log_head};
use crate::cluster::{leads, node_with, signal, stands_by, LEASE_MS, TIMEOUT};
use crate::common::{eventually, holds_for, Feed, SurrealServer, SurrealStorage, TestApp};

/// Enough monitors that each of three nodes gets some (rendezvous over these ids and
/// `a`, `b`, `c`: 4, 4 and 4 here; the test checks every node has at least one).
const MONITORS: usize = 12;
const INTERVAL_MS: u64 = 200;

/// A TCP service on a loopback port that counts the connections it takes; closed when the
/// task is aborted (the port then refuses), opened again on the same port.
struct Target {
    addr: std::net::SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Target {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        Self::serve(listener, addr, Arc::default())
    }

    fn serve(
        listener: tokio::net::TcpListener,
        addr: std::net::SocketAddr,
        accepted: Arc<AtomicUsize>,
    ) -> Self {
        let counted = accepted.clone();
        let task = tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                counted.fetch_add(1, Ordering::Relaxed);
            }
        });
        Self {
            addr,
            accepted,
            task,
        }
    }

    fn close(&self) {
        self.task.abort();
    }

    async fn reopen(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        *self = Self::serve(listener, self.addr, self.accepted.clone());
    }
}

fn monitor_id(n: usize) -> String {
    format!("svc-{n}")
}

/// One TCP monitor per target, down at its first failed probe: a node that wakes from a pause
/// finds its target down at once, before its round has seen what it lost.
fn monitors_config(targets: &[Target]) -> String {
    let mut config = String::new();
    for (n, target) in targets.iter().enumerate() {
        config.push_str(&format!(
            "[[monitors]]\nid = \"{}\"\nkind = \"tcp\"\naddress = \"{}\"\ninterval_ms = {INTERVAL_MS}\nfailures_before_down = 1\n\n",
            monitor_id(n),
            target.addr
        ));
    }
    config
}

/// Node `id` with the monitors of `config`.
fn node(root: &std::path::Path, server: &SurrealServer, id: &str, config: &str) -> TestApp {
    node_with(root, server, ("spread", &server.url()), id, config)
}

/// Who holds each monitor's lease (unexpired), as `node`'s `/cluster` says: by monitor id.
async fn owners(node: &TestApp) -> BTreeMap<String, String> {
    let seen = node.get_ok("/cluster").await;
    let mut owners = BTreeMap::new();
    for row in seen["nodes"].as_array().cloned().unwrap_or_default() {
        let id = row["node_id"].as_str().unwrap_or_default().to_owned();
        for lease in row["leases"].as_array().cloned().unwrap_or_default() {
            if let Some(monitor) = lease["key"]
                .as_str()
                .and_then(|k| k.strip_prefix("monitor:"))
            {
                owners.insert(monitor.to_owned(), id.clone());
            }
        }
    }
    owners
}

/// Where rendezvous hashing puts each monitor over the nodes `live`: by monitor id.
fn rendezvous(live: &[&str]) -> BTreeMap<String, String> {
    let live: Vec<NodeId> = live.iter().map(|id| NodeId::new(*id).unwrap()).collect();
    (0..MONITORS)
        .map(|n| {
            let key = LeaseKey::Monitor(monitor_id(n));
            let owner = preferred_owner(&key, &live).unwrap();
            (monitor_id(n), owner.to_string())
        })
        .collect()
}

/// Waits until every monitor's lease is held where rendezvous over `live` puts it.
async fn spread_over(node: &TestApp, live: &[&str]) -> BTreeMap<String, String> {
    let expected = rendezvous(live);
    eventually(
        "the monitors spread over the live nodes",
        TIMEOUT,
        || async {
            let owners = owners(node).await;
            (owners == expected).then_some(owners)
        },
    )
    .await
}

/// The incidents of monitor `id`, as `node` lists them.
async fn incidents_of(node: &TestApp, id: &str) -> Vec<Value> {
    let all = node.incidents("limit=50").await.into_iter();
    all.filter(|i| i["source"] == id).collect()
}

/// The monitors in `node`'s own actor tree.
async fn running(node: &TestApp) -> BTreeSet<String> {
    let tree = node.get_ok("/actors").await.to_string();
    (0..MONITORS)
        .map(monitor_id)
        .filter(|id| tree.contains(&format!("monitor:{id}\"")))
        .collect()
}

fn held_by(owners: &BTreeMap<String, String>, node: &str) -> BTreeSet<String> {
    owners
        .iter()
        .filter(|(_, owner)| *owner == node)
        .map(|(id, _)| id.clone())
        .collect()
}

/// A TCP target per monitor, the config that watches them, and node `a` leading on it.
async fn targets_and_leader(
    root: &std::path::Path,
    server: &SurrealServer,
) -> (Vec<Target>, String, TestApp) {
    let mut targets = Vec::new();
    for _ in 0..MONITORS {
        targets.push(Target::start().await);
    }
    let config = monitors_config(&targets);
    let a = node(root, server, "a", &config);
    leads(&a, TIMEOUT).await;
    (targets, config, a)
}

/// The targets, nodes `a` (leading), `b` and `c` watching them, and where their monitors went
/// once spread over the three.
async fn three_nodes(
    root: &std::path::Path,
    server: &SurrealServer,
) -> (Vec<Target>, [TestApp; 3], BTreeMap<String, String>) {
    let (targets, config, a) = targets_and_leader(root, server).await;
    let (b, c) = (
        node(root, server, "b", &config),
        node(root, server, "c", &config),
    );
    stands_by(&b, "a").await;
    stands_by(&c, "a").await;
    let owners = spread_over(&a, &["a", "b", "c"]).await;
    (targets, [a, b, c], owners)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_spread_over_the_nodes_and_a_killed_nodes_share_moves_within_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let (mut targets, [a, b, c], owners) = three_nodes(dir.path(), &server).await;

    // Every monitor held by one node, every node holding some, each running exactly its own.
    for (name, app) in [("a", &a), ("b", &b), ("c", &c)] {
        let held = held_by(&owners, name);
        assert!(!held.is_empty(), "{name} holds none: {owners:?}");
        eventually("each node to run what it holds", TIMEOUT, || async {
            (running(app).await == held).then_some(())
        })
        .await;
    }
    for n in 0..MONITORS {
        b.monitor_state(&monitor_id(n), "up", TIMEOUT).await;
    }

    // c killed: its monitors are taken by a and b within the lease (and a round's margin).
    let lost = held_by(&owners, "c");
    let killed = Instant::now();
    c.kill_9();
    let moved = spread_over(&a, &["a", "b"]).await;
    let took = killed.elapsed();
    assert!(
        took < Duration::from_millis(LEASE_MS + INTERVAL_MS + 1_000),
        "took {took:?}"
    );
    for id in &lost {
        let target = &targets[id[4..].parse::<usize>().unwrap()];
        let before = target.accepted.load(Ordering::Relaxed);
        eventually("the new owner to probe it", TIMEOUT, || async {
            (target.accepted.load(Ordering::Relaxed) > before).then_some(())
        })
        .await;
    }

    // A monitor now probed by the standby b: its outage is one incident on the leader, and
    // its recovery resolves it.
    let on_b = held_by(&moved, "b");
    let id = on_b.iter().next().expect("b holds a monitor").clone();
    let n: usize = id[4..].parse().unwrap();
    targets[n].close();
    let open = |i: &Value| i["source"] == id.as_str() && i["status"] == "open";
    let first = a.incident_where("the outage", TIMEOUT, open).await;
    // Resolved by a person while it goes on: b's monitor hears of it from the log, looks
    // again, and the outage is a new incident, not silence.
    let resolve = format!("/monitoring/incidents/{}/resolve", first["id"]);
    let (status, body) = b.post(&resolve).await;
    assert_eq!(status, 200, "{body}");
    let again = |i: &Value| open(i) && i["id"] != first["id"];
    let incident = a
        .incident_where("the outage announced again", TIMEOUT, again)
        .await;
    targets[n].reopen().await;
    let resolved = |i: &Value| i["id"] == incident["id"] && i["status"] == "resolved";
    b.incident_where("the recovery", TIMEOUT, resolved).await;
    let theirs = incidents_of(&a, &id).await;
    assert_eq!(theirs.len(), 2, "{theirs:?}");

    // Paused through b (answered by the leader, which does not run it): b's monitor stops.
    let (status, body) = b.post(&format!("/monitors/{id}/pause")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["paused"], true, "{body}");
    let accepted = &targets[n].accepted;
    // Quiet once no connection came for three probe intervals (one may have been under way).
    let last = std::cell::Cell::new((accepted.load(Ordering::Relaxed), Instant::now()));
    let quiet = eventually("the probes to stop", TIMEOUT, || {
        let (seen, since) = last.get();
        let now = accepted.load(Ordering::Relaxed);
        if now != seen {
            last.set((now, Instant::now()));
        }
        let still = now == seen && since.elapsed() >= Duration::from_millis(3 * INTERVAL_MS);
        async move { still.then_some(now) }
    })
    .await;
    holds_for("no probe while paused", Duration::from_secs(1), || async {
        accepted.load(Ordering::Relaxed) == quiet
    })
    .await;
    let (status, body) = a.post(&format!("/monitors/{id}/resume")).await;
    assert_eq!(status, 200, "{body}");
    eventually("the probes to go on", TIMEOUT, || async {
        (accepted.load(Ordering::Relaxed) > quiet).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joining_takes_only_its_share_and_one_stopping_hands_it_back_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let (_targets, config, a) = targets_and_leader(dir.path(), &server).await;
    let b = node(dir.path(), &server, "b", &config);
    stands_by(&b, "a").await;
    let before = spread_over(&a, &["a", "b"]).await;

    // c joins: only what is now c's moves, and only to c.
    let c = node(dir.path(), &server, "c", &config);
    stands_by(&c, "a").await;
    let after = spread_over(&a, &["a", "b", "c"]).await;
    for (id, owner) in &after {
        assert!(
            owner == "c" || before[id] == *owner,
            "{id} moved from {} to {owner}",
            before[id]
        );
    }
    let c_held = held_by(&after, "c");
    eventually("c to run its share", TIMEOUT, || async {
        (running(&c).await == c_held).then_some(())
    })
    .await;

    // c stops cleanly: its share goes back at the next round, not a lease later.
    let stopped = Instant::now();
    c.stop();
    let back = spread_over(&a, &["a", "b"]).await;
    let took = stopped.elapsed();
    assert!(took < Duration::from_millis(LEASE_MS), "took {took:?}");
    assert_eq!(back, before, "the share went back where it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_paused_past_its_lease_loses_its_share_announces_nothing_and_rejoins() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let (targets, [a, _b, c], owners) = three_nodes(dir.path(), &server).await;
    let id = held_by(&owners, "c")
        .into_iter()
        .next()
        .expect("c holds a monitor");
    let n: usize = id[4..].parse().unwrap();

    // c sleeps past its lease: a and b take its share; its target goes down meanwhile and
    // the new owner announces it.
    signal(&c, "STOP");
    spread_over(&a, &["a", "b"]).await;
    targets[n].close();
    let open = |i: &Value| i["source"] == id.as_str() && i["status"] == "open";
    let incident = a.incident_where("the outage", TIMEOUT, open).await;

    // c wakes: its monitor, which still thinks the target up, finds it down — and lands
    // nothing under the lease it lost; c rejoins and takes its share back.
    signal(&c, "CONT");
    spread_over(&a, &["a", "b", "c"]).await;
    eventually("c to run its share again", TIMEOUT, || async {
        (running(&c).await == held_by(&owners, "c")).then_some(())
    })
    .await;
    let head = log_head(&a).await;
    let feed = Feed::connect(&a, "?since=0").await;
    holds_the_log(&feed, head, "a's").await;
    let downs: Vec<Value> = feed
        .snapshot()
        .into_iter()
        .filter(|e| e["type"] == incident["event_type"] && e["data"]["monitor"] == id.as_str())
        .collect();
    assert_eq!(downs.len(), 1, "one outage, announced once: {downs:?}");
    let theirs = incidents_of(&a, &id).await;
    assert_eq!(theirs.len(), 1, "{theirs:?}");
}

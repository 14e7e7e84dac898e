//! Load harness: Grace as a cluster on one SurrealDB server, beside Grace on its embedded
//! store, in one run.
//!
//! - Failover, over `rounds` rounds (default 20): two nodes; the leader is killed with SIGKILL
//!   while a run waits mid-playbook; timed from the kill to the new leader's first probe of a
//!   `tcp` monitor (200 ms interval, spread to the leader: its lease moves too) and to the run
//!   resumed (its step started again, by the record's own timestamps). Median and p99.
//! - Intake: 10,000 problems from distinct sources, 100 per request from 8 connections spread
//!   over the nodes, with 1, 2 and 3 nodes and on the embedded store: events acknowledged per
//!   second, and until the last incident is open (the leader's incident manager has applied
//!   every event).
//! - POST → `/ws` on another node, one at a time, 200 rounds: posted to one node, received on
//!   the other's feed (both ways). p50 and p99.
//! - Lease traffic: what each node asks of the database per second, counted from its own
//!   `/metrics` over 30 s, idle and with 300 spread `tcp` monitors over three nodes, and what
//!   one server takes of such small transactions per second (16 connections, 5 s), and of
//!   monitor lease renewals in transactions of 100, from which how many nodes and monitors it
//!   carries.
//!
//! The database is the SurrealDB server the tests use (`tests/surreal-server`, built by
//! `.ci/test` at opt-level 1, storage in memory) or `GRACE_SURREAL_BIN` (its release build:
//! `cargo build --release --manifest-path tests/surreal-server/Cargo.toml --target-dir
//! target/surreal-server`); Grace is its release build.
//! Run with `cargo bench --bench cluster` (optionally `-- 5` rounds).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde_json::{json, Value};

use actors::event::EventDraft;
use actors::spec::PasswordSource;
use actors::store::{RemoteStore, Store, StoreLocation, UserLevel};
use common::{eventually, free_port, spawn_grace_env};

const LEASE_MS: u64 = 6_000;
const TIMEOUT: Duration = Duration::from_secs(60);
const INTAKE_EVENTS: u64 = 10_000;
const INTAKE_PER_REQUEST: u64 = 100;
const INTAKE_CONNECTIONS: usize = 8;
const LATENCY_ROUNDS: usize = 200;
const TRAFFIC_WINDOW: Duration = Duration::from_secs(30);
/// Monitors spread over three nodes while their traffic is counted.
const SPREAD_MONITORS: usize = 300;
const PASS_ENV: &str = "GRACE_BENCH_SURREAL_PASS";

/// The SurrealDB server `.ci/test` builds beside Grace's target (or `GRACE_SURREAL_BIN`).
fn surreal_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("GRACE_SURREAL_BIN") {
        return PathBuf::from(path);
    }
    let grace = Path::new(env!("CARGO_BIN_EXE_grace"));
    let target = grace.parent().and_then(Path::parent).expect("target dir");
    let path = target.join("surreal-server/debug/surreal");
    assert!(
        path.exists(),
        "{} is not built: run .ci/test once",
        path.display()
    );
    path
}

struct Surreal {
    child: Child,
    port: u16,
}

impl Surreal {
    async fn start() -> Self {
        let port = free_port();
        let child = Command::new(surreal_binary())
            .args(["start", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--user", "root", "--pass", "root", "memory"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start surreal");
        let health = format!("http://127.0.0.1:{port}/health");
        eventually("surreal to answer", TIMEOUT, || async {
            let answer = reqwest::get(&health).await.ok()?;
            answer.status().is_success().then_some(())
        })
        .await;
        Self { child, port }
    }
}

impl Drop for Surreal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `grace serve`, killed when dropped.
struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        let _ = self.child.wait();
    }

    async fn get(&self, path: &str) -> Value {
        let answer = reqwest::get(format!("{}{path}", self.base)).await;
        match answer {
            Ok(answer) => answer.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    async fn role(&self) -> String {
        let health = self.get("/health").await;
        health["cluster"]["role"].as_str().unwrap_or("").to_owned()
    }

    async fn metric(&self, name: &str) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| line.starts_with(name))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// The id of the bench's one monitor: one that rendezvous hashing gives to `n0` of `n0` and
/// `n1`, so killing the leader moves the monitor's lease too.
fn monitor_id() -> String {
    use actors::cluster::{preferred_owner, LeaseKey, NodeId};
    let live = [NodeId::new("n0").unwrap(), NodeId::new("n1").unwrap()];
    (0..)
        .map(|n| format!("db-port-{n}"))
        .find(|id| preferred_owner(&LeaseKey::Monitor(id.clone()), &live) == Some(live[0].clone()))
        .unwrap()
}

/// `count` more `tcp` monitors on the server's port, probed every 10 s.
fn more_monitors(surreal: &Surreal, count: usize) -> String {
    (0..count)
        .map(|n| {
            format!(
                "[[monitors]]\nid = \"spread-{n}\"\nkind = \"tcp\"\naddress = \"127.0.0.1:{}\"\ninterval_ms = 10000\n",
                surreal.port
            )
        })
        .collect()
}

/// Waits until every spread monitor's lease is held by the node rendezvous hashing gives it
/// among `n0`, `n1` and `n2`, as `node`'s `/cluster` says.
async fn spread_settled(node: &Node) {
    use actors::cluster::{preferred_owner, LeaseKey, NodeId};
    let live: Vec<NodeId> = (0..3)
        .map(|n| NodeId::new(format!("n{n}")).unwrap())
        .collect();
    eventually("the monitors to spread", TIMEOUT, || async {
        let seen = node.get("/cluster").await;
        let mut settled = 0;
        for row in seen["nodes"].as_array()? {
            for lease in row["leases"].as_array()? {
                let Some(id) = lease["key"].as_str()?.strip_prefix("monitor:") else {
                    continue;
                };
                let owner = preferred_owner(&LeaseKey::Monitor(id.to_owned()), &live)?;
                settled += usize::from(row["node_id"] == owner.as_str());
            }
        }
        (settled == SPREAD_MONITORS + 1).then_some(())
    })
    .await;
}

/// What every node of one cluster runs: the monitor, the playbook that waits.
fn node_config(surreal: &Surreal, database: &str, id: &str) -> String {
    format!(
        r#"[server]
bind = "127.0.0.1:0"
[store]
url = "ws://127.0.0.1:{port}"
database = "{database}"
username = "root"
password_env = "{PASS_ENV}"
[cluster]
node_id = "{id}"
lease_ms = {LEASE_MS}
[[monitors]]
id = "{monitor}"
kind = "tcp"
address = "127.0.0.1:{port}"
interval_ms = 200
[[playbooks]]
id = "slow"
on = ["bench.slow"]
sources = ["pushed"]
steps = [{{ kind = "wait", ms = 30000 }}, {{ kind = "wait", ms = 30000 }}]
"#,
        port = surreal.port,
        monitor = monitor_id(),
    )
}

fn start_node_with(dir: &Path, surreal: &Surreal, database: &str, id: &str, extra: &str) -> Node {
    let dir = dir.join(database).join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let config = node_config(surreal, database, id) + extra;
    let env = [(PASS_ENV, "root")];
    let (child, base) = spawn_grace_env(&dir, &config, "error", &env);
    Node { child, base }
}

async fn leads(node: &Node) {
    eventually("a node to lead", TIMEOUT, || async {
        (node.role().await == "leader").then_some(())
    })
    .await;
}

async fn stands_by(node: &Node) {
    eventually("a node to stand by", TIMEOUT, || async {
        (node.role().await == "standby").then_some(())
    })
    .await;
}

/// A cluster of `count` nodes on a database of its own; the first leads.
async fn cluster(dir: &Path, surreal: &Surreal, database: &str, count: usize) -> Vec<Node> {
    cluster_with(dir, surreal, database, count, "").await
}

/// [`cluster`], every node's config with `extra`.
async fn cluster_with(
    dir: &Path,
    surreal: &Surreal,
    database: &str,
    count: usize,
    extra: &str,
) -> Vec<Node> {
    let first = start_node_with(dir, surreal, database, "n0", extra);
    leads(&first).await;
    let mut nodes = vec![first];
    for n in 1..count {
        let node = start_node_with(dir, surreal, database, &format!("n{n}"), extra);
        stands_by(&node).await;
        nodes.push(node);
    }
    nodes
}

fn at(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str()?.parse().ok()
}

/// One failover: (to the first probe, to the resumed run), in ms.
async fn failover(dir: &Path, surreal: &Surreal, round: usize) -> (f64, f64) {
    let mut nodes = cluster(dir, surreal, &format!("failover{round}"), 2).await;
    let client = reqwest::Client::new();
    let problem = json!({ "type": "bench.slow", "source": "slow-1" });
    client
        .post(format!("{}/events", nodes[1].base))
        .json(&problem)
        .send()
        .await
        .unwrap();
    let run_id = eventually("the run to wait", TIMEOUT, || async {
        let runs = nodes[1].get("/monitoring/executions").await;
        let run = runs["items"].as_array()?.first()?.clone();
        (run["steps"][0]["status"] == "running").then(|| run["run_id"].as_str().unwrap().to_owned())
    })
    .await;
    // At a point of the renewal cycle (a third of the lease) spread evenly over the rounds:
    // a kill just after a renewal waits out the whole lease, one just before it a third less.
    let phase_ms = (round as u64 * 397) % (LEASE_MS / 3);
    tokio::time::sleep(Duration::from_millis(phase_ms)).await;
    let killed = Utc::now();
    nodes[0].kill_9();
    let standby = &nodes[1];
    let probed = eventually("the first probe after the kill", TIMEOUT, || async {
        let monitor = standby.get(&format!("/monitors/{}", monitor_id())).await;
        at(&monitor["last_probe_at"]).filter(|probed| *probed > killed)
    })
    .await;
    let path = format!("/monitoring/executions/{run_id}");
    let resumed = eventually("the run to resume", TIMEOUT, || async {
        let run = standby.get(&path).await;
        let step = &run["steps"][0];
        (step["ran_by"]["epoch"] == 2)
            .then(|| at(&step["started_at"]))
            .flatten()
    })
    .await;
    let ms = |then: DateTime<Utc>| (then - killed).num_microseconds().unwrap() as f64 / 1000.0;
    (ms(probed), ms(resumed))
}

/// Posts INTAKE_EVENTS distinct problems over `bases`; (acknowledged per second, incidents
/// open per second), the second until the leader has applied every event.
async fn intake(bases: &[String], leader: &str, tag: &str) -> (f64, f64) {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..INTAKE_CONNECTIONS)
        .map(|c| {
            let url = format!("{}/events", bases[c % bases.len()]);
            let (next, tag) = (next.clone(), tag.to_owned());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                loop {
                    let first = next.fetch_add(INTAKE_PER_REQUEST, Ordering::Relaxed);
                    if first >= INTAKE_EVENTS {
                        return;
                    }
                    let body: Vec<Value> = (first..first + INTAKE_PER_REQUEST)
                        .map(|i| json!({ "type": "bench.failed", "source": format!("{tag}-{i}") }))
                        .collect();
                    loop {
                        let sent = client.post(&url).json(&body).send().await;
                        if sent.is_ok_and(|answer| answer.status().as_u16() == 202) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let acked = started.elapsed();
    let health = format!("{leader}/health");
    eventually("every event applied", TIMEOUT * 5, || async {
        let body: Value = reqwest::get(&health).await.ok()?.json().await.ok()?;
        (body["incidents"]["lag"] == 0).then_some(())
    })
    .await;
    let applied = started.elapsed();
    let events = INTAKE_EVENTS as f64;
    (events / acked.as_secs_f64(), events / applied.as_secs_f64())
}

/// A pause of 0–150 ms before round `round`, spread evenly over the rounds: one POST sent
/// right after the last one arrived would fall at the same point of every periodic look, and
/// the latency measured would be that point's, not the spread a client sees.
async fn apart(round: usize) {
    let ms = (round * 37) % 151;
    tokio::time::sleep(Duration::from_millis(ms as u64)).await;
}

/// Events per second the server takes in 100-event transactions as Grace's store writes them
/// (`Store::append_events`, seqs given in the transaction), one after another from each of
/// `writers` connections (a node's store actor is one such writer) for 5 s, with nothing of
/// Grace's around it: the floor under intake on a cluster. A transaction that lost to the
/// others every time it was tried (`Contended`) counts as nothing taken.
async fn raw_appends(dir: &Path, surreal: &Surreal, writers: usize) -> f64 {
    let location = remote(dir, surreal, &format!("floor{writers}"));
    let window = Duration::from_secs(5);
    let done = Arc::new(AtomicU64::new(0));
    let mut stores = Vec::new();
    for _ in 0..writers {
        stores.push(Store::open(&location).await.unwrap().shared());
    }
    let started = Instant::now();
    let tasks: Vec<_> = stores
        .into_iter()
        .map(|store| {
            let done = done.clone();
            tokio::spawn(async move {
                while started.elapsed() < window {
                    let drafts = (0..INTAKE_PER_REQUEST)
                        .map(|n| EventDraft::new("bench.failed", json!({ "n": n })))
                        .collect();
                    match store.append_events(drafts).await {
                        Ok(_) => done.fetch_add(INTAKE_PER_REQUEST, Ordering::Relaxed),
                        Err(error) if error.is_refusal() => 0,
                        Err(error) => panic!("{error}"),
                    };
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Where Grace's store on `surreal`'s database `database` is, for a harness that opens it.
fn remote(dir: &Path, surreal: &Surreal, database: &str) -> StoreLocation {
    let password = dir.join("surreal-pass");
    std::fs::write(&password, "root\n").unwrap();
    StoreLocation::Remote(RemoteStore {
        url: format!("ws://127.0.0.1:{}", surreal.port),
        namespace: "bench".into(),
        database: database.into(),
        username: "root".into(),
        level: UserLevel::Root,
        password: PasswordSource::File(password),
        ca_file: None,
    })
}

/// POST to `to`, received on `on`'s feed: p50 and p99 in ms.
async fn latency(to: &Node, on: &Node, tag: &str) -> (f64, f64) {
    let url = format!("{}/ws?types=latency.*", on.base.replace("http://", "ws://"));
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let texts = ws.map(|message| message.unwrap().into_text().unwrap().to_string());
    posted_to_seen(to, tag, Box::pin(texts)).await
}

/// POST to `to`, seen through a `LIVE SELECT` on the event table of `database` (what a node
/// could subscribe to instead of following the log): p50 and p99 in ms.
async fn live_select_latency(surreal: &Surreal, database: &str, to: &Node) -> (f64, f64) {
    use surrealdb::engine::any::connect;
    let db = connect(format!("ws://127.0.0.1:{}", surreal.port))
        .await
        .unwrap();
    db.signin(surrealdb::opt::auth::Root {
        username: "root".into(),
        password: "root".into(),
    })
    .await
    .unwrap();
    db.use_ns("grace").use_db(database).await.unwrap();
    let stream = db.select::<Vec<Value>>("log").live().await.unwrap();
    let texts = stream.map(|notification| notification.unwrap().data.to_string());
    posted_to_seen(to, "live", Box::pin(texts)).await
}

/// LATENCY_ROUNDS problems posted to `to` one at a time, each timed until a text naming its
/// source comes out of `seen`: p50 and p99 in ms.
async fn posted_to_seen(
    to: &Node,
    tag: &str,
    mut seen: std::pin::Pin<Box<dyn futures_util::Stream<Item = String> + Send>>,
) -> (f64, f64) {
    let client = reqwest::Client::new();
    let mut ms = Vec::with_capacity(LATENCY_ROUNDS);
    for round in 0..LATENCY_ROUNDS {
        apart(round).await;
        let source = format!("{tag}-{round}");
        let body = json!({ "type": "latency.failed", "source": source });
        let started = Instant::now();
        let answer = client
            .post(format!("{}/events", to.base))
            .json(&body)
            .send()
            .await;
        assert_eq!(answer.unwrap().status().as_u16(), 202);
        let named = format!("\"{source}\"");
        loop {
            let text = tokio::time::timeout(TIMEOUT, seen.next()).await;
            if text
                .expect("nothing seen")
                .expect("the stream ended")
                .contains(&named)
            {
                break;
            }
        }
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    (quantile(&mut ms, 0.5), quantile(&mut ms, 0.99))
}

/// What each node asks of the database per second for the cluster (its rounds, and following
/// the log): (rounds per second, requests per second).
async fn traffic(nodes: &[Node]) -> Vec<(f64, f64)> {
    let names = [
        "grace_cluster_rounds_total",
        "grace_cluster_store_requests_total",
    ];
    let mut before = Vec::new();
    for node in nodes {
        before.push((node.metric(names[0]).await, node.metric(names[1]).await));
    }
    tokio::time::sleep(TRAFFIC_WINDOW).await;
    let seconds = TRAFFIC_WINDOW.as_secs_f64();
    let mut rates = Vec::new();
    for (node, (rounds, renewals)) in nodes.iter().zip(before) {
        let rounds = (node.metric(names[0]).await - rounds) / seconds;
        let renewals = (node.metric(names[1]).await - renewals) / seconds;
        rates.push((rounds, renewals));
    }
    rates
}

/// Membership-row writes one server takes per second, each a transaction as a node's round
/// makes it (`Store::heartbeat`), from 16 stores (16 connections) for 5 s.
async fn server_capacity(dir: &Path, surreal: &Surreal) -> f64 {
    use actors::cluster::NodeId;
    let location = remote(dir, surreal, "capacity");
    let done = Arc::new(AtomicU64::new(0));
    let window = Duration::from_secs(5);
    let mut stores = Vec::new();
    for _ in 0..16 {
        let store = Store::open(&location).await.unwrap();
        store.prepare_cluster().await.unwrap();
        stores.push(store);
    }
    let started = Instant::now();
    let tasks: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(c, store)| {
            let done = done.clone();
            tokio::spawn(async move {
                let me = NodeId::new(format!("n{c}")).unwrap();
                while started.elapsed() < window {
                    store
                        .heartbeat(&me, "http://x", 10_000, false)
                        .await
                        .unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Monitor leases one server renews per second, in transactions of 100 as a node's round
/// makes them (`Store::renew_leases`), from 16 stores (16 connections) for 5 s.
async fn renewal_capacity(dir: &Path, surreal: &Surreal) -> f64 {
    use actors::cluster::{Epoch, LeaseKey, NodeId};
    let location = remote(dir, surreal, "renewals");
    let done = Arc::new(AtomicU64::new(0));
    let window = Duration::from_secs(5);
    let mut nodes = Vec::new();
    for c in 0..16 {
        let store = Store::open(&location).await.unwrap();
        store.prepare_cluster().await.unwrap();
        let me = NodeId::new(format!("n{c}")).unwrap();
        let mut held = Vec::new();
        for k in 0..100 {
            let key = LeaseKey::Monitor(format!("m{c}-{k}"));
            let taken = store
                .acquire_lease(&key, &me, None, Epoch(1), 600_000)
                .await;
            assert!(taken.unwrap());
            held.push((key, Epoch(1)));
        }
        nodes.push((store, me, held));
    }
    let started = Instant::now();
    let tasks: Vec<_> = nodes
        .into_iter()
        .map(|(store, me, held)| {
            let done = done.clone();
            tokio::spawn(async move {
                while started.elapsed() < window {
                    let renewed = store.renew_leases(&me, &held, 600_000).await.unwrap();
                    assert_eq!(renewed.len(), held.len());
                    done.fetch_add(renewed.len() as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let surreal = Surreal::start().await;
        let dir = dir.path();

        let (mut to_probe, mut to_resume) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let (probe, resume) = failover(dir, &surreal, round).await;
            println!("failover round {round}: first probe {probe:.0} ms, run resumed {resume:.0} ms");
            to_probe.push(probe);
            to_resume.push(resume);
        }
        if rounds > 0 {
            println!("\n| failover, kill -9 of the leader ({rounds} rounds, lease {LEASE_MS} ms) | median | p99 |");
            println!("|---|---|---|");
            for (what, values) in [("to the first probe by the new leader", &mut to_probe), ("to the run resumed", &mut to_resume)] {
                println!("| {what} | {:.0} ms | {:.0} ms |", quantile(values, 0.5), quantile(values, 0.99));
            }
        }

        println!("\n| intake, {INTAKE_EVENTS} distinct problems | acknowledged | incidents open |");
        println!("|---|---|---|");
        let embedded_dir = dir.join("embedded");
        std::fs::create_dir_all(&embedded_dir).unwrap();
        let config = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"grace-data\"\n";
        let (child, base) = common::spawn_grace(&embedded_dir, config, "error");
        let embedded = Node { child, base };
        let (acked, open) = intake(std::slice::from_ref(&embedded.base), &embedded.base, "embedded").await;
        println!("| embedded store (SurrealKV on disk), one node | {acked:.0} /s | {open:.0} /s |");
        drop(embedded);
        for writers in [1, 3] {
            let floor = raw_appends(dir, &surreal, writers).await;
            println!("| the floor: 100-event transactions straight to the server from {writers} writer(s), no Grace | {floor:.0} /s | |");
        }
        for count in 1..=3 {
            let nodes = cluster(dir, &surreal, &format!("intake{count}"), count).await;
            let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
            let (acked, open) = intake(&bases, &nodes[0].base, &format!("n{count}")).await;
            println!("| {count} node(s) on one SurrealDB server (memory) | {acked:.0} /s | {open:.0} /s |");
        }

        let nodes = cluster(dir, &surreal, "latency", 2).await;
        println!("\n| POST → /ws on another node ({LATENCY_ROUNDS} rounds) | p50 | p99 |");
        println!("|---|---|---|");
        let (p50, p99) = latency(&nodes[0], &nodes[1], "to-standby").await;
        println!("| posted to the leader, received on a standby | {p50:.1} ms | {p99:.1} ms |");
        let (p50, p99) = latency(&nodes[1], &nodes[0], "to-leader").await;
        println!("| posted to a standby, received on the leader | {p50:.1} ms | {p99:.1} ms |");
        let (p50, p99) = latency(&nodes[0], &nodes[0], "same").await;
        println!("| posted to and received on the leader | {p50:.1} ms | {p99:.1} ms |");
        let (p50, p99) = live_select_latency(&surreal, "latency", &nodes[0]).await;
        println!("| posted to the leader, seen by a LIVE SELECT on the event table | {p50:.1} ms | {p99:.1} ms |");

        let rates = traffic(&nodes).await;
        let capacity = server_capacity(dir, &surreal).await;
        println!("\n| cluster traffic over {}s, idle | rounds /s | requests to the database /s |", TRAFFIC_WINDOW.as_secs());
        println!("|---|---|---|");
        for (n, (rounds, requests)) in rates.iter().enumerate() {
            let role = if n == 0 { "leader" } else { "standby" };
            println!("| node n{n} ({role}) | {rounds:.2} | {requests:.1} |");
        }
        drop(nodes);
        let extra = more_monitors(&surreal, SPREAD_MONITORS);
        let spread = cluster_with(dir, &surreal, "spread", 3, &extra).await;
        spread_settled(&spread[0]).await;
        let spread_rates = traffic(&spread).await;
        for (n, (rounds, requests)) in spread_rates.iter().enumerate() {
            let role = if n == 0 { "leader" } else { "standby" };
            println!("| node n{n} ({role}), {SPREAD_MONITORS} monitors spread over 3 nodes | {rounds:.2} | {requests:.1} |");
        }
        drop(spread);
        let renewals = renewal_capacity(dir, &surreal).await;
        let rates: Vec<(f64, f64)> = rates.into_iter().chain(spread_rates).collect();
        let busiest = rates.iter().map(|(_, requests)| *requests).fold(0.0, f64::max);
        println!(
            "\nthe server takes {capacity:.0} membership writes/s (16 connections, 5 s): \
             {:.0} nodes at {busiest:.1} requests/s each",
            capacity / busiest
        );
        // Every round renews each monitor's lease and stores its view: two rows a round.
        let round_s = LEASE_MS as f64 / 3_000.0;
        println!(
            "the server renews {renewals:.0} monitor leases/s (transactions of 100, 16 \
             connections, 5 s): about {:.0} monitors at a renewal and a view a round \
             (lease {LEASE_MS} ms)",
            renewals * round_s / 2.0
        );
    });
}

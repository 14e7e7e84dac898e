//! Load harness: Grace and Prometheus Alertmanager side by side, on the same machine, in one
//! run, taking turns.
//!
//! Both take problem reports from distinct sources (Grace: `POST /events` with `{type,
//! source}`; Alertmanager: `POST /api/v2/alerts` with distinct labels) and tell someone
//! (Grace: its `/ws` feed; Alertmanager: a webhook receiver this harness runs, `group_by:
//! ['...']`, `group_wait: 0s`). Printed, each with Grace ÷ Alertmanager:
//!
//! - intake with one event per request and with 100 per request, 16 connections, 3 s a turn,
//!   three turns each (median);
//! - POST → notification latency, one at a time, p50 and p99 of 200, and POST → its answer;
//! - this disk's `fdatasync` p50 and p99, the floor under Grace's persist-before-push;
//! - resident memory idle, and after 100,000 distinct events, with its anonymous and
//!   file-backed parts.
//!
//! Grace runs its release build with the store on disk; a busy 503 counts as nothing taken.
//! Run with `cargo bench --bench vs_alertmanager`.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use warp::Filter;

use common::{free_port, spawn_grace};

const CONNECTIONS: usize = 16;
const TURN: Duration = Duration::from_secs(3);
const TURNS: usize = 3;
const LATENCY_ROUNDS: usize = 200;
const MEMORY_EVENTS: usize = 100_000;
/// Longest a single notification may take before the harness gives up.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Debug)]
enum Peer {
    Grace,
    Alertmanager,
}

struct Peers {
    grace: Child,
    grace_base: String,
    alertmanager: Child,
    alertmanager_base: String,
    /// Sources named in Alertmanager's webhook notifications, as they arrive.
    notified: tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>,
    client: reqwest::Client,
}

fn start_grace(dir: &Path) -> (Child, String) {
    let config = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"grace-data\"\n";
    spawn_grace(dir, config, "error,warp::filters::trace=off")
}

fn start_alertmanager(dir: &Path, receiver_port: u16) -> (Child, String) {
    let port = free_port();
    let config = dir.join("alertmanager.yml");
    let yaml = format!(
        "route:\n  receiver: bench\n  group_by: ['...']\n  group_wait: 0s\n  \
         group_interval: 1m\n  repeat_interval: 1h\nreceivers:\n- name: bench\n  \
         webhook_configs:\n  - url: 'http://127.0.0.1:{receiver_port}/'\n    send_resolved: false\n"
    );
    std::fs::write(&config, yaml).unwrap();
    let child = Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus-alertmanager (apt-get install prometheus-alertmanager)");
    (child, format!("http://127.0.0.1:{port}"))
}

/// The webhook receiver: answers every notification at once and passes on the `source`
/// label of each alert in it.
fn start_receiver(port: u16, tx: mpsc::UnboundedSender<String>) {
    let route = warp::post()
        .and(warp::body::json())
        .map(move |body: Value| {
            for alert in body["alerts"].as_array().into_iter().flatten() {
                if let Some(source) = alert["labels"]["source"].as_str() {
                    let _ = tx.send(source.to_owned());
                }
            }
            warp::reply()
        });
    tokio::spawn(warp::serve(route).run(([127, 0, 0, 1], port)));
}

impl Peers {
    fn url(&self, peer: Peer) -> String {
        match peer {
            Peer::Grace => format!("{}/events", self.grace_base),
            Peer::Alertmanager => format!("{}/api/v2/alerts", self.alertmanager_base),
        }
    }

    fn pid(&self, peer: Peer) -> u32 {
        match peer {
            Peer::Grace => self.grace.id(),
            Peer::Alertmanager => self.alertmanager.id(),
        }
    }

    /// Polls until `peer` answers its readiness check.
    async fn ready(&self, peer: Peer) {
        let url = match peer {
            Peer::Grace => format!("{}/health", self.grace_base),
            Peer::Alertmanager => format!("{}/-/ready", self.alertmanager_base),
        };
        let started = Instant::now();
        while !self
            .client
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(started.elapsed() < NOTIFY_TIMEOUT, "{peer:?} never ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A request body of `count` reports from distinct sources `{tag}-{first + i}`.
fn body(peer: Peer, tag: &str, first: u64, count: usize) -> Value {
    let items: Vec<Value> = (0..count as u64)
        .map(|i| {
            let source = format!("{tag}-{}", first + i);
            match peer {
                Peer::Grace => json!({ "type": "bench.failed", "source": source }),
                Peer::Alertmanager => {
                    json!({ "labels": { "alertname": "BenchFailed", "source": source } })
                }
            }
        })
        .collect();
    match (peer, count) {
        (Peer::Grace, 1) => items.into_iter().next().unwrap(),
        _ => Value::Array(items),
    }
}

/// Sends one request; returns whether it was taken (a busy 503 waits out its Retry-After).
async fn send(client: &reqwest::Client, url: &str, body: &Value) -> bool {
    let Ok(response) = client.post(url).json(body).send().await else {
        return false;
    };
    match response.status().as_u16() {
        200 | 202 => true,
        503 => {
            let retry_s: u64 = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(retry_s)).await;
            false
        }
        status => panic!("{url}: unexpected {status}"),
    }
}

/// Events per second taken over one turn, `per_request` per request, from CONNECTIONS at once.
async fn intake(peers: &Peers, peer: Peer, per_request: usize, tag: &str) -> f64 {
    let taken = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (taken, next, url) = (taken.clone(), next.clone(), peers.url(peer));
            let tag = tag.to_owned();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                while started.elapsed() < TURN {
                    let first = next.fetch_add(per_request as u64, Ordering::Relaxed);
                    if send(&client, &url, &body(peer, &tag, first, per_request)).await {
                        taken.fetch_add(per_request as u64, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    taken.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// p50 and p99 of `ms`.
fn quantiles(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// This disk's `fdatasync` of a 4 KiB append, in the directory the store is in, p50 and p99
/// in ms: the floor under persist-before-push (a commit is durable before it is announced).
fn fdatasync_floor(dir: &Path) -> (f64, f64) {
    use std::io::Write;
    let mut file = std::fs::File::create(dir.join("fdatasync-probe")).unwrap();
    let block = [7u8; 4096];
    let ms = (0..LATENCY_ROUNDS * 5)
        .map(|_| {
            file.write_all(&block).unwrap();
            let started = Instant::now();
            file.sync_data().unwrap();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    quantiles(ms)
}

/// POST → notification, one at a time: p50 and p99 in ms of the notification, and of the
/// POST's answer.
async fn latency(peers: &Peers, peer: Peer) -> ((f64, f64), (f64, f64)) {
    let mut ws = match peer {
        Peer::Grace => {
            let url = format!(
                "{}/ws?types=latency.*",
                peers.grace_base.replace("http://", "ws://")
            );
            Some(tokio_tungstenite::connect_async(url).await.unwrap().0)
        }
        Peer::Alertmanager => None,
    };
    let mut notified = peers.notified.lock().await;
    let url = match peer {
        Peer::Grace => format!("{}/events", peers.grace_base),
        Peer::Alertmanager => peers.url(peer),
    };
    let mut ms = Vec::with_capacity(LATENCY_ROUNDS);
    let mut answered_ms = Vec::with_capacity(LATENCY_ROUNDS);
    for round in 0..LATENCY_ROUNDS {
        let source = format!("lat-{peer:?}-{round}");
        let body = match peer {
            Peer::Grace => json!({ "type": "latency.failed", "source": source }),
            Peer::Alertmanager => {
                json!([{ "labels": { "alertname": "Latency", "source": source } }])
            }
        };
        let started = Instant::now();
        assert!(send(&peers.client, &url, &body).await, "{peer:?} refused");
        answered_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let deadline = started + NOTIFY_TIMEOUT;
        loop {
            let arrived = match ws.as_mut() {
                Some(ws) => {
                    let message = tokio::time::timeout_at(deadline.into(), ws.next()).await;
                    let text = message.expect("no /ws message").unwrap().unwrap();
                    text.into_text().unwrap().contains(&format!("\"{source}\""))
                }
                None => {
                    let got = tokio::time::timeout_at(deadline.into(), notified.recv()).await;
                    got.expect("no webhook").unwrap() == source
                }
            };
            if arrived {
                break;
            }
        }
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    (quantiles(ms), quantiles(answered_ms))
}

/// A `/proc/<pid>/status` line in MiB: `VmRSS:`, and its parts `RssAnon:` (the process's own
/// memory) and `RssFile:` (pages of its executable and libraries mapped in).
fn status_mib(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap();
    kib / 1024.0
}

/// RSS, of it anonymous and file-backed, MiB.
fn memory(pid: u32) -> [f64; 3] {
    ["VmRSS:", "RssAnon:", "RssFile:"].map(|key| status_mib(pid, key))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn row(what: &str, grace: f64, alertmanager: f64, unit: &str) {
    println!(
        "| {what} | {alertmanager:.1} {unit} | {grace:.1} {unit} | {:.2}× |",
        grace / alertmanager
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (tx, rx) = mpsc::unbounded_channel();
        let receiver_port = free_port();
        start_receiver(receiver_port, tx);
        let (grace, grace_base) = start_grace(dir.path());
        let (alertmanager, alertmanager_base) = start_alertmanager(dir.path(), receiver_port);
        let mut peers = Peers {
            grace,
            grace_base,
            alertmanager,
            alertmanager_base,
            notified: tokio::sync::Mutex::new(rx),
            client: reqwest::Client::new(),
        };
        peers.ready(Peer::Grace).await;
        peers.ready(Peer::Alertmanager).await;
        tokio::time::sleep(Duration::from_secs(2)).await; // settle before reading idle memory
        let idle = [Peer::Grace, Peer::Alertmanager].map(|p| memory(peers.pid(p)));

        let both = [Peer::Grace, Peer::Alertmanager];
        let mut rates = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
        for turn in 0..TURNS {
            for (b, per_request) in [1, 100].into_iter().enumerate() {
                for (p, peer) in both.into_iter().enumerate() {
                    let tag = format!("in{per_request}-{turn}");
                    rates[b][p].push(intake(&peers, peer, per_request, &tag).await);
                }
            }
        }
        // Let both settle (Alertmanager sends a webhook per new group; Grace catches up).
        tokio::time::sleep(Duration::from_secs(5)).await;
        while peers.notified.lock().await.try_recv().is_ok() {}
        let lat = [latency(&peers, Peer::Grace).await, latency(&peers, Peer::Alertmanager).await];
        let floor = fdatasync_floor(dir.path());

        for (p, peer) in both.into_iter().enumerate() {
            let client = reqwest::Client::new();
            let url = peers.url(peer);
            let mut sent = 0;
            while sent < MEMORY_EVENTS {
                if send(&client, &url, &body(peer, &format!("mem{p}"), sent as u64, 1_000)).await {
                    sent += 1_000;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let loaded = [Peer::Grace, Peer::Alertmanager].map(|p| memory(peers.pid(p)));

        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let day = chrono::Utc::now().format("%Y-%m-%d");
        println!("vs_alertmanager: {day}, {cores} cores, Grace release build, store on disk");
        println!("| what | Alertmanager | Grace | Grace ÷ AM |");
        println!("|---|---|---|---|");
        let med = |v: &Vec<f64>| median(v.clone());
        row("intake, 1 per request, 16 connections", med(&rates[0][0]), med(&rates[0][1]), "events/s");
        row("intake, 100 per request, 16 connections", med(&rates[1][0]), med(&rates[1][1]), "events/s");
        row("POST → notification p50", lat[0].0 .0, lat[1].0 .0, "ms");
        row("POST → notification p99", lat[0].0 .1, lat[1].0 .1, "ms");
        row("POST → its answer p50", lat[0].1 .0, lat[1].1 .0, "ms");
        row("POST → its answer p99", lat[0].1 .1, lat[1].1 .1, "ms");
        for (what, m) in [("idle", idle), ("after 100,000 distinct events", loaded)] {
            row(&format!("RSS {what}"), m[0][0], m[1][0], "MiB");
            row(&format!("RSS {what}: anonymous"), m[0][1], m[1][1], "MiB");
            row(&format!("RSS {what}: file-backed (code)"), m[0][2], m[1][2], "MiB");
        }
        println!(
            "(the floor: this disk's fdatasync of a 4 KiB append, p50 {:.2} ms, p99 {:.2} ms)",
            floor.0, floor.1
        );
        println!("(intake turns, events/s: Grace 1/req {:?}, AM 1/req {:?}, Grace 100/req {:?}, AM 100/req {:?})",
            rates[0][0].iter().map(|r| *r as u64).collect::<Vec<_>>(),
            rates[0][1].iter().map(|r| *r as u64).collect::<Vec<_>>(),
            rates[1][0].iter().map(|r| *r as u64).collect::<Vec<_>>(),
            rates[1][1].iter().map(|r| *r as u64).collect::<Vec<_>>());
        let _ = peers.grace.kill();
        let _ = peers.alertmanager.kill();
        let _ = peers.grace.wait();
        let _ = peers.alertmanager.wait();
    });
}

//! Load harness: the incident pipeline under a burst of pushed events, and starting again
//! after one.
//!
//! The real `grace serve` (release build, store on disk) gets N problem events from N distinct
//! sources, 100 per `POST /events`, from 8 writers at once (a busy 503 is waited out as its
//! `Retry-After` says). The harness prints intake's rate, how long after the last 202 every
//! event was applied to its incident (`/health`'s `incidents.applied_seq` reaching the highest
//! acknowledged seq), the time to start again on that store, and the same after a `kill -9`
//! in the middle of a second burst.
//!
//! Run with `cargo bench --bench backlog` (optionally `-- 50000` events). With a second
//! number, `-- 20000 100000`, it then also fills a new store with that many incidents and
//! repeats of them up to 1,000,000 events in the log, and times a start on it (0: not). With a
//! third, `-- 20000 0 60`, it floods a new store from one source for that many seconds, kills
//! Grace, and times three starts with a clean stop between them.

mod common;

use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{free_port, spawn_grace};

const WRITERS: usize = 8;
const BATCH_EVENTS: usize = 100;
/// Longest any phase may take before the harness gives up.
const PHASE_TIMEOUT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(5);

struct Grace {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Grace {
    /// Starts `grace serve` on the store in `dir`, with one real monitor (`tcp`, of
    /// `canary_port`); returns it and the time until it printed its address.
    fn start(dir: &Path, canary_port: u16) -> (Self, Duration) {
        let config = format!(
            "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"data\"\n\
             [[monitors]]\nid = \"canary\"\nkind = \"tcp\"\naddress = \"127.0.0.1:{canary_port}\"\n\
             interval_ms = 100\nfailures_before_down = 1\n"
        );
        let started = Instant::now();
        let (child, base) = spawn_grace(dir, &config, "error,warp::filters::trace=off");
        let listening = started.elapsed();
        let grace = Self {
            child,
            base,
            client: reqwest::Client::new(),
        };
        (grace, listening)
    }

    async fn health(&self) -> Option<Value> {
        let response = self
            .client
            .get(format!("{}/health", self.base))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    /// Polls until every event up to `seq` is applied to incidents; returns when.
    async fn applied(&self, seq: u64) -> Instant {
        let started = Instant::now();
        loop {
            if let Some(health) = self.health().await {
                if health["incidents"]["applied_seq"].as_u64() >= Some(seq) {
                    return Instant::now();
                }
            }
            assert!(started.elapsed() < PHASE_TIMEOUT, "events never applied");
            tokio::time::sleep(POLL).await;
        }
    }

    async fn newest_incident_id(&self) -> u64 {
        let url = format!("{}/monitoring/incidents?limit=1", self.base);
        let page: Value = self
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["items"][0]["id"].as_u64().unwrap_or(0)
    }

    /// Median and p99 of `rounds` sequential GETs of `path`, in ms.
    async fn timed_gets(&self, path: &str, rounds: usize) -> (f64, f64) {
        let mut ms = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let started = Instant::now();
            let response = self.client.get(format!("{}{path}", self.base)).send().await;
            let _ = response.unwrap().bytes().await.unwrap();
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((rounds - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.99))
    }

    fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a burst achieved.
#[derive(Default)]
struct Burst {
    acked: AtomicU64,
    busy: AtomicU64,
    /// The highest seq any 202 carried.
    last_seq: AtomicU64,
}

/// Fills a new store in `dir` with `incidents` distinct problems, then repeats of them until
/// the log holds `events_min` events; kills Grace and times a start on that store.
async fn start_on_big_store(dir: &Path, incidents: u64, events_min: u64) {
    let (grace, _) = Grace::start(dir, free_port());
    let never = Arc::new(AtomicBool::new(false));
    burst(grace.base.clone(), "big", incidents, never.clone()).await;
    let client = reqwest::Client::new();
    let mut round = 0u64;
    loop {
        let last_seq = grace.health().await.unwrap()["last_seq"].as_u64().unwrap();
        if last_seq >= events_min {
            break;
        }
        // Repeats of the first incidents: each adds a problem event and an incident.updated.
        let body: Vec<Value> = (0..1_000)
            .map(|k| {
                let (w, b, e) = (
                    k % WRITERS as u64,
                    (round + k) % 20,
                    k % BATCH_EVENTS as u64,
                );
                json!({ "type": "burst.failed", "source": format!("big-{w}-{b}-{e}") })
            })
            .collect();
        let response = client
            .post(format!("{}/events", grace.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        if response.status() == 503 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        round += 1;
    }
    let last_seq = grace.health().await.unwrap()["last_seq"].as_u64().unwrap();
    grace.applied(last_seq.saturating_sub(4_096)).await;
    let stored = grace.newest_incident_id().await;
    grace.kill_9();
    let spawned = Instant::now();
    let (grace, listening) = Grace::start(dir, free_port());
    let answer = answering(&grace, spawned).await;
    let list = Instant::now();
    grace.newest_incident_id().await;
    let list_ms = list.elapsed().as_secs_f64() * 1000.0;
    let active = Instant::now();
    grace
        .timed_gets("/monitoring/incidents?status=active&limit=200", 1)
        .await;
    println!(
        "  start with {last_seq} events and {stored} incidents stored: listening after {:.0} ms, /health after {:.0} ms; first incident list {list_ms:.0} ms; first active page (the incident manager loading every active incident) {:.0} ms",
        listening.as_secs_f64() * 1000.0,
        answer.as_secs_f64() * 1000.0,
        active.elapsed().as_secs_f64() * 1000.0
    );
    // The reads below are timed once the catch-up after the kill is done (it is timed above).
    let head = grace.health().await.unwrap()["last_seq"].as_u64().unwrap();
    grace.applied(head).await;
    reads_with_many_incidents(&grace, stored).await;
    grace.kill_9();
}

/// The reads people make with `stored` incidents (all active) in the store: the lists, the
/// insights, and the dashboard's first load in a real headless Chromium.
async fn reads_with_many_incidents(grace: &Grace, stored: u64) {
    for path in [
        "/monitoring/incidents?limit=50",
        "/monitoring/incidents?status=active&limit=200",
        "/monitoring/incidents?status=resolved&limit=20",
        "/insights",
    ] {
        let (median, p99) = grace.timed_gets(path, 100).await;
        println!("  {stored} incidents, GET {path}: median {median:.1} ms, p99 {p99:.1} ms (100 requests)");
    }
    let cpu_before = cpu_seconds(grace.child.id());
    let reads_started = Instant::now();
    let browser = common::browser::Browser::start("backlog").await;
    let mut loads_ms: Vec<f64> = Vec::new();
    for _ in 0..10 {
        browser.goto("about:blank").await;
        browser.goto(&format!("{}/", grace.base)).await;
        let mark = "performance.getEntriesByName('grace-loaded')[0]?.startTime";
        loads_ms.push(
            browser
                .wait_for("the dashboard's first load", mark)
                .await
                .as_f64()
                .unwrap(),
        );
    }
    // Where the last load's time went: each request, and when the page's own script ran.
    let timings = "JSON.stringify(performance.getEntriesByType('resource').map(e => \
        `${e.name.replace(location.origin, '')} ${e.startTime.toFixed(0)}+${e.duration.toFixed(0)}`) \
        .concat([`DOMContentLoaded ${performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd.toFixed(0)}`]))";
    println!(
        "  the last load, ms from navigation (start+duration): {}",
        browser.eval(timings).await
    );
    println!(
        "  Grace used {:.1} CPU-seconds over the {:.1} s of browser loads; its busiest threads then: {}",
        cpu_seconds(grace.child.id()) - cpu_before,
        reads_started.elapsed().as_secs_f64(),
        busiest_threads(grace.child.id())
    );
    loads_ms.sort_by(f64::total_cmp);
    println!(
        "  {stored} incidents, the dashboard's first load in headless Chromium (navigation to tiles drawn): median {:.0} ms, max {:.0} ms (10 loads)",
        loads_ms[loads_ms.len() / 2],
        loads_ms[loads_ms.len() - 1]
    );
}

/// User plus system CPU time of process `pid` so far, in seconds (Linux, 100 ticks/s).
fn cpu_seconds(pid: u32) -> f64 {
    cpu_seconds_of(Path::new(&format!("/proc/{pid}/stat")))
}

/// The threads of `pid` with the most CPU time so far, as `name=seconds`.
fn busiest_threads(pid: u32) -> String {
    let mut threads: Vec<(String, f64)> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| {
            dir.flatten()
                .map(|task| {
                    let tid: u32 = task.file_name().to_string_lossy().parse().unwrap_or(0);
                    let comm =
                        std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
                    let cpu = cpu_seconds_of(&task.path().join("stat"));
                    (format!("{}#{tid}", comm.trim()), cpu)
                })
                .collect()
        })
        .unwrap_or_default();
    threads.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top: Vec<String> = threads
        .iter()
        .take(6)
        .map(|(n, s)| format!("{n}={s:.1}"))
        .collect();
    top.join(" ")
}

fn cpu_seconds_of(stat: &Path) -> f64 {
    let stat = std::fs::read_to_string(stat).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Pushes batches of distinct sources (`{tag}-{writer}-{batch}-{k}`) until `budget` events are
/// acknowledged in all, `stop` is set, or Grace is gone.
async fn writer(
    base: String,
    tag: &'static str,
    writer: usize,
    budget: u64,
    burst: Arc<Burst>,
    stop: Arc<AtomicBool>,
) {
    let client = reqwest::Client::new();
    let url = format!("{base}/events");
    let mut batch = 0;
    while !stop.load(Ordering::Relaxed) && burst.acked.load(Ordering::Relaxed) < budget {
        // A tag ending in `=` names one source for every event: a flood of repeats.
        let source = |k: usize| match tag.strip_suffix('=') {
            Some(one) => one.to_owned(),
            None => format!("{tag}-{writer}-{batch}-{k}"),
        };
        let body: Vec<Value> = (0..BATCH_EVENTS)
            .map(|k| json!({ "type": "burst.failed", "source": source(k) }))
            .collect();
        let Ok(response) = client.post(&url).json(&body).send().await else {
            return;
        };
        match response.status().as_u16() {
            202 => {
                let reply: Value = response.json().await.unwrap();
                let last = reply["seqs"].as_array().unwrap().last().unwrap();
                burst
                    .last_seq
                    .fetch_max(last.as_u64().unwrap(), Ordering::Relaxed);
                burst
                    .acked
                    .fetch_add(BATCH_EVENTS as u64, Ordering::Relaxed);
                batch += 1;
            }
            503 => {
                burst.busy.fetch_add(1, Ordering::Relaxed);
                let retry_s: u64 = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_secs(retry_s)).await;
            }
            status => panic!("unexpected answer {status}"),
        }
    }
}

async fn burst(base: String, tag: &'static str, budget: u64, stop: Arc<AtomicBool>) -> Arc<Burst> {
    let burst = Arc::new(Burst::default());
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (base, burst, stop) = (base.clone(), burst.clone(), stop.clone());
            tokio::spawn(writer(base, tag, w, budget, burst, stop))
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    burst
}

/// A flood of `flood_s` seconds of one source's problem (repeats of one incident) into a new
/// store in `dir`, then `kill -9`, then three starts with a clean stop (SIGTERM) between them:
/// the time each start took to listen and to answer `/health`, and the first's until every
/// acknowledged event was applied.
async fn flood_then_starts(dir: &Path, canary_port: u16, flood_s: u64) {
    let (grace, _) = Grace::start(dir, canary_port);
    let stop = Arc::new(AtomicBool::new(false));
    let flood = tokio::spawn(burst(
        grace.base.clone(),
        "flood-db=",
        u64::MAX,
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(flood_s)).await;
    grace.kill_9();
    stop.store(true, Ordering::Relaxed);
    let flood = flood.await.unwrap();
    let acked = flood.acked.load(Ordering::Relaxed);
    println!(
        "  a {flood_s} s flood from one source: {acked} events acknowledged ({:.0}/s), then kill -9",
        acked as f64 / flood_s as f64
    );
    for start in 1..=3 {
        let spawned = Instant::now();
        let (mut grace, listening) = Grace::start(dir, canary_port);
        let answer = answering(&grace, spawned).await;
        let applied = match start {
            1 => grace.applied(flood.last_seq.load(Ordering::Relaxed)).await - spawned,
            _ => Duration::ZERO,
        };
        println!(
            "  start {start}: listening after {:.0} ms, /health after {:.0} ms{}",
            listening.as_secs_f64() * 1000.0,
            answer.as_secs_f64() * 1000.0,
            match start {
                1 => format!(
                    ", every acknowledged event applied after {:.0} ms",
                    applied.as_secs_f64() * 1000.0
                ),
                _ => String::new(),
            }
        );
        let stopping = Instant::now();
        let pid = grace.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert!(sent.unwrap().success(), "SIGTERM not sent");
        let status = grace.child.wait().unwrap();
        println!(
            "    SIGTERM: exited {status} after {:.0} ms",
            stopping.elapsed().as_secs_f64() * 1000.0
        );
    }
}

/// Acknowledges incidents `ids` one after another; the time each took, in ms.
async fn acknowledge_latencies(base: &str, ids: std::ops::RangeInclusive<u64>) -> Vec<f64> {
    let client = reqwest::Client::new();
    let mut ms = Vec::new();
    for id in ids {
        let url = format!("{base}/monitoring/incidents/{id}/acknowledge");
        let started = Instant::now();
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "acknowledge {id}: {}",
            response.status()
        );
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    ms
}

/// From the canary monitor's `tcp.unreachable` to its `incident.opened`, by the events' own
/// times, read back from the log.
async fn canary_delay_ms(base: &str) -> f64 {
    use futures_util::StreamExt;
    let url = format!(
        "{}/ws?since=0&types=tcp.unreachable,incident.opened",
        base.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (mut detected, mut opened) = (None, None);
    while detected.is_none() || opened.is_none() {
        let message = tokio::time::timeout(PHASE_TIMEOUT, ws.next())
            .await
            .unwrap();
        let text = message.unwrap().unwrap().into_text().unwrap();
        let event: Value = serde_json::from_str(&text).unwrap();
        if event["data"]["source"] != "canary" {
            continue;
        }
        let at = chrono::DateTime::parse_from_rfc3339(event["at"].as_str().unwrap()).unwrap();
        match event["type"].as_str() {
            Some("tcp.unreachable") => detected = Some(at),
            _ => opened = Some(at),
        }
    }
    (opened.unwrap() - detected.unwrap())
        .num_microseconds()
        .unwrap() as f64
        / 1000.0
}

/// Polls `/health` until it answers; returns how long that took from `since`.
async fn answering(grace: &Grace, since: Instant) -> Duration {
    while grace.health().await.is_none() {
        assert!(since.elapsed() < PHASE_TIMEOUT, "never answered");
        tokio::time::sleep(POLL).await;
    }
    since.elapsed()
}

fn main() {
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    let events = numbers.first().copied().unwrap_or(20_000);
    let big_incidents = numbers.get(1).copied().filter(|n| *n > 0);
    let flood_s = numbers.get(2).copied();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let canary = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let canary_port = canary.local_addr().unwrap().port();
        let (grace, _) = Grace::start(dir.path(), canary_port);
        let started = Instant::now();
        // One second into the flood, the canary's port closes and people acknowledge incidents.
        let base = grace.base.clone();
        let during = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            drop(canary);
            acknowledge_latencies(&base, 2..=11).await
        });
        let first = burst(grace.base.clone(), "a", events, Arc::new(AtomicBool::new(false))).await;
        let last_ack = Instant::now();
        let intake_s = (last_ack - started).as_secs_f64();
        let applied = grace.applied(first.last_seq.load(Ordering::Relaxed)).await;
        let acked = first.acked.load(Ordering::Relaxed);
        println!("backlog: {acked} distinct pushed problems, {BATCH_EVENTS} per request, {WRITERS} writers, store on disk");
        println!(
            "  intake: {:.0} events/s acknowledged ({} busy answers)",
            acked as f64 / intake_s,
            first.busy.load(Ordering::Relaxed)
        );
        println!(
            "  every event applied to its incident {:.0} ms after the last 202 ({} incidents)",
            (applied - last_ack).as_secs_f64() * 1000.0,
            grace.newest_incident_id().await
        );
        let mut acks = during.await.unwrap();
        acks.sort_by(f64::total_cmp);
        println!(
            "  during the flood: acknowledge median {:.1} ms, max {:.1} ms (10 incidents); a real outage (tcp monitor) became an incident {:.0} ms after its detection",
            acks[acks.len() / 2],
            acks[acks.len() - 1],
            canary_delay_ms(&grace.base).await
        );
        for path in [
            "/monitoring/incidents?limit=50",
            "/monitoring/incidents?status=open&limit=50",
            "/health",
        ] {
            let (median, p99) = grace.timed_gets(path, 100).await;
            println!("  GET {path}: median {median:.1} ms, p99 {p99:.1} ms (100 requests)");
        }
        grace.kill_9();

        let spawned = Instant::now();
        let (grace, listening) = Grace::start(dir.path(), canary_port);
        let answer = answering(&grace, spawned).await;
        println!(
            "  start on that store: listening after {:.0} ms, /health after {:.0} ms",
            listening.as_secs_f64() * 1000.0,
            answer.as_secs_f64() * 1000.0
        );

        let stop = Arc::new(AtomicBool::new(false));
        let second = tokio::spawn(burst(grace.base.clone(), "b", u64::MAX, stop.clone()));
        tokio::time::sleep(Duration::from_secs(1)).await;
        grace.kill_9();
        stop.store(true, Ordering::Relaxed);
        let second = second.await.unwrap();
        let spawned = Instant::now();
        let (grace, listening) = Grace::start(dir.path(), canary_port);
        let answer = answering(&grace, spawned).await;
        let applied = grace.applied(second.last_seq.load(Ordering::Relaxed)).await;
        println!(
            "  kill -9 after 1 s of a second burst ({} acknowledged): listening after {:.0} ms, /health after {:.0} ms, all applied {:.0} ms after start",
            second.acked.load(Ordering::Relaxed),
            listening.as_secs_f64() * 1000.0,
            answer.as_secs_f64() * 1000.0,
            (applied - spawned).as_secs_f64() * 1000.0
        );
        grace.kill_9();
        if let Some(flood_s) = flood_s {
            let flooded = tempfile::tempdir().unwrap();
            flood_then_starts(flooded.path(), canary_port, flood_s).await;
        }
        if let Some(incidents) = big_incidents {
            let big = tempfile::tempdir().unwrap();
            start_on_big_store(big.path(), incidents, 1_000_000).await;
            // For a profile or a look afterwards: `GRACE_BENCH_KEEP=1` keeps that store.
            if std::env::var_os("GRACE_BENCH_KEEP").is_some() {
                println!("  the big store is kept in {}", big.keep().display());
            }
        }
    });
}

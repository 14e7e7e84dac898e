//! Load harness: from SIGKILL of a supervised process to that service answering again.
//!
//! The real `grace serve` (release build, store on disk) runs `python3 -m http.server` on a
//! free port as a `process` monitor (1 s interval, like the Monit cycle the README compares
//! with) with the shipped `restart_process` playbook. Round after round the harness kills the
//! server with SIGKILL and times until a new server accepts TCP connections, then waits for
//! the round's incident to be resolved and notes how long after the kill it was detected.
//! Grace does not wait for the interval: the exit itself wakes the monitor.
//!
//! Run with `cargo bench --bench process_restart` (optionally `-- 50` rounds).

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{free_port, spawn_grace};

/// Longest a round may take before the harness gives up on it.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the harness tries to connect while the service is away.
const CONNECT_POLL: Duration = Duration::from_millis(2);

async fn answers(address: &str) -> bool {
    tokio::net::TcpStream::connect(address).await.is_ok()
}

/// Polls `check` until it gives a value; panics after ROUND_TIMEOUT.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < ROUND_TIMEOUT,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `grace serve` under test.
struct Grace {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Grace {
    fn start(dir: &Path, port: u16) -> Self {
        let playbook = include_str!("../config/playbooks/restart_process.toml");
        let config = format!(
            r#"[server]
bind = "127.0.0.1:0"
[store]
path = "data"

[[monitors]]
id = "web"
kind = "process"
argv = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
ready_tcp = "127.0.0.1:{port}"
interval_ms = 1000
failures_before_down = 1

{playbook}"#
        );
        let (child, base) = spawn_grace(dir, &config, "off");
        Self {
            child,
            base,
            client: reqwest::Client::new(),
        }
    }

    /// The server's pid, once the supervisor has one running.
    async fn pid(&self) -> Option<u64> {
        let monitor: serde_json::Value = self
            .client
            .get(format!("{}/monitors/web", self.base))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        monitor["details"]["pid"].as_u64()
    }

    /// Waits until the round's incident is resolved; returns how long after the kill it was
    /// detected.
    async fn settle(&self, killed_at: chrono::DateTime<chrono::Utc>) -> chrono::Duration {
        let url = format!("{}/monitoring/incidents?limit=1", self.base);
        let detected = wait_for("the incident to resolve", || async {
            let incidents: serde_json::Value =
                self.client.get(&url).send().await.ok()?.json().await.ok()?;
            let latest = &incidents["items"][0];
            let detected = latest["detected_at"]
                .as_str()
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())?
                .with_timezone(&chrono::Utc);
            (detected >= killed_at && latest["status"] == "resolved").then_some(detected)
        })
        .await;
        detected - killed_at
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let grace = Grace::start(dir.path(), port);
    let (mut answering, mut noticed) = runtime.block_on(async {
        wait_for("the first server", || async {
            answers(&address).await.then_some(())
        })
        .await;
        let mut answering = Vec::new();
        let mut noticed = Vec::new();
        for round in 1..=rounds {
            let pid = wait_for("the pid", || grace.pid()).await;
            let killed_at = chrono::Utc::now();
            let started = Instant::now();
            let status = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            // Connections are refused from the moment the old server is gone …
            while answers(&address).await {
                assert!(started.elapsed() < ROUND_TIMEOUT);
                tokio::time::sleep(CONNECT_POLL).await;
            }
            // … until the new one listens.
            while !answers(&address).await {
                assert!(
                    started.elapsed() < ROUND_TIMEOUT,
                    "round {round}: no answer"
                );
                tokio::time::sleep(CONNECT_POLL).await;
            }
            answering.push(started.elapsed());
            noticed.push(grace.settle(killed_at).await);
        }
        (answering, noticed)
    });
    grace.stop();

    answering.sort();
    noticed.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| answering[((answering.len() - 1) as f64 * q).round() as usize];
    println!("process_restart: {rounds} rounds of SIGKILL → answering again (python3 http.server)");
    println!(
        "  answering again: median {:.0} ms, p90 {:.0} ms, min {:.0} ms, max {:.0} ms",
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(answering[0]),
        ms(*answering.last().unwrap())
    );
    if let Some(median) = noticed.get(noticed.len() / 2) {
        println!(
            "  exit noticed (incident detected_at − kill): median {:.1} ms",
            median.num_microseconds().unwrap_or(0) as f64 / 1000.0
        );
    }
}

//! Load harness: how much CPU 1,000 monitors probing every second need.
//!
//! Starts a kernel in this process with 1,000 `tcp` monitors against a local listener (each
//! probe a real connect), lets it run, and reports the CPU time the whole process used per
//! second of wall time — in cores, listener included. Run with
//! `cargo bench --bench monitor_load` (optionally `-- 2000 30` for monitors and seconds).

use std::time::{Duration, Instant};

use actors::probe::Probes;
use actors::spec::{MonitorKind, MonitorSpec, TreeSpec};
use actors::store::StoreLocation;
use actors::Kernel;
use tokio::net::TcpListener;

/// CPU seconds (user + system) this process has used, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let per_second = 100.0; // USER_HZ on Linux
    ticks / per_second
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let monitors: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        });
        let spec = TreeSpec {
            monitors: (0..monitors)
                .map(|n| MonitorSpec {
                    id: format!("svc-{n}"),
                    kind: MonitorKind::Tcp {
                        address: address.clone(),
                        send: None,
                        expect: None,
                    },
                    interval_ms: 1_000,
                    timeout_ms: 1_000,
                    failures_before_down: 2,
                    successes_before_up: 1,
                    flap_window: 0,
                    flap_threshold: 0,
                    depends_on: Vec::new(),
                    escalate_after_ms: None,
                })
                .collect(),
            ..TreeSpec::default()
        };
        let kernel = Kernel::start(spec, &StoreLocation::Memory, Probes::default())
            .await
            .unwrap();
        // Let start-up settle, then measure a steady window.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (cpu_start, wall_start) = (cpu_seconds(), Instant::now());
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let cpu = cpu_seconds() - cpu_start;
        let wall = wall_start.elapsed().as_secs_f64();
        let statuses = kernel.monitor_statuses();
        let up = statuses
            .iter()
            .filter(|s| !s.down && s.last_probe_at.is_some())
            .count();
        println!(
            "monitor_load: {monitors} tcp monitors at 1 s for {wall:.1} s: {:.3} cores \
             ({:.1} ms CPU per second), {up} up, RSS {:.0} MiB",
            cpu / wall,
            1000.0 * cpu / wall,
            rss_mib()
        );
        kernel.shutdown().await;
    });
}

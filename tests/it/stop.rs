//! A clean stop: SIGTERM to `grace serve` while a playbook's command step runs. Grace stops
//! accepting, stops its tree within `server.shutdown_timeout_ms` and exits 0, saying in its log
//! which run it handed over; the next start on the same store ends that run as the restart
//! rules say (a command in progress is not safe to run twice: interrupted, escalated), so no
//! run is left `running`. The store is closed before the exit: no write-ahead log is left for
//! the next start to replay.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{eventually, spawn_app, TestApp};

const TIMEOUT: Duration = Duration::from_secs(20);
/// The bound the config below sets; the test allows a moment beyond it for the process to end.
const SHUTDOWN_TIMEOUT_MS: u64 = 5_000;

fn config() -> String {
    format!(
        r#"
[server]
bind = "127.0.0.1:0"
shutdown_timeout_ms = {SHUTDOWN_TIMEOUT_MS}
[store]
path = "db"

[[playbooks]]
id = "reindex"
on = ["search.stale"]
sources = ["pushed"]
steps = [{{ kind = "command", argv = ["sleep", "30"] }}]
"#
    )
}

/// Sends SIGTERM to `app` and waits (polling, bounded) for it to end; returns how it ended.
fn terminate(app: &mut TestApp, within: Duration) -> std::process::ExitStatus {
    let sent = Command::new("kill")
        .arg("-TERM")
        .arg(app.pid().to_string())
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -TERM failed");
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = app.exit_status() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "grace did not exit within {within:?} of SIGTERM:\n{}",
        app.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_run_stops_the_tree_exits_zero_and_hands_the_run_over() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn_app(dir.path(), &config());
    let event = json!({ "type": "search.stale", "source": "search" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let run = eventually("the run in its command step", TIMEOUT, || async {
        let executions = app.get_ok("/monitoring/executions").await;
        let run = executions["items"][0].clone();
        (run["steps"][0]["status"] == "running").then_some(run)
    })
    .await;
    let run_id = run["run_id"].as_str().unwrap().to_owned();

    let started = Instant::now();
    // The bound, and a moment for the process itself to end after it.
    let status = terminate(&mut app, Duration::from_millis(SHUTDOWN_TIMEOUT_MS + 3_000));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}:\n{}",
        app.log()
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it did not wait for `sleep 30`"
    );
    let log = app.log();
    assert!(log.contains("supervision tree stopped"), "{log}");
    // The store closed: its memtable is on disk and no write-ahead log is left to replay.
    assert!(log.contains("store closed"), "{log}");
    let wal: Vec<_> = std::fs::read_dir(dir.path().join("db/wal"))
        .unwrap()
        .collect();
    assert!(
        wal.is_empty(),
        "a clean stop leaves no log to replay: {wal:?}"
    );
    assert!(
        log.contains("run handed over") && log.contains(&run_id),
        "the log names the run handed over:\n{log}"
    );
    drop(app);

    // Started again on the same store: the run is not left `running`.
    let app = spawn_app(dir.path(), &config());
    let ended = eventually("the handed-over run to end", TIMEOUT, || async {
        let run = app
            .get_ok(&format!("/monitoring/executions/{run_id}"))
            .await;
        (run["status"] != "running").then_some(run)
    })
    .await;
    assert_eq!(ended["status"], "interrupted", "{ended}");
    let escalated = app
        .incident_where("the interrupted run to escalate", TIMEOUT, |i| {
            i["source"] == "search" && i["status"] == "escalated"
        })
        .await;
    assert_eq!(ended["work_order_id"], escalated["work_order_id"]);
}

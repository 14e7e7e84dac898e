//! `log` monitors on real files (appends, bursts, rotation) and `process` monitors on real
//! processes: one Grace starts and restarts itself, and one it finds through a pidfile.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{eventually, free_port, spawn_app, TestApp};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(20);

fn app_with(dir: &Path, extra: &str) -> TestApp {
    let config = format!("[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n{extra}");
    spawn_app(dir, &config)
}

fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_ten_thousand_error_lines_is_one_incident_that_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "ERROR from before Grace started: not counted\n");
    let monitor = format!(
        r#"
[[monitors]]
id = "app-log"
kind = "log"
path = "{}"
interval_ms = 100
rules = [
  {{ regex = "ERROR .*timeout", event = "log.error_detected", severity = "high", title = "Timeouts in the app log", rate_limit_ms = 1000 }},
  {{ regex = "^WARN", event = "log.warning_detected" }},
]
"#,
        log.display()
    );
    let app = app_with(dir.path(), &monitor);
    app.monitor_state("app-log", "up", TIMEOUT).await;

    append(
        &log,
        &"ERROR upstream timeout after 5000 ms\n".repeat(10_000),
    );
    append(&log, "INFO all good\n");
    let incident = app
        .incident_where("all 10,000 lines counted", TIMEOUT, |i| {
            i["occurrences"] == 10_000
        })
        .await;
    assert_eq!(incident["event_type"], "log.error_detected");
    assert_eq!(incident["severity"], "high");
    assert_eq!(app.incidents("").await.len(), 1, "one incident, not 10,000");
    let detail = app
        .get_ok(&format!("/monitoring/incidents/{}", incident["id"]))
        .await;
    let events: Vec<&Value> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "log.error_detected")
        .collect();
    assert!(
        events.len() <= 3,
        "rate limited to a few events, got {}",
        events.len()
    );
    assert_eq!(
        events[0]["data"]["line"],
        "ERROR upstream timeout after 5000 ms"
    );

    // Rotation: the file is renamed and a new one takes its place; the new lines count.
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append(&log, "WARN disk 91% full\n");
    let warning = app
        .incident_where("the line in the rotated-in file", TIMEOUT, |i| {
            i["event_type"] == "log.warning_detected"
        })
        .await;
    assert_eq!(warning["occurrences"], 1);
    assert_eq!(warning["severity"], "medium");
}

/// A log monitor resumes where the last committed probe stopped: lines written while Grace
/// was down (killed with SIGKILL) are read after the restart, lines read before are not read
/// again, and matches a rate limit was still holding are not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_monitor_resumes_after_kill_9_without_skipping_or_repeating_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "ERROR from before Grace started: not counted\n");
    let config = format!(
        r#"[server]
bind = "127.0.0.1:0"
[store]
path = "db"

[[monitors]]
id = "app-log"
kind = "log"
path = "{}"
interval_ms = 100
rules = [{{ regex = "^ERROR", event = "log.error_detected", rate_limit_ms = 600000 }}]
"#,
        log.display()
    );
    let app = spawn_app(dir.path(), &config);
    app.monitor_state("app-log", "up", TIMEOUT).await;
    append(&log, "ERROR one\n");
    app.incident_where("the first line", TIMEOUT, |i| i["occurrences"] == 1)
        .await;
    // Counted, not yet published: the rate limit holds them for ten minutes.
    append(&log, "ERROR two\nERROR three\n");
    // The monitor shows its probe's view only after committing the position that goes with it.
    eventually("the two held matches read", TIMEOUT, || async {
        let monitors = app.get_ok("/monitors").await;
        (monitors["items"][0]["details"]["pending"][0] == 2).then_some(())
    })
    .await;
    app.kill_9();

    append(&log, "ERROR four, while Grace was down\n");
    let app = spawn_app(dir.path(), &config);
    // The held count (two, three) and the new line (four) ride on the next event; line one is
    // not counted again.
    let incident = app
        .incident_where("every line once", TIMEOUT, |i| i["occurrences"] == 4)
        .await;
    assert_eq!(incident["event_type"], "log.error_detected");
    crate::common::holds_for(
        "no line counted twice",
        Duration::from_millis(500),
        || async {
            app.incidents("")
                .await
                .iter()
                .all(|i| i["occurrences"].as_u64() <= Some(4))
        },
    )
    .await;
}

fn playbook_restart_process() -> &'static str {
    r#"
[[playbooks]]
id = "restart_process"
name = "Restart process"
on = ["process.exited", "process.not_answering"]
steps = [
  { kind = "check" },
  { kind = "restart", timeout_ms = 10000 },
  { kind = "verify" },
  { kind = "restore_trust" },
]
"#
}

/// The pid a process monitor reports.
async fn monitored_pid(app: &TestApp, id: &str) -> u64 {
    eventually(&format!("{id} to report a pid"), TIMEOUT, || async {
        let monitor = app.get_ok(&format!("/monitors/{id}")).await;
        monitor["details"]["pid"].as_u64()
    })
    .await
}

fn kill(pid: u64, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_is_noticed_at_once_and_restarted_by_its_playbook() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let monitor = format!(
        r#"
[[monitors]]
id = "web"
kind = "process"
argv = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
ready_tcp = "127.0.0.1:{port}"
interval_ms = 60000          # the exit wakes the monitor; no polling needed
timeout_ms = 10000
failures_before_down = 1
{}"#,
        playbook_restart_process()
    );
    let app = app_with(dir.path(), &monitor);
    app.monitor_state("web", "up", TIMEOUT).await;
    let first = monitored_pid(&app, "web").await;

    kill(first, "-KILL");
    let healed = app
        .incident_where("the restart to heal it", TIMEOUT, |i| {
            i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["event_type"], "process.exited");
    assert_eq!(healed["resolved_by"], "playbook");
    let second = monitored_pid(&app, "web").await;
    assert_ne!(first, second, "a new process");
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("the restarted server answers");

    let executions = app.get_ok("/monitoring/executions").await;
    let steps = &executions["items"][0]["steps"];
    assert_eq!(steps[1]["name"], "restart");
    assert_eq!(steps[1]["status"], "succeeded", "{steps}");
    let detail = app
        .get_ok(&format!("/monitoring/incidents/{}", healed["id"]))
        .await;
    let exited = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "process.exited")
        .cloned()
        .unwrap();
    assert!(
        exited["data"]["error"]
            .as_str()
            .unwrap()
            .contains("SIGKILL"),
        "{exited}"
    );
    // Noticed from the exit itself: the monitor's next poll was a minute away.
    let monitor = app.get_ok("/monitors/web").await;
    assert_eq!(monitor["details"]["starts"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_found_by_pidfile_is_watched_through_its_pidfd() {
    let dir = tempfile::tempdir().unwrap();
    let mut sleeper = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::null())
        .spawn()
        .expect("sleep runs");
    let pidfile = dir.path().join("worker.pid");
    std::fs::write(&pidfile, format!("{}\n", sleeper.id())).unwrap();
    let monitor = format!(
        r#"
[[monitors]]
id = "worker"
kind = "process"
pidfile = "{}"
interval_ms = 60000
failures_before_down = 1
"#,
        pidfile.display()
    );
    let app = app_with(dir.path(), &monitor);
    app.monitor_state("worker", "up", TIMEOUT).await;
    assert_eq!(monitored_pid(&app, "worker").await, u64::from(sleeper.id()));

    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let incident = app
        .incident_where("the exit to be noticed", TIMEOUT, |i| {
            i["event_type"] == "process.exited"
        })
        .await;
    assert_eq!(incident["source"], "worker");
    // Seen from the exit itself (the next poll was a minute away), and said how.
    let monitor = app.get_ok("/monitors/worker").await;
    let error = monitor["last_error"].as_str().unwrap();
    assert!(error.contains("exited"), "{error}");
}

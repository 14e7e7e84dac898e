//! Relapses past `incidents.relapses_max` on a real process that is killed again and again:
//! Grace tells people once and keeps restarting it with backoff (`on_relapse = "heal"`, the
//! default), stops with `on_relapse = "people"`, and stops once a person acknowledges when the
//! playbook says `on_ack = "stop"`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::{eventually, free_port, holds_for, spawn_app, TestApp};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A Grace running `python3 -m http.server` as the process monitor `web`, restarted by the
/// `restart_process` playbook with `playbook_extra` keys, under `[incidents]` `incidents`.
fn app_with_web(dir: &Path, port: u16, incidents: &str, playbook_extra: &str) -> TestApp {
    let config = format!(
        r#"[server]
bind = "127.0.0.1:0"
[store]
path = "memory"
[incidents]
{incidents}

[[monitors]]
id = "web"
kind = "process"
argv = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
ready_tcp = "127.0.0.1:{port}"
interval_ms = 60000          # the exit wakes the monitor; no polling needed
timeout_ms = 10000
failures_before_down = 1

[[playbooks]]
id = "restart_process"
on = ["process.exited"]
steps = [
  {{ kind = "check" }},
  {{ kind = "restart", timeout_ms = 10000 }},
  {{ kind = "verify" }},
  {{ kind = "restore_trust" }},
]
{playbook_extra}
"#
    );
    spawn_app(dir, &config)
}

/// The pid of `web` once it is a process other than `not` and answers on `port`.
async fn answering_pid(app: &TestApp, port: u16, not: Option<u64>) -> u64 {
    eventually("web answering as a new process", TIMEOUT, || async {
        let monitor = app.get_ok("/monitors/web").await;
        let pid = monitor["details"]["pid"].as_u64()?;
        let fresh = monitor["state"] == "up" && Some(pid) != not;
        let answers = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok();
        (fresh && answers).then_some(pid)
    })
    .await
}

fn kill_9(pid: u64) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -KILL {pid}");
}

async fn relapsing_work_orders(app: &TestApp) -> usize {
    let orders = app.get_ok("/work-orders").await;
    let items = orders["items"].as_array().unwrap();
    items.iter().filter(|o| o["reason"] == "relapsing").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_ten_times_answers_after_every_kill_and_people_are_told_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The default relapses_max (3); the backoff's first wait shortened to keep the test quick.
    let app = app_with_web(dir.path(), port, "relapse_backoff_ms = 100", "");
    let mut pid = answering_pid(&app, port, None).await;
    for kill in 1..=10 {
        kill_9(pid);
        let next = tokio::time::timeout(TIMEOUT, answering_pid(&app, port, Some(pid))).await;
        pid = next.unwrap_or_else(|_| panic!("no restart after kill {kill}"));
    }
    let incident = app
        .incident_where("the tenth round healed", TIMEOUT, |i| {
            i["relapses"] == 9 && i["status"] == "resolved"
        })
        .await;
    assert_eq!(incident["resolved_by"], "playbook", "{incident}");
    assert_eq!(app.incidents("").await.len(), 1, "one incident, reopened");
    assert_eq!(relapsing_work_orders(&app).await, 1, "told once");
    let orders = app.get_ok("/work-orders").await;
    let output = orders["items"][0]["output"].as_str().unwrap().to_owned();
    assert!(output.contains("came back 4 times"), "{output}");
    assert!(output.contains("keeps healing"), "{output}");
    let playbook = app.get_ok("/playbooks/restart_process").await;
    assert_eq!(playbook["runs"], 10, "{playbook}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_relapse_people_stops_healing_past_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let extra = r#"on_relapse = "people""#;
    let app = app_with_web(dir.path(), port, "relapses_max = 1", extra);
    let mut pid = answering_pid(&app, port, None).await;
    for _ in 0..2 {
        kill_9(pid);
        pid = answering_pid(&app, port, Some(pid)).await;
    }
    kill_9(pid);
    let escalated = app
        .incident_where("the hand-over", TIMEOUT, |i| i["status"] == "escalated")
        .await;
    assert_eq!(escalated["relapses"], 2);
    assert_eq!(relapsing_work_orders(&app).await, 1);
    holds_for("no restart", Duration::from_millis(1_500), || async {
        let connect = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
        connect.is_err()
    })
    .await;
    assert_eq!(app.get_ok("/playbooks/restart_process").await["runs"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_stops_a_relapsing_heal_when_the_playbook_says_on_ack_stop() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Relapse 1 waits 3 s before its run, relapse 2 waits 6 s: time for a person to step in.
    let incidents = "relapses_max = 0\nrelapse_backoff_ms = 3000";
    let app = app_with_web(dir.path(), port, incidents, r#"on_ack = "stop""#);
    let mut pid = answering_pid(&app, port, None).await;
    // Round 0, then relapse 1 (past the limit): people told, healed after the backoff.
    for _ in 0..2 {
        kill_9(pid);
        pid = answering_pid(&app, port, Some(pid)).await;
    }
    let incident = app
        .incident_where("relapse 1 healed", TIMEOUT, |i| {
            i["relapses"] == 1 && i["status"] == "resolved"
        })
        .await;
    assert_eq!(relapsing_work_orders(&app).await, 1);
    // Relapse 2: a person acknowledges it during the backoff, and it is theirs.
    kill_9(pid);
    app.incident_where("relapse 2", TIMEOUT, |i| i["relapses"] == 2)
        .await;
    let path = format!("/monitoring/incidents/{}/acknowledge", incident["id"]);
    let (status, body) = app.post(&path).await;
    assert_eq!(status, 200, "{body}");
    holds_for("no restart", Duration::from_millis(7_000), || async {
        let connect = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
        connect.is_err()
    })
    .await;
    let incidents = app.incidents("").await;
    assert_eq!(incidents[0]["status"], "acknowledged", "{incidents:?}");
    assert_eq!(app.get_ok("/playbooks/restart_process").await["runs"], 2);
}

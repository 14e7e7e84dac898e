//! Heals of what only alerts see, through the real chain: a target's `/metrics` scraped by a
//! real Prometheus whose rule fires, a real Alertmanager routing it to Grace, and a playbook
//! whose `verify` is confirmed by the alert's own resolution — or, when the heal does not
//! hold, an incident that stays open while the alert fires.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{free_port, holds_for, spawn_app, TestApp};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A target that exports `demo_up 1` while `healthy` exists and `demo_up 0` otherwise.
async fn target(healthy: PathBuf) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let up = u8::from(healthy.exists());
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let body = format!("# TYPE demo_up gauge\ndemo_up {up}\n");
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

/// A real process this test started, killed when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(program: &str, args: &[String], log: &Path) -> Peer {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot start {program} ({error}): .ci/test installs it with apt-get")
        });
    Peer(child)
}

/// Alertmanager sending every notification to Grace at once, resolutions too.
fn alertmanager(dir: &Path, grace: &TestApp) -> (Peer, u16) {
    let port = free_port();
    let config = dir.join("alertmanager.yml");
    let yaml = format!(
        "route:\n  receiver: grace\n  group_by: ['alertname']\n  group_wait: 100ms\n  \
         group_interval: 500ms\n  repeat_interval: 1h\nreceivers:\n- name: grace\n  \
         webhook_configs:\n  - url: '{}'\n    send_resolved: true\n",
        grace.url("/integrations/alertmanager")
    );
    std::fs::write(&config, yaml).unwrap();
    let args = [
        format!("--config.file={}", config.display()),
        format!("--storage.path={}", dir.join("am-data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--cluster.listen-address=".to_owned(), // no gossip: one standalone instance
    ];
    let peer = spawn("prometheus-alertmanager", &args, &dir.join("am.log"));
    (peer, port)
}

/// Prometheus scraping the target and evaluating `DemoDown` (demo_up == 0) every 200 ms,
/// alerting through Alertmanager.
fn prometheus(dir: &Path, target_port: u16, alertmanager_port: u16) -> Peer {
    let rules = dir.join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n- name: demo\n  rules:\n  - alert: DemoDown\n    expr: demo_up == 0\n    \
         labels:\n      severity: critical\n      service: demo\n    annotations:\n      \
         summary: demo is down\n",
    )
    .unwrap();
    let config = dir.join("prometheus.yml");
    let yaml = format!(
        "global:\n  scrape_interval: 200ms\n  evaluation_interval: 200ms\nrule_files: ['{}']\n\
         alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['127.0.0.1:{alertmanager_port}']\n\
         scrape_configs:\n- job_name: demo\n  static_configs:\n  - targets: ['127.0.0.1:{target_port}']\n",
        rules.display()
    );
    std::fs::write(&config, yaml).unwrap();
    let args = [
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{}", free_port()),
    ];
    spawn("prometheus", &args, &dir.join("prometheus.log"))
}

/// Grace with a playbook for `DemoDown` running `steps`.
fn grace(dir: &Path, steps: &str) -> TestApp {
    let config = format!(
        r#"[server]
bind = "127.0.0.1:0"
[store]
path = "memory"

[[playbooks]]
id = "fix_demo"
on = ["alert.demo_down.firing"]
sources = ["alertmanager"]
steps = {steps}
"#
    );
    spawn_app(dir, &config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heal_of_an_alert_is_verified_by_the_alert_resolving() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = dir.path().join("healthy");
    let port = target(healthy.clone()).await;
    let steps = format!(
        r#"[
  {{ kind = "command", argv = ["touch", "{}"] }},
  {{ kind = "verify", timeout_ms = 30000 }},
  {{ kind = "restore_trust" }},
]"#,
        healthy.display()
    );
    let app = grace(dir.path(), &steps);
    let (_alertmanager, am_port) = alertmanager(dir.path(), &app);
    let _prometheus = prometheus(dir.path(), port, am_port);

    // demo_up is 0 from the start: the alert fires, the playbook makes the target healthy,
    // and its verify waits for Prometheus and Alertmanager to say it resolved.
    let healed = app
        .incident_where("the heal, confirmed by the alert", TIMEOUT, |i| {
            i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["source"], "demo");
    assert_eq!(healed["event_type"], "alert.demo_down.firing");
    assert_eq!(healed["resolved_by"], "playbook", "{healed}");
    assert_eq!(app.incidents("").await.len(), 1, "one incident");
    let runs = app.get_ok("/monitoring/executions").await;
    let run = &runs["items"][0];
    assert_eq!(run["status"], "succeeded", "{run}");
    let verify = run["steps"][1]["output"].as_str().unwrap();
    assert!(verify.contains("alert resolved"), "{verify}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heal_that_does_not_hold_leaves_the_alert_incident_open_while_it_fires() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = dir.path().join("healthy");
    let port = target(healthy.clone()).await;
    // A playbook that "heals" without fixing anything, and does not verify.
    let app = grace(dir.path(), r#"[{ kind = "command", argv = ["true"] }]"#);
    let (_alertmanager, am_port) = alertmanager(dir.path(), &app);
    let _prometheus = prometheus(dir.path(), port, am_port);

    let waiting = app
        .incident_where("the run done, the alert still firing", TIMEOUT, |i| {
            i["status"] == "open" && i["awaiting_alert"] == true
        })
        .await;
    holds_for(
        "open while the alert fires",
        Duration::from_secs(2),
        || async {
            let incidents = app.incidents("").await;
            incidents.len() == 1 && incidents[0]["status"] == "open"
        },
    )
    .await;
    // A person fixes the target: the alert resolves, and the incident with it.
    std::fs::write(&healthy, "").unwrap();
    let resolved = app
        .incident_where("the alert's resolution", TIMEOUT, |i| {
            i["id"] == waiting["id"] && i["status"] == "resolved"
        })
        .await;
    assert_eq!(resolved["resolved_by"], "playbook");
}

//! Monitor kinds against real peers on 127.0.0.1.

mod common;

use std::time::Duration;

use common::{spawn_app, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A line server: answers `+PONG\r\n` to anything it reads. Dropping the handle's task (abort)
/// closes the listener.
async fn pong_server(listener: TcpListener) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                if let Ok(n) = stream.read(&mut buf).await {
                    if n > 0 {
                        let _ = stream.write_all(b"+PONG\r\n").await;
                    }
                }
            });
        }
    })
}

fn tcp_monitor(id: &str, address: &str, extra: &str) -> String {
    format!(
        r#"
[[monitors]]
id = "{id}"
kind = "tcp"
address = "{address}"
interval_ms = 100
timeout_ms = 1000
failures_before_down = 2
{extra}
"#
    )
}

fn app_with(dir: &std::path::Path, monitors: &str) -> TestApp {
    let config =
        format!("[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n{monitors}");
    spawn_app(dir, &config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_service_that_stops_accepting_opens_an_incident_and_its_return_resolves_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = pong_server(listener).await;
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), &tcp_monitor("cache", &address, ""));
    app.monitor_state("cache", "up", TIMEOUT).await;

    server.abort();
    let _ = server.await; // the listener is closed once the task is gone
    let incident = app
        .incident_where("the outage", TIMEOUT, |i| i["status"] == "open")
        .await;
    assert_eq!(incident["event_type"], "tcp.unreachable");
    assert_eq!(incident["source"], "cache");
    let monitors = app.get_ok("/monitors").await;
    let error = monitors["items"][0]["last_error"].as_str().unwrap();
    assert!(error.contains("cannot connect"), "{error}");

    let server = pong_server(TcpListener::bind(&address).await.unwrap()).await;
    let resolved = app
        .incident_where("the recovery", TIMEOUT, |i| i["status"] == "resolved")
        .await;
    assert_eq!(resolved["id"], incident["id"]);
    assert_eq!(resolved["resolved_by"], "recovery");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_expect_checks_what_the_service_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = pong_server(listener).await;
    let dir = tempfile::tempdir().unwrap();
    let monitors = [
        tcp_monitor(
            "answers",
            &address,
            "send = \"PING\\r\\n\"\nexpect = \"PONG\"",
        ),
        tcp_monitor(
            "wrong-answer",
            &address,
            "send = \"PING\\r\\n\"\nexpect = \"OK\"",
        ),
    ]
    .concat();
    let app = app_with(dir.path(), &monitors);
    app.monitor_state("answers", "up", TIMEOUT).await;
    app.monitor_state("wrong-answer", "down", TIMEOUT).await;
    let monitors = app.get_ok("/monitors").await;
    let error = monitors["items"][1]["last_error"].as_str().unwrap();
    assert!(error.contains("did not answer \"OK\""), "{error}");
    assert!(error.contains("PONG"), "{error}");
    let incidents = app.incidents("").await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0]["source"], "wrong-answer");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_heartbeat_opens_an_incident_and_the_next_beat_resolves_it() {
    let dir = tempfile::tempdir().unwrap();
    let monitor = r#"
[[monitors]]
id = "nightly-job"
kind = "heartbeat"
grace_ms = 400
interval_ms = 100
failures_before_down = 1
"#;
    let app = app_with(dir.path(), monitor);
    let (status, body) = app.post("/heartbeats/nightly-job").await;
    assert_eq!(
        (status, &body["status"]),
        (200, &serde_json::json!("received"))
    );
    app.monitor_state("nightly-job", "up", TIMEOUT).await;

    // Silence: the incident opens once the grace period is over.
    let incident = app
        .incident_where("the missed heartbeat", TIMEOUT, |i| i["status"] == "open")
        .await;
    assert_eq!(incident["event_type"], "heartbeat.missed");
    assert_eq!(incident["severity"], "medium");

    // The next beat resolves it.
    let (status, _) = app.post("/heartbeats/nightly-job").await;
    assert_eq!(status, 200);
    let resolved = app
        .incident_where("the beat to resolve it", TIMEOUT, |i| {
            i["status"] == "resolved"
        })
        .await;
    assert_eq!(resolved["id"], incident["id"]);
    assert_eq!(resolved["resolved_by"], "recovery");

    let (status, body) = app.post("/heartbeats/no-such-job").await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no-such-job"));
}

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

//! Floods against the real binary: many concurrent commands and heartbeats are each answered
//! (2xx, 4xx, or 503 busy with `Retry-After` past `limits.actor_requests_max`) within a
//! deadline, never hang, and leave Grace healthy with its memory bounded — the gates in front
//! of the actors (`actors/src/kernel/gates.rs`) and the one-`ProbeNow` rule hold under load;
//! and connections past `server.connections_max` wait to be accepted.

use std::time::Duration;

use crate::common::{eventually, holds_for, spawn_app, TestApp};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(60);
/// Longest any one flooded request may take to be answered.
const ANSWER_DEADLINE: Duration = Duration::from_secs(30);
/// Requests sent at once in each flood.
const FLOOD_REQUESTS: usize = 500;
/// How much Grace's resident memory may grow across the floods (connections, buffers).
const RSS_GROWTH_MAX_KIB: u64 = 128 * 1024;

const CONFIG: &str = r#"
[server]
bind = "127.0.0.1:0"

[store]
path = "memory"

[limits]
actor_requests_max = 8

[[monitors]]
id = "nightly-job"
kind = "heartbeat"
grace_ms = 600000
interval_ms = 1000
"#;

/// Grace's resident set, in KiB (`VmRSS` of `/proc/<pid>/status`).
fn rss_kib(app: &TestApp) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", app.pid())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// POSTs `path` `FLOOD_REQUESTS` times at once; each answer's status, `Retry-After` and body.
async fn flood(app: &TestApp, path: &str) -> Vec<(u16, Option<String>, Value)> {
    let client = reqwest::Client::new();
    let posts = (0..FLOOD_REQUESTS).map(|_| {
        let post = client
            .post(app.url(path))
            .header("content-type", "application/json")
            .send();
        async move {
            let response = tokio::time::timeout(ANSWER_DEADLINE, post)
                .await
                .unwrap_or_else(|_| panic!("no answer within {ANSWER_DEADLINE:?}"))
                .expect("POST");
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after");
            let retry_after = retry_after.map(|v| v.to_str().unwrap().to_owned());
            (
                status,
                retry_after,
                response.json().await.unwrap_or(Value::Null),
            )
        }
    });
    futures_util::future::join_all(posts).await
}

/// Every answer is a success, a refusal, or busy with `Retry-After: 1`; how many were busy.
fn busy_answers(answers: &[(u16, Option<String>, Value)], ok: &[u16]) -> usize {
    for (status, retry_after, body) in answers {
        assert!(ok.contains(status) || *status == 503, "{status}: {body}");
        if *status == 503 {
            assert_eq!(body["error"]["code"], "busy", "{body}");
            assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
        }
    }
    answers.iter().filter(|(status, ..)| *status == 503).count()
}

async fn healthy(app: &TestApp) {
    eventually("Grace to be healthy", TIMEOUT, || async {
        let (status, body) = app.get("/health").await;
        (status == 200 && body["status"] == "ok").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_commands_and_heartbeats_is_answered_and_leaves_grace_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), CONFIG);
    let event = json!({ "type": "payment.gateway_timeout", "source": "checkout" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let incident = app.incident_where("the incident", TIMEOUT, |_| true).await;
    let id = incident["id"].as_u64().unwrap();
    healthy(&app).await;
    let rss_before = rss_kib(&app);

    // One acknowledgement wins; the others conflict, or are refused at the gate.
    let path = format!("/monitoring/incidents/{id}/acknowledge");
    let answers = flood(&app, &path).await;
    let busy = busy_answers(&answers, &[200, 409]);
    let acked = answers.iter().filter(|(status, ..)| *status == 200).count();
    assert!(acked <= 1, "{acked} acknowledgements of one incident");
    // Five hundred at once against a gate of eight: most find it full (425 of 500 on a
    // two-core machine), which is the point.
    assert!(busy > 0, "the gate never filled");

    // Heartbeats never queue more than one probe; each is recorded.
    let answers = flood(&app, "/heartbeats/nightly-job").await;
    assert_eq!(busy_answers(&answers, &[200]), 0, "a beat is never refused");

    // Grace is still whole and serving: the gates are empty again, the incident can be
    // resolved, and its memory did not grow with the flood.
    healthy(&app).await;
    let resolved = app
        .post(&format!("/monitoring/incidents/{id}/resolve"))
        .await;
    assert_eq!(resolved.0, 200, "{}", resolved.1);
    let grown = rss_kib(&app).saturating_sub(rss_before);
    assert!(grown < RSS_GROWTH_MAX_KIB, "RSS grew by {grown} KiB");
    app.monitor_state("nightly-job", "up", TIMEOUT).await;
}

/// A request on a connection of its own, kept open afterwards (HTTP/1.1 keep-alive).
const HEALTH_REQUEST: &[u8] = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Whether `stream` has been answered 200 within ANSWER_DEADLINE.
async fn answered(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 12];
    let read = tokio::time::timeout(ANSWER_DEADLINE, stream.read_exact(&mut head)).await;
    matches!(read, Ok(Ok(_))) && head.starts_with(b"HTTP/1.1 200")
}

/// At most `server.connections_max` connections are served at once: with that many open and
/// idle, one more is not answered — however long it waits — until one of them closes; then
/// it is, and Grace serves everyone as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_max_wait_until_one_closes() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    const CONNECTIONS_MAX: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nbind = \"127.0.0.1:0\"\nconnections_max = {CONNECTIONS_MAX}\n\
         header_read_timeout_ms = 60000\n[store]\npath = \"memory\"\n"
    );
    let app = spawn_app(dir.path(), &config);
    let mut open = Vec::new();
    for _ in 0..CONNECTIONS_MAX {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(HEALTH_REQUEST).await.unwrap();
        assert!(answered(&mut stream).await, "a connection under the max");
        open.push(stream);
    }

    let mut next = TcpStream::connect(app.addr).await.unwrap();
    next.write_all(HEALTH_REQUEST).await.unwrap();
    holds_for(
        "the connection past the max unanswered",
        Duration::from_secs(2),
        || {
            let unanswered = matches!(
                next.try_read(&mut [0u8; 1]),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock
            );
            async move { unanswered }
        },
    )
    .await;

    drop(open.pop());
    assert!(answered(&mut next).await, "served once a connection closed");
    drop((open, next));
    let health = eventually("Grace serving as before", TIMEOUT, || async {
        let (status, body) = app.get("/health").await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(health["status"], "ok");
}

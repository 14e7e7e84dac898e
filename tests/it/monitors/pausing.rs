//! Monitors paused, resumed and silenced over the API: a paused monitor stops probing, a
//! silenced one's outage is an incident marked silenced, and a bad request is refused naming
//! its field.

use super::{app_with, tcp_monitor, TIMEOUT};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Accepts connections and counts them.
async fn counting_server() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = count.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, count, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_can_be_paused_resumed_and_silenced() {
    use std::sync::atomic::Ordering::SeqCst;
    let (cache_addr, cache_hits, _cache) = counting_server().await;
    let (witness_addr, witness_hits, _witness) = counting_server().await;
    let (flaky_addr, _, flaky) = counting_server().await;
    let monitors = [
        tcp_monitor("cache", &cache_addr.to_string(), ""),
        tcp_monitor("witness", &witness_addr.to_string(), ""),
        tcp_monitor("flaky", &flaky_addr.to_string(), ""),
    ]
    .concat();
    let playbook = r#"
[[playbooks]]
id = "reconnect"
on = ["tcp.*"]
steps = [{ kind = "reconnect", backoff_ms = [50] }, { kind = "verify" }]
"#;
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), &format!("{monitors}{playbook}"));
    app.monitor_state("cache", "up", TIMEOUT).await;

    // Paused: no probing, while its sibling keeps probing.
    let (status, body) = app.post("/monitors/cache/pause").await;
    assert_eq!(
        (status, &body["state"]),
        (200, &serde_json::json!("paused")),
        "{body}"
    );
    let paused_at = cache_hits.load(SeqCst);
    let witness_at = witness_hits.load(SeqCst);
    crate::common::eventually("the sibling to probe 5 more times", TIMEOUT, || async {
        (witness_hits.load(SeqCst) >= witness_at + 5).then_some(())
    })
    .await;
    assert!(
        cache_hits.load(SeqCst) <= paused_at + 1,
        "a paused monitor probed"
    );
    let (status, body) = app.post("/monitors/cache/resume").await;
    assert_eq!((status, body["paused"].as_bool()), (200, Some(false)));
    crate::common::eventually("probing to resume", TIMEOUT, || async {
        (cache_hits.load(SeqCst) >= paused_at + 3).then_some(())
    })
    .await;

    // Silenced: its outage is recorded as an incident, but no playbook runs. A body that does
    // not say it is JSON (what another site's form could send) is refused first.
    let silence = |content_type: &'static str| {
        reqwest::Client::new()
            .post(app.url("/monitors/flaky/silence"))
            .header("content-type", content_type)
            .body(r#"{"minutes": 30}"#)
            .send()
    };
    let refused = silence("text/plain").await.unwrap();
    assert_eq!(refused.status(), 415);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["field"], "content-type", "{body}");
    assert_eq!(silence("application/json").await.unwrap().status(), 200);
    let flaky_view = app.get_ok("/monitors/flaky").await;
    assert!(flaky_view["silenced_until"].is_string(), "{flaky_view}");
    flaky.abort();
    let incident = app
        .incident_where("the silenced outage", TIMEOUT, |i| i["source"] == "flaky")
        .await;
    assert_eq!(incident["silenced"], true);
    assert_eq!(incident["status"], "open");
    let executions = app.get_ok("/monitoring/executions").await;
    assert!(
        executions["items"].as_array().unwrap().is_empty(),
        "{executions}"
    );

    // Bad input is named; unknown monitors and actions are 404.
    for (body, field) in [
        (r#"{"minutes": -1}"#, "minutes"),
        (r#"{"until": "tomorrow"}"#, "until"),
        (r#"{}"#, "body"),
        ("not json", "body"),
    ] {
        let response = reqwest::Client::new()
            .post(app.url("/monitors/flaky/silence"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    assert_eq!(app.post("/monitors/nope/pause").await.0, 404);
    assert_eq!(app.post("/monitors/cache/explode").await.0, 404);
    assert_eq!(app.get("/monitors/nope").await.0, 404);
}

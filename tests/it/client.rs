//! The Rust client (`clients/rust`, crate `grace-client`) against the real `grace` binary:
//! `monitored` reports a failing call and its recovery, reports made while Grace is away
//! arrive once it is up without ever blocking the app, Grace's `Retry-After` is honoured (from a
//! local server answering as Grace does when busy), and the typed feed resumes across a
//! `kill -9` of Grace with nothing missed and nothing twice.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grace_client::{Client, FeedEvent};
use serde_json::Value;

use crate::common::{eventually, free_port, spawn_app, TestApp};

const TIMEOUT: Duration = Duration::from_secs(20);

fn config_on(port: u16, extra: &str) -> String {
    format!("[server]\nbind = \"127.0.0.1:{port}\"\n[store]\npath = \"store\"\n{extra}")
}

fn client(app_url: &str) -> Client {
    Client::builder(app_url).app("shop").build().unwrap()
}

async fn incident_on(app: &TestApp, source: &str, status: &str) -> Value {
    app.incident_where(&format!("{status} incident on {source}"), TIMEOUT, |i| {
        i["source"] == source && i["status"] == status
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitored_call_that_fails_is_an_incident_and_the_next_good_one_resolves_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), &config_on(0, ""));
    let grace = client(&app.url(""));

    let refused: Result<(), std::io::Error> = grace
        .monitored("orders-db", async {
            Err(std::io::Error::other("connection refused"))
        })
        .await;
    assert!(refused.is_err(), "the call's own result");
    let incident = incident_on(&app, "shop/orders-db", "open").await;
    assert_eq!(incident["event_type"], "dependency.failed");
    let detail = app
        .get_ok(&format!("/monitoring/incidents/{}", incident["id"]))
        .await;
    let failed = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "dependency.failed")
        .cloned()
        .unwrap();
    assert_eq!(failed["data"]["payload"]["error"], "connection refused");
    assert!(failed["data"]["payload"]["latency_ms"].is_number());

    let ok: Result<u32, std::io::Error> = grace.monitored("orders-db", async { Ok(7) }).await;
    assert_eq!(ok.unwrap(), 7);
    let resolved = incident_on(&app, "shop/orders-db", "resolved").await;
    assert_eq!(resolved["id"], incident["id"]);
    assert_eq!(resolved["resolved_by"], "recovery");
    assert!(grace.flush(TIMEOUT).await);
    assert_eq!(grace.stats().sent, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_wait_while_grace_is_away_and_never_block_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let grace = Client::builder(format!("http://127.0.0.1:{port}"))
        .app("shop")
        .queue_max(3)
        .build()
        .unwrap();
    // The first report is on its way, and Grace cannot be reached: it waits to be retried.
    let failed: Result<(), &str> = grace.monitored("cache", async { Err("timeout") }).await;
    assert!(failed.is_err());
    eventually("a first try", TIMEOUT, || async {
        (grace.stats().retries >= 1).then_some(())
    })
    .await;
    let started = Instant::now();
    for _ in 0..5 {
        let failed: Result<(), &str> = grace.monitored("cache", async { Err("timeout") }).await;
        assert!(failed.is_err());
    }
    grace.heartbeat("nightly");
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "reporting never waits"
    );
    assert_eq!(grace.stats().dropped, 3, "the queue keeps the newest 3");

    let app = spawn_app(
        dir.path(),
        &config_on(port, "[[monitors]]\nid = \"nightly\"\nkind = \"heartbeat\"\ngrace_ms = 60000\ninterval_ms = 100\n"),
    );
    assert!(grace.flush(TIMEOUT).await, "{:?}", grace.stats());
    // The first, the two newest failures and the heartbeat.
    app.incident_where("every failure kept", TIMEOUT, |i| {
        i["source"] == "shop/cache" && i["occurrences"] == 3
    })
    .await;
    app.monitor_state("nightly", "up", TIMEOUT).await;
}

/// A stand-in for a Grace under an event storm: answers the first `POST /events` with 503
/// and `Retry-After: 1`, as Grace's intake does, then 202; records when each came.
async fn busy_then_free() -> (String, Arc<Mutex<Vec<Instant>>>) {
    use warp::Filter;
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let log = Arc::clone(&seen);
    let route = warp::post().and(warp::path("events")).map(move || {
        let mut log = log.lock().unwrap();
        log.push(Instant::now());
        let status = if log.len() == 1 { 503 } else { 202 };
        warp::http::Response::builder()
            .status(status)
            .header("retry-after", "1")
            .body(r#"{"accepted":1,"seqs":[1]}"#.to_owned())
            .unwrap()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (format!("http://{addr}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_grace_is_given_the_time_it_asks_for() {
    let (url, seen) = busy_then_free().await;
    let grace = client(&url);
    grace.push(grace_client::Event::new("deploy.started", "shop"));
    assert!(grace.flush(TIMEOUT).await);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one refusal, one retry");
    let waited = seen[1] - seen[0];
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    assert_eq!(grace.stats().retries, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_resumes_after_grace_is_killed_missing_and_repeating_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_on(free_port(), "");
    let app = spawn_app(dir.path(), &config);
    let grace = client(&app.url(""));
    let mut feed = grace.subscribe(&["dependency.*"], Some(0));
    let events: Arc<Mutex<Vec<FeedEvent>>> = Arc::default();
    let seen = Arc::clone(&events);
    let reader = tokio::spawn(async move {
        while seen.lock().unwrap().len() < 4 {
            let event = feed.next().await.expect("the feed");
            seen.lock().unwrap().push(event);
        }
    });
    for name in ["a", "b"] {
        grace.report_failure(name, &"down", Duration::ZERO);
    }
    eventually("the first two", TIMEOUT, || async {
        (events.lock().unwrap().len() >= 2).then_some(())
    })
    .await;
    // The feed is what is tested: the sender must have had both 202s, or it would rightly
    // send again what a kill cut off before its answer (at least once), and the feed would
    // rightly show it twice.
    assert!(grace.flush(TIMEOUT).await, "both posts acknowledged");
    app.kill_9();
    let app = spawn_app(dir.path(), &config);
    for name in ["c", "d"] {
        grace.report_failure(name, &"down", Duration::ZERO);
    }
    tokio::time::timeout(TIMEOUT, reader)
        .await
        .unwrap()
        .unwrap();
    let events = events.lock().unwrap().clone();
    let sources: Vec<&str> = events
        .iter()
        .filter_map(|e| e.data["source"].as_str())
        .collect();
    assert_eq!(sources, ["shop/a", "shop/b", "shop/c", "shop/d"]);
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let mut sorted = seqs.clone();
    sorted.dedup();
    sorted.sort_unstable();
    assert_eq!(seqs, sorted, "in order, none twice");
    assert!(events.iter().all(|e| e.event_type == "dependency.failed"));
    drop(app);
}

//! HTTP monitors against a local API speaking real HTTP: errors, slowness, outages and rate limits
//! told apart, the shipped API backoff playbook waiting out `Retry-After`, and an untrusted
//! certificate reported as a TLS error.

use std::time::Duration;

use super::{app_with, http_monitor, rate_limited, TIMEOUT};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A local HTTP API speaking real HTTP: healthy, broken, slow, and one that rate-limits until
/// told otherwise, recording when it was hit.
struct TestApi {
    addr: std::net::SocketAddr,
    limited_hits: std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
    limiting: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: JoinHandle<()>,
}

async fn test_api() -> TestApi {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use warp::Filter;

    let limited_hits = Arc::new(Mutex::new(Vec::new()));
    let limiting = Arc::new(AtomicBool::new(true));
    let ok = warp::path("ok").map(|| warp::reply::json(&serde_json::json!({ "status": "ok" })));
    let broken = warp::path("broken")
        .map(|| warp::reply::with_status("boom", warp::http::StatusCode::INTERNAL_SERVER_ERROR));
    let slow = warp::path("slow").and_then(|| async {
        // The server under test is slow on purpose; this is its behaviour, not a test wait.
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok::<_, warp::Rejection>("finally")
    });
    let (hits, flag) = (limited_hits.clone(), limiting.clone());
    let limited = warp::path("limited").map(move || {
        hits.lock().unwrap().push(std::time::Instant::now());
        rate_limited(flag.load(Ordering::SeqCst).then_some(1))
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = ok.or(broken).or(slow).or(limited);
    let task = tokio::spawn(warp::serve(routes).incoming(listener).run());
    TestApi {
        addr,
        limited_hits,
        limiting,
        task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_monitors_tell_errors_slowness_outages_and_rate_limits_apart() {
    let api = test_api().await;
    let base = format!("http://{}", api.addr);
    let monitors = [
        http_monitor(
            "ok-api",
            &format!("{base}/ok"),
            "json_pointer = \"/status\"\njson_equals = \"ok\"",
        ),
        http_monitor("broken-api", &format!("{base}/broken"), ""),
        http_monitor("slow-api", &format!("{base}/slow"), "degraded_ms = 100"),
        http_monitor(
            "gone-api",
            &format!("http://127.0.0.1:{}/", crate::common::free_port()),
            "",
        ),
        http_monitor("limited-api", &format!("{base}/limited"), ""),
    ]
    .concat();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), &monitors);

    app.monitor_state("ok-api", "up", TIMEOUT).await;
    for (source, event_type) in [
        ("broken-api", "api.error"),
        ("slow-api", "api.degraded"),
        ("gone-api", "api.unavailable"),
        ("limited-api", "api.rate_limit_exceeded"),
    ] {
        let incident = app
            .incident_where(event_type, TIMEOUT, |i| i["source"] == source)
            .await;
        assert_eq!(incident["event_type"], event_type, "{source}");
    }
    let statuses = app.get_ok("/monitors").await;
    let limited = &statuses["items"][4];
    assert_eq!(limited["details"]["status"], 429);
    assert_eq!(limited["details"]["retry_after_seconds"], 1.0);

    // It never hammers an API that said slow down: Retry-After 1 s between tries, not 50 ms.
    let hits = crate::common::eventually("three tries of the limited API", TIMEOUT, || async {
        let hits = api.limited_hits.lock().unwrap().clone();
        (hits.len() >= 3).then_some(hits)
    })
    .await;
    for pair in hits.windows(2).take(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    }

    // The limit lifts: the next try succeeds and the incident resolves.
    api.limiting
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let resolved = app
        .incident_where("the rate limit to lift", TIMEOUT, |i| {
            i["source"] == "limited-api" && i["status"] == "resolved"
        })
        .await;
    assert_eq!(resolved["resolved_by"], "recovery");
    api.task.abort();
}

/// An API that, once hit, rate-limits for `window` with `Retry-After`, then answers 200.
async fn windowed_limiter(window: Duration) -> (std::net::SocketAddr, JoinHandle<()>) {
    use std::sync::{Arc, Mutex};
    use warp::Filter;
    let until: Arc<Mutex<Option<std::time::Instant>>> = Arc::default();
    let route = warp::path("quota").map(move || {
        let mut until = until.lock().unwrap();
        let now = std::time::Instant::now();
        let ends = *until.get_or_insert(now + window);
        rate_limited((now < ends).then(|| (ends - now).as_secs_f64().ceil() as u64))
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (
        addr,
        tokio::spawn(warp::serve(route).incoming(listener).run()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_api_backoff_playbook_waits_out_retry_after_and_verifies() {
    let (addr, server) = windowed_limiter(Duration::from_secs(2)).await;
    let playbook = include_str!("../../../config/playbooks/api_backoff.toml");
    let config = format!(
        "{}\n{playbook}",
        http_monitor("quota-api", &format!("http://{addr}/quota"), "")
    );
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), &config);
    let healed = app
        .incident_where("the rate limit to be waited out", TIMEOUT, |i| {
            i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["event_type"], "api.rate_limit_exceeded");
    assert_eq!(healed["resolved_by"], "playbook");
    let executions = app.get_ok("/monitoring/executions").await;
    let run = &executions["items"][0];
    assert_eq!(run["status"], "succeeded", "{run}");
    let wait = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["name"] == "wait")
        .expect("a wait step");
    let output = wait["output"].as_str().unwrap();
    assert!(output.contains("Retry-After"), "{output}");
    // It waited: the run took most of the window, not a few milliseconds.
    let duration = run["duration_seconds"].as_f64().unwrap();
    assert!(duration >= 1.0, "the run took {duration} s");
    server.abort();
}

/// `openssl s_server` with a fresh self-signed certificate: a real TLS server that no client
/// should trust.
struct SelfSignedTls {
    child: std::process::Child,
    port: u16,
}

impl SelfSignedTls {
    fn start(dir: &std::path::Path) -> Self {
        let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
        let made = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=127.0.0.1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|error| {
                panic!("cannot run openssl ({error}): install it with `apt-get install -y openssl`")
            });
        assert!(made.success(), "openssl could not make a certificate");
        let port = crate::common::free_port();
        let child = std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(std::process::Stdio::piped()) // s_server ends when its stdin closes
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Self { child, port }
    }
}

impl Drop for SelfSignedTls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_reported_as_a_tls_error() {
    let dir = tempfile::tempdir().unwrap();
    let tls = SelfSignedTls::start(dir.path());
    crate::common::eventually("openssl s_server to listen", TIMEOUT, || async {
        tokio::net::TcpStream::connect(("127.0.0.1", tls.port))
            .await
            .ok()
    })
    .await;
    let app = app_with(
        dir.path(),
        &http_monitor("tls-api", &format!("https://127.0.0.1:{}/", tls.port), ""),
    );
    let incident = app
        .incident_where("the TLS failure", TIMEOUT, |i| i["source"] == "tls-api")
        .await;
    assert_eq!(incident["event_type"], "api.unavailable");
    let monitor = app.get_ok("/monitors/tls-api").await;
    let error = monitor["last_error"].as_str().unwrap();
    assert!(error.starts_with("TLS error"), "{error}");
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}

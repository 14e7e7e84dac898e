//! Monitor kinds against real peers on 127.0.0.1.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::browser::Browser;
use crate::common::{eventually, holds_for, spawn_app, Feed, TestApp};
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
    // The incident manager reads the log after the monitor publishes, so
    // the incident can trail the monitor's "down" state: wait for it.
    let incident = app
        .incident_where("the wrong answer", TIMEOUT, |i| i["status"] == "open")
        .await;
    assert_eq!(incident["source"], "wrong-answer");
    let incidents = app.incidents("").await;
    assert_eq!(incidents.len(), 1, "only the wrong answer is a problem");
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

/// Debian's monitoring-plugins-basic: real Nagios check plugins.
fn plugin(name: &str) -> String {
    let path = format!("/usr/lib/nagios/plugins/{name}");
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is missing: install the check plugins with \
         `apt-get install -y monitoring-plugins-basic` (.ci/test does this)"
    );
    path
}

fn command_monitor(id: &str, argv: &[&str]) -> String {
    format!(
        "\n[[monitors]]\nid = \"{id}\"\nkind = \"command\"\nargv = {}\ninterval_ms = 100\ntimeout_ms = 5000\nfailures_before_down = 1\n",
        serde_json::to_string(argv).unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nagios_check_plugins_work_as_monitors() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = pong_server(listener).await;
    let (check_dummy, check_tcp) = (plugin("check_dummy"), plugin("check_tcp"));
    let port = address.port().to_string();
    let monitors = [
        command_monitor("port", &[&check_tcp, "-H", "127.0.0.1", "-p", &port]),
        command_monitor(
            "disk",
            &[&check_dummy, "1", "disk almost full|used=91%;80;90;0;100"],
        ),
        command_monitor("mystery", &[&check_dummy, "3", "no idea"]),
    ]
    .concat();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), &monitors);

    app.monitor_state("port", "up", TIMEOUT).await;
    let status = app.get_ok("/monitors").await["items"][0].clone();
    assert_eq!(status["details"]["exit_code"], 0);
    assert!(status["details"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("TCP OK"));
    assert_eq!(status["details"]["perfdata"][0]["label"], "time");

    let warning = app
        .incident_where("the WARNING", TIMEOUT, |i| i["source"] == "disk")
        .await;
    assert_eq!(warning["event_type"], "check.warning");
    assert_eq!(warning["severity"], "medium");
    let disk = app.get_ok("/monitors").await["items"][1].clone();
    assert_eq!(disk["last_error"], "WARNING: disk almost full");
    assert_eq!(disk["details"]["perfdata"][0]["label"], "used");
    assert_eq!(disk["details"]["perfdata"][0]["value"], 91.0);
    assert_eq!(disk["details"]["perfdata"][0]["crit"], "90");

    let unknown = app
        .incident_where("the UNKNOWN", TIMEOUT, |i| i["source"] == "mystery")
        .await;
    assert_eq!(unknown["event_type"], "check.unknown");
    assert_eq!(unknown["severity"], "low");

    // The port closes: CRITICAL; it opens again: the incident resolves.
    server.abort();
    let _ = server.await;
    let critical = app
        .incident_where("the CRITICAL", TIMEOUT, |i| i["source"] == "port")
        .await;
    assert_eq!(critical["event_type"], "check.critical");
    let server = pong_server(TcpListener::bind(address).await.unwrap()).await;
    let resolved = app
        .incident_where("the recovery", TIMEOUT, |i| {
            i["source"] == "port" && i["status"] == "resolved"
        })
        .await;
    assert_eq!(resolved["resolved_by"], "recovery");
    server.abort();
}

/// A real redis-server on a free port, stopped on drop.
pub(crate) struct RedisServer {
    child: std::process::Child,
    pub(crate) port: u16,
}

impl RedisServer {
    pub(crate) fn start(port: u16, password: Option<&str>) -> Self {
        let mut command = std::process::Command::new("redis-server");
        command.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
        if let Some(password) = password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start redis-server ({error}): install it with \
                     `apt-get install -y redis-server` (.ci/test does this)"
                )
            });
        Self { child, port }
    }

    fn url(&self, password: Option<&str>) -> String {
        match password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis_monitor(id: &str, url: &str) -> String {
    format!(
        "\n[[monitors]]\nid = \"{id}\"\nkind = \"redis\"\nurl = \"{url}\"\ninterval_ms = 100\ntimeout_ms = 1000\nfailures_before_down = 2\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_opens_an_incident_and_its_return_resolves_it() {
    let port = crate::common::free_port();
    let redis = RedisServer::start(port, Some("s3cret"));
    let monitors = [
        redis_monitor("sessions", &redis.url(Some("s3cret"))),
        redis_monitor("wrong-password", &redis.url(Some("guess"))),
    ]
    .concat();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), &monitors);
    app.monitor_state("sessions", "up", TIMEOUT).await;
    app.monitor_state("wrong-password", "down", TIMEOUT).await;
    let statuses = app.get_ok("/monitors").await;
    let error = statuses["items"][1]["last_error"].as_str().unwrap();
    assert!(error.contains("AUTH refused"), "{error}");

    drop(redis);
    let incident = app
        .incident_where("the Redis outage", TIMEOUT, |i| i["source"] == "sessions")
        .await;
    assert_eq!(incident["event_type"], "redis.unavailable");

    let _redis = RedisServer::start(port, Some("s3cret"));
    let resolved = app
        .incident_where("the Redis recovery", TIMEOUT, |i| {
            i["source"] == "sessions" && i["status"] == "resolved"
        })
        .await;
    assert_eq!(resolved["id"], incident["id"]);
}

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

/// 429 with `Retry-After: seconds` while limited, else 200.
fn rate_limited(retry_after_seconds: Option<u64>) -> warp::http::Response<String> {
    let response = warp::http::Response::builder();
    match retry_after_seconds {
        Some(seconds) => response
            .status(429)
            .header("Retry-After", seconds.to_string())
            .body("slow down".to_owned()),
        None => response.status(200).body("ok".to_owned()),
    }
    .unwrap()
}

fn http_monitor(id: &str, url: &str, extra: &str) -> String {
    format!(
        "\n[[monitors]]\nid = \"{id}\"\nkind = \"http\"\nurl = \"{url}\"\ninterval_ms = 50\ntimeout_ms = 2000\nfailures_before_down = 1\n{extra}\n"
    )
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependents_failure_is_a_symptom_of_its_parents_incident() {
    let db_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let db_address = db_listener.local_addr().unwrap().to_string();
    let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_address = api_listener.local_addr().unwrap().to_string();
    let db = pong_server(db_listener).await;
    let api = pong_server(api_listener).await;
    let monitors = [
        tcp_monitor("db", &db_address, ""),
        tcp_monitor("api", &api_address, "depends_on = [\"db\"]"),
    ]
    .concat();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), &monitors);
    app.monitor_state("api", "up", TIMEOUT).await;

    // The database goes first, then the API that needs it.
    db.abort();
    let _ = db.await;
    let parent = app
        .incident_where("the db incident", TIMEOUT, |i| i["source"] == "db")
        .await;
    api.abort();
    let _ = api.await;
    let parent = app
        .incident_where("the api failure attached as a symptom", TIMEOUT, |i| {
            i["id"] == parent["id"] && i["symptoms"].as_array().is_some_and(|s| !s.is_empty())
        })
        .await;
    assert_eq!(parent["symptoms"][0]["source"], "api");
    assert_eq!(parent["symptoms"][0]["event_type"], "tcp.unreachable");
    app.monitor_state("api", "down", TIMEOUT).await;
    assert_eq!(app.incidents("").await.len(), 1, "no incident of its own");

    // The database comes back, the API does not: the API's failure is no longer hidden.
    let db = pong_server(TcpListener::bind(&db_address).await.unwrap()).await;
    let child = app
        .incident_where("the api incident after the db recovered", TIMEOUT, |i| {
            i["source"] == "api"
        })
        .await;
    assert_eq!(child["status"], "open");
    let resolved = app
        .get_ok(&format!("/monitoring/incidents/{}", parent["id"]))
        .await;
    assert_eq!(resolved["status"], "resolved");

    let api = pong_server(TcpListener::bind(&api_address).await.unwrap()).await;
    app.incident_where("the api recovery", TIMEOUT, |i| {
        i["source"] == "api" && i["status"] == "resolved"
    })
    .await;
    db.abort();
    api.abort();
}

/// A playbook for the api only, whose one step runs until killed and leaves its pid behind.
fn long_api_playbook(pidfile: &std::path::Path) -> String {
    format!(
        r#"
[[playbooks]]
id = "restart_api"
on = ["tcp.unreachable"]
monitors = ["api"]
steps = [{{ kind = "command", argv = ["sh", "-c", "echo $$ > {}; exec sleep 120"], timeout_ms = 300000 }}]
"#,
        pidfile.display()
    )
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
fn is_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_failing_from_the_bottom_up_ends_as_one_incident_and_stops_the_dependents_run() {
    let mut addresses = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..3 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addresses.push(listener.local_addr().unwrap().to_string());
        servers.push(pong_server(listener).await);
    }
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("restart_api.pid");
    let config = [
        tcp_monitor("db", &addresses[0], ""),
        tcp_monitor("api", &addresses[1], "depends_on = [\"db\"]"),
        tcp_monitor("web", &addresses[2], "depends_on = [\"api\"]"),
        long_api_playbook(&pidfile),
    ]
    .concat();
    let app = app_with(dir.path(), &config);
    app.monitor_state("web", "up", TIMEOUT).await;
    let mut servers = servers.into_iter();
    let (db, api, web) = (
        servers.next().unwrap(),
        servers.next().unwrap(),
        servers.next().unwrap(),
    );

    // The web notices first, then the API (whose playbook starts), then the database.
    web.abort();
    let web_incident = app
        .incident_where("web's incident", TIMEOUT, |i| i["source"] == "web")
        .await;
    api.abort();
    let api_incident = app
        .incident_where("api's incident, holding web's failure", TIMEOUT, |i| {
            i["source"] == "api"
                && i["symptoms"][0]["source"] == "web"
                && !i["active_run_id"].is_null()
        })
        .await;
    let folded = app
        .get_ok(&format!("/monitoring/incidents/{}", web_incident["id"]))
        .await;
    assert_eq!(folded["resolved_by"], "superseded", "{folded}");
    assert_eq!(folded["superseded_by"], api_incident["id"]);
    let pid = eventually("the api playbook's program", TIMEOUT, || async {
        std::fs::read_to_string(&pidfile)
            .ok()
            .map(|pid| pid.trim().to_owned())
            .filter(|p| !p.is_empty())
    })
    .await;

    db.abort();
    let root = app
        .incident_where("one incident on db holding both", TIMEOUT, |i| {
            i["source"] == "db" && i["symptoms"].as_array().is_some_and(|s| s.len() == 2)
        })
        .await;
    let symptoms: Vec<&str> = root["symptoms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["source"].as_str())
        .collect();
    assert_eq!(symptoms, ["api", "web"]);
    let active = app.incidents("status=active").await;
    assert_eq!(active.len(), 1, "one outage, one incident: {active:?}");
    let api_after = app
        .get_ok(&format!("/monitoring/incidents/{}", api_incident["id"]))
        .await;
    assert_eq!(api_after["resolved_by"], "superseded");
    assert_eq!(api_after["superseded_by"], root["id"]);

    // The API's run is stopped as superseded, its program killed.
    let runs = app
        .get_ok(&format!(
            "/monitoring/executions?incident_id={}",
            api_incident["id"]
        ))
        .await;
    assert_eq!(runs["items"][0]["status"], "superseded", "{runs}");
    eventually(
        "the superseded run's program to be killed",
        TIMEOUT,
        || async { is_gone(&pid).then_some(()) },
    )
    .await;

    // The dashboard says why the API and the web are failing.
    let browser = Browser::start("dependencies").await;
    browser.goto(&app.url("/")).await;
    let cause = browser
        .wait_for(
            "the tile saying why",
            "[...document.querySelectorAll('.tile .cause')].map((p) => p.innerText).find((t) => t.includes('because')) || ''",
        )
        .await;
    assert_eq!(cause, "🔗 api, web failing because db is down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_back_soon_after_it_healed_reopens_its_incident_then_goes_to_people() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let mut server = Some(pong_server(listener).await);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[incidents]\nrelapses_max = 1\n{}",
        tcp_monitor("cache", &address, "")
    );
    let app = app_with(dir.path(), &config);
    app.monitor_state("cache", "up", TIMEOUT).await;

    // Down, back by itself, down again: one incident, reopened.
    let mut id = None;
    for relapses in 0..=2u64 {
        let stopping = server.take().expect("serving");
        stopping.abort();
        let _ = stopping.await;
        let incident = app
            .incident_where(&format!("round {relapses}"), TIMEOUT, |i| {
                i["source"] == "cache" && i["status"] != "resolved" && i["relapses"] == relapses
            })
            .await;
        assert_eq!(
            *id.get_or_insert(incident["id"].clone()),
            incident["id"],
            "{incident}"
        );
        if relapses < 2 {
            server = Some(pong_server(TcpListener::bind(&address).await.unwrap()).await);
            app.incident_where("the heal", TIMEOUT, |i| {
                i["id"] == incident["id"] && i["status"] == "resolved"
            })
            .await;
        }
    }
    // The second relapse is past relapses_max: a work order, not another round of healing.
    let escalated = app
        .incident_where("the escalation", TIMEOUT, |i| i["status"] == "escalated")
        .await;
    assert_eq!(escalated["id"], id.clone().unwrap());
    let work_orders = app.get_ok("/work-orders").await;
    assert_eq!(
        work_orders["items"][0]["reason"], "relapsing",
        "{work_orders}"
    );
    let detail = app
        .get_ok(&format!("/monitoring/incidents/{}", id.unwrap()))
        .await;
    let reopened = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "incident.reopened")
        .count();
    assert_eq!(reopened, 2, "{detail}");
    assert_eq!(app.incidents("").await.len(), 1, "one incident in all");
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
    let playbook = include_str!("../../config/playbooks/api_backoff.toml");
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

/// A line server that answers `+PONG` on every other connection and `-ERR busy` on the rest,
/// until `steady` is set; then always `+PONG`. Returns its address.
async fn swinging_server(steady: Arc<AtomicBool>) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let mut nth = 0u64;
        while let Ok((mut stream, _)) = listener.accept().await {
            nth += 1;
            let good = steady.load(Ordering::SeqCst) || nth.is_multiple_of(2);
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                if let Ok(n) = stream.read(&mut buf).await {
                    if n > 0 {
                        let answer: &[u8] = if good { b"+PONG\r\n" } else { b"-ERR busy\r\n" };
                        let _ = stream.write_all(answer).await;
                    }
                }
            });
        }
    });
    (address, server)
}

/// A service that answers well on every other connection: without a flap window it would
/// never be an incident (it never fails twice in a row); with one, it is one incident that
/// says "flapping", however long it swings, and it resolves once the service is steady.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_service_is_one_flapping_incident_until_it_is_steady() {
    let steady = Arc::new(AtomicBool::new(false));
    let (address, server) = swinging_server(steady.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "send = \"PING\\r\\n\"\nexpect = \"PONG\"\nflap_window = 10\nflap_threshold = 6";
    let app = app_with(dir.path(), &tcp_monitor("queue", &address, extra));
    let incident = app
        .incident_where("the flapping incident", TIMEOUT, |i| i["status"] == "open")
        .await;
    assert_eq!(incident["event_type"], "monitor.flapping", "{incident}");
    assert_eq!(incident["source"], "queue");
    let timeline = app
        .get_ok(&format!("/monitoring/incidents/{}", incident["id"]))
        .await["timeline"]
        .clone();
    let ratio = timeline[0]["data"]["failure_ratio"].as_f64().unwrap();
    assert!((0.3..=0.7).contains(&ratio), "{timeline}");
    // It keeps swinging: still that one incident, not one per swing.
    holds_for(
        "one incident while it swings",
        Duration::from_secs(2),
        || async { app.incidents("").await.len() == 1 },
    )
    .await;

    steady.store(true, Ordering::SeqCst);
    let resolved = app
        .incident_where("steady again", TIMEOUT, |i| i["status"] == "resolved")
        .await;
    assert_eq!(resolved["id"], incident["id"]);
    assert_eq!(resolved["resolved_by"], "recovery");
    assert_eq!(app.incidents("").await.len(), 1);
    app.monitor_state("queue", "up", TIMEOUT).await;
    server.abort();
}

/// Flapping is on by default: a monitor that says only what to probe (its kind's `send` and
/// `expect` included) and how often, with every damping setting left out, makes a service
/// that fails every other probe one `monitor.flapping` incident, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_default_settings_a_service_failing_every_other_probe_is_one_flapping_incident() {
    let (address, server) = swinging_server(Arc::new(AtomicBool::new(false))).await;
    let dir = tempfile::tempdir().unwrap();
    let monitor = format!(
        "[[monitors]]\nid = \"queue\"\nkind = \"tcp\"\naddress = \"{address}\"\n\
         send = \"PING\\r\\n\"\nexpect = \"PONG\"\ninterval_ms = 100\n"
    );
    let app = app_with(dir.path(), &monitor);
    let incident = app
        .incident_where("the flapping incident", TIMEOUT, |i| i["source"] == "queue")
        .await;
    assert_eq!(incident["event_type"], "monitor.flapping", "{incident}");
    // 20 probes and more of swinging: still that one incident, and no other.
    holds_for(
        "exactly one incident, the flapping one",
        Duration::from_secs(3),
        || async {
            let incidents = app.incidents("").await;
            incidents.len() == 1
                && incidents[0]["id"] == incident["id"]
                && incidents[0]["status"] != "resolved"
        },
    )
    .await;
    // The log agrees: one swing into flapping, no outage announced per swing.
    let feed = Feed::connect(&app, "?since=0").await;
    feed.wait_for("monitor.flapping", TIMEOUT).await;
    let types = feed.types();
    let flapping = types.iter().filter(|t| *t == "monitor.flapping").count();
    assert_eq!(flapping, 1, "{types:?}");
    assert!(!types.iter().any(|t| t.starts_with("tcp.")), "{types:?}");
    server.abort();
}

//! The simple monitor kinds against real peers: a TCP service that stops accepting, `send` and
//! `expect`, a missed heartbeat, real Nagios check plugins as command monitors, and a real
//! redis-server's outage.

use super::{app_with, pong_server, tcp_monitor, RedisServer, TIMEOUT};
use tokio::net::TcpListener;

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

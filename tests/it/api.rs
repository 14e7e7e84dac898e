//! The REST API's contract: errors (404, 409, 400, 413) as JSON naming what is wrong, and state
//! that survives Grace being stopped and started again on the same store.

use std::time::Duration;

use crate::common::{eventually, free_port, spawn_app, Feed};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A monitor on a port where nothing listens, and a playbook that gives up quickly: an
/// escalated incident, a failed run and an agent, without needing a database.
fn unreachable_config(body_limit_bytes: u64) -> String {
    format!(
        r#"
[server]
bind = "127.0.0.1:0"
body_limit_bytes = {body_limit_bytes}

[store]
path = "store"

[[monitors]]
id = "ghost-db"
kind = "postgres"
url = "postgres://postgres@127.0.0.1:{port}/postgres"
interval_ms = 100
timeout_ms = 500
failures_before_down = 1

[[playbooks]]
id = "db_reconnect"
on = ["db.*"]
sources = ["monitors", "pushed"]
steps = [{{ kind = "check" }}, {{ kind = "reconnect", backoff_ms = [50] }}, {{ kind = "verify" }}]
"#,
        port = free_port()
    )
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_with_the_right_status() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), &unreachable_config(1024));
    let incident = app
        .incident_where("an escalated incident", TIMEOUT, |i| {
            i["status"] == "escalated"
        })
        .await;
    let id = incident["id"].as_u64().unwrap();

    // 404: unknown ids and routes.
    for path in [
        "/monitoring/incidents/999",
        "/monitoring/executions/run-nope",
        "/nope",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(error_code(&body), "not_found");
        assert!(body["error"]["message"].is_string());
    }
    let (status, _) = app.post("/monitoring/incidents/999/resolve").await;
    assert_eq!(status, 404);

    // 400: malformed input names the field.
    for (path, field) in [
        ("/monitoring/incidents/abc", "id"),
        ("/monitoring/incidents?limit=0", "limit"),
        ("/monitoring/incidents?limit=many", "limit"),
        ("/monitoring/incidents?status=sleeping", "status"),
        ("/monitoring/incidents?cursor=x", "cursor"),
        ("/monitoring/executions?limit=100000", "limit"),
        ("/monitoring/executions?incident_id=first", "incident_id"),
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
    }
    let (status, body) = app.post("/monitoring/incidents/abc/acknowledge").await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("id")));
    let (status, body) = app.get("/ws?since=yesterday").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("since"))
    );

    // 413: bodies are bounded.
    let response = reqwest::Client::new()
        .post(app.url(&format!("/monitoring/incidents/{id}/acknowledge")))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);

    // The lifecycle: acknowledge once, resolve once; repeats conflict.
    let (status, body) = app
        .post(&format!("/monitoring/incidents/{id}/acknowledge"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["acknowledged_at"].is_string());
    let (status, body) = app
        .post(&format!("/monitoring/incidents/{id}/acknowledge"))
        .await;
    assert_eq!((status, error_code(&body)), (409, "conflict"), "{body}");
    let (status, body) = app
        .post(&format!("/monitoring/incidents/{id}/resolve"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "resolved");
    assert_eq!(body["resolved_by"], "manual");
    assert!(body["resolution_time_seconds"].as_f64().unwrap() >= 0.0);
    let (status, body) = app
        .post(&format!("/monitoring/incidents/{id}/resolve"))
        .await;
    assert_eq!((status, error_code(&body)), (409, "conflict"), "{body}");
    let (status, _) = app
        .post(&format!("/monitoring/incidents/{id}/acknowledge"))
        .await;
    assert_eq!(status, 409);

    // Resolved by hand while the database is still unreachable: the monitor looks again, and
    // the outage that goes on is a new incident, not silence.
    let reopened = app
        .incident_where("a new incident for the ongoing outage", TIMEOUT, |i| {
            i["id"] != id && i["source"] == "ghost-db"
        })
        .await;
    let newer = reopened["id"].as_u64().unwrap();
    assert!(newer > id);

    // Filters and paging.
    let resolved = app.incidents("status=resolved").await;
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["id"], id);
    let page = app.get_ok("/monitoring/incidents?limit=1").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], newer);
    assert_eq!(page["next"], newer.to_string());
    let rest = app
        .get_ok(&format!("/monitoring/incidents?cursor={newer}"))
        .await;
    assert_eq!(rest["items"][0]["id"], id);
    let last = app
        .get_ok(&format!("/monitoring/incidents?cursor={id}"))
        .await;
    assert!(last["items"].as_array().unwrap().is_empty());
    assert!(last["next"].is_null());
    // A cursor far past every id (schemathesis sent 1694020001) lists from the newest, and
    // does not walk the empty ids below it.
    let far = tokio::time::timeout(
        TIMEOUT,
        app.get_ok("/monitoring/incidents?cursor=1694020001"),
    )
    .await
    .expect("a far cursor answered");
    assert_eq!(far["items"][0]["id"], newer);

    let health = app.get_ok("/health").await;
    assert_eq!(health["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_executions_agents_and_events_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = unreachable_config(65536);
    let app = spawn_app(dir.path(), &config);
    let incident = app
        .incident_where("an escalated incident", TIMEOUT, |i| {
            i["status"] == "escalated"
        })
        .await;
    let executions = app.get_ok("/monitoring/executions").await["items"].clone();
    let agents = app.get_ok("/monitoring/agents").await["items"].clone();
    let work_orders = app.get_ok("/work-orders").await["items"].clone();
    let before = Feed::connect(&app, "?since=0").await;
    let last_seq = app.get_ok("/health").await["last_seq"].as_u64().unwrap();
    eventually("the replay", TIMEOUT, || async {
        (before.seqs().last() == Some(&last_seq)).then_some(())
    })
    .await;
    let history = before.snapshot();
    drop(before);
    app.stop();

    let app = spawn_app(dir.path(), &config);
    let again = app
        .get_ok(&format!("/monitoring/incidents/{}", incident["id"]))
        .await;
    assert_eq!(again["detected_at"], incident["detected_at"]);
    assert_eq!(again["work_order_id"], incident["work_order_id"]);
    let run_id = executions[0]["run_id"].as_str().unwrap();
    let execution = app
        .get_ok(&format!("/monitoring/executions/{run_id}"))
        .await;
    assert_eq!(execution, executions[0]);
    // An incident's own runs, and none of an incident that has none.
    let of = |id: u64| format!("/monitoring/executions?incident_id={id}");
    let own = app.get_ok(&of(incident["id"].as_u64().unwrap())).await["items"].clone();
    assert_eq!(
        own, executions,
        "one incident, so its runs are all the runs"
    );
    assert_eq!(app.get_ok(&of(999)).await["items"], serde_json::json!([]));
    assert_eq!(
        app.get_ok("/monitoring/agents").await["items"][0],
        agents[0]
    );
    assert_eq!(app.get_ok("/work-orders").await["items"][0], work_orders[0]);
    // Each one read by its id too, as the list has it; an unknown id is 404.
    let agent_id = agents[0]["agent_id"].as_str().unwrap();
    let agent = app.get_ok(&format!("/monitoring/agents/{agent_id}")).await;
    assert_eq!(agent, agents[0]);
    let order_id = work_orders[0]["work_order_id"].as_str().unwrap();
    let order = app.get_ok(&format!("/work-orders/{order_id}")).await;
    assert_eq!(order, work_orders[0]);
    // Sub-agents by status: this one's, and none of another.
    let status = agents[0]["status"].as_str().unwrap();
    let by = |status: &str| format!("/monitoring/agents?status={status}");
    assert_eq!(app.get_ok(&by(status)).await["items"][0], agents[0]);
    let other = if status == "stopped" {
        "succeeded"
    } else {
        "stopped"
    };
    assert_eq!(app.get_ok(&by(other)).await["items"], serde_json::json!([]));
    let (code, body) = app.get(&by("asleep")).await;
    assert_eq!(
        (code, body["error"]["field"].as_str()),
        (400, Some("status")),
        "{body}"
    );
    for path in ["/monitoring/agents/nope", "/work-orders/nope"] {
        let (status, body) = app.get(path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}: {body}"
        );
    }

    // The event log replays exactly as before, and new events continue the sequence.
    let replay = Feed::connect(&app, "?since=0").await;
    eventually("the replay after restart", TIMEOUT, || async {
        (replay.snapshot().len() >= history.len()).then_some(())
    })
    .await;
    assert_eq!(replay.snapshot()[..history.len()], history[..]);
    let (status, _) = app
        .post(&format!(
            "/monitoring/incidents/{}/acknowledge",
            incident["id"]
        ))
        .await;
    assert_eq!(status, 200);
    let acknowledged = eventually("the acknowledgement on the feed", TIMEOUT, || async {
        replay
            .snapshot()
            .into_iter()
            .find(|e| e["type"] == "incident.updated" && e["data"]["reason"] == "acknowledged")
    })
    .await;
    assert_eq!(acknowledged["seq"], last_seq + 1);
    let seqs = replay.seqs();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    // The monitor remembers the component was down: no second incident, no repeat.
    app.monitor_state("ghost-db", "down", TIMEOUT).await;
    let monitors = app.get_ok("/monitors").await;
    assert!(monitors["items"][0]["last_error"].is_string(), "{monitors}");
    let incidents = app.incidents("").await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0]["occurrences"], 1);
}

/// A real Prometheus server, scraping Grace's `/metrics` every 200 ms.
struct Prometheus {
    child: std::process::Child,
    port: u16,
}

impl Prometheus {
    fn start(dir: &std::path::Path, grace: &crate::common::TestApp) -> Self {
        let port = free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 200ms\nscrape_configs:\n- job_name: grace\n  \
                 static_configs:\n  - targets: ['{}']\n",
                grace.addr
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start prometheus ({error}): install it with `apt-get install -y \
                     prometheus` (.ci/test does this)"
                )
            });
        Self { child, port }
    }

    /// The value of an instant query's only series, once it has one.
    async fn value(&self, query: &str) -> Option<f64> {
        let url = format!("http://127.0.0.1:{}/api/v1/query", self.port);
        let response = reqwest::Client::new()
            .get(url)
            .query(&[("query", query)])
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /metrics` is what a real Prometheus scrapes: runs, deliveries, incidents by status, each
/// monitor's state and probes, events and store commits, as the API tells them too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_metrics_that_agree_with_the_api() {
    let (addr, _seen) = crate::common::receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    // A port that answers (its listener kept for the test) and one where nothing listens.
    let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (open_port, closed_port) = (open.local_addr().unwrap().port(), free_port());
    let config = format!(
        r#"{}
[[monitors]]
id = "open-port"
kind = "tcp"
address = "127.0.0.1:{open_port}"
interval_ms = 200

[[monitors]]
id = "closed-port"
kind = "tcp"
address = "127.0.0.1:{closed_port}"
interval_ms = 200
failures_before_down = 1

[[playbooks]]
id = "switch_gateway"
on = ["payment.*"]
sources = ["monitors", "pushed"]
steps = [{{ kind = "command", argv = ["false"] }}]

[[webhooks]]
id = "ops"
url = "http://{addr}/ops"
"#,
        crate::common::CONFIG_HEAD
    );
    let app = spawn_app(dir.path(), &config);
    let response = reqwest::get(app.url("/metrics")).await.unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let event = serde_json::json!({ "type": "payment.gateway_timeout", "source": "checkout" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    app.incident_where("the escalation", TIMEOUT, |i| i["status"] == "escalated")
        .await;

    let prometheus = Prometheus::start(dir.path(), &app);
    let expect = |query: &'static str, want: f64| {
        let prometheus = &prometheus;
        async move {
            let what = format!("{query} = {want} in Prometheus");
            eventually(&what, TIMEOUT, || async {
                (prometheus.value(query).await? == want).then_some(())
            })
            .await
        }
    };
    let runs = r#"grace_playbook_runs_total{playbook="switch_gateway",outcome="failed"}"#;
    expect(runs, 1.0).await;
    expect(r#"grace_deliveries_total{status="delivered"}"#, 1.0).await;
    expect(r#"grace_incidents{status="escalated"}"#, 1.0).await;
    expect("grace_events_pushed_total", 1.0).await;
    // Per monitor: up or down, its failed probes, how long its probes took.
    expect(r#"grace_monitor_up{monitor="open-port"}"#, 1.0).await;
    expect(r#"grace_monitor_up{monitor="closed-port"}"#, 0.0).await;
    let failures = r#"grace_monitor_probe_failures_total{monitor="closed-port"} > bool 0"#;
    expect(failures, 1.0).await;
    let timed = r#"grace_monitor_probe_seconds_count{monitor="open-port"} > bool 0"#;
    expect(timed, 1.0).await;
    let none = r#"absent(grace_monitor_probe_failures_total{monitor="open-port"})"#;
    expect(none, 1.0).await;
    // Incidents opened by family: the closed port's (`tcp`), the pushed payment's (no family
    // in the catalog: `other`, so pushed types cannot make labels without end).
    expect(r#"grace_incidents_opened_total{family="tcp"}"#, 1.0).await;
    expect(r#"grace_incidents_opened_total{family="other"}"#, 1.0).await;
    // The process itself, as every exporter reports it.
    expect("process_resident_memory_bytes > bool 1000000", 1.0).await;
    expect("process_open_fds > bool 3", 1.0).await;
    expect("process_cpu_seconds_total > bool 0", 1.0).await;
    expect("grace_incidents_lag_events", 0.0).await;
    let committed = prometheus
        .value("grace_events_committed_total")
        .await
        .unwrap();
    let last_seq = app.get_ok("/health").await["last_seq"].as_f64().unwrap();
    assert!(
        committed >= 5.0 && committed <= last_seq,
        "{committed} of {last_seq}"
    );
    let commits = prometheus
        .value("grace_store_commit_seconds_count")
        .await
        .unwrap();
    assert!(commits >= 3.0, "{commits} commits timed");
}

/// Clients that send nothing or trickle bytes cannot hold connections: a connection silent, or
/// a request head not sent whole, within
/// `server.header_read_timeout_ms` closes the connection, and a body not sent whole within
/// `server.body_read_timeout_ms` gets 408 naming `body`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_heads_and_bodies_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let config = "[server]\nbind = \"127.0.0.1:0\"\nheader_read_timeout_ms = 300\n\
                  body_read_timeout_ms = 300\n[store]\npath = \"memory\"\n";
    let app = spawn_app(dir.path(), config);
    let wait = Duration::from_secs(10);

    // A connection that sends nothing at all holds no slot past the same deadline.
    let mut silent = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(wait, silent.read_to_end(&mut buffer)).await;
    assert!(read.is_ok(), "a silent connection was held for {wait:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed too early"
    );

    let mut head = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    head.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(wait, head.read_to_end(&mut buffer)).await;
    assert!(
        read.is_ok(),
        "an unfinished request head was held for {wait:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed too early"
    );

    let mut body = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    body.write_all(
        b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"type\"",
    )
    .await
    .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(wait, body.read(&mut answer))
        .await
        .expect("no answer to a body that never came")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"field\":\"body\""), "{answer}");

    // Everyone else is served as usual.
    assert_eq!(app.get_ok("/health").await["status"], "ok");
}

/// No other web page can use the operator's browser against Grace: a request or WebSocket
/// upgrade from another origin is 403 naming `origin`, one addressed to another host name
/// (DNS rebinding) is 403 naming `host`, and a POST that is not JSON is 415.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_sites_and_rebound_host_names_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), crate::common::CONFIG_HEAD);
    let client = reqwest::Client::new();

    let evil = client
        .get(app.url("/health"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status().as_u16(), 403);
    let body: Value = evil.json().await.unwrap();
    assert_eq!(body["error"]["field"], "origin", "{body}");
    let own = client
        .get(app.url("/health"))
        .header("origin", format!("http://{}", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status().as_u16(), 200, "Grace's own page is served");

    let form = client
        .post(app.url("/events"))
        .header("content-type", "text/plain")
        .body(r#"{"type": "db.connection_lost", "source": "orders-db"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        form.status().as_u16(),
        415,
        "a form's body never reaches a handler"
    );

    let mut upgrade = format!("ws://{}/ws?since=0", app.addr)
        .into_client_request()
        .unwrap();
    upgrade
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(upgrade).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("a cross-site upgrade was let in: {:?}", other.map(|_| ())),
    }

    let mut rebound = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "GET /health HTTP/1.1\r\nHost: evil.example:{}\r\n\r\n",
        app.addr.port()
    );
    rebound.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = rebound.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("\"field\":\"host\""), "{answer}");
}

/// One catalog of event types, served to the dashboard and anyone else: what each type means
/// and the words people see for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_says_what_each_event_type_means_and_how_to_say_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(
        dir.path(),
        "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n",
    );
    let catalog = app.get_ok("/catalog").await;
    let entry = |t: &str| {
        catalog["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == t)
            .cloned()
    };
    let lost = entry("db.connection_lost").expect("db.connection_lost listed");
    assert_eq!(
        (&lost["class"], &lost["severity"], &lost["title"]),
        (
            &Value::from("problem"),
            &Value::from("high"),
            &Value::from("Database connection lost")
        )
    );
    assert_eq!(
        entry("db.connection_restored").unwrap()["class"],
        "recovery"
    );
    assert_eq!(entry("incident.opened").unwrap()["class"], "info");
    let families = catalog["families"].as_array().unwrap();
    let db = families
        .iter()
        .find(|f| f["prefix"] == "db.")
        .expect("a db. family");
    assert_eq!(
        (&db["name"], &db["verb"]),
        (
            &Value::from("Database hiccup"),
            &Value::from("lost connection")
        )
    );
    assert!(catalog["recovery_words"]
        .as_array()
        .unwrap()
        .contains(&Value::from("recovered")));
}

#[tokio::test]
async fn one_node_says_it_is_not_a_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let app = crate::common::spawn_app(dir.path(), crate::common::CONFIG_HEAD);
    let seen = app.get_ok("/cluster").await;
    assert_eq!(
        seen,
        serde_json::json!({ "clustered": false, "node_id": null, "nodes": [] })
    );
}

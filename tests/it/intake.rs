//! Events pushed in: `POST /events` from instrumented apps, and Prometheus Alertmanager's
//! webhook, driven by a real `prometheus-alertmanager` process on 127.0.0.1.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{eventually, free_port, spawn_app, Feed, TestApp};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(20);

fn app_with(dir: &Path, extra: &str) -> TestApp {
    let config = format!("[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n{extra}");
    spawn_app(dir, &config)
}

fn timeout_event() -> Value {
    json!({
        "type": "payment.gateway_timeout",
        "source": "checkout",
        "severity": "high",
        "title": "Payment gateway timing out",
        "payload": { "gateway": "acme", "elapsed_ms": 5012 }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_events_become_one_incident_and_a_recovery_resolves_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), "");
    let feed = Feed::connect(&app, "?types=payment.*").await;

    let (status, body) = app.post_json("/events", &timeout_event()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 1);
    let (status, body) = app
        .post_json(
            "/events",
            &json!([timeout_event(), timeout_event(), timeout_event()]),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["seqs"].as_array().unwrap().len(), 3);

    let incident = app
        .incident_where("the pushed problem, four times", TIMEOUT, |i| {
            i["occurrences"] == 4
        })
        .await;
    assert_eq!(app.incidents("").await.len(), 1, "deduplicated");
    assert_eq!(incident["event_type"], "payment.gateway_timeout");
    assert_eq!(incident["source"], "checkout");
    assert_eq!(incident["severity"], "high");
    assert!(
        incident["title"]
            .as_str()
            .unwrap()
            .starts_with("Payment gateway timing out"),
        "{incident}"
    );
    let pushed = feed.wait_for("payment.gateway_timeout", TIMEOUT).await;
    assert_eq!(pushed["data"]["payload"]["gateway"], "acme");

    let recovered = json!({ "type": "payment.recovered", "source": "checkout" });
    let (status, _) = app.post_json("/events", &recovered).await;
    assert_eq!(status, 202);
    let resolved = app
        .incident_where("the recovery", TIMEOUT, |i| i["status"] == "resolved")
        .await;
    assert_eq!(resolved["id"], incident["id"]);
    assert_eq!(resolved["resolved_by"], "recovery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_batch_is_refused_whole_with_every_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let monitor = "[[monitors]]\nid = \"nightly\"\nkind = \"heartbeat\"\ngrace_ms = 60000\n";
    let app = app_with(dir.path(), monitor);
    let before = app.get_ok("/health").await["last_seq"].clone();

    let batch = json!([
        timeout_event(),
        { "type": "Payment Failed", "source": "" },
        { "source": "checkout" },
        { "type": "incident.opened", "source": "checkout", "severity": "dire" },
        // A monitor's incidents are its probes' business: no forged recovery.
        { "type": "heartbeat.restored", "source": "nightly" },
    ]);
    let (status, body) = app.post_json("/events", &batch).await;
    assert_eq!(status, 400, "{body}");
    let fields = crate::common::error_fields(&body);
    assert_eq!(
        fields,
        [
            "[1].type",
            "[1].source",
            "[2].type",
            "[3].severity",
            "[4].source"
        ],
        "{body}"
    );
    assert_eq!(body["error"]["field"], "[1].type");

    let (status, body) = app
        .post_json(
            "/events",
            &json!({ "type": "incident.opened", "source": "x" }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "type", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Grace's own"));

    // Nothing of the refused bodies was recorded: not even the valid first event.
    assert_eq!(app.get_ok("/health").await["last_seq"], before);
    assert!(app.incidents("").await.is_empty());
}

/// Names that would spoof another on the dashboard or in a notification — a NUL, a bidi
/// override (U+202E), a zero-width space — are refused with a 400 naming the field, wherever a
/// name comes in over HTTP, and nothing of the request is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_control_bidi_or_zero_width_characters_are_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let monitor = "[[monitors]]\nid = \"nightly\"\nkind = \"heartbeat\"\ngrace_ms = 60000\n";
    let app = app_with(dir.path(), monitor);
    let before = app.get_ok("/health").await["last_seq"].clone();
    let spoof = "orders\u{202e}-db\u{0}\u{200b}";

    let event = json!({ "type": "payment.failed", "source": spoof });
    let (status, body) = app.post_json("/events", &event).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "source", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("U+202E"),
        "{body}"
    );
    for source in ["db\u{0}", "d\u{200b}b", "\u{2066}db", "db\u{feff}"] {
        let batch = json!([timeout_event(), { "type": "payment.failed", "source": source }]);
        let (status, body) = app.post_json("/events", &batch).await;
        assert_eq!(status, 400, "{source:?}: {body}");
        assert_eq!(crate::common::error_fields(&body), ["[1].source"], "{body}");
    }

    let alert = json!({
        "version": "4",
        "alerts": [{
            "status": "firing",
            "labels": { "alertname": "OrdersDown", "service": spoof },
            "fingerprint": "abc123"
        }]
    });
    let (status, body) = app.post_json("/integrations/alertmanager", &alert).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "alerts[0].labels.service", "{body}");

    let (status, body) = app.post("/heartbeats/nightly%E2%80%AE").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "monitor_id", "{body}");

    let silence = json!({ "matchers": { "sources": [spoof] }, "duration_ms": 60000 });
    let (status, body) = app.post_json("/silences", &silence).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "matchers.sources[0]", "{body}");

    // Nothing of any of it was recorded; a plain name still is.
    assert_eq!(app.get_ok("/health").await["last_seq"], before);
    assert!(app.incidents("").await.is_empty());
    assert!(app.get_ok("/silences").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(app.post("/heartbeats/nightly").await.0, 200);
    assert_eq!(app.post_json("/events", &timeout_event()).await.0, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_event_triggers_its_playbook() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("gateway-switched");
    let playbook = format!(
        r#"
[[playbooks]]
id = "switch_gateway"
name = "Switch payment gateway"
on = ["payment.gateway_timeout"]
sources = ["monitors", "pushed"]
steps = [{{ kind = "command", argv = ["touch", "{}"] }}]
"#,
        marker.display()
    );
    let app = app_with(dir.path(), &playbook);
    let (status, _) = app.post_json("/events", &timeout_event()).await;
    assert_eq!(status, 202);
    let healed = app
        .incident_where("the playbook to heal it", TIMEOUT, |i| {
            i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook");
    assert!(marker.exists(), "the playbook's command ran");
}

/// A real Alertmanager, configured to send every notification to Grace at once.
struct Alertmanager {
    child: Child,
    port: u16,
    client: reqwest::Client,
}

impl Alertmanager {
    fn start(dir: &Path, grace: &TestApp) -> Self {
        let port = free_port();
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: grace\n  group_by: ['alertname']\n  group_wait: 100ms\n  \
                 group_interval: 500ms\n  repeat_interval: 1h\nreceivers:\n- name: grace\n  \
                 webhook_configs:\n  - url: '{}'\n    send_resolved: true\n",
                grace.url("/integrations/alertmanager")
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("alertmanager.log")).unwrap();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=") // no gossip: one standalone instance
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start prometheus-alertmanager ({error}): install it with \
                     `apt-get install -y prometheus-alertmanager` (.ci/test does this)"
                )
            });
        Self {
            child,
            port,
            client: reqwest::Client::new(),
        }
    }

    /// Posts alerts to Alertmanager's own API, as Prometheus does.
    async fn post_alerts(&self, alerts: &Value) -> Result<(), String> {
        let url = format!("http://127.0.0.1:{}/api/v2/alerts", self.port);
        let response = self
            .client
            .post(url)
            .json(alerts)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match response.status().as_u16() {
            200 => Ok(()),
            status => Err(format!(
                "{status}: {}",
                response.text().await.unwrap_or_default()
            )),
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prometheus's `OrdersDbDown` on one database host, firing, or resolved at `ends_at`.
fn alert(instance: &str, ends_at: Option<&str>) -> Value {
    let mut alert = json!({
        "labels": {
            "alertname": "OrdersDbDown", "severity": "critical",
            "service": "orders-db", "instance": instance,
        },
        "annotations": { "summary": "orders-db is not answering" },
        "generatorURL": "http://prometheus.local/graph"
    });
    if let Some(ends_at) = ends_at {
        alert["endsAt"] = json!(ends_at);
    }
    alert
}

/// An end time Prometheus sends to resolve an alert: just past.
fn just_ended() -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339()
}

/// Two playbooks for alerts: the first selects on a label these alerts do not have, the
/// second on one they do. Both only touch a marker and leave the incident open. A monitor
/// `checkout` depends on `orders-db`, a component only the alerts speak of.
fn routing_config(dir: &Path, checkout: &std::net::TcpListener) -> String {
    let marker = |name: &str| dir.join(name).display().to_string();
    format!(
        r#"
[[monitors]]
id = "checkout"
kind = "tcp"
address = "{}"
interval_ms = 100
failures_before_down = 1
depends_on = ["orders-db"]

[[playbooks]]
id = "page_on_warnings"
on = ["alert.orders_db_down.*"]
sources = ["alertmanager"]
labels = {{ severity = "warning" }}
resolve_on_success = false
steps = [{{ kind = "command", argv = ["touch", "{}"] }}]

[[playbooks]]
id = "page_dba"
on = ["alert.orders_db_down.*"]
sources = ["alertmanager"]
labels = {{ severity = "critical" }}
resolve_on_success = false
steps = [{{ kind = "command", argv = ["touch", "{}"] }}]
"#,
        checkout.local_addr().unwrap(),
        marker("warned"),
        marker("paged"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_alerts_are_one_incident_per_component_and_name_until_all_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let checkout = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = app_with(dir.path(), &routing_config(dir.path(), &checkout));
    app.monitor_state("checkout", "up", TIMEOUT).await;
    let alertmanager = Alertmanager::start(dir.path(), &app);
    let both = json!([alert("db-1:5432", None), alert("db-2:5432", None)]);
    eventually("Alertmanager to take the alerts", TIMEOUT, || async {
        alertmanager.post_alerts(&both).await.ok()
    })
    .await;

    // Two hosts, one alert name, one component: one incident, waiting for both.
    let incident = app
        .incident_where("both alerts in one incident", TIMEOUT, |i| {
            i["alerts_firing"] == 2
        })
        .await;
    assert_eq!(incident["event_type"], "alert.orders_db_down.firing");
    assert_eq!(incident["source"], "orders-db");
    assert_eq!(incident["severity"], "critical");
    assert_eq!(incident["labels"]["service"], "orders-db");
    let title = incident["title"].as_str().unwrap();
    assert!(title.starts_with("orders-db is not answering"), "{title}");
    let paged = dir.path().join("paged");
    eventually("the critical-alert playbook to run", TIMEOUT, || async {
        paged.exists().then_some(())
    })
    .await;
    assert!(
        !dir.path().join("warned").exists(),
        "its labels do not match"
    );

    // What depends on orders-db fails while the alert fires: a symptom, not an incident.
    drop(checkout);
    let id = incident["id"].clone();
    app.incident_where("checkout's failure as a symptom", TIMEOUT, |i| {
        i["id"] == id && i["symptoms"][0]["source"] == "checkout"
    })
    .await;
    assert_eq!(
        app.incidents("").await.len(),
        1,
        "{:?}",
        app.incidents("").await
    );

    // One host recovers: the incident waits for the other.
    let one_left = json!([
        alert("db-1:5432", Some(&just_ended())),
        alert("db-2:5432", None)
    ]);
    alertmanager.post_alerts(&one_left).await.unwrap();
    let waiting = app
        .incident_where("one alert left", TIMEOUT, |i| i["alerts_firing"] == 1)
        .await;
    assert_eq!(waiting["status"], "open");

    let ended = just_ended();
    let none_left = json!([
        alert("db-1:5432", Some(&ended)),
        alert("db-2:5432", Some(&ended))
    ]);
    alertmanager.post_alerts(&none_left).await.unwrap();
    let resolved = app
        .incident_where("the resolved alerts", TIMEOUT, |i| {
            i["id"] == id && i["status"] == "resolved"
        })
        .await;
    assert_eq!(resolved["resolved_by"], "recovery");
    // checkout is still down: hidden behind the database until now, it is not over.
    app.incident_where("checkout's own incident", TIMEOUT, |i| {
        i["source"] == "checkout"
    })
    .await;
    let detail = app.get_ok(&format!("/monitoring/incidents/{id}")).await;
    let firing = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "alert.orders_db_down.firing")
        .cloned()
        .unwrap_or_else(|| panic!("no alert in the timeline: {detail}"));
    assert_eq!(
        firing["data"]["annotations"]["summary"],
        "orders-db is not answering"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_alertmanager_payload_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), "");
    let payload = json!({
        "version": "4",
        "status": "firing",
        "alerts": [
            { "status": "firing", "labels": {}, "fingerprint": "abc123" },
            { "status": "burning", "labels": {} }
        ]
    });
    let (status, body) = app.post_json("/integrations/alertmanager", &payload).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "alerts[1].fingerprint", "{body}");
    assert!(app.incidents("").await.is_empty());

    let (status, body) = app
        .post_json(
            "/integrations/alertmanager",
            &json!({ "version": "3", "alerts": [] }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "version");
}

/// Every incident, by paging the REST list with its cursor.
async fn all_incidents(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get_ok(&format!("/monitoring/incidents?limit=500{cursor}"))
            .await;
        all.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return all,
        }
    }
}

/// Pushes batches of problem events from distinct sources until Grace stops answering; every
/// source whose batch got a 202 goes into `acked`. A busy 503 is waited out, as its
/// `Retry-After` asks.
async fn push_until_gone(
    addr: String,
    writer: usize,
    acked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let client = reqwest::Client::new();
    for batch in 0.. {
        let sources: Vec<String> = (0..50)
            .map(|k| format!("w{writer}-b{batch}-e{k}"))
            .collect();
        let body: Vec<Value> = sources
            .iter()
            .map(|source| json!({ "type": "burst.failed", "source": source }))
            .collect();
        let Ok(response) = client.post(&addr).json(&body).send().await else {
            return; // killed
        };
        match response.status().as_u16() {
            202 => acked.lock().unwrap().extend(sources),
            503 => {
                let retry_s: u64 = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .expect("a busy answer says when to retry");
                tokio::time::sleep(Duration::from_secs(retry_s)).await;
            }
            status => panic!("unexpected answer {status}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_killed_twice_is_applied_exactly_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"db\"\n";
    let app = spawn_app(dir.path(), config);
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(push_until_gone(app.url("/events"), w, acked.clone())))
        .collect();
    eventually(
        "3,000 events acknowledged",
        Duration::from_secs(120),
        || async { (acked.lock().unwrap().len() >= 3_000).then_some(()) },
    )
    .await;
    app.kill_9(); // mid-burst: the writers are still sending
    for writer in writers {
        writer.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // Started again, it serves at once and catches up in the background; killed again in the
    // middle of that, it keeps what it had committed page by page.
    let app = spawn_app(dir.path(), config);
    app.get_ok("/health").await;
    app.kill_9();
    let app = spawn_app(dir.path(), config);

    let incidents = eventually(
        "every acknowledged event in an incident",
        Duration::from_secs(120),
        || async {
            let incidents = all_incidents(&app).await;
            let seen: std::collections::HashSet<&str> = incidents
                .iter()
                .filter_map(|i| i["source"].as_str())
                .collect();
            acked
                .iter()
                .all(|source| seen.contains(source.as_str()))
                .then_some(incidents)
        },
    )
    .await;
    let mut by_source = std::collections::HashMap::new();
    for incident in &incidents {
        let source = incident["source"].as_str().unwrap().to_owned();
        assert!(
            by_source.insert(source, incident.clone()).is_none(),
            "one incident per source: {incident}"
        );
    }
    for source in &acked {
        let incident = &by_source[source];
        // Applied once: a replay would have made it a repeat, or dropped trust twice.
        assert_eq!(incident["occurrences"], 1, "{incident}");
        assert_eq!(incident["trust"], 0.7, "{incident}");
    }
    let ids: std::collections::HashSet<u64> = incidents
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), incidents.len(), "no incident id is used twice");

    // The log itself: every seq once, no gap, and each acknowledged event in it exactly once.
    let last_seq = app.get_ok("/health").await["last_seq"].as_u64().unwrap();
    let feed = Feed::connect(&app, "?since=0").await;
    let log = eventually(
        "the whole log replayed",
        Duration::from_secs(60),
        || async {
            let log = feed.snapshot();
            (log.len() as u64 >= last_seq).then_some(log)
        },
    )
    .await;
    let seqs: Vec<u64> = log.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=last_seq).collect();
    assert_eq!(
        seqs[..last_seq as usize],
        expected[..],
        "no gap and no duplicate seq"
    );
    let mut pushed = std::collections::HashMap::<&str, usize>::new();
    for event in log.iter().filter(|e| e["type"] == "burst.failed") {
        *pushed
            .entry(event["data"]["source"].as_str().unwrap())
            .or_default() += 1;
    }
    for source in &acked {
        assert_eq!(
            pushed.get(source.as_str()),
            Some(&1),
            "{source} in the log once"
        );
    }
}

/// However many incidents are active, the active list is a page of the newest with a count of
/// them all (the dashboard's tiles), and its cursor walks back through the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_list_is_a_page_of_the_newest_with_the_count_of_all() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), "");
    let problems: Vec<Value> = (1..=7)
        .map(|n| json!({ "type": "payment.gateway_timeout", "source": format!("shop-{n}") }))
        .collect();
    let (status, body) = app.post_json("/events", &json!(problems)).await;
    assert_eq!(status, 202, "{body}");
    let recovered = json!({ "type": "payment.recovered", "source": "shop-6" });
    assert_eq!(app.post_json("/events", &recovered).await.0, 202);
    eventually("six active incidents", TIMEOUT, || async {
        let page = app
            .get_ok("/monitoring/incidents?status=active&limit=1")
            .await;
        (page["total"] == 6).then_some(())
    })
    .await;

    let sources = |page: &Value| -> Vec<String> {
        let items = page["items"].as_array().unwrap();
        items
            .iter()
            .map(|i| i["source"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = app
        .get_ok("/monitoring/incidents?status=active&limit=4")
        .await;
    assert_eq!(sources(&first), ["shop-7", "shop-5", "shop-4", "shop-3"]);
    assert_eq!(first["total"], 6);
    let cursor = first["next"].as_str().expect("a cursor to the rest");
    let rest = app
        .get_ok(&format!(
            "/monitoring/incidents?status=active&limit=4&cursor={cursor}"
        ))
        .await;
    assert_eq!(sources(&rest), ["shop-2", "shop-1"]);
    assert_eq!(rest["next"], Value::Null);
    let open = app
        .get_ok("/monitoring/incidents?status=open&limit=2")
        .await;
    assert_eq!(
        (sources(&open), &open["total"]),
        (vec!["shop-7".to_owned(), "shop-5".to_owned()], &json!(6))
    );
    let resolved = app.get_ok("/monitoring/incidents?status=resolved").await;
    assert_eq!(sources(&resolved), ["shop-6"]);
    let any = app.get_ok("/monitoring/incidents?limit=3").await;
    assert_eq!(sources(&any), ["shop-7", "shop-6", "shop-5"]);
    let (status, body) = app
        .get("/monitoring/incidents?status=active&cursor=soon")
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("cursor"))
    );
}

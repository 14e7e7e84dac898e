//! Prometheus Alertmanager's webhook, driven by a real `prometheus-alertmanager` process: one
//! incident per component and alert name until all resolve, and a malformed payload named by
//! field.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::{app_with, TIMEOUT};
use crate::common::{eventually, free_port, TestApp};
use serde_json::{json, Value};

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

//! Every receiver kind, end to end: email through a real SMTP server (aiosmtpd, STARTTLS
//! required, the test CA trusted through `ca_file`), PagerDuty Events API v2 and Opsgenie's
//! Alert API through local servers that check the documented shapes and the secrets, Slack,
//! Teams and Discord bodies; a receiver that is down is retried and its failure recorded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use serde_json::{json, Value};
use warp::Filter;

use super::{posted, Seen, TIMEOUT};
use crate::common::{eventually, free_port, receiver, spawn_app_env, TestCerts, CONFIG_HEAD};

const ROUTING_KEY: &str = "R0UT1NGKEY0123456789abcdef012345";
const GENIE_KEY: &str = "eb243592-faa2-4ba2-a551-1afdf565c889";

/// aiosmtpd on 127.0.0.1, STARTTLS required, keeping what it takes in a maildir.
struct Smtp {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Smtp {
    fn start(dir: &Path, certs: &TestCerts) -> Self {
        let program = std::env::var("GRACE_AIOSMTPD")
            .expect("GRACE_AIOSMTPD names aiosmtpd (.ci/test installs it)");
        let port = free_port();
        let maildir = dir.join("maildir");
        let child = Command::new(program)
            .args(["-n", "-l", &format!("127.0.0.1:{port}")])
            .arg("--tlscert")
            .arg(&certs.cert_path)
            .arg("--tlskey")
            .arg(&certs.key_path)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        Smtp {
            child,
            port,
            maildir,
        }
    }

    /// Every message it took, as text.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A local server speaking PagerDuty's Events API v2 and Opsgenie's Alert API: each request is
/// checked against the documented shape (400 with why, as they answer), and kept.
async fn incident_services() -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let (pd_log, og_log) = (seen.clone(), seen.clone());
    let pagerduty = warp::post()
        .and(warp::path!("v2" / "enqueue"))
        .and(warp::body::json())
        .map(move |body: Value| {
            let problems = pagerduty_problems(&body);
            pd_log.lock().unwrap().push(("pagerduty".to_owned(), body.clone()));
            match problems {
                None => reply(202, json!({ "status": "success", "message": "Event processed", "dedup_key": body["dedup_key"] })),
                Some(why) => reply(400, json!({ "status": "invalid event", "message": "Event object is invalid", "errors": [why] })),
            }
        });
    let opsgenie = warp::post()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::json())
        .map(move |path: warp::path::FullPath, query: String, auth: Option<String>, body: Value| {
            let target = format!("{}?{query}", path.as_str());
            let problems = opsgenie_problems(&target, auth.as_deref(), &body);
            og_log.lock().unwrap().push((target, body));
            match problems {
                None => reply(202, json!({ "result": "Request will be processed", "took": 0.01, "requestId": "43a29c5c" })),
                Some(why) => reply(if why.contains("Key") { 401 } else { 422 }, json!({ "message": why })),
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(pagerduty.or(opsgenie)).incoming(listener).run());
    (addr, seen)
}

fn reply(status: u16, body: Value) -> warp::reply::WithStatus<warp::reply::Json> {
    let status = warp::http::StatusCode::from_u16(status).unwrap();
    warp::reply::with_status(warp::reply::json(&body), status)
}

/// PagerDuty Events API v2: routing_key, event_action, dedup_key; a trigger's payload has
/// summary (≤ 1024), source and severity (critical, error, warning, info).
fn pagerduty_problems(body: &Value) -> Option<String> {
    if body["routing_key"] != ROUTING_KEY {
        return Some("routing_key is wrong".into());
    }
    let action = body["event_action"].as_str().unwrap_or_default();
    if !["trigger", "acknowledge", "resolve"].contains(&action) {
        return Some(format!("event_action {action:?}"));
    }
    if body["dedup_key"]
        .as_str()
        .is_none_or(|k| k.is_empty() || k.len() > 255)
    {
        return Some("dedup_key".into());
    }
    if action != "trigger" {
        return None;
    }
    let payload = &body["payload"];
    let summary = payload["summary"].as_str().unwrap_or_default();
    let severity = payload["severity"].as_str().unwrap_or_default();
    if summary.is_empty() || summary.len() > 1024 {
        return Some("payload.summary".into());
    }
    if payload["source"].as_str().is_none_or(str::is_empty) {
        return Some("payload.source".into());
    }
    (!["critical", "error", "warning", "info"].contains(&severity))
        .then(|| format!("payload.severity {severity:?}"))
}

/// Opsgenie: `Authorization: GenieKey <key>`; create at /v2/alerts with message (≤ 130),
/// alias (≤ 512), priority P1–P5; close at /v2/alerts/<alias>/close?identifierType=alias.
fn opsgenie_problems(target: &str, auth: Option<&str>, body: &Value) -> Option<String> {
    if auth != Some(&format!("GenieKey {GENIE_KEY}")) {
        return Some("Key format is not valid!".into());
    }
    if target == "/v2/alerts?" {
        let message = body["message"].as_str().unwrap_or_default();
        if message.is_empty() || message.chars().count() > 130 {
            return Some("Message can not be empty or longer than 130".into());
        }
        if body["alias"].as_str().is_none_or(|a| a.len() > 512) {
            return Some("alias".into());
        }
        let priority = body["priority"].as_str().unwrap_or_default();
        return (!["P1", "P2", "P3", "P4", "P5"].contains(&priority))
            .then(|| format!("priority {priority:?}"));
    }
    let close = target.starts_with("/v2/alerts/grace-incident-")
        && target.ends_with("/close?identifierType=alias");
    (!close).then(|| format!("no such endpoint {target}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_receiver_kind_gets_its_documented_shape_and_secrets_stay_secret() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::make();
    let smtp = Smtp::start(dir.path(), &certs);
    let (services, asked) = incident_services().await;
    let (chat, seen) = receiver(0).await;
    let key_file = dir.path().join("pagerduty.key");
    std::fs::write(&key_file, format!("{ROUTING_KEY}\n")).unwrap();
    let config = format!(
        r#"{CONFIG_HEAD}
[[receivers]]
id = "oncall-mail"
kind = "email"
to = ["oncall@example.com", "db@example.com"]
from = "grace@example.com"
smtp = "localhost:{smtp_port}"
ca_file = "{ca}"

[[receivers]]
id = "pd"
kind = "pagerduty"
url = "http://{services}/v2/enqueue"
routing_key_file = "{key_file}"

[[receivers]]
id = "og"
kind = "opsgenie"
url = "http://{services}"
api_key_env = "OG_KEY"

[[receivers]]
id = "slack"
kind = "slack"
url = "http://{chat}/slack"

[[receivers]]
id = "teams"
kind = "teams"
url = "http://{chat}/teams"

[[receivers]]
id = "discord"
kind = "discord"
url = "http://{chat}/discord"

[[routes]]
id = "all"
receivers = ["oncall-mail", "pd", "og", "slack", "teams", "discord"]
"#,
        smtp_port = smtp.port,
        ca = certs.ca_path.display(),
        key_file = key_file.display(),
    );
    let app = spawn_app_env(dir.path(), &config, &[("OG_KEY", GENIE_KEY)]);
    let event = json!({ "type": "search.stale", "source": "search-1", "title": "Search <!channel> is stale" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);

    let delivered = |count: usize| {
        let app = &app;
        async move {
            let deliveries = app.get_ok("/deliveries?limit=100").await;
            let items = deliveries["items"].as_array()?.clone();
            let done = items.iter().filter(|d| d["status"] != "pending").count() >= count;
            done.then_some(items)
        }
    };
    let items = eventually("six deliveries ended", TIMEOUT, || delivered(6)).await;
    for item in &items {
        assert_eq!(item["status"], "delivered", "{item}");
    }

    let mail = eventually("the email at the SMTP server", TIMEOUT, || async {
        smtp.messages().into_iter().next()
    })
    .await;
    assert!(mail.contains("Subject: [Grace]"), "{mail}");
    assert!(
        mail.contains("search-1") && mail.contains("Incident #"),
        "{mail}"
    );
    assert!(
        mail.contains("oncall@example.com") && mail.contains("db@example.com"),
        "{mail}"
    );

    let trigger = posted(&asked, "pagerduty");
    assert_eq!(trigger[0]["event_action"], "trigger");
    assert_eq!(trigger[0]["payload"]["source"], "search-1");
    let created = posted(&asked, "/v2/alerts?");
    assert_eq!(created[0]["alias"], trigger[0]["dedup_key"]);

    let slack = &posted(&seen, "/slack")[0];
    assert!(
        slack["text"].as_str().unwrap().contains("&lt;!channel&gt;"),
        "{slack}"
    );
    let teams = &posted(&seen, "/teams")[0];
    assert_eq!(
        teams["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let discord = &posted(&seen, "/discord")[0];
    assert_eq!(discord["allowed_mentions"]["parse"], json!([]));

    // Healed: PagerDuty resolves and Opsgenie closes the same alert.
    let recovery = json!({ "type": "search.restored", "source": "search-1" });
    assert_eq!(app.post_json("/events", &recovery).await.0, 202);
    eventually("PagerDuty resolved", TIMEOUT, || async {
        posted(&asked, "pagerduty")
            .iter()
            .any(|b| b["event_action"] == "resolve")
            .then_some(())
    })
    .await;
    let alias = created[0]["alias"].as_str().unwrap().to_owned();
    eventually("the Opsgenie alert closed", TIMEOUT, || async {
        let closes = format!("/v2/alerts/{alias}/close?identifierType=alias");
        (!posted(&asked, &closes).is_empty()).then_some(())
    })
    .await;

    // The secrets went to the services and nowhere else Grace shows or writes.
    let shown = app.get_ok("/deliveries?limit=100").await.to_string();
    let log = app.log();
    for secret in [ROUTING_KEY, GENIE_KEY] {
        assert!(
            !shown.contains(secret) && !log.contains(secret),
            "a secret leaked"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_is_down_is_retried_and_its_failure_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (up, seen) = receiver(2).await;
    let closed = free_port();
    let config = format!(
        r#"{CONFIG_HEAD}
[[receivers]]
id = "flaky"
kind = "webhook"
url = "http://{up}/flaky"
backoff_ms = [100, 100, 100]

[[receivers]]
id = "down"
kind = "webhook"
url = "http://127.0.0.1:{closed}/down"
backoff_ms = [100, 100]

[[routes]]
id = "all"
receivers = ["flaky", "down"]
"#
    );
    let app = spawn_app_env(dir.path(), &config, &[]);
    let event = json!({ "type": "queue.stuck", "source": "jobs" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let items = eventually("both deliveries ended", TIMEOUT, || async {
        let deliveries = app.get_ok("/deliveries").await;
        let items = deliveries["items"].as_array()?.clone();
        (items.len() == 2 && items.iter().all(|d| d["status"] != "pending")).then_some(items)
    })
    .await;
    let by = |id: &str| {
        items
            .iter()
            .find(|d| d["webhook_id"] == id)
            .unwrap()
            .clone()
    };
    let (flaky, down) = (by("flaky"), by("down"));
    assert_eq!(flaky["status"], "delivered");
    assert_eq!(flaky["attempts"], 3, "two 500s, then 200");
    assert_eq!(posted(&seen, "/flaky").len(), 3);
    assert_eq!(down["status"], "failed");
    assert_eq!(down["attempts"], 3);
    assert!(
        down["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{down}"
    );
    let incident_id = down["incident_id"].as_u64().unwrap();
    let detail = app
        .get_ok(&format!("/monitoring/incidents/{incident_id}"))
        .await;
    let types: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"incident.notified") && types.contains(&"webhook.delivered"),
        "{types:?}"
    );
}

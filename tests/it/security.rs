//! Tokens and roles, who did what, and pushed events that must not drive commands — all
//! against the real `grace serve`, with tokens made by the real `grace token` command.

use std::process::Command;
use std::time::Duration;

use crate::common::{holds_for, spawn_app, TestApp, CONFIG_HEAD, TOKENS_HEAD};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A Grace that requires tokens, with a heartbeat monitor and a playbook to act on.
fn app_with_tokens(dir: &std::path::Path) -> TestApp {
    let config = r#"
[[monitors]]
id = "nightly"
kind = "heartbeat"
grace_ms = 600000

[[playbooks]]
id = "noop"
on = ["never.happens"]
steps = [{ kind = "set_trust", value = 0.9 }]

[[pipelines]]
id = "job"
argv = ["true"]
"#;
    spawn_app(dir, &format!("{TOKENS_HEAD}{config}"))
}

/// Every route, the role it needs (None: open to all), and a body for POSTs.
fn routes() -> Vec<(
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<Value>,
)> {
    let event = json!({ "type": "app.failed", "source": "shop" });
    let alerts = json!({ "version": "4", "alerts": [] });
    let run = json!({ "incident_id": 1 });
    vec![
        ("GET", "/", None, None),
        ("GET", "/assets/app.js", None, None),
        ("GET", "/assets/js/feed.js", None, None),
        ("GET", "/assets/app.css", None, None),
        ("GET", "/health", None, None),
        ("GET", "/openapi.json", None, None),
        ("GET", "/monitoring/incidents", Some("read"), None),
        ("GET", "/monitoring/incidents/1", Some("read"), None),
        (
            "POST",
            "/monitoring/incidents/1/acknowledge",
            Some("operate"),
            None,
        ),
        (
            "POST",
            "/monitoring/incidents/1/resolve",
            Some("operate"),
            None,
        ),
        (
            "POST",
            "/monitoring/incidents/1/suggestions/s1/approve",
            Some("operate"),
            None,
        ),
        ("GET", "/monitoring/executions", Some("read"), None),
        ("GET", "/monitoring/executions/run-x", Some("read"), None),
        ("GET", "/monitoring/agents", Some("read"), None),
        ("GET", "/work-orders", Some("read"), None),
        ("GET", "/deliveries", Some("read"), None),
        ("GET", "/metrics", Some("read"), None),
        ("GET", "/insights", Some("read"), None),
        ("GET", "/catalog", Some("read"), None),
        ("GET", "/actors", Some("read"), None),
        ("GET", "/ws", Some("read"), None),
        ("GET", "/monitors", Some("read"), None),
        ("GET", "/monitors/nightly", Some("read"), None),
        ("GET", "/monitors/nightly/history", Some("read"), None),
        ("GET", "/silences", Some("read"), None),
        (
            "POST",
            "/silences",
            Some("operate"),
            Some(json!({ "matchers": { "sources": ["x"] }, "duration_ms": 1000 })),
        ),
        (
            "POST",
            "/silences/silence-none/expire",
            Some("operate"),
            None,
        ),
        ("POST", "/monitors/nightly/pause", Some("operate"), None),
        ("POST", "/heartbeats/nightly", Some("ingest"), None),
        ("POST", "/events", Some("ingest"), Some(event)),
        (
            "POST",
            "/integrations/alertmanager",
            Some("ingest"),
            Some(alerts),
        ),
        ("GET", "/playbooks", Some("read"), None),
        ("GET", "/playbooks/noop", Some("read"), None),
        ("POST", "/playbooks/noop/run", Some("operate"), Some(run)),
        ("GET", "/pipelines", Some("read"), None),
        ("GET", "/pipelines/job/runs", Some("read"), None),
        ("POST", "/pipelines/job/run", Some("operate"), None),
        ("POST", "/config/reload", Some("admin"), None),
    ]
}

fn allows(role: &str, needed: &str) -> bool {
    match role {
        "admin" => true,
        "operate" => needed == "read" || needed == "operate",
        _ => role == needed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_role_as_the_matrix_says() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_tokens(dir.path());
    let roles = ["read", "ingest", "operate", "admin"];
    let tokens: Vec<(&str, String)> = roles
        .iter()
        .map(|role| (*role, app.create_token(&format!("{role}-token"), role, &[])))
        .collect();
    let stored = std::fs::read_to_string(dir.path().join("tokens.json")).unwrap();
    for (_, token) in &tokens {
        assert!(
            !stored.contains(&token[6..]),
            "the token file holds a token"
        );
    }
    for (method, path, needed, body) in routes() {
        let (status, reply) = app.call(method, path, None, body.as_ref()).await;
        match needed {
            None => assert_eq!(status, 200, "{method} {path} without a token: {reply}"),
            Some(_) => {
                assert_eq!(status, 401, "{method} {path} without a token: {reply}");
                assert_eq!(reply["error"]["code"], "unauthorized", "{reply}");
            }
        }
        let Some(needed) = needed else { continue };
        for (role, token) in &tokens {
            let (status, reply) = app.call(method, path, Some(token), body.as_ref()).await;
            if allows(role, needed) {
                assert!(
                    status != 401 && status != 403,
                    "{method} {path} as {role}: {status} {reply}"
                );
            } else {
                assert_eq!(status, 403, "{method} {path} as {role}: {reply}");
                assert_eq!(reply["error"]["role_needed"], needed, "{reply}");
            }
        }
    }
    let (status, reply) = app
        .call("GET", "/monitoring/incidents", Some("grace_wrong"), None)
        .await;
    assert_eq!(
        (status, reply["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );
    // The page no other site may frame, running only its own script.
    let page = reqwest::get(app.url("/")).await.unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let (_, me) = app.call("GET", "/whoami", Some(&tokens[0].1), None).await;
    assert_eq!(
        me,
        json!({ "name": "read-token", "role": "read", "required": true })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_revoked_and_expire_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_tokens(dir.path());
    let token = app.create_token("ci", "read", &[]);
    assert_eq!(
        app.call("GET", "/monitors", Some(&token), None).await.0,
        200
    );

    let list = Command::new(env!("CARGO_BIN_EXE_grace"))
        .args(["token", "list", "--config", "grace.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(listed.contains("ci\tread"), "{listed}");
    assert!(
        !listed.contains(&token[6..]),
        "list shows the token: {listed}"
    );

    let revoke = Command::new(env!("CARGO_BIN_EXE_grace"))
        .args(["token", "revoke", "ci", "--config", "grace.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(revoke.status.success());
    let (status, reply) = app.call("GET", "/monitors", Some(&token), None).await;
    assert_eq!(status, 401, "a revoked token still works: {reply}");

    let short = app.create_token("short", "read", &["--expires-in", "2s"]);
    assert_eq!(
        app.call("GET", "/monitors", Some(&short), None).await.0,
        200
    );
    let expired = crate::common::eventually("the token to expire", TIMEOUT, || async {
        let (status, reply) = app.call("GET", "/monitors", Some(&short), None).await;
        (status == 401).then_some(reply)
    })
    .await;
    let message = expired["error"]["message"].as_str().unwrap();
    assert!(message.contains("expired"), "{message}");
    assert!(!app.log().contains(&token[6..]), "a token reached the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_takes_a_token_as_a_subprotocol_or_a_header_never_in_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_tokens(dir.path());
    let token = app.create_token("viewer", "read", &[]);
    let url = format!("ws://{}/ws?since=0", app.addr);

    let refused = tokio_tungstenite::connect_async(&url).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("a feed without a token was not refused: {other:?}"),
    }

    // What a browser sends: `new WebSocket(url, ["grace", "grace.token.<token>"])`.
    let mut request = url.as_str().into_client_request().unwrap();
    let protocols = format!("grace, grace.token.{token}");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocols.parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the feed with a subprotocol token");
    assert_eq!(response.headers()["sec-websocket-protocol"], "grace");
    // The feed is live: a pushed event (with an ingest token) arrives on it.
    let ingest = app.create_token("app", "ingest", &[]);
    let event = json!({ "type": "app.failed", "source": "shop" });
    assert_eq!(
        app.call("POST", "/events", Some(&ingest), Some(&event))
            .await
            .0,
        202
    );
    tokio::time::timeout(TIMEOUT, async {
        while let Some(Ok(message)) = socket.next().await {
            if message.to_text().unwrap_or("").contains("app.failed") {
                return;
            }
        }
        panic!("the feed closed before the event came");
    })
    .await
    .expect("the pushed event on the feed");

    let mut request = url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("the feed with a Bearer header");
}

/// The events of incident `id`'s timeline, by type.
async fn timeline(app: &TestApp, token: &str, id: u64) -> Vec<Value> {
    let path = format!("/monitoring/incidents/{id}");
    let (status, detail) = app.call("GET", &path, Some(token), None).await;
    assert_eq!(status, 200, "{detail}");
    detail["timeline"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_records_who_did_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_tokens(dir.path());
    let alice = app.create_token("alice", "operate", &[]);
    let ingest = app.create_token("app", "ingest", &[]);
    let event = json!({ "type": "app.failed", "source": "shop" });
    assert_eq!(
        app.call("POST", "/events", Some(&ingest), Some(&event))
            .await
            .0,
        202
    );
    let id = crate::common::eventually("the incident", TIMEOUT, || async {
        let (_, list) = app
            .call("GET", "/monitoring/incidents", Some(&alice), None)
            .await;
        list["items"][0]["id"].as_u64()
    })
    .await;
    for action in ["acknowledge", "resolve"] {
        let path = format!("/monitoring/incidents/{id}/{action}");
        let (status, reply) = app.call("POST", &path, Some(&alice), None).await;
        assert_eq!(status, 200, "{action}: {reply}");
    }
    let events = crate::common::eventually(
        "the push and both changes on the timeline",
        TIMEOUT,
        || async {
            let events = timeline(&app, &alice, id).await;
            let by: Vec<(String, Value)> = events
                .iter()
                .filter(|e| !e["data"]["by"].is_null())
                .map(|e| {
                    (
                        e["type"].as_str().unwrap().to_owned(),
                        e["data"]["by"].clone(),
                    )
                })
                .collect();
            (by.len() == 3).then_some(by)
        },
    )
    .await;
    assert_eq!(
        events,
        [
            ("app.failed".to_owned(), json!("app")),
            ("incident.updated".to_owned(), json!("alice")),
            ("incident.resolved".to_owned(), json!("alice")),
        ]
    );
    let (status, _) = app
        .call("POST", "/monitors/nightly/pause", Some(&alice), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call("POST", "/pipelines/job/run", Some(&alice), None)
        .await;
    assert_eq!(status, 202);
    let mut feed = tokio_tungstenite::connect_async({
        let mut request = format!("ws://{}/ws?since=0", app.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {alice}").parse().unwrap());
        request
    })
    .await
    .unwrap()
    .0;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let message = tokio::time::timeout(TIMEOUT, feed.next())
            .await
            .expect("the events of the pause and the run")
            .unwrap()
            .unwrap();
        let event: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
        match event["type"].as_str().unwrap() {
            "monitor.controlled" => seen.push(event["data"]["by"].clone()),
            "pipeline.started" => seen.push(event["data"]["run"]["started_by"].clone()),
            _ => {}
        }
    }
    assert_eq!(seen, [json!("alice"), json!("alice")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_event_runs_no_command_but_a_monitors_failure_does() {
    let dir = tempfile::tempdir().unwrap();
    let closed_port = crate::common::free_port();
    let marker = dir.path().join("ran");
    let config = format!(
        r#"{CONFIG_HEAD}
[[monitors]]
id = "orders-db"
kind = "postgres"
url = "postgres://postgres@127.0.0.1:{closed_port}/postgres"
interval_ms = 200
failures_before_down = 1

[[playbooks]]
id = "restart_db"
on = ["db.connection_lost"]
steps = [{{ kind = "command", argv = ["sh", "-c", "echo {{incident.source}} >> {marker}"] }}]

[[playbooks]]
id = "clear_cache"
on = ["cache.stale"]
sources = ["pushed"]
steps = [{{ kind = "command", argv = ["echo", "{{incident.source}}"], allowed_values = ["cache-1"] }}]
"#,
        marker = marker.display()
    );
    let app = spawn_app(dir.path(), &config);
    // Anyone who can post an event chooses its type and source: it opens an incident, and
    // runs nothing.
    let forged = json!({ "type": "db.connection_lost", "source": "x;reboot" });
    assert_eq!(app.post_json("/events", &forged).await.0, 202);
    let pushed = app
        .incident_where("the pushed incident", TIMEOUT, |i| {
            i["source"] == "x;reboot"
        })
        .await;
    // The monitor's own failure runs the playbook, once its port stays closed.
    crate::common::eventually("the monitor's run", TIMEOUT, || async {
        let text = std::fs::read_to_string(&marker).ok()?;
        text.contains("orders-db").then_some(())
    })
    .await;
    holds_for(
        "no run for the pushed incident",
        Duration::from_secs(1),
        || async {
            let incident = app
                .get_ok(&format!("/monitoring/incidents/{}", pushed["id"]))
                .await;
            incident["status"] == "open"
                && incident["active_run_id"].is_null()
                && !std::fs::read_to_string(&marker)
                    .unwrap_or_default()
                    .contains("x;reboot")
        },
    )
    .await;

    // By hand, the same checks hold; an admin (here `local`) may force it, recorded.
    let path = "/playbooks/restart_db/run";
    let (status, reply) = app
        .post_json(path, &json!({ "incident_id": pushed["id"] }))
        .await;
    assert_eq!(status, 409, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("force"), "{message}");

    // A playbook that opts in to pushed events fills in only the values it allows.
    for source in ["cache-1", "cache-2"] {
        let event = json!({ "type": "cache.stale", "source": source });
        assert_eq!(app.post_json("/events", &event).await.0, 202);
    }
    let escalated = app
        .incident_where("the refused value to escalate", TIMEOUT, |i| {
            i["source"] == "cache-2" && i["status"] == "escalated"
        })
        .await;
    app.incident_where("the allowed value to heal", TIMEOUT, |i| {
        i["source"] == "cache-1" && i["status"] == "resolved"
    })
    .await;
    let orders = app.get_ok("/work-orders").await["items"].clone();
    let order = orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["incident_id"] == escalated["id"])
        .cloned()
        .expect("a work order for the refused run");
    let output = order["output"].as_str().unwrap();
    assert!(output.contains("allowed_values"), "{output}");

    let (status, reply) = app
        .post_json(path, &json!({ "incident_id": pushed["id"], "force": true }))
        .await;
    assert_eq!(status, 202, "{reply}");
    let detail = crate::common::eventually("the forced run on the timeline", TIMEOUT, || async {
        let detail = app
            .get_ok(&format!("/monitoring/incidents/{}", pushed["id"]))
            .await;
        let started = detail["timeline"]
            .as_array()?
            .iter()
            .find(|e| e["type"] == "playbook.started")?
            .clone();
        Some(started)
    })
    .await;
    assert_eq!(detail["data"]["forced"], true, "{detail}");
    assert_eq!(detail["data"]["by"], "local", "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_get_a_clean_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.txt");
    let config = format!(
        r#"{CONFIG_HEAD}
[[playbooks]]
id = "dump_env"
on = ["env.check"]
sources = ["pushed"]
steps = [{{ kind = "command", argv = ["sh", "-c", "env > {out}"], env = {{ REGION = "eu" }} }}]
"#,
        out = out.display()
    );
    let app = crate::common::spawn_app_env(dir.path(), &config, &[("GRACE_SECRET", "hunter2")]);
    let event = json!({ "type": "env.check", "source": "box" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let env = crate::common::eventually("the command to run", TIMEOUT, || async {
        std::fs::read_to_string(&out).ok().filter(|t| !t.is_empty())
    })
    .await;
    assert!(env.contains("REGION=eu"), "{env}");
    assert!(env.contains("PATH="), "{env}");
    assert!(
        !env.contains("hunter2"),
        "Grace's environment leaked: {env}"
    );
    assert!(
        !env.contains("RUST_LOG"),
        "Grace's environment leaked: {env}"
    );
}

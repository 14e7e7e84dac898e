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

[status_page]
components = ["nightly"]
"#;
    spawn_app(dir, &format!("{TOKENS_HEAD}{config}"))
}

/// Who may call a route, as its operation's `security` in `/openapi.json` says.
#[derive(Debug, Clone, PartialEq)]
enum Needs {
    /// `security: [{}]`: no token.
    Nothing,
    /// `security: [{"bearerAuth": []}]`: any valid token.
    AnyToken,
    /// `security: [{"bearerAuth": [role]}]`.
    Role(String),
}

/// What the document must say of these routes, written here by hand: the list of routes
/// comes from the document, so these keep a lowered role from passing unnoticed. Every route
/// that needs more than `read` is here (checked below), so none of them can be lowered, to
/// `read` or to another role, without this list changing too.
fn pinned() -> Vec<(&'static str, &'static str, Needs)> {
    let role = |role: &str| Needs::Role(role.to_owned());
    vec![
        ("POST", "/config/reload", role("admin")),
        ("POST", "/events", role("ingest")),
        ("POST", "/integrations/alertmanager", role("ingest")),
        ("POST", "/heartbeats/{monitor_id}", role("ingest")),
        (
            "POST",
            "/monitoring/incidents/{id}/acknowledge",
            role("operate"),
        ),
        (
            "POST",
            "/monitoring/incidents/{id}/resolve",
            role("operate"),
        ),
        (
            "POST",
            "/monitoring/incidents/{id}/suggestions/{suggestion_id}/{decision}",
            role("operate"),
        ),
        ("POST", "/monitors/{monitor_id}/{action}", role("operate")),
        ("POST", "/pipelines/{pipeline_id}/run", role("operate")),
        ("POST", "/playbooks/{playbook_id}/run", role("operate")),
        ("POST", "/silences", role("operate")),
        ("POST", "/silences/{silence_id}/expire", role("operate")),
        ("POST", "/monitoring/incidents/{id}/notes", role("operate")),
        (
            "POST",
            "/work-orders/{work_order_id}/{action}",
            role("operate"),
        ),
        ("GET", "/monitoring/incidents", role("read")),
        ("GET", "/ws", role("read")),
        ("GET", "/whoami", Needs::AnyToken),
        ("GET", "/health", Needs::Nothing),
    ]
}

/// The only routes open to all: the dashboard's page and assets, `/health`, this document.
const PUBLIC: &[&str] = &[
    "/",
    "/assets/app.js",
    "/assets/js/{module}",
    "/assets/app.css",
    "/health",
    "/openapi.json",
    "/status",
    "/badge/{badge}",
];

/// A value for each path parameter, something the test's Grace has where it matters.
const EXAMPLES: &[(&str, &str)] = &[
    ("id", "1"),
    ("run_id", "run-x"),
    ("monitor_id", "nightly"),
    ("action", "pause"),
    ("suggestion_id", "s1"),
    ("decision", "approve"),
    ("silence_id", "silence-none"),
    ("agent_id", "agent-none"),
    ("work_order_id", "wo-none"),
    ("playbook_id", "noop"),
    ("pipeline_id", "job"),
    ("route_id", "route-none"),
    ("badge", "nightly.svg"),
    ("module", "feed.js"),
];

/// A body for the POSTs that read one.
fn body(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("POST", "/events") => Some(json!({ "type": "app.failed", "source": "shop" })),
        ("POST", "/integrations/alertmanager") => Some(json!({ "version": "4", "alerts": [] })),
        ("POST", "/playbooks/{playbook_id}/run") => Some(json!({ "incident_id": 1 })),
        ("POST", "/monitoring/incidents/{id}/notes") => Some(json!({ "text": "looking" })),
        ("POST", "/work-orders/{work_order_id}/{action}") => Some(json!({ "note": "done" })),
        ("POST", "/silences") => Some(json!({
            "matchers": { "sources": ["x"] },
            "duration_ms": 1000,
        })),
        _ => None,
    }
}

/// Every operation of `/openapi.json`: method, path as documented, and who may call it.
async fn routes(app: &TestApp) -> Vec<(String, String, Needs)> {
    let doc = app.get_ok("/openapi.json").await;
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let security = &operation["security"];
            let needs = match security.as_array().map(Vec::as_slice) {
                Some([one]) if one == &json!({}) => Needs::Nothing,
                Some([one]) => match one["bearerAuth"].as_array().map(Vec::as_slice) {
                    Some([]) => Needs::AnyToken,
                    Some([role]) => Needs::Role(role.as_str().expect("a role").to_owned()),
                    _ => panic!("{method} {path}: security {security}"),
                },
                _ => panic!("{method} {path}: security {security}"),
            };
            routes.push((method.to_uppercase(), path.clone(), needs));
        }
    }
    routes
}

/// `path` with each `{parameter}` replaced by its example.
fn filled(path: &str) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                None => segment.to_owned(),
                Some(name) => EXAMPLES
                    .iter()
                    .find(|(example, _)| *example == name)
                    .unwrap_or_else(|| panic!("{path}: no example for {{{name}}}; add one"))
                    .1
                    .to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
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
    let routes = routes(&app).await;
    for (method, path, needs) in pinned() {
        let found = routes.iter().find(|(m, p, _)| m == method && p == path);
        assert_eq!(found.map(|r| &r.2), Some(&needs), "{method} {path}");
    }
    for (method, path, needs) in &routes {
        let public = PUBLIC.contains(&path.as_str()) && method == "GET";
        let pinned_here = pinned().iter().any(|(m, p, _)| m == method && p == path);
        assert!(
            public || pinned_here || *needs == Needs::Role("read".to_owned()),
            "{method} {path} needs {needs:?}: pin its role in `pinned()`"
        );
        assert_eq!(
            *needs == Needs::Nothing,
            public,
            "{method} {path}: {needs:?}"
        );
        if method == "POST" {
            assert!(
                !matches!(needs, Needs::Role(role) if role == "read"),
                "{method} {path} changes something with a read token"
            );
        }
    }
    for (method, template, needs) in &routes {
        let (method, path, body) = (method.as_str(), filled(template), body(method, template));
        let (status, reply) = app.call(method, &path, None, body.as_ref()).await;
        if *needs == Needs::Nothing {
            assert_eq!(status, 200, "{method} {path} without a token: {reply}");
            continue;
        }
        assert_eq!(status, 401, "{method} {path} without a token: {reply}");
        assert_eq!(reply["error"]["code"], "unauthorized", "{reply}");
        for (role, token) in &tokens {
            let (status, reply) = app.call(method, &path, Some(token), body.as_ref()).await;
            match needs {
                Needs::Role(needed) if !allows(role, needed) => {
                    assert_eq!(status, 403, "{method} {path} as {role}: {reply}");
                    assert_eq!(reply["error"]["role_needed"], needed.as_str(), "{reply}");
                }
                _ => assert!(
                    status != 401 && status != 403,
                    "{method} {path} as {role}: {status} {reply}"
                ),
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

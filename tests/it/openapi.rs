//! `GET /openapi.json` from the real `grace serve`: an OpenAPI 3 document that describes every
//! route the server has, each with its error answers and the token it needs.

use std::collections::BTreeSet;

use crate::common::{spawn_app, TestApp, CONFIG_HEAD, TOKENS_HEAD};
use serde_json::Value;

/// The schema every error answer has.
const ERROR_SCHEMA: &str = "#/components/schemas/ErrorBody";

/// Every route of `routes()` (src/server/mod.rs), as the document names it, and the role it
/// needs (None: open to all; `any`: any valid token).
const ROUTES: &[(&str, &str, Option<&str>)] = &[
    ("get", "/", None),
    ("get", "/assets/app.js", None),
    ("get", "/assets/js/{module}", None),
    ("get", "/assets/app.css", None),
    ("get", "/health", None),
    ("get", "/openapi.json", None),
    ("get", "/whoami", Some("any")),
    ("get", "/monitoring/incidents", Some("read")),
    ("get", "/monitoring/incidents/{id}", Some("read")),
    (
        "post",
        "/monitoring/incidents/{id}/acknowledge",
        Some("operate"),
    ),
    (
        "post",
        "/monitoring/incidents/{id}/resolve",
        Some("operate"),
    ),
    (
        "post",
        "/monitoring/incidents/{id}/suggestions/{suggestion_id}/{decision}",
        Some("operate"),
    ),
    ("get", "/monitoring/executions", Some("read")),
    ("get", "/monitoring/executions/{run_id}", Some("read")),
    ("get", "/monitoring/agents", Some("read")),
    ("get", "/work-orders", Some("read")),
    ("get", "/deliveries", Some("read")),
    ("get", "/events", Some("read")),
    ("get", "/monitoring/agents/{agent_id}", Some("read")),
    ("get", "/work-orders/{work_order_id}", Some("read")),
    ("get", "/silences/{silence_id}", Some("read")),
    ("get", "/routes", Some("read")),
    ("get", "/status", None),
    ("get", "/badge/{badge}", None),
    (
        "post",
        "/work-orders/{work_order_id}/{action}",
        Some("operate"),
    ),
    ("post", "/monitoring/incidents/{id}/notes", Some("operate")),
    ("get", "/routes/{route_id}", Some("read")),
    ("get", "/receivers", Some("read")),
    ("get", "/metrics", Some("read")),
    ("post", "/heartbeats/{monitor_id}", Some("ingest")),
    ("get", "/monitors", Some("read")),
    ("get", "/monitors/{monitor_id}", Some("read")),
    ("get", "/monitors/{monitor_id}/history", Some("read")),
    ("get", "/silences", Some("read")),
    ("post", "/silences", Some("operate")),
    ("post", "/silences/{silence_id}/expire", Some("operate")),
    ("post", "/monitors/{monitor_id}/{action}", Some("operate")),
    ("post", "/events", Some("ingest")),
    ("post", "/integrations/alertmanager", Some("ingest")),
    ("get", "/playbooks", Some("read")),
    ("get", "/playbooks/{playbook_id}", Some("read")),
    ("post", "/playbooks/{playbook_id}/run", Some("operate")),
    ("get", "/pipelines", Some("read")),
    ("get", "/pipelines/{pipeline_id}/runs", Some("read")),
    ("post", "/pipelines/{pipeline_id}/run", Some("operate")),
    ("get", "/insights", Some("read")),
    ("get", "/catalog", Some("read")),
    ("post", "/config/reload", Some("admin")),
    ("get", "/actors", Some("read")),
    ("get", "/cluster", Some("read")),
    ("get", "/ws", Some("read")),
];

/// Whether `value` holds a `$ref` to `target` anywhere.
fn refers_to(value: &Value, target: &str) -> bool {
    match value {
        Value::Object(fields) => fields
            .iter()
            .any(|(key, v)| (key == "$ref" && v == target) || refers_to(v, target)),
        Value::Array(items) => items.iter().any(|v| refers_to(v, target)),
        _ => false,
    }
}

/// Every `$ref` in `value`.
fn refs(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(fields) => {
            for (key, v) in fields {
                match (key.as_str(), v.as_str()) {
                    ("$ref", Some(target)) => {
                        found.insert(target.to_owned());
                    }
                    _ => refs(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_every_route_with_its_errors_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), CONFIG_HEAD);
    let response = reqwest::get(app.url("/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let doc: Value =
        serde_json::from_str(&response.text().await.unwrap()).expect("/openapi.json is JSON");

    let version = doc["openapi"].as_str().expect("an `openapi` version");
    assert!(version.starts_with("3."), "openapi {version}");
    let bearer = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(bearer["type"], "http", "{bearer}");
    assert_eq!(bearer["scheme"], "bearer", "{bearer}");
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert!(
        error["properties"]["error"].is_object(),
        "ErrorBody: {error}"
    );

    let paths = doc["paths"].as_object().expect("paths");
    for (method, path, role) in ROUTES {
        let operation = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not in the document"))[*method];
        assert!(
            operation.is_object(),
            "{method} {path} is not in the document"
        );
        let route = format!("{} {path}", method.to_uppercase());

        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses
                .keys()
                .any(|status| status.starts_with('2') || (*path == "/ws" && status == "101")),
            "{route} has no success answer"
        );
        let errors: Vec<&String> = responses
            .iter()
            .filter(|(status, answer)| {
                (status.starts_with('4') || status.starts_with('5') || *status == "default")
                    && refers_to(&answer["content"], ERROR_SCHEMA)
            })
            .map(|(status, _)| status)
            .collect();
        assert!(!errors.is_empty(), "{route} has no error answer");
        assert!(
            responses.contains_key("default"),
            "{route}: no default answer"
        );

        let security = operation["security"].as_array().expect("a security entry");
        let bearer = security
            .iter()
            .any(|entry| entry.get("bearerAuth").is_some());
        let description = operation["description"].as_str().unwrap_or_default();
        match role {
            None => {
                assert!(!bearer, "{route} is public but asks for a token");
                assert!(description.contains("Role: none"), "{route}: {description}");
            }
            Some(role) => {
                assert!(bearer, "{route} needs a token but does not say so");
                assert!(
                    responses.contains_key("401"),
                    "{route} needs a token but has no 401"
                );
                let named = match *role {
                    "any" => "Role: any".to_owned(),
                    role => format!("Role: `{role}`"),
                };
                assert!(description.contains(&named), "{route}: {description}");
            }
        }

        if *method == "post" {
            let body = &operation["requestBody"]["content"]["application/json"];
            assert!(body.is_object(), "{route}: no application/json body");
            assert!(
                responses.contains_key("415"),
                "{route}: no 415 for a body that is not JSON"
            );
        }
    }

    // Nothing documented that the server does not have.
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(|method| (method.clone(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path, _)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(documented, served);

    // The enumerated path segments are enums.
    let segment = |path: &str, name: &str| -> Value {
        paths[path]["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has no {name} parameter"))["schema"]["enum"]
            .clone()
    };
    assert_eq!(
        segment("/monitors/{monitor_id}/{action}", "action"),
        serde_json::json!(["pause", "resume", "silence"])
    );
    assert_eq!(
        segment(
            "/monitoring/incidents/{id}/suggestions/{suggestion_id}/{decision}",
            "decision"
        ),
        serde_json::json!(["approve", "dismiss"])
    );

    // Every schema referred to is in the document.
    let mut targets = BTreeSet::new();
    refs(&doc, &mut targets);
    for target in targets {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("a reference outside the schemas: {target}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{target} is referred to but not in the document"
        );
    }
}

/// The schemathesis CLI: `$SCHEMATHESIS` (set by `.ci/test`), else `schemathesis` on PATH.
fn schemathesis() -> String {
    let program = std::env::var("SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".to_owned());
    let found = std::process::Command::new(&program)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found,
        "no schemathesis ({program}): `.ci/test` installs it, or `pip install schemathesis`"
    );
    program
}

/// Runs schemathesis against every operation of `/openapi.json` with `headers`; panics with
/// its report when it finds a 5xx or a response outside the documented shapes.
fn fuzz(app: &TestApp, headers: &[String]) {
    let report = app.dir.join(format!("schemathesis-{}", headers.len()));
    let mut command = std::process::Command::new(schemathesis());
    command
        .arg("run")
        .arg(app.url("/openapi.json"))
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
        ])
        .args(["--max-examples", "25", "--seed", "1", "--workers", "2"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--request-timeout", "10", "--no-color"])
        .arg("--report-dir")
        .arg(&report);
    for header in headers {
        command.args(["-H", header]);
    }
    let output = command.output().expect("schemathesis runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let errors: Vec<String> = app
        .log()
        .lines()
        .filter(|line| line.contains("ERROR") || line.contains("status=5"))
        .map(str::to_owned)
        .collect();
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{text}\nGrace logged:\n{}",
        errors.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_undocumented_answer() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG_HEAD}{FUZZ_TARGETS}");
    let app = spawn_app(dir.path(), &config);
    fuzz(&app, &[]);

    let dir = tempfile::tempdir().unwrap();
    let config = format!("{TOKENS_HEAD}{FUZZ_TARGETS}");
    let app = spawn_app(dir.path(), &config);
    fuzz(&app, &[]);
    let admin = app.create_token("fuzzer", "admin", &[]);
    fuzz(&app, &[format!("Authorization: Bearer {admin}")]);
    let reader = app.create_token("reader", "read", &[]);
    fuzz(&app, &[format!("Authorization: Bearer {reader}")]);
}

/// Something for the fuzzed routes to find: a monitor, a playbook and a pipeline.
const FUZZ_TARGETS: &str = r#"
[[monitors]]
id = "nightly"
kind = "heartbeat"
grace_ms = 600000

[[playbooks]]
id = "noop"
on = ["app.*"]
sources = ["pushed"]
steps = [{ kind = "set_trust", value = 0.9 }]

[[pipelines]]
id = "job"
argv = ["true"]
"#;

//! Playbooks as files in `playbooks/` beside the config: run by hand on an active incident,
//! named in `grace check-config`'s errors, and limited by a monitor selector to the monitors they
//! are for.

use std::time::Duration;

use super::TIMEOUT;
use crate::common::{spawn_app, TestApp, CONFIG_HEAD};
use serde_json::json;

/// Grace with one playbook in `playbooks/switch.toml` that nothing triggers by itself.
fn app_with_manual_playbook(dir: &std::path::Path) -> TestApp {
    let marker = dir.join("switched");
    std::fs::create_dir_all(dir.join("playbooks")).unwrap();
    std::fs::write(
        dir.join("playbooks/switch.toml"),
        format!(
            r#"
[[playbooks]]
id = "switch_gateway"
name = "Switch payment gateway"
on = ["payment.*"]
sources = ["pushed"]
auto_run_min_trust = 0.99    # never by itself: people run it
steps = [{{ kind = "command", argv = ["touch", "{}"] }}]
"#,
            marker.display()
        ),
    )
    .unwrap();
    spawn_app(
        dir,
        "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_runs_a_playbook_from_a_file_on_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_manual_playbook(dir.path());

    let list = app.get_ok("/playbooks").await;
    assert_eq!(list["items"][0]["id"], "switch_gateway", "{list}");
    assert_eq!(list["items"][0]["steps"], json!(["command"]));
    assert_eq!(list["items"][0]["trust"], 0.5);

    let event = json!({ "type": "payment.gateway_timeout", "source": "checkout" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    let incident = app
        .incident_where("the pushed incident", TIMEOUT, |i| i["status"] == "open")
        .await;
    let id = incident["id"].as_u64().unwrap();

    let (status, body) = app
        .post_json(
            "/playbooks/switch_gateway/run",
            &json!({ "incident_id": id }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let run_id = body["run_id"].as_str().unwrap().to_owned();
    let healed = app
        .incident_where("the manual run to heal it", TIMEOUT, |i| {
            i["id"] == id && i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook");
    assert!(dir.path().join("switched").exists());

    let playbook = app.get_ok("/playbooks/switch_gateway").await;
    assert_eq!(playbook["recent_runs"][0]["run_id"], run_id);
    assert_eq!(playbook["recent_runs"][0]["status"], "succeeded");
    assert_eq!(playbook["runs"], 1);
    assert!(playbook["trust"].as_f64().unwrap() > 0.5, "{playbook}");

    // What cannot be run says why.
    let run = |playbook: &'static str, body: serde_json::Value| {
        let app = &app;
        async move {
            app.post_json(&format!("/playbooks/{playbook}/run"), &body)
                .await
        }
    };
    let (status, body) = run("switch_gateway", json!({ "incident_id": id })).await;
    assert_eq!(status, 409, "a resolved incident: {body}");
    assert_eq!(run("nope", json!({ "incident_id": id })).await.0, 404);
    assert_eq!(
        run("switch_gateway", json!({ "incident_id": 999 })).await.0,
        404
    );
    let (status, body) = run("switch_gateway", json!({ "incident": id })).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "incident_id");
    assert_eq!(app.get("/playbooks/nope").await.0, 404);
}

#[test]
fn check_config_names_the_playbook_file_of_a_mistake() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("playbooks")).unwrap();
    std::fs::write(dir.path().join("grace.toml"), "").unwrap();
    std::fs::write(
        dir.path().join("playbooks/bad.toml"),
        "[[playbooks]]\nid = \"x\"\non = [\"db.*\"]\nsteps = [{ kind = \"command\", argv = [] }]\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_grace"))
        .arg("check-config")
        .arg(dir.path().join("grace.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("playbooks/bad.toml: playbooks[0].steps[0].argv"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_selector_limits_a_playbook_to_its_monitors() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{}
[[monitors]]
id = "billing-cron"
kind = "heartbeat"
grace_ms = 300
interval_ms = 100

[[monitors]]
id = "report-cron"
kind = "heartbeat"
grace_ms = 300
interval_ms = 100

[[playbooks]]
id = "kick_billing"
on = ["heartbeat.*"]
sources = ["monitors", "pushed"]
monitors = ["billing-cron"]
steps = [{{ kind = "set_trust", value = 0.9 }}]
"#,
        CONFIG_HEAD
    );
    let app = spawn_app(dir.path(), &config);
    let healed = app
        .incident_where("billing's incident to be handled", TIMEOUT, |i| {
            i["source"] == "billing-cron" && i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook");
    let other = app
        .incident_where("report's incident", TIMEOUT, |i| {
            i["source"] == "report-cron"
        })
        .await;
    assert_eq!(other["status"], "open", "not selected: left for people");
    crate::common::holds_for(
        "no run on the unselected monitor's incident",
        Duration::from_millis(1500),
        || async {
            let executions = app.get_ok("/monitoring/executions").await["items"].clone();
            executions
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["incident_id"] != other["id"])
        },
    )
    .await;
    // Billing keeps missing its beats, so its incidents keep coming back and being handled
    // (until the circuit breaker holds); report's never are.
    let playbook = app.get_ok("/playbooks/kick_billing").await;
    assert!(playbook["runs"].as_u64().unwrap() >= 1, "{playbook}");
    assert!(
        playbook["recent_runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|run| run["incident_id"] != other["id"]),
        "{playbook}"
    );
    assert_eq!(playbook["monitors"], json!(["billing-cron"]));
}

//! The operator's CLI against a real `grace serve`: list, show, acknowledge, note and resolve
//! an incident, silence and expire, run a playbook, read events and work orders, as tables and
//! as JSON; with tokens required, no token and a read-only one are each told what to do, and a
//! token from `GRACE_TOKEN` works.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{eventually, spawn_app, TestApp, CONFIG_HEAD, FAILING_PLAYBOOK, TOKENS_HEAD};

const TIMEOUT: Duration = Duration::from_secs(20);

/// `grace ARGS` against `app`, the address from `GRACE_URL` and the token (if any) from
/// `GRACE_TOKEN`, with no CLI config file.
fn grace(app: &TestApp, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_grace"));
    command
        .args(args)
        .env("GRACE_URL", app.url(""))
        .env("XDG_CONFIG_HOME", app.dir.join("no-cli-config"))
        .env_remove("GRACE_TOKEN")
        .env_remove("RUST_BACKTRACE");
    if let Some(token) = token {
        command.env("GRACE_TOKEN", token);
    }
    command.output().expect("grace runs")
}

fn ok(output: &Output) -> String {
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "failed: {out}{err}");
    out.into_owned()
}

fn refused(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_lists_shows_acks_notes_resolves_silences_and_runs_from_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG_HEAD}{FAILING_PLAYBOOK}");
    let app = spawn_app(dir.path(), &config);
    let event = json!({ "type": "payment.gateway_timeout", "source": "checkout", "title": "Payments time out" });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    app.incident_where("the escalation", TIMEOUT, |i| i["status"] == "escalated")
        .await;

    let table = ok(&grace(
        &app,
        None,
        &["incidents", "--status", "active", "--type", "payment.*"],
    ));
    assert!(
        table.contains("ID") && table.contains("checkout") && table.contains("Payments time out"),
        "{table}"
    );
    let listed: Value = serde_json::from_str(&ok(&grace(
        &app,
        None,
        &["incidents", "--json", "--since", "1h"],
    )))
    .unwrap();
    let id = listed["items"][0]["id"].to_string();
    assert!(ok(&grace(
        &app,
        None,
        &["incidents", "--source", "nothing-here"]
    ))
    .contains("no incidents"));

    let shown = ok(&grace(&app, None, &["show", &id]));
    assert!(
        shown.contains("escalated") && shown.contains("incident.opened"),
        "{shown}"
    );
    assert!(ok(&grace(&app, None, &["ack", &id])).contains("acknowledged"));
    ok(&grace(&app, None, &["note", &id, "the provider is down"]));
    let orders: Value =
        serde_json::from_str(&ok(&grace(&app, None, &["work-orders", "--json"]))).unwrap();
    let order = orders["items"][0]["work_order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ok(&grace(
        &app,
        None,
        &["work-orders", "assign", &order, "bob"]
    ))
    .contains("bob"));
    assert!(ok(&grace(&app, None, &["work-orders"])).contains("bob"));
    ok(&grace(
        &app,
        None,
        &[
            "work-orders",
            "close",
            &order,
            "--note",
            "switched provider",
        ],
    ));
    let run = ok(&grace(
        &app,
        None,
        &["run", "switch_gateway", "--incident", &id],
    ));
    assert!(run.contains("started switch_gateway"), "{run}");
    ok(&grace(
        &app,
        None,
        &["resolve", &id, "--note", "provider is back"],
    ));
    let incident = app.get_ok(&format!("/monitoring/incidents/{id}")).await;
    assert_eq!(incident["status"], "resolved");
    let notes: Vec<&str> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "incident.note")
        .map(|e| e["data"]["note"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["the provider is down", "provider is back"]);

    let added = ok(&grace(
        &app,
        None,
        &[
            "silence",
            "add",
            "--source",
            "checkout",
            "--duration",
            "2h",
            "--comment",
            "deploy",
        ],
    ));
    let silence = added.split_whitespace().next().unwrap().to_owned();
    assert!(silence.starts_with("silence-"), "{added}");
    assert!(ok(&grace(&app, None, &["silence", "list"])).contains("active"));
    ok(&grace(&app, None, &["silence", "expire", &silence]));
    assert!(ok(&grace(&app, None, &["silence", "list"])).contains("expired"));
    let bad = refused(&grace(&app, None, &["silence", "add", "--source", "x"]));
    assert!(bad.contains("--duration"), "{bad}");

    let events = ok(&grace(
        &app,
        None,
        &["events", "--since", "0", "--types", "incident.*"],
    ));
    assert!(
        events.contains("incident.opened") && events.contains("incident.note"),
        "{events}"
    );
    assert!(!events.contains("playbook.started"), "{events}");
    let missing = refused(&grace(&app, None, &["ack", "9999"]));
    assert!(
        missing.starts_with("error: ") && missing.contains("9999"),
        "{missing}"
    );
    assert!(!missing.contains("backtrace"), "{missing}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_token_or_with_too_weak_a_one_the_cli_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), TOKENS_HEAD);
    let reader = app.create_token("reader", "read", &[]);
    let operator = app.create_token("ops", "operate", &[]);
    let feeder = app.create_token("feeder", "ingest", &[]);
    let event = json!({ "type": "queue.stuck", "source": "jobs" });
    let (status, _) = app
        .call("POST", "/events", Some(&feeder), Some(&event))
        .await;
    assert_eq!(status, 202);
    let id = eventually("the incident", TIMEOUT, || async {
        let out = grace(&app, Some(&reader), &["incidents", "--json"]);
        let listed: Value = serde_json::from_slice(&out.stdout).ok()?;
        listed["items"][0]["id"].as_u64()
    })
    .await
    .to_string();

    let none = refused(&grace(&app, None, &["incidents"]));
    assert!(
        none.contains("needs a token")
            && none.contains("GRACE_TOKEN")
            && none.contains("grace token create"),
        "{none}"
    );
    let weak = refused(&grace(&app, Some(&reader), &["ack", &id]));
    assert!(weak.contains("may not do this"), "{weak}");
    ok(&grace(&app, Some(&operator), &["ack", &id]));
    let flag = ok(&grace(
        &app,
        None,
        &[
            "incidents",
            "--token",
            &operator,
            "--status",
            "acknowledged",
        ],
    ));
    assert!(flag.contains("jobs"), "{flag}");
    let wrong = refused(&grace(&app, Some("not-a-token"), &["incidents"]));
    assert!(wrong.contains("refused the token"), "{wrong}");
}

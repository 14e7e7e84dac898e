//! Config reload on `POST /config/reload` and on SIGHUP: only the monitors that changed are
//! touched, and an invalid config is refused whole while the running one stays.

use std::process::Command;
use std::time::Duration;

use crate::common::{eventually, spawn_app, TestApp};
use serde_json::Value;
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(20);

fn tcp(id: &str, address: &str, interval_ms: u64) -> String {
    format!(
        "\n[[monitors]]\nid = \"{id}\"\nkind = \"tcp\"\naddress = \"{address}\"\ninterval_ms = {interval_ms}\n"
    )
}

fn config(monitors: &[String]) -> String {
    format!(
        "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n{}",
        monitors.concat()
    )
}

/// The actor id of each monitor actor, by monitor id.
async fn monitor_actors(app: &TestApp) -> Vec<(String, String)> {
    let tree = app.get_ok("/actors").await;
    fn walk(node: &Value, out: &mut Vec<(String, String)>) {
        let name = node["name"].as_str().unwrap_or_default();
        if let Some(id) = name.strip_prefix("monitor:") {
            out.push((id.to_owned(), node["id"].as_str().unwrap().to_owned()));
        }
        for child in node["children"].as_array().into_iter().flatten() {
            walk(child, out);
        }
    }
    let mut out = Vec::new();
    walk(&tree, &mut out);
    out.sort();
    out
}

async fn monitor_ids(app: &TestApp) -> Vec<String> {
    let monitors = app.get_ok("/monitors").await;
    monitors["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

fn alive(pid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_touches_only_what_changed_and_refuses_a_bad_config_whole() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let _server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let sleeper =
        "\n[[monitors]]\nid = \"sleeper\"\nkind = \"process\"\nargv = [\"sleep\", \"600\"]\n"
            .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(
        dir.path(),
        &config(&[
            tcp("keep", &address, 100),
            tcp("change", &address, 100),
            sleeper,
        ]),
    );
    app.monitor_state("change", "up", TIMEOUT).await;
    let sleeper_pid = eventually("the sleeper to run", TIMEOUT, || async {
        app.get_ok("/monitors/sleeper").await["details"]["pid"].as_u64()
    })
    .await;
    let before = monitor_actors(&app).await;

    // keep: unchanged; change: new interval; sleeper: removed; fresh: added.
    let config_path = dir.path().join("grace.toml");
    std::fs::write(
        &config_path,
        config(&[
            tcp("keep", &address, 100),
            tcp("change", &address, 200),
            tcp("fresh", &address, 100),
        ]),
    )
    .unwrap();
    let (status, report) = app.post("/config/reload").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["added"], serde_json::json!(["fresh"]));
    assert_eq!(report["removed"], serde_json::json!(["sleeper"]));
    assert_eq!(report["changed"], serde_json::json!(["change"]));
    assert_eq!(report["unchanged"], serde_json::json!(["keep"]));
    app.monitor_state("fresh", "up", TIMEOUT).await;
    assert_eq!(monitor_ids(&app).await, ["keep", "change", "fresh"]);
    let after = monitor_actors(&app).await;
    let id_of = |list: &[(String, String)], name: &str| {
        list.iter()
            .find(|(id, _)| id == name)
            .map(|(_, a)| a.clone())
    };
    assert_eq!(id_of(&before, "keep"), id_of(&after, "keep"), "untouched");
    assert_ne!(
        id_of(&before, "change"),
        id_of(&after, "change"),
        "restarted"
    );
    assert_eq!(id_of(&after, "sleeper"), None, "stopped");
    eventually("the removed monitor's process to end", TIMEOUT, || async {
        (!alive(sleeper_pid)).then_some(())
    })
    .await;

    // Two mistakes: both are listed, and nothing changes.
    std::fs::write(
        &config_path,
        config(&[tcp("keep", "nowhere", 100), tcp("keep", &address, 0)]),
    )
    .unwrap();
    let (status, body) = app.post("/config/reload").await;
    assert_eq!(status, 400, "{body}");
    let fields = crate::common::error_fields(&body);
    for field in [
        "monitors[0].address",
        "monitors[1].interval_ms",
        "monitors[1].id",
    ] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} not in {fields:?}"
        );
    }
    assert_eq!(monitor_ids(&app).await, ["keep", "change", "fresh"]);
    assert_eq!(monitor_actors(&app).await, after);

    // SIGHUP reloads too.
    std::fs::write(&config_path, config(&[tcp("keep", &address, 100)])).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &app.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    eventually("SIGHUP to reload", TIMEOUT, || async {
        (monitor_ids(&app).await == ["keep"]).then_some(())
    })
    .await;
    assert_eq!(
        id_of(&monitor_actors(&app).await, "keep"),
        id_of(&before, "keep")
    );
}

//! The `grace` command line as a person uses it: `check-config`, `tree` and `watch`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::{free_port, spawn_app};

fn grace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_grace"))
}

#[test]
fn check_config_accepts_the_shipped_config_and_lists_every_problem_of_a_bad_one() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/config/grace.toml");
    let output = grace().args(["check-config", shipped]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout)
        .contains("ok (1 monitors, 4 playbooks, 0 pipelines)"));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        r#"
[server]
bind = "nowhere"
[[monitors]]
id = "db"
kind = "postgres"
url = "postgres://u@127.0.0.1/db"
timeout_ms = 0
[[playbooks]]
id = "p"
on = ["db.*"]
steps = [{ kind = "command", argv = [] }]
"#,
    )
    .unwrap();
    let output = grace().arg("check-config").arg(&bad).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for key in [
        "server.bind",
        "monitors[0].timeout_ms",
        "playbooks[0].steps[0].argv",
    ] {
        assert!(stderr.contains(key), "{key} missing from:\n{stderr}");
    }
    assert!(stderr.contains("3 problems"), "{stderr}");
}

#[test]
fn serve_refuses_an_invalid_config_without_starting() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[limits]\nws_buffer_max = 0\n").unwrap();
    let output = grace()
        .arg("serve")
        .arg("--config")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("limits.ws_buffer_max"));
}

fn unreachable_config() -> String {
    format!(
        r#"
[server]
bind = "127.0.0.1:0"
[store]
path = "memory"
[[monitors]]
id = "ghost-db"
kind = "postgres"
url = "postgres://postgres@127.0.0.1:{}/postgres"
interval_ms = 100
failures_before_down = 1
"#,
        free_port()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_prints_the_live_supervision_tree() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), &unreachable_config());
    let output = grace()
        .args(["tree", "--addr", &app.addr.to_string()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("kernel [supervisor] running"), "{text}");
    for line in [
        "── monitors [supervisor] running",
        "│   └── monitor:ghost-db [monitor] running",
        "── store [store] running",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_events_from_the_start_with_since_zero() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), &unreachable_config());
    let mut watch = grace()
        .args(["watch", "--addr", &app.addr.to_string(), "--since", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("incident.opened")) {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => lines.push(line),
            Err(_) => panic!("no incident.opened from `grace watch`; got {lines:?}"),
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(lines[0].starts_with("#1 "), "{lines:?}");
    assert!(lines[0].contains("db.connection_lost"), "{lines:?}");
}

/// A second Grace on a store another one has open ends at once, saying what to do.
#[test]
fn a_store_in_use_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"db\"\n";
    let _first = spawn_app(dir.path(), config);
    let mut second = grace()
        .args(["serve", "--config"])
        .arg(dir.path().join("grace.toml"))
        .current_dir(dir.path())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = second.kill();
            panic!("a second grace on the same store kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("cannot open the store at db"), "{stderr}");
    assert!(stderr.contains("stop that one"), "{stderr}");
}

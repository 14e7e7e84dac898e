//! Grace on a real SurrealDB server (`[store] url`) instead of its embedded store: the same
//! incidents, runs and log, kept by the server across Grace's restarts; a server that dies and
//! comes back is written to again without restarting Grace; `wss://` checked against the CA
//! given; a user the server refuses stops the start with what to check.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::common::{
    eventually, healed_from, spawn_app_env, SurrealServer, SurrealStorage, TestApp, TestCerts,
    PLAYBOOK,
};

const TIMEOUT: Duration = Duration::from_secs(30);

fn start_grace(dir: &Path, server: &SurrealServer, database: &str) -> TestApp {
    let config = format!("{}{PLAYBOOK}", server.config_head(database));
    spawn_app_env(dir, &config, &server.env())
}

/// Posts a problem from `source` and waits for its incident to be healed by the playbook.
async fn healed_incident(app: &TestApp, source: &str) -> serde_json::Value {
    let event = json!({ "type": "search.stale", "source": source });
    let accepted = eventually("the event to be accepted", TIMEOUT, || async {
        let (status, _) = app.post_json("/events", &event).await;
        (status == 202).then_some(())
    });
    accepted.await;
    healed_from(app, source).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_keeps_its_state_on_a_surrealdb_server_across_its_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let app = start_grace(dir.path(), &server, "restarts");
    let first = healed_incident(&app, "search-1").await;
    let runs = app.get_ok("/monitoring/executions").await;
    assert_eq!(runs["items"][0]["status"], "succeeded", "{runs}");
    app.stop();

    // A new process on the same server finds everything, and goes on from it.
    let app = start_grace(dir.path(), &server, "restarts");
    let kept = app.incidents("limit=10").await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["id"], first["id"]);
    let second = healed_incident(&app, "search-2").await;
    assert_eq!(second["id"], first["id"].as_u64().unwrap() + 1, "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_and_started_again_is_written_to_again_without_restarting_grace() {
    let dir = tempfile::tempdir().unwrap();
    let storage = SurrealStorage::SurrealKv(dir.path().join("surreal-data"));
    let server = SurrealServer::start(dir.path(), storage).await;
    let mut app = start_grace(dir.path(), &server, "outage");
    let before = healed_incident(&app, "search-1").await;

    let server = server.restart_after_kill_9(dir.path()).await;
    // Grace reconnects and signs in again by itself; what it had is still there.
    let after = healed_incident(&app, "search-2").await;
    assert!(after["id"].as_u64() > before["id"].as_u64(), "{after}");
    let kept = app.incidents("limit=10").await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(app.exit_status().is_none(), "grace ended:\n{}", app.log());
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_is_checked_against_the_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::make();
    let server = SurrealServer::start_tls(dir.path(), &certs.cert_path, &certs.key_path).await;
    let with_ca = |ca: &Path| {
        format!(
            "{}ca_file = \"{}\"\n{PLAYBOOK}",
            server.config_head("tls"),
            ca.display()
        )
    };
    let app = spawn_app_env(dir.path(), &with_ca(&certs.ca_path), &server.env());
    healed_incident(&app, "search-1").await;
    drop(app);

    // A CA that signed nothing of the server's: the start fails and says why.
    let (code, said) = serve_once(dir.path(), &with_ca(&certs.other_ca_path), &server.env());
    assert_ne!(code, Some(0), "{said}");
    assert!(
        said.contains("cannot open the store at wss://localhost"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_the_server_refuses_stops_the_start_with_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let server = SurrealServer::start(dir.path(), SurrealStorage::Memory).await;
    let config = server.config_head("refused");

    let wrong = [(server.env()[0].0, "not-the-password")];
    let (code, said) = serve_once(dir.path(), &config, &wrong);
    assert_ne!(code, Some(0), "{said}");
    assert!(said.contains("refused the user"), "{said}");
    assert!(
        !said.contains("not-the-password"),
        "the password is never shown: {said}"
    );

    let (code, said) = serve_once(dir.path(), &config, &[]);
    assert_ne!(code, Some(0), "{said}");
    assert!(
        said.contains(server.env()[0].0),
        "names the variable: {said}"
    );
    assert!(said.contains("password_env"), "{said}");
}

/// Runs `grace serve` on `config` until it ends by itself (bounded): its exit code and stderr.
fn serve_once(dir: &Path, config: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let path = dir.join("once.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_grace"))
        .args(["serve", "--config"])
        .arg(&path)
        .current_dir(dir)
        .env_remove(crate::common::SURREAL_PASS_ENV)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start grace");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("grace kept running with a store it cannot open");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

//! `grace init` on a machine running a real PostgreSQL cluster (started by the test, as its
//! own user) and a real redis-server: the config it writes watches both, starts the cluster
//! the right way — proven by stopping the cluster under a Grace running that config — and a
//! second `grace init` never overwrites it.

use std::process::Command;
use std::time::Duration;

use crate::common::{eventually, free_port, spawn_app, spawn_app_without_config, PgCluster};
use crate::monitors::RedisServer;

const TIMEOUT: Duration = Duration::from_secs(60);

fn init(dir: &std::path::Path, output: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_grace"))
        .args([
            "init",
            "--bind",
            "127.0.0.1:0",
            "--store",
            "memory",
            "--output",
        ])
        .arg(output)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("grace init runs")
}

/// Only the entries about `monitor_id` (the machine may run other clusters and services, some
/// of them other tests'): its monitor and the playbooks for it.
fn only(config: &str, monitor_id: &str) -> String {
    let mut table: toml::Table = config.parse().expect("the written config is TOML");
    let about = |entry: &toml::Value, key: &str| match entry.get(key) {
        Some(toml::Value::String(id)) => id == monitor_id,
        Some(toml::Value::Array(ids)) => ids.iter().any(|id| id.as_str() == Some(monitor_id)),
        _ => false,
    };
    for (section, key) in [("monitors", "id"), ("playbooks", "monitors")] {
        if let Some(toml::Value::Array(entries)) = table.get_mut(section) {
            entries.retain(|entry| about(entry, key));
        }
    }
    toml::to_string(&table).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_writes_a_config_that_watches_and_heals_what_runs_here() {
    let pg = PgCluster::start();
    let redis = RedisServer::start(free_port(), None);
    eventually("redis-server to listen", TIMEOUT, || async {
        tokio::net::TcpStream::connect(("127.0.0.1", redis.port))
            .await
            .ok()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("grace.toml");

    let ran = init(dir.path(), &output);
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(stdout.contains("written"), "{stdout}");
    assert!(stdout.contains("monitor(s) answered"), "{stdout}");
    let written = std::fs::read_to_string(&output).unwrap();
    let cluster = format!("postgres-{}", pg.port);
    // Each monitor was probed before it was written, and says what it answered.
    let proven = format!(
        "# Answered when grace init looked: SELECT 1 ok.\n[[monitors]]\nid = \"{cluster}\""
    );
    assert!(written.contains(&proven), "no {proven:?} in:\n{written}");
    for expected in [
        format!("id = \"{cluster}\""),
        format!(
            "url = \"postgres://postgres@127.0.0.1:{}/postgres\"",
            pg.port
        ),
        format!("\"{}\", \"-w\"", pg.data_dir()),
        format!("id = \"redis-{}\"", redis.port),
        format!("url = \"redis://127.0.0.1:{}\"", redis.port),
        "# PostgreSQL: a running postmaster".to_owned(),
    ] {
        assert!(
            written.contains(&expected),
            "no {expected:?} in:\n{written}"
        );
    }
    let start_line = written
        .lines()
        .find(|line| line.contains("pg_ctl") && line.contains(&pg.data_dir()))
        .unwrap_or_else(|| panic!("no start command in:\n{written}"));
    let as_owner = start_line.contains("\"runuser\", \"-u\", \"postgres\"");
    assert_eq!(as_owner, crate::common::is_root(), "{start_line}");

    // It never overwrites.
    let again = init(dir.path(), &output);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
    assert_eq!(std::fs::read_to_string(&output).unwrap(), written);

    // A Grace on that config brings the cluster back when it stops.
    let app = spawn_app(dir.path(), &only(&written, &cluster));
    app.monitor_state(&cluster, "up", TIMEOUT).await;
    pg.stop();
    let healed = app
        .incident_where("the written playbook to heal it", TIMEOUT, |i| {
            i["source"] == cluster.as_str() && i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook", "{healed}");
    assert!(pg.is_running());
}

/// With no `--config`, `grace serve` looks at the machine as `grace init` does and watches
/// what runs there, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_a_config_watches_what_runs_here() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_without_config(dir.path());
    let cluster = format!("postgres-{}", pg.port);
    app.monitor_state(&cluster, "up", TIMEOUT).await;
    let said = eventually("the line saying what it watches", TIMEOUT, || async {
        let lines = app.stdout_lines();
        lines
            .into_iter()
            .find(|line| line.starts_with("no --config given"))
    })
    .await;
    assert!(said.contains("PostgreSQL cluster(s)"), "{said}");
    assert!(said.contains("grace init --output grace.toml"), "{said}");
    assert!(
        dir.path().join("data/grace").is_dir(),
        "its store, in the working directory"
    );
}

/// A cluster that wants a password over TCP (as Debian's does): `grace init` finds that out
/// before writing it. One that lets its owner in through its Unix socket is watched there;
/// one that does not is written with the fix in a comment — and neither is an outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_proves_each_monitor_and_says_how_to_fix_a_refused_login() {
    let conf = "password_encryption = 'scram-sha-256'\n";
    let hba =
        |local: &str| format!("local all all {local}\nhost all all 127.0.0.1/32 scram-sha-256\n");
    let socket = PgCluster::start_with(conf, &[("pg_hba.conf", &hba("trust"))]);
    let refusing = PgCluster::start_with(conf, &[("pg_hba.conf", &hba("reject"))]);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("grace.toml");
    let ran = init(dir.path(), &output);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let written = std::fs::read_to_string(&output).unwrap();

    let through_socket = only(&written, &format!("postgres-{}", socket.port));
    assert!(
        through_socket.contains("?sslmode=disable"),
        "{through_socket}"
    );
    assert!(
        through_socket.contains("%2F"),
        "a socket directory: {through_socket}"
    );
    assert!(
        written.contains("through its Unix socket (peer login as its owner) it answers"),
        "{written}"
    );
    let refused = format!("id = \"postgres-{}\"", refusing.port);
    let block = written
        .split("# PostgreSQL:")
        .find(|block| block.contains(&refused))
        .unwrap_or_else(|| panic!("no monitor {refused} in:\n{written}"));
    assert!(block.contains("# Grace cannot log in here:"), "{block}");
    assert!(
        block.contains(&format!("127.0.0.1:{}:*:postgres:PASSWORD", refusing.port)),
        "{block}"
    );

    // Run as written: the socket's monitor is up, the refusing one a login incident, no restart.
    let app = spawn_app(
        dir.path(),
        &written.replace("127.0.0.1:7878", "127.0.0.1:0"),
    );
    app.monitor_state(&format!("postgres-{}", socket.port), "up", TIMEOUT)
        .await;
    let login = app
        .incident_where("the refused login", TIMEOUT, |i| {
            i["source"] == format!("postgres-{}", refusing.port).as_str()
        })
        .await;
    assert_eq!(login["event_type"], "db.auth_failed", "{login}");
    let title = login["title"].as_str().unwrap();
    assert!(title.starts_with("Grace cannot log in to"), "{title}");
}

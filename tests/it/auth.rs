//! A wrong password is not an outage: against a real PostgreSQL that asks for a
//! `scram-sha-256` password over TCP, a real Redis with `requirepass` (and, in `mysql.rs`, a
//! real MariaDB), a refused login is an incident of its own kind (`db.auth_failed`,
//! `redis.auth_failed`) whose title says what to do, for which no outage playbook runs; once
//! the password is given (a passfile, `password_file`, `password_env`) the monitor is up and
//! the incident resolved, and a real outage after it is an incident of its own, healed. No
//! password Grace is given shows in the API, the event feed or the log.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::browser::Browser;
use crate::common::{holds_for, spawn_app_env, Feed, PgCluster, TestApp, CONFIG_HEAD};
use crate::monitors::RedisServer;

const TIMEOUT: Duration = Duration::from_secs(60);
const PASSWORD: &str = "grace-s3cret-pw";

/// Over TCP, `postgres` (the test's own connections) is trusted and everyone else must give a
/// scram-sha-256 password; `intruder` is turned away by a `reject` line.
const HBA: &str = "local all all trust\n\
                   host all postgres 127.0.0.1/32 trust\n\
                   host all intruder 127.0.0.1/32 reject\n\
                   host all all 127.0.0.1/32 scram-sha-256\n";

/// A cluster that wants a password from `grace` over TCP; `grace` has [`PASSWORD`].
async fn cluster() -> PgCluster {
    let pg = PgCluster::start_with(
        "password_encryption = 'scram-sha-256'\n",
        &[("pg_hba.conf", HBA)],
    );
    pg.execute(&format!(
        "CREATE ROLE grace LOGIN PASSWORD '{PASSWORD}'; CREATE ROLE intruder LOGIN"
    ))
    .await;
    pg
}

fn url(pg: &PgCluster, user: &str) -> String {
    format!("postgres://{user}@127.0.0.1:{}/postgres", pg.port)
}

/// Grace with nothing of this machine's to give a password: its HOME is the test's directory,
/// `PGPASSWORD` and `PGPASSFILE` are empty.
fn app(dir: &Path, config: &str) -> TestApp {
    let home = dir.display().to_string();
    let env = [
        ("HOME", home.as_str()),
        ("PGPASSWORD", ""),
        ("PGPASSFILE", ""),
    ];
    spawn_app_env(dir, config, &env)
}

/// A file only its owner may read, as libpq wants a passfile.
fn secret_file(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn pg_monitor(id: &str, url: &str, extra: &str) -> String {
    format!(
        "\n[[monitors]]\nid = \"{id}\"\nkind = \"postgres\"\nurl = \"{url}\"\ninterval_ms = 200\n\
         timeout_ms = 2000\nfailures_before_down = 2\n{extra}"
    )
}

/// The `db_reconnect` playbook of the shipped config, starting this cluster.
fn reconnect_playbook(pg: &PgCluster) -> String {
    let argv = serde_json::to_string(&pg.start_argv()).unwrap();
    format!(
        "\n[[playbooks]]\nid = \"db_reconnect\"\nname = \"Reconnect DB\"\n\
         on = [\"db.connection_lost\"]\nsteps = [\n  {{ kind = \"check\" }},\n  \
         {{ kind = \"command\", argv = {argv}, timeout_ms = 30000 }},\n  \
         {{ kind = \"reconnect\", backoff_ms = [200, 400, 800, 1600] }},\n  \
         {{ kind = \"verify\" }},\n]\n"
    )
}

async fn executions(app: &TestApp) -> Vec<Value> {
    app.get_ok("/monitoring/executions").await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_password_is_its_own_incident_a_passfile_fixes_it_and_an_outage_is_healed() {
    let pg = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let playbook = reconnect_playbook(&pg);
    let monitor = pg_monitor("pg15-main", &url(&pg, "grace"), "");
    let app = app(dir.path(), &format!("{CONFIG_HEAD}{monitor}{playbook}"));
    let feed = Feed::connect(&app, "?since=0").await;

    let refused = app
        .incident_where("the refused login", TIMEOUT, |i| i["source"] == "pg15-main")
        .await;
    assert_eq!(refused["event_type"], "db.auth_failed", "{refused}");
    let title = refused["title"].as_str().unwrap();
    assert!(
        title.starts_with("Grace cannot log in to pg15-main: password missing")
            && title.contains("— put it in password_file, password_env, the url, a passfile"),
        "{title}"
    );
    let monitor = app.get_ok("/monitors/pg15-main").await;
    assert_eq!(monitor["state"], "down");
    let error = monitor["last_error"].as_str().unwrap();
    assert!(error.contains(".pgpass"), "where it looked: {error}");
    // One incident, and no restart of a database that is up.
    holds_for(
        "one incident and no playbook run",
        Duration::from_secs(2),
        || async { app.incidents("").await.len() == 1 && executions(&app).await.is_empty() },
    )
    .await;
    assert!(!feed.types().iter().any(|t| t.starts_with("playbook.")));
    // The dashboard's tile says it in its words, and what to do.
    let browser = Browser::start("refused-login").await;
    browser.goto(&app.url("/")).await;
    let tile = "document.querySelector('#tiles [data-incident]')?.innerText || ''";
    browser
        .wait_for(
            "the tile",
            &format!("({tile}).includes('🔑 Grace cannot log in')"),
        )
        .await;
    let text = browser.text("#tiles [data-incident]").await.unwrap();
    assert!(
        text.contains("Cannot log in — pg15-main refuses Grace's login at"),
        "{text}"
    );

    // The password goes in a passfile; the reloaded monitor logs in.
    let passfile = dir.path().join("grace.pgpass");
    secret_file(
        &passfile,
        &format!("127.0.0.1:{}:*:grace:{PASSWORD}\n", pg.port),
    );
    let extra = format!("passfile = \"{}\"\n", passfile.display());
    let monitor = pg_monitor("pg15-main", &url(&pg, "grace"), &extra);
    std::fs::write(
        dir.path().join("grace.toml"),
        format!("{CONFIG_HEAD}{monitor}{playbook}"),
    )
    .unwrap();
    let (status, body) = app.post("/config/reload").await;
    assert_eq!(
        (status, &body["changed"]),
        (200, &serde_json::json!(["pg15-main"]))
    );
    app.monitor_state("pg15-main", "up", TIMEOUT).await;
    let resolved = app
        .incident_where("the login incident to resolve", TIMEOUT, |i| {
            i["id"] == refused["id"] && i["status"] == "resolved"
        })
        .await;
    assert_eq!(resolved["resolved_by"], "recovery");

    // A real outage now is an incident of its own, healed by the playbook.
    pg.stop();
    let outage = app
        .incident_where("the outage", TIMEOUT, |i| {
            i["event_type"] == "db.connection_lost"
        })
        .await;
    assert_ne!(outage["id"], refused["id"]);
    assert_eq!(outage["relapses"], 0, "{outage}");
    assert_eq!(outage["title"], "Database connection lost: pg15-main");
    let healed = app
        .incident_where("the playbook to heal the outage", TIMEOUT, |i| {
            i["id"] == outage["id"] && i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook", "{healed}");
    assert!(
        pg.query_ok().await,
        "the playbook started the cluster again"
    );
    app.monitor_state("pg15-main", "up", TIMEOUT).await;
    assert_eq!(executions(&app).await.len(), 1);
}

/// Everything Grace shows of itself: monitors, incidents, the feed and the log.
async fn shown(app: &TestApp, feed: &Feed) -> String {
    let mut all = app.get_ok("/monitors").await.to_string();
    all.push_str(
        &app.get_ok("/monitoring/incidents?limit=100")
            .await
            .to_string(),
    );
    for event in feed.snapshot() {
        all.push_str(&event.to_string());
    }
    all.push_str(&app.log());
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_a_host_turned_away_is_refused_and_no_password_is_ever_shown() {
    let pg = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-password");
    secret_file(&wrong, "not-the-password-42\n");
    let inline = format!("postgres://grace:{PASSWORD}@127.0.0.1:{}/postgres", pg.port);
    let monitors = [
        pg_monitor(
            "pg-wrong",
            &url(&pg, "grace"),
            &format!("password_file = \"{}\"\n", wrong.display()),
        ),
        pg_monitor("pg-intruder", &url(&pg, "intruder"), ""),
        pg_monitor("pg-inline", &inline, ""),
    ]
    .concat();
    let app = app(dir.path(), &format!("{CONFIG_HEAD}{monitors}"));
    let feed = Feed::connect(&app, "?since=0").await;
    app.monitor_state("pg-inline", "up", TIMEOUT).await;
    let wrong_incident = app
        .incident_where("the wrong password", TIMEOUT, |i| i["source"] == "pg-wrong")
        .await;
    assert_eq!(wrong_incident["event_type"], "db.auth_failed");
    let title = wrong_incident["title"].as_str().unwrap();
    assert!(
        title.starts_with(
            "Grace cannot log in to pg-wrong: password authentication failed for user \"grace\""
        ) && title.contains("— check the password Grace is given"),
        "{title}"
    );
    let turned_away = app
        .incident_where("the host turned away", TIMEOUT, |i| {
            i["source"] == "pg-intruder"
        })
        .await;
    assert_eq!(turned_away["event_type"], "db.auth_failed");
    let title = turned_away["title"].as_str().unwrap();
    assert!(title.contains("pg_hba.conf"), "{title}");

    // The server going away while the login is refused is an outage of its own.
    pg.stop();
    for id in ["pg-wrong", "pg-inline"] {
        let outage = app
            .incident_where("the outage behind the refused login", TIMEOUT, |i| {
                i["source"] == id && i["event_type"] == "db.connection_lost"
            })
            .await;
        assert_eq!(outage["relapses"], 0);
    }
    assert!(
        app.log().contains("monitors[2].url") && app.log().contains("clear text"),
        "the password in the url is warned about"
    );
    let all = shown(&app, &feed).await;
    for secret in [PASSWORD, "not-the-password-42"] {
        assert!(!all.contains(secret), "{secret} shown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_auth_refusals_are_their_own_kind_and_a_password_file_or_variable_logs_in() {
    let redis = RedisServer::start(crate::common::free_port(), Some(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let right = dir.path().join("redis-password");
    secret_file(&right, &format!("{PASSWORD}\n"));
    let address = format!("redis://127.0.0.1:{}", redis.port);
    let monitor = |id: &str, extra: &str| {
        format!(
            "\n[[monitors]]\nid = \"{id}\"\nkind = \"redis\"\nurl = \"{address}\"\n\
             interval_ms = 200\ntimeout_ms = 1000\nfailures_before_down = 2\n{extra}"
        )
    };
    let monitors = [
        monitor("cache-no-password", ""),
        monitor("cache-wrong", "password_env = \"CACHE_PASSWORD\"\n"),
        monitor(
            "cache-file",
            &format!("password_file = \"{}\"\n", right.display()),
        ),
    ]
    .concat();
    let home = dir.path().display().to_string();
    let env = [
        ("HOME", home.as_str()),
        ("CACHE_PASSWORD", "wrong-cache-pw"),
    ];
    let app = spawn_app_env(dir.path(), &format!("{CONFIG_HEAD}{monitors}"), &env);
    let feed = Feed::connect(&app, "?since=0").await;
    app.monitor_state("cache-file", "up", TIMEOUT).await;
    for (id, said) in [
        ("cache-no-password", "PING refused: NOAUTH"),
        ("cache-wrong", "AUTH refused: WRONGPASS"),
    ] {
        let incident = app
            .incident_where("a refused Redis login", TIMEOUT, |i| i["source"] == id)
            .await;
        assert_eq!(incident["event_type"], "redis.auth_failed", "{incident}");
        let title = incident["title"].as_str().unwrap();
        let lead = format!("Grace cannot log in to {id}: {said}");
        assert!(title.starts_with(&lead), "{title}");
    }
    let all = shown(&app, &feed).await;
    for secret in [PASSWORD, "wrong-cache-pw"] {
        assert!(!all.contains(secret), "{secret} shown");
    }
}

/// A database that refuses Grace's login is not down for what depends on it: a dependent that
/// really fails is an incident of its own, not a symptom hidden behind the login failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_does_not_take_in_what_depends_on_the_database() {
    let pg = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let api = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let monitors = format!(
        "{}\n[[monitors]]\nid = \"api\"\nkind = \"tcp\"\naddress = \"{}\"\ninterval_ms = 200\n\
         failures_before_down = 1\ndepends_on = [\"pg15-main\"]\n",
        pg_monitor("pg15-main", &url(&pg, "grace"), ""),
        api.local_addr().unwrap()
    );
    let app = app(dir.path(), &format!("{CONFIG_HEAD}{monitors}"));
    app.incident_where("the refused login", TIMEOUT, |i| {
        i["event_type"] == "db.auth_failed"
    })
    .await;
    app.monitor_state("api", "up", TIMEOUT).await;
    drop(api);
    let own = app
        .incident_where("api's own incident", TIMEOUT, |i| i["source"] == "api")
        .await;
    assert_eq!(own["status"], "open", "{own}");
    let login = app
        .incidents("")
        .await
        .into_iter()
        .find(|i| i["event_type"] == "db.auth_failed")
        .unwrap();
    assert!(
        login["symptoms"].as_array().is_none_or(|s| s.is_empty()),
        "{login}"
    );
}

//! The `mysql` monitor against a real MariaDB server the test starts (its own data directory,
//! a free port on 127.0.0.1, a user with a password, given in a `password_file`): a wrong
//! password is a refused login (`db.auth_failed`) named as such, and a server killed with
//! SIGKILL is an incident its playbook heals — start, reconnect, verify — as it would a
//! PostgreSQL cluster.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::common::{eventually, free_port, is_root, spawn_app};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A throwaway MariaDB server owned by one test: user `grace`, password `secret`.
struct MariaDb {
    dir: TempDir,
    port: u16,
}

impl MariaDb {
    fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("grace-mariadb-")
            .tempdir()
            .unwrap();
        let db = Self {
            dir,
            port: free_port(),
        };
        std::fs::create_dir(db.data_dir()).unwrap();
        std::fs::write(
            db.path("init.sql"),
            "CREATE USER IF NOT EXISTS 'grace'@'127.0.0.1' IDENTIFIED BY 'secret';\n",
        )
        .unwrap();
        if is_root() {
            // mariadbd will not run as root: it runs as `mysql`, which must reach its files.
            run(Command::new("chmod").arg("755").arg(db.dir.path()));
            run(Command::new("chown")
                .args(["-R", "mysql:mysql"])
                .arg(db.dir.path()));
        }
        let mut install = Command::new("mariadb-install-db");
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", db.data_dir().display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db");
        if is_root() {
            install.arg("--user=mysql");
        }
        run(&mut install);
        run(Command::new(&db.start_argv()[0]).args(&db.start_argv()[1..]));
        db
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn data_dir(&self) -> PathBuf {
        self.path("data")
    }

    /// Starts the server in the background and returns (`start-stop-daemon` detaches it, so
    /// it outlives the command that started it), as a playbook's `command` step runs it.
    fn start_argv(&self) -> Vec<String> {
        let mut argv: Vec<String> = [
            "start-stop-daemon",
            "--start",
            "--background",
            "--exec",
            "/usr/sbin/mariadbd",
            "--",
        ]
        .map(String::from)
        .to_vec();
        argv.extend([
            "--no-defaults".to_owned(),
            format!("--datadir={}", self.data_dir().display()),
            format!("--port={}", self.port),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--socket={}", self.path("mysqld.sock").display()),
            format!("--pid-file={}", self.path("mysqld.pid").display()),
            format!("--init-file={}", self.path("init.sql").display()),
            format!("--log-error={}", self.path("error.log").display()),
            "--skip-name-resolve".to_owned(),
        ]);
        if is_root() {
            argv.push("--user=mysql".to_owned());
        }
        argv
    }

    fn url(&self, password: &str) -> String {
        format!("mysql://grace:{password}@127.0.0.1:{}/", self.port)
    }

    fn pid(&self) -> Option<String> {
        let pid = std::fs::read_to_string(self.path("mysqld.pid")).ok()?;
        Some(pid.trim().to_owned()).filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
    }

    fn kill_9(&self) {
        if let Some(pid) = self.pid() {
            run(Command::new("kill").args(["-9", &pid]));
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.kill_9();
    }
}

fn run(command: &mut Command) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run {command:?} ({error}): `apt-get install -y mariadb-server` (.ci/test does this)")
        });
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_mariadb_is_an_incident_its_playbook_heals_and_a_wrong_password_is_named() {
    let db = MariaDb::start();
    let argv: Vec<String> = db.start_argv().iter().map(|a| format!("{a:?}")).collect();
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("shop-db-password");
    std::fs::write(&password_file, "secret\n").unwrap();
    let url = format!("mysql://grace@127.0.0.1:{}/", db.port);
    let config = format!(
        r#"[server]
bind = "127.0.0.1:0"
[store]
path = "memory"

[[monitors]]
id = "shop-db"
kind = "mysql"
url = "{url}"
password_file = "{password_file}"
interval_ms = 200
timeout_ms = 2000
failures_before_down = 2

[[monitors]]
id = "shop-db-wrong-password"
kind = "mysql"
url = "{wrong}"
interval_ms = 500
failures_before_down = 1

[[playbooks]]
id = "restart_mariadb"
on = ["db.connection_lost"]
monitors = ["shop-db"]
steps = [
  {{ kind = "check" }},
  {{ kind = "command", argv = [{argv}], timeout_ms = 30000 }},
  {{ kind = "reconnect", backoff_ms = [500, 1000, 2000, 4000, 8000] }},
  {{ kind = "verify" }},
]
"#,
        password_file = password_file.display(),
        wrong = db.url("nope"),
        argv = argv.join(", ")
    );
    let app = spawn_app(dir.path(), &config);
    app.monitor_state("shop-db", "up", TIMEOUT).await;
    let wrong = eventually("the wrong password's error", TIMEOUT, || async {
        let monitor = app.get_ok("/monitors/shop-db-wrong-password").await;
        let error = monitor["last_error"].as_str()?.to_owned();
        (monitor["state"] == "down").then_some(error)
    })
    .await;
    assert!(
        wrong.contains("ERROR 1045") && wrong.contains("Access denied"),
        "{wrong}"
    );
    let refused = app
        .incident_where("the refused login", TIMEOUT, |i| {
            i["source"] == "shop-db-wrong-password"
        })
        .await;
    assert_eq!(refused["event_type"], "db.auth_failed");
    let title = refused["title"].as_str().unwrap();
    assert!(
        title.starts_with("Grace cannot log in to shop-db-wrong-password: ERROR 1045")
            && title.contains("— check the user and password Grace is given"),
        "{title}"
    );

    db.kill_9();
    let incident = app
        .incident_where("the outage", TIMEOUT, |i| {
            i["source"] == "shop-db" && i["event_type"] == "db.connection_lost"
        })
        .await;
    assert_eq!(incident["event_type"], "db.connection_lost");
    let healed = app
        .incident_where("the playbook to heal it", TIMEOUT, |i| {
            i["id"] == incident["id"] && i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook", "{healed}");
    assert!(db.pid().is_some(), "MariaDB runs again");
    app.monitor_state("shop-db", "up", TIMEOUT).await;
}

//! Degrade, do not die: Grace's store and its log on a small tmpfs that fills up while a real
//! PostgreSQL goes down. Grace stays up and says `degraded` (on `/health` and to its
//! webhooks), and once there is space again the outage that happened meanwhile is an
//! incident, and the log says how many lines it lost. A log that can never be written
//! (`/dev/full`) does not stop Grace either.
//!
//! Mounting a tmpfs needs root, which CI is.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{eventually, holds_for, spawn_app_logging, PgCluster, TestApp};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A tmpfs of `size_mib` mounted on a fresh directory; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size_mib: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mounting a tmpfs needs root");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem is full; returns its path.
    fn fill(&self) -> PathBuf {
        let filler = self.path().join("filler");
        let output = Command::new("dd")
            .args(["if=/dev/zero", "bs=1M"])
            .arg(format!("of={}", filler.display()))
            .output()
            .expect("run dd");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("No space left"),
            "dd did not fill it: {stderr}"
        );
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_degrades_grace_and_the_outage_meanwhile_is_recorded_once_space_returns() {
    let disk = Tmpfs::mount(64);
    let pg = PgCluster::start();
    let (addr, seen) = crate::common::receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[server]
bind = "127.0.0.1:0"
[store]
path = "{store}"

[[monitors]]
id = "orders-db"
kind = "postgres"
url = "{url}"
interval_ms = 200
timeout_ms = 1000
failures_before_down = 2

[[webhooks]]
id = "ops"
url = "http://{addr}/ops"
backoff_ms = [100]
"#,
        store = disk.path().join("grace").display(),
        url = pg.url(),
    );
    // stderr, Grace's log, goes to a file on the same small disk as the store.
    let log = disk.path().join("grace.log");
    let mut app = spawn_app_logging(dir.path(), &config, &[], &log);
    app.monitor_state("orders-db", "up", TIMEOUT).await;
    assert_eq!(app.get_ok("/health").await["status"], "ok");

    let filler = disk.fill();
    pg.stop();
    // Pushed events cannot be taken now; the monitor's transition waits for the store.
    let event = json!({ "type": "payment.timeout", "source": "checkout", "kind": "problem" });
    let health = eventually("/health to say degraded", TIMEOUT, || async {
        let _ = app.post_json("/events", &event).await;
        let health = app.get_ok("/health").await;
        (health["status"] == "degraded").then_some(health)
    })
    .await;
    let reason = match health["store_failure"]["reason"].as_str() {
        Some(reason) => reason.to_owned(),
        None => panic!("{health} {}", app.get_ok("/actors").await),
    };
    assert!(reason.contains("space"), "{health}");
    eventually("the webhook told", TIMEOUT, || async {
        let seen = seen.lock().unwrap();
        seen.iter()
            .any(|(_, body)| body["kind"] == "grace_degraded")
            .then_some(())
    })
    .await;
    holds_for(
        "Grace up and probing while the disk is full",
        Duration::from_secs(1),
        || async {
            let health = app.get_ok("/health").await;
            health["status"] == "degraded"
                && health["actors"]["total"] == health["actors"]["running"]
        },
    )
    .await;
    // It logged every failed commit meanwhile, to a file it could not write.
    eventually("log lines dropped", TIMEOUT, || async {
        (log_lines_dropped(&app).await > 0).then_some(())
    })
    .await;
    assert_eq!(app.exit_status(), None, "Grace exited:\n{}", app.log());
    let incidents = app.get_ok("/monitoring/incidents").await;
    assert!(
        incidents["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["source"] != "orders-db"),
        "nothing could be recorded yet: {incidents}"
    );

    std::fs::remove_file(filler).unwrap();
    let incident = app
        .incident_where("the outage during the full disk", TIMEOUT, |i| {
            i["source"] == "orders-db" && i["status"] != "resolved"
        })
        .await;
    assert_eq!(incident["event_type"], "db.connection_lost");
    eventually("/health ok again", TIMEOUT, || async {
        let health = app.get_ok("/health").await;
        (health["status"] == "ok" && health["store_failure"].is_null()).then_some(())
    })
    .await;
    eventually("the webhook told it is over", TIMEOUT, || async {
        let seen = seen.lock().unwrap();
        seen.iter()
            .any(|(_, body)| body["kind"] == "grace_recovered")
            .then_some(())
    })
    .await;
    // The log goes on, and says what it lost.
    eventually("the log to say lines were dropped", TIMEOUT, || async {
        app.log().contains("log lines were dropped").then_some(())
    })
    .await;
    let log_text = app.log();
    assert!(log_text.contains("No space left on device"), "{log_text}");
    assert_eq!(app.exit_status(), None, "Grace exited:\n{log_text}");
}

/// `grace_log_lines_dropped_total` from `GET /metrics`.
async fn log_lines_dropped(app: &TestApp) -> u64 {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("grace_log_lines_dropped_total "))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no grace_log_lines_dropped_total in {text}"))
}

/// With stderr on `/dev/full` not one log line can be written, from the first on: Grace
/// starts, watches a dependency that is down, opens its incident and stays up, counting the
/// lines it dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_cannot_be_written_at_all_does_not_stop_grace() {
    let dir = tempfile::tempdir().unwrap();
    let closed = crate::common::free_port();
    let config = format!(
        "{}\n[[monitors]]\nid = \"cache\"\nkind = \"tcp\"\naddress = \"127.0.0.1:{closed}\"\n\
         interval_ms = 100\n",
        crate::common::CONFIG_HEAD
    );
    let mut app = spawn_app_logging(dir.path(), &config, &[], Path::new("/dev/full"));
    let incident = app
        .incident_where("the outage", TIMEOUT, |i| i["source"] == "cache")
        .await;
    assert_eq!(incident["event_type"], "tcp.unreachable");
    assert!(log_lines_dropped(&app).await > 0);
    holds_for("Grace up", Duration::from_secs(1), || async {
        app.get_ok("/health").await["status"] == "ok"
    })
    .await;
    assert_eq!(app.exit_status(), None);
}

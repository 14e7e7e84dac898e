//! Degrade, do not die: Grace's store on a small tmpfs that fills up while a real PostgreSQL
//! goes down. Grace stays up and says `degraded` (on `/health` and to its webhooks), and once
//! there is space again the outage that happened meanwhile is an incident.
//!
//! Mounting a tmpfs needs root, which CI is.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{eventually, holds_for, spawn_app, PgCluster};
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
    let app = spawn_app(dir.path(), &config);
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
    let reason = health["store_failure"]["reason"].as_str().unwrap();
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
}

//! A real SurrealDB server: SurrealDB's own server crate at the SDK's version
//! (`tests/surreal-server/`, which `.ci/test` builds into `$CARGO_TARGET_DIR/surreal-server`),
//! started on a free loopback port with its storage in memory or on SurrealKV in a temp dir.
//! `GRACE_SURREAL_BIN` names another build of it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// The root user the test server is started with.
pub const SURREAL_USER: &str = "root";
/// Its password, handed to Grace in this environment variable (never in a config).
pub const SURREAL_PASS_ENV: &str = "GRACE_TEST_SURREAL_PASS";
const SURREAL_PASS: &str = "root";
/// How long a debug-built server may take to answer `/health`.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the server keeps its data.
#[derive(Clone)]
pub enum SurrealStorage {
    /// Gone with the process.
    Memory,
    /// A SurrealKV directory, kept across the server's restarts.
    SurrealKv(PathBuf),
}

/// A running `surreal start`, killed when dropped.
pub struct SurrealServer {
    child: Child,
    pub port: u16,
    storage: SurrealStorage,
    /// The certificate and key it serves `wss://` with, if any.
    tls: Option<(PathBuf, PathBuf)>,
    log: PathBuf,
}

/// The server binary: `GRACE_SURREAL_BIN`, or the one `.ci/test` builds beside Grace's.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("GRACE_SURREAL_BIN") {
        return PathBuf::from(path);
    }
    // …/target/debug/grace → …/target
    let grace = Path::new(env!("CARGO_BIN_EXE_grace"));
    let target = grace.parent().and_then(Path::parent).expect("target dir");
    let path = target.join("surreal-server/debug/surreal");
    assert!(
        path.exists(),
        "the SurrealDB test server is not built ({}): `.ci/test` builds it, or run `cargo build \
         --manifest-path tests/surreal-server/Cargo.toml --target-dir {}/surreal-server`",
        path.display(),
        target.display()
    );
    path
}

impl SurrealServer {
    /// Starts a server on a free port, its log in `dir`, and waits until it answers.
    pub async fn start(dir: &Path, storage: SurrealStorage) -> SurrealServer {
        Self::start_on(dir, storage, free_port(), None).await
    }

    /// Starts a server that serves `wss://` with this certificate and key.
    pub async fn start_tls(dir: &Path, cert: &Path, key: &Path) -> SurrealServer {
        let tls = Some((cert.to_path_buf(), key.to_path_buf()));
        Self::start_on(dir, SurrealStorage::Memory, free_port(), tls).await
    }

    /// Starts a server on `port` (the same port again, after a restart).
    async fn start_on(
        dir: &Path,
        storage: SurrealStorage,
        port: u16,
        tls: Option<(PathBuf, PathBuf)>,
    ) -> SurrealServer {
        let log = dir.join(format!("surreal-{port}.log"));
        let out = std::fs::File::create(&log).expect("surreal log");
        let path = match &storage {
            SurrealStorage::Memory => "memory".to_owned(),
            SurrealStorage::SurrealKv(dir) => format!("surrealkv://{}", dir.display()),
        };
        let mut command = Command::new(binary());
        command
            .args(["start", "--no-banner", "--log", "warn"])
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--user", SURREAL_USER, "--pass", SURREAL_PASS]);
        if let Some((cert, key)) = &tls {
            command.arg("--web-crt").arg(cert).arg("--web-key").arg(key);
        }
        let child = command
            .arg(path)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("surreal log"))
            .stderr(out)
            .spawn()
            .expect("start surreal");
        let mut server = SurrealServer {
            child,
            port,
            storage,
            tls,
            log,
        };
        server.wait_until_ready().await;
        server
    }

    async fn wait_until_ready(&mut self) {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let health = format!("{scheme}://127.0.0.1:{}/health", self.port);
        // Only whether it answers: the certificate is the test's business, not this wait's.
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .expect("client");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("surreal exited ({status}):\n{}", self.log());
            }
            let answer = client.get(&health).send().await;
            if answer.is_ok_and(|answer| answer.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "surreal did not answer /health within {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `ws://127.0.0.1:PORT`, or `wss://localhost:PORT` (the name its certificate has).
    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("wss://localhost:{}", self.port),
            None => format!("ws://127.0.0.1:{}", self.port),
        }
    }

    /// A Grace config's head (`[server]` on port 0, `[store]` on this server, as root), with
    /// its own database so that tests sharing a server do not share state.
    pub fn config_head(&self, database: &str) -> String {
        self.config_head_via(database, &self.url())
    }

    /// [`config_head`](Self::config_head) reaching the server at `url` (through a relay).
    pub fn config_head_via(&self, database: &str, url: &str) -> String {
        format!(
            "[server]\nbind = \"127.0.0.1:0\"\n[store]\nurl = \"{url}\"\ndatabase = \"{database}\"\n\
             username = \"{SURREAL_USER}\"\npassword_env = \"{SURREAL_PASS_ENV}\"\n"
        )
    }

    /// The environment Grace needs for [`config_head`](Self::config_head).
    pub fn env(&self) -> [(&'static str, &'static str); 1] {
        [(SURREAL_PASS_ENV, SURREAL_PASS)]
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, then a new server on the same port and storage.
    pub async fn restart_after_kill_9(mut self, dir: &Path) -> SurrealServer {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (storage, port, tls) = (self.storage.clone(), self.port, self.tls.take());
        drop(self);
        Self::start_on(dir, storage, port, tls).await
    }
}

impl Drop for SurrealServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- surreal log ----\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A playbook that heals `search.stale` from a pushed source by running `true`: what the
/// tests on a SurrealDB server heal.
pub const PLAYBOOK: &str = r#"
[[playbooks]]
id = "reindex"
on = ["search.stale"]
sources = ["pushed"]
steps = [{ kind = "command", argv = ["true"] }]
"#;

/// Waits until the incident from `source` is healed (resolved) on `app`.
pub async fn healed_from(app: &super::TestApp, source: &str) -> serde_json::Value {
    app.incident_where("the incident to be healed", Duration::from_secs(30), |i| {
        i["source"] == source && i["status"] == "resolved"
    })
    .await
}

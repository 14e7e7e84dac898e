//! Test harness: a real PostgreSQL started from the installed server binaries in a temp dir on
//! a free port, and the real `grace` binary started on port 0 against it.
//!
//! Nothing here sleeps to synchronise: waits poll a condition until a deadline and fail with
//! what they were waiting for.

pub mod browser;

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tempfile::TempDir;
use tokio_tungstenite::tungstenite::Message;

/// Checks that `what` stays true for all of `period` (polling), for things that must *not*
/// happen: a second work order, a run on an incident that was not selected.
pub async fn holds_for<F, Fut>(what: &str, period: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = Instant::now() + period;
    while Instant::now() < end {
        assert!(check().await, "{what} stopped holding");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `check` until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free port on 127.0.0.1")
}

pub fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("`id -u` runs");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// The directory holding `initdb` and `pg_ctl`: the newest /usr/lib/postgresql/*/bin, or PATH.
fn pg_bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    if let Some(bin) = versions.pop() {
        return bin;
    }
    let on_path = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    match on_path.as_deref().and_then(Path::parent) {
        Some(bin) => bin.to_path_buf(),
        None => panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them with \
             `apt-get install -y postgresql` (.ci/run does this on a fresh machine)."
        ),
    }
}

/// A certificate authority and a server certificate it signed for `localhost` and 127.0.0.1,
/// made by the real `openssl` in a temp dir; and a second CA that signed nothing of it.
pub struct TestCerts {
    /// Holds the files until the certificates are dropped.
    _dir: TempDir,
    pub ca_path: PathBuf,
    pub other_ca_path: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl TestCerts {
    pub fn make() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("grace-certs-")
            .tempdir()
            .unwrap();
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl runs: apt-get install -y openssl (.ci/test does this)");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            let (key_file, pem) = (format!("{ca}.key"), format!("{ca}.pem"));
            let mut args = vec!["req", "-x509"];
            args.extend(key);
            args.extend(["-keyout", &key_file, "-out", &pem, "-days", "2"]);
            let subject = format!("/CN=Grace test {ca}");
            args.extend(["-subj", subject.as_str()]);
            openssl(&args);
        }
        let mut args = vec!["req"];
        args.extend(key);
        args.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(&args);
        std::fs::write(
            dir.path().join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ]);
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        Self {
            ca_path: dir.path().join("ca.pem"),
            other_ca_path: dir.path().join("other-ca.pem"),
            cert_pem: read("server.crt"),
            key_pem: read("server.key"),
            cert_path: dir.path().join("server.crt"),
            key_path: dir.path().join("server.key"),
            _dir: dir,
        }
    }
}

/// A throwaway PostgreSQL cluster owned by one test. Never the machine's own cluster.
pub struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
    /// PostgreSQL refuses to run as root; as root its binaries run as `postgres`.
    as_postgres: bool,
}

impl PgCluster {
    pub fn start() -> Self {
        Self::start_with("", &[])
    }

    /// A cluster serving TLS with the certificate and key (PEM) given: `ssl = on`.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Self {
        let conf = "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";
        Self::start_with(conf, &[("server.crt", cert_pem), ("server.key", key_pem)])
    }

    /// A cluster with `extra_conf` appended to postgresql.conf and `files` (name, text)
    /// written into its data directory, readable only by the server.
    pub fn start_with(extra_conf: &str, files: &[(&str, &str)]) -> Self {
        let bin = pg_bin_dir();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("grace-pg-")
            .tempdir()
            .expect("temp dir");
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(
                status.success(),
                "chown to postgres failed: is there a `postgres` user? `apt-get install -y postgresql` creates it"
            );
        }
        let cluster = Self {
            port: free_port(),
            dir,
            bin,
            as_postgres,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data_dir(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let conf = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nmax_connections = 20\nshared_buffers = 16MB\n",
            cluster.port,
            cluster.dir.path().display()
        );
        let conf_path = Path::new(&cluster.data_dir()).join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        existing.push_str(&conf);
        existing.push_str(extra_conf);
        std::fs::write(&conf_path, existing).expect("write postgresql.conf");
        for (name, text) in files {
            use std::os::unix::fs::PermissionsExt;
            let path = Path::new(&cluster.data_dir()).join(name);
            std::fs::write(&path, text).expect("write a data-directory file");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            if cluster.as_postgres {
                let chowned = Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&path)
                    .status();
                assert!(chowned.is_ok_and(|s| s.success()), "chown {name}");
            }
        }
        cluster.start_again();
        cluster
    }

    pub fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn log_file(&self) -> String {
        self.dir.path().join("postgres.log").display().to_string()
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The `psql` that came with the server binaries.
    pub fn psql(&self) -> String {
        self.bin.join("psql").display().to_string()
    }

    /// Runs one SQL statement over a fresh connection; panics if it fails.
    pub async fn execute(&self, sql: &str) -> Vec<tokio_postgres::SimpleQueryMessage> {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .expect("connect to the test cluster");
        tokio::spawn(connection);
        client.simple_query(sql).await.expect("query runs")
    }

    /// The argv that starts this cluster, as a playbook `command` step would run it.
    pub fn start_argv(&self) -> Vec<String> {
        let mut argv = Vec::new();
        if self.as_postgres {
            argv.extend(["runuser", "-u", "postgres", "--"].map(String::from));
        }
        argv.push(self.bin.join("pg_ctl").display().to_string());
        argv.extend(
            [
                "start",
                "-D",
                &self.data_dir(),
                "-w",
                "-l",
                &self.log_file(),
            ]
            .map(String::from),
        );
        argv
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn start_again(&self) {
        let argv = self.start_argv();
        let status = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("pg_ctl runs");
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        assert!(status.success(), "pg_ctl start failed:\n{log}");
    }

    /// A fast stop: what an outage looks like to clients.
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &["stop", "-D", &self.data_dir(), "-m", "fast", "-w"],
        );
    }

    pub fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .args(["status", "-D", &self.data_dir()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// A real query over a fresh connection.
    pub async fn query_ok(&self) -> bool {
        let Ok((client, connection)) =
            tokio_postgres::connect(&self.url(), tokio_postgres::NoTls).await
        else {
            return false;
        };
        tokio::spawn(connection);
        client.simple_query("SELECT 1").await.is_ok()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self
                .command("pg_ctl")
                .args(["stop", "-D", &self.data_dir(), "-m", "immediate", "-w"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The `field` of every problem in a 400 body that lists several (`error.errors`).
pub fn error_fields(body: &Value) -> Vec<String> {
    body["error"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no error list in {body}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The log so far; not a device's (`/dev/full` reads as endless zeros).
fn read_log(log: &Path) -> String {
    if !std::fs::metadata(log).is_ok_and(|m| m.is_file()) {
        return format!("(the log went to {})", log.display());
    }
    std::fs::read_to_string(log).unwrap_or_default()
}

/// A running `grace serve`, started from the real binary on 127.0.0.1:0.
pub struct TestApp {
    child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    log: PathBuf,
    client: reqwest::Client,
    /// What grace printed on stdout after its first line.
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// How long `grace serve` may take to print its address (debug build, cold store).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Writes `config` into `dir` and starts `grace serve` on it.
pub fn spawn_app(dir: &Path, config: &str) -> TestApp {
    spawn_app_env(dir, config, &[])
}

/// [`spawn_app`] with more environment variables (`FAILPOINTS`, for one).
pub fn spawn_app_env(dir: &Path, config: &str, env: &[(&str, &str)]) -> TestApp {
    let log = dir.join(format!("grace-{}.log", free_port()));
    spawn_app_logging(dir, config, env, &log)
}

/// [`spawn_app_env`] with its stderr (the log) appended to `log`: a file elsewhere (on a disk
/// that fills up), or a device such as `/dev/full`.
pub fn spawn_app_logging(dir: &Path, config: &str, env: &[(&str, &str)], log: &Path) -> TestApp {
    let config_path = dir.join("grace.toml");
    std::fs::write(&config_path, config).expect("write config");
    let config_arg = config_path.display().to_string();
    spawn_grace(dir, &["serve", "--config", &config_arg], env, log)
}

/// `grace serve` with no `--config`, in `dir`: it watches what it finds on the machine.
pub fn spawn_app_without_config(dir: &Path) -> TestApp {
    let log = dir.join(format!("grace-{}.log", free_port()));
    spawn_grace(dir, &["serve"], &[], &log)
}

/// Starts grace with `args` in `dir`, its log appended to `log`, once it has printed the
/// address it listens on.
fn spawn_grace(dir: &Path, args: &[&str], env: &[(&str, &str)], log: &Path) -> TestApp {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_grace"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "info,warp=warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start grace");
    let log = log.to_path_buf();
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let lines_seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = lines_seen.clone();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        // Keep draining so grace never blocks on a full pipe; what it says is kept.
        for line in lines.map_while(Result::ok) {
            seen.lock().expect("stdout lines").push(line);
        }
    });
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "grace did not start within {START_TIMEOUT:?}:\n{}",
                read_log(&log)
            );
        }
    };
    let addr = line
        .rsplit("://")
        .next()
        .and_then(|addr| addr.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from grace: {line:?}"));
    TestApp {
        child,
        addr,
        dir: dir.to_path_buf(),
        log,
        client: reqwest::Client::new(),
        stdout: lines_seen,
    }
}

impl TestApp {
    /// The lines grace printed on stdout after the one with its address, so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().expect("stdout lines").clone()
    }

    /// The pid of the `grace serve` process (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POST with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Any request, with `Authorization: Bearer <token>` when a token is given; a body makes
    /// it JSON, and a POST without one still says it is JSON.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request = match body {
            Some(body) => request.json(body),
            None => request.header("content-type", "application/json"),
        };
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `grace token create` run in this app's directory with its config; returns the token.
    pub fn create_token(&self, name: &str, role: &str, extra: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_grace"))
            .args(["token", "create", "--config", "grace.toml", "--name", name])
            .args(["--role", role])
            .args(extra)
            .current_dir(&self.dir)
            .output()
            .expect("run grace token create");
        assert!(
            output.status.success(),
            "grace token create: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// GET that must succeed.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Incidents as the REST API lists them (newest first).
    pub async fn incidents(&self, query: &str) -> Vec<Value> {
        self.get_ok(&format!("/monitoring/incidents?{query}")).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits for the first incident matching `pred`.
    pub async fn incident_where(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(what, timeout, || async {
            self.incidents("limit=100")
                .await
                .into_iter()
                .find(|i| pred(i))
        })
        .await
    }

    /// Waits until the monitor `id` reports `state`.
    pub async fn monitor_state(&self, id: &str, state: &str, timeout: Duration) {
        eventually(&format!("monitor {id} to be {state}"), timeout, || async {
            let monitors = self.get_ok("/monitors").await;
            monitors["items"]
                .as_array()?
                .iter()
                .any(|m| m["id"] == id && m["state"] == state)
                .then_some(())
        })
        .await
    }

    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// How `grace serve` ended, if it has (a crash, a panic: 101).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Kills `grace serve` with SIGKILL, as a crash or the OOM killer would, and reaps it.
    pub fn kill_9(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    /// Waits until `grace serve` has ended by itself (a crash point killed it); panics after
    /// `timeout`.
    pub fn wait_for_exit(mut self, what: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "grace did not end at {what} within {timeout:?} (built without `--features \
             failpoints`? `.ci/test` turns them on):\n{}",
            self.log()
        );
    }

    /// SIGTERM and wait: a clean stop, as an operator would do it.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("grace did not stop within 20 s of SIGTERM:\n{}", self.log());
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- grace log ----\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebSocket client on `/ws` that collects every event in the background.
pub struct Feed {
    pub events: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Feed {
    pub async fn connect(app: &TestApp, query: &str) -> Self {
        let url = format!("ws://{}/ws{query}", app.addr);
        let (mut socket, _) = tokio_tungstenite::connect_async(&url)
            .await
            .unwrap_or_else(|error| panic!("cannot open {url}: {error}"));
        let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = events.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    let event: Value = serde_json::from_str(&text).expect("event is JSON");
                    sink.lock().unwrap().push(event);
                }
            }
        });
        Self { events, task }
    }

    pub fn snapshot(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    pub fn seqs(&self) -> Vec<u64> {
        self.snapshot()
            .iter()
            .map(|event| event["seq"].as_u64().expect("seq"))
            .collect()
    }

    pub fn types(&self) -> Vec<String> {
        self.snapshot()
            .iter()
            .map(|event| event["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until an event of `event_type` has arrived, and returns it.
    pub async fn wait_for(&self, event_type: &str, timeout: Duration) -> Value {
        eventually(
            &format!("a {event_type} event on the feed"),
            timeout,
            || async {
                self.snapshot()
                    .into_iter()
                    .find(|event| event["type"] == event_type)
            },
        )
        .await
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A webhook receiver on 127.0.0.1: answers 500 to the first `fail_first` posts, then 200, and
/// keeps every body it was sent, by path.
pub async fn receiver(
    fail_first: usize,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
) {
    receiver_on(0, fail_first).await
}

/// [`receiver`] on a given port of 127.0.0.1 (0: any free one).
pub async fn receiver_on(
    port: u16,
    fail_first: usize,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
) {
    use std::sync::{Arc, Mutex};
    use warp::Filter;
    let seen: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
    let log = seen.clone();
    let route = warp::post()
        .and(warp::path::full())
        .and(warp::body::json())
        .map(move |path: warp::path::FullPath, body: serde_json::Value| {
            let mut log = log.lock().unwrap();
            log.push((path.as_str().to_owned(), body));
            let failing = log.iter().filter(|(p, _)| p == path.as_str()).count() <= fail_first;
            let status = if failing {
                warp::http::StatusCode::INTERNAL_SERVER_ERROR
            } else {
                warp::http::StatusCode::OK
            };
            warp::reply::with_status("", status)
        });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (addr, seen)
}

/// The `[server]` and `[store]` head every test config starts with: port 0, store in memory.
pub const CONFIG_HEAD: &str = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n";
/// [`CONFIG_HEAD`] for a Grace that requires tokens, kept in `tokens.json` in its directory.
pub const TOKENS_HEAD: &str = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n\
     [auth]\nmode = \"required\"\ntokens_path = \"tokens.json\"\n";

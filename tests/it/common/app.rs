//! The real `grace` binary started on port 0 in a directory of its own, and what a test does
//! with the process: its log, its stdout, SIGKILL, SIGTERM, waiting for it to end.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::free_port;

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
    pub(super) client: reqwest::Client,
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
        .and_then(|addr| addr.trim().parse().ok());
    let Some(addr) = addr else {
        let _ = child.kill(); // no TestApp will: do not leave it running
        let _ = child.wait();
        panic!("unexpected first line from grace: {line:?}");
    };
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

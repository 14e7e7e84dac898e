//! What the load harnesses share: a free port, and the real `grace serve` started on a config.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The tests' headless Chromium, for harnesses that time the dashboard in a real browser.
#[allow(dead_code)]
#[path = "../../tests/it/common/browser.rs"]
pub mod browser;

/// Polls `check` until it returns `Some`, or panics after `timeout` naming `what` (the
/// browser helper's wait).
#[allow(dead_code)]
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Writes `config` to `dir/grace.toml`, starts the release `grace serve` on it with
/// `RUST_LOG=rust_log`, and returns it with its base URL once it printed its address.
pub fn spawn_grace(dir: &Path, config: &str, rust_log: &str) -> (Child, String) {
    spawn_grace_env(dir, config, rust_log, &[])
}

/// [`spawn_grace`] with `env` set too.
pub fn spawn_grace_env(
    dir: &Path,
    config: &str,
    rust_log: &str,
    env: &[(&str, &str)],
) -> (Child, String) {
    std::fs::write(dir.join("grace.toml"), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_grace"))
        .args(["serve", "--config", "grace.toml"])
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start grace");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (child, first.trim().rsplit(' ').next().unwrap().to_owned())
}

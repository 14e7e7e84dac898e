//! What the load harnesses share: a free port, and the real `grace serve` started on a config.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Writes `config` to `dir/grace.toml`, starts the release `grace serve` on it with
/// `RUST_LOG=rust_log`, and returns it with its base URL once it printed its address.
pub fn spawn_grace(dir: &Path, config: &str, rust_log: &str) -> (Child, String) {
    std::fs::write(dir.join("grace.toml"), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_grace"))
        .args(["serve", "--config", "grace.toml"])
        .current_dir(dir)
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

//! Monitor kinds against real peers on 127.0.0.1.
//!
//! By concept: the simple kinds — TCP, heartbeat, Nagios plugins, Redis (`kinds`); HTTP and TLS
//! (`http`); pausing, resuming and silencing (`pausing`); dependencies between monitors
//! (`dependencies`); and an outage that comes back or swings (`relapses_and_flapping`). The
//! servers more than one area starts (`RedisServer`, a `pong_server`) are here.

mod dependencies;
mod http;
mod kinds;
mod pausing;
mod relapses_and_flapping;

use std::time::Duration;

use crate::common::{spawn_app, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A line server: answers `+PONG\r\n` to anything it reads. Dropping the handle's task (abort)
/// closes the listener.
async fn pong_server(listener: TcpListener) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                if let Ok(n) = stream.read(&mut buf).await {
                    if n > 0 {
                        let _ = stream.write_all(b"+PONG\r\n").await;
                    }
                }
            });
        }
    })
}

fn tcp_monitor(id: &str, address: &str, extra: &str) -> String {
    format!(
        r#"
[[monitors]]
id = "{id}"
kind = "tcp"
address = "{address}"
interval_ms = 100
timeout_ms = 1000
failures_before_down = 2
{extra}
"#
    )
}

fn app_with(dir: &std::path::Path, monitors: &str) -> TestApp {
    let config =
        format!("[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n{monitors}");
    spawn_app(dir, &config)
}

/// A real redis-server on a free port, stopped on drop.
pub(crate) struct RedisServer {
    child: std::process::Child,
    pub(crate) port: u16,
}

impl RedisServer {
    pub(crate) fn start(port: u16, password: Option<&str>) -> Self {
        let mut command = std::process::Command::new("redis-server");
        command.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
        if let Some(password) = password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start redis-server ({error}): install it with \
                     `apt-get install -y redis-server` (.ci/test does this)"
                )
            });
        Self { child, port }
    }

    fn url(&self, password: Option<&str>) -> String {
        match password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 429 with `Retry-After: seconds` while limited, else 200.
fn rate_limited(retry_after_seconds: Option<u64>) -> warp::http::Response<String> {
    let response = warp::http::Response::builder();
    match retry_after_seconds {
        Some(seconds) => response
            .status(429)
            .header("Retry-After", seconds.to_string())
            .body("slow down".to_owned()),
        None => response.status(200).body("ok".to_owned()),
    }
    .unwrap()
}

fn http_monitor(id: &str, url: &str, extra: &str) -> String {
    format!(
        "\n[[monitors]]\nid = \"{id}\"\nkind = \"http\"\nurl = \"{url}\"\ninterval_ms = 50\ntimeout_ms = 2000\nfailures_before_down = 1\n{extra}\n"
    )
}

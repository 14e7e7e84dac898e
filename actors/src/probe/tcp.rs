//! The TCP probe: connect to `host:port`; optionally send a line and expect a reply that
//! contains a string (`PING` → `PONG`). A fresh connection every time: a TCP service's health
//! is whether it accepts and answers now.

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Probe, ProbeFailure};
use crate::event::types;
use crate::model::Severity;

/// Bytes of reply read at most while looking for `expect`.
const REPLY_BYTES_MAX: usize = 4 * 1024;

pub struct TcpProbe {
    address: String,
    send: Option<String>,
    expect: Option<String>,
}

impl TcpProbe {
    pub fn new(address: String, send: Option<String>, expect: Option<String>) -> Self {
        Self {
            address,
            send,
            expect,
        }
    }

    async fn exchange(&self) -> Result<String, String> {
        let mut stream = TcpStream::connect(&self.address)
            .await
            .map_err(|error| format!("cannot connect to {}: {error}", self.address))?;
        if let Some(send) = &self.send {
            stream
                .write_all(send.as_bytes())
                .await
                .map_err(|error| format!("cannot send to {}: {error}", self.address))?;
        }
        let Some(expect) = &self.expect else {
            return Ok(format!("{} accepts connections", self.address));
        };
        let mut reply = Vec::new();
        let mut buf = [0u8; 512];
        while reply.len() < REPLY_BYTES_MAX {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|error| format!("cannot read from {}: {error}", self.address))?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&reply).contains(expect.as_str()) {
                return Ok(format!("{} answered {expect:?}", self.address));
            }
        }
        let got = String::from_utf8_lossy(&reply);
        Err(format!(
            "{} did not answer {expect:?}; got {:?}",
            self.address,
            got.chars().take(120).collect::<String>()
        ))
    }

    async fn timed(&self, timeout: Duration) -> Result<String, ProbeFailure> {
        let outcome = tokio::time::timeout(timeout, self.exchange())
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "{} gave no answer within {} ms",
                    self.address,
                    timeout.as_millis()
                ))
            });
        outcome.map_err(|error| ProbeFailure {
            event_type: types::TCP_UNREACHABLE,
            severity: Severity::High,
            error,
        })
    }
}

impl Probe for TcpProbe {
    fn probe(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.timed(timeout))
    }

    fn verify(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.timed(timeout))
    }

    fn recovery_event(&self) -> &'static str {
        types::TCP_RESTORED
    }
}

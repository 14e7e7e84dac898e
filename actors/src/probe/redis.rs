//! The Redis probe: `PING` over a real connection (RESP), after `AUTH` when the URL carries a
//! password. The connection is kept between probes and dropped on any error.

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Probe, ProbeFailure};
use crate::event::types;
use crate::model::Severity;

/// Longest reply line read; a PING or AUTH reply is a few bytes.
const REPLY_LINE_BYTES_MAX: u64 = 1024;

/// Where and how to connect, from `redis://[user:password@]host[:port][/db]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisTarget {
    pub address: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl RedisTarget {
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("must start with redis://, got {url:?}"))?;
        let rest = rest.split('/').next().unwrap_or_default();
        let (userinfo, host) = match rest.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, rest),
        };
        if host.is_empty() {
            return Err(format!("has no host: {url:?}"));
        }
        let address = match host.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_err() => {
                return Err(format!("has a bad port: {url:?}"))
            }
            Some(_) => host.to_owned(),
            None => format!("{host}:6379"),
        };
        let (user, password) = match userinfo.map(|u| u.split_once(':')) {
            None => (None, None),
            Some(Some((user, password))) => (
                (!user.is_empty()).then(|| user.to_owned()),
                Some(password.to_owned()),
            ),
            Some(None) => (None, userinfo.map(str::to_owned)),
        };
        Ok(Self {
            address,
            user,
            password,
        })
    }
}

pub struct RedisProbe {
    target: RedisTarget,
    connection: Option<BufReader<TcpStream>>,
}

impl RedisProbe {
    pub fn new(target: RedisTarget) -> Self {
        Self {
            target,
            connection: None,
        }
    }

    fn failure(error: String) -> ProbeFailure {
        ProbeFailure {
            event_type: types::REDIS_UNAVAILABLE,
            severity: Severity::High,
            error,
        }
    }

    async fn connect(target: &RedisTarget) -> Result<BufReader<TcpStream>, String> {
        let stream = TcpStream::connect(&target.address)
            .await
            .map_err(|error| format!("cannot connect to {}: {error}", target.address))?;
        let mut connection = BufReader::new(stream);
        if let Some(password) = &target.password {
            let mut auth = vec!["AUTH"];
            auth.extend(target.user.as_deref());
            auth.push(password);
            command(&mut connection, &auth).await?;
        }
        Ok(connection)
    }

    async fn ping(&mut self) -> Result<String, String> {
        if self.connection.is_none() {
            self.connection = Some(Self::connect(&self.target).await?);
        }
        let connection = self.connection.as_mut().expect("connected above");
        match command(connection, &["PING"]).await {
            Ok(reply) if reply == "PONG" => Ok(format!("{} answered PONG", self.target.address)),
            Ok(reply) => {
                self.connection = None;
                Err(format!(
                    "{} answered {reply:?} to PING",
                    self.target.address
                ))
            }
            Err(error) => {
                self.connection = None;
                Err(error)
            }
        }
    }

    async fn timed(&mut self, timeout: Duration) -> Result<String, ProbeFailure> {
        match tokio::time::timeout(timeout, self.ping()).await {
            Ok(result) => result.map_err(Self::failure),
            Err(_) => {
                self.connection = None;
                Err(Self::failure(format!(
                    "{} gave no answer within {} ms",
                    self.target.address,
                    timeout.as_millis()
                )))
            }
        }
    }
}

/// Sends one command as a RESP array of bulk strings; returns a simple-string reply, or the
/// server's error.
async fn command(connection: &mut BufReader<TcpStream>, args: &[&str]) -> Result<String, String> {
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    connection
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .map_err(|error| format!("cannot send {}: {error}", args[0]))?;
    let mut line = String::new();
    let read = (&mut *connection)
        .take(REPLY_LINE_BYTES_MAX)
        .read_line(&mut line)
        .await
        .map_err(|error| format!("cannot read the reply to {}: {error}", args[0]))?;
    if read == 0 {
        return Err(format!("connection closed before the reply to {}", args[0]));
    }
    let line = line.trim_end();
    match line.split_at_checked(1) {
        Some(("+", reply)) => Ok(reply.to_owned()),
        Some(("-", error)) => Err(format!("{} refused: {error}", args[0])),
        _ => Err(format!("unexpected reply to {}: {line:?}", args[0])),
    }
}

impl Probe for RedisProbe {
    fn probe(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.timed(timeout))
    }

    fn verify(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(async move {
            self.connection = None; // a fresh connection proves more
            self.timed(timeout).await
        })
    }

    fn recovery_event(&self) -> &'static str {
        types::REDIS_RESTORED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults_and_credentials() {
        let plain = RedisTarget::parse("redis://127.0.0.1").unwrap();
        assert_eq!(plain.address, "127.0.0.1:6379");
        assert_eq!((plain.user, plain.password), (None, None));
        let auth = RedisTarget::parse("redis://:secret@cache:6380/2").unwrap();
        assert_eq!(auth.address, "cache:6380");
        assert_eq!(
            (auth.user, auth.password.as_deref()),
            (None, Some("secret"))
        );
        let acl = RedisTarget::parse("redis://app:pw@cache:6380").unwrap();
        assert_eq!(acl.user.as_deref(), Some("app"));
        assert!(RedisTarget::parse("http://cache").is_err());
        assert!(RedisTarget::parse("redis://cache:port").is_err());
        assert!(RedisTarget::parse("redis://").is_err());
    }
}

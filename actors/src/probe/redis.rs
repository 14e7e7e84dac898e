//! The Redis probe: `PING` over a real connection (RESP), after `AUTH` when the URL carries a
//! password. The connection is kept between probes and dropped on any error. A `rediss://`
//! URL connects over TLS and checks the server's certificate and name (against `tls_ca_path`
//! when set, else the system's CAs); a certificate it rejects is a `redis.tls_rejected`
//! incident, and a refused login (`NOAUTH`, `WRONGPASS`) a `redis.auth_failed` one (`login.rs`).

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

use super::login;
use super::{Probe, ProbeFailure};
use crate::event::types;
use crate::model::Severity;
use crate::secret::Secret;
use crate::spec::PasswordSpec;
use crate::target::{RedisTarget, Verify};
use crate::tls;

/// Longest reply line read; a PING or AUTH reply is a few bytes.
const REPLY_LINE_BYTES_MAX: u64 = 1024;

/// A plain or TLS connection.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for S {}
type Connection = BufReader<Box<dyn Stream>>;

pub struct RedisProbe {
    target: RedisTarget,
    /// The CA file for `rediss://`; the system's CAs when None.
    tls_ca_path: Option<String>,
    /// Where the password is when the url has none.
    password: PasswordSpec,
    connection: Option<Connection>,
}

/// Why a probe failed: the server's certificate, a refused login, or anything else.
enum Failed {
    Certificate(String),
    Refused(ProbeFailure),
    Other(String),
}

impl From<String> for Failed {
    fn from(error: String) -> Self {
        Failed::Other(error)
    }
}

impl RedisProbe {
    pub fn new(target: RedisTarget, tls_ca_path: Option<String>, password: PasswordSpec) -> Self {
        Self {
            target,
            tls_ca_path,
            password,
            connection: None,
        }
    }

    fn failure(failed: Failed) -> ProbeFailure {
        let (event_type, error) = match failed {
            Failed::Certificate(problem) => (
                types::REDIS_TLS_REJECTED,
                format!("the server's TLS certificate was rejected: {problem}"),
            ),
            Failed::Refused(refused) => return refused,
            Failed::Other(error) => (types::REDIS_UNAVAILABLE, error),
        };
        ProbeFailure {
            event_type,
            severity: Severity::High,
            error,
        }
    }

    async fn open(&self) -> Result<Box<dyn Stream>, Failed> {
        let address = &self.target.address;
        let stream = TcpStream::connect(address)
            .await
            .map_err(|error| format!("cannot connect to {address}: {error}"))?;
        if !self.target.tls {
            return Ok(Box::new(stream));
        }
        let verify = Verify::Full {
            ca_path: self.tls_ca_path.clone(),
        };
        let config = tls::client_config(&verify)?;
        let host = address
            .rsplit_once(':')
            .map_or(address.as_str(), |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|error| format!("{host} cannot be checked against a certificate: {error}"))?;
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        match connector.connect(name, stream).await {
            Ok(stream) => Ok(Box::new(stream)),
            Err(error) => Err(match tls::certificate_problem(&error) {
                Some(problem) => Failed::Certificate(problem),
                None => Failed::Other(format!("TLS with {address} failed: {error}")),
            }),
        }
    }

    /// The password: the url's, or the one `password_file` or `password_env` names.
    fn password(&self) -> Result<Option<Secret>, Failed> {
        let env = crate::credentials::process_env;
        match crate::credentials::from_spec(&self.password, &env) {
            None => Ok(self.target.password.clone()),
            Some(Ok(password)) => Ok(Some(password)),
            Some(Err(why)) => Err(Failed::Refused(login::unreadable(
                types::REDIS_AUTH_FAILED,
                &why,
            ))),
        }
    }

    async fn connect(&self) -> Result<Connection, Failed> {
        let password = self.password()?;
        let mut connection = BufReader::new(self.open().await?);
        if let Some(password) = &password {
            let mut auth = vec!["AUTH"];
            auth.extend(self.target.user.as_deref());
            auth.push(password.expose());
            command(&mut connection, &auth).await?;
        }
        Ok(connection)
    }

    async fn ping(&mut self) -> Result<String, Failed> {
        if self.connection.is_none() {
            self.connection = Some(self.connect().await?);
        }
        let connection = self.connection.as_mut().expect("connected above");
        match command(connection, &["PING"]).await {
            Ok(reply) if reply == "PONG" => Ok(format!("{} answered PONG", self.target.address)),
            Ok(reply) => {
                self.connection = None;
                Err(Failed::Other(format!(
                    "{} answered {reply:?} to PING",
                    self.target.address
                )))
            }
            Err(failed) => {
                self.connection = None;
                Err(failed)
            }
        }
    }

    async fn timed(&mut self, timeout: Duration) -> Result<String, ProbeFailure> {
        match tokio::time::timeout(timeout, self.ping()).await {
            Ok(result) => result.map_err(Self::failure),
            Err(_) => {
                self.connection = None;
                Err(Self::failure(Failed::Other(format!(
                    "{} gave no answer within {} ms",
                    self.target.address,
                    timeout.as_millis()
                ))))
            }
        }
    }
}

/// Sends one command as a RESP array of bulk strings; returns a simple-string reply, or the
/// server's error — a refusal when it refuses the login.
async fn command(connection: &mut Connection, args: &[&str]) -> Result<String, Failed> {
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
        return Err(format!("connection closed before the reply to {}", args[0]).into());
    }
    let line = line.trim_end();
    match line.split_at_checked(1) {
        Some(("+", reply)) => Ok(reply.to_owned()),
        Some(("-", error)) if login::is_redis_refusal(args[0], error) => {
            Err(Failed::Refused(login::redis(args[0], error)))
        }
        Some(("-", error)) => Err(Failed::Other(format!("{} refused: {error}", args[0]))),
        _ => Err(Failed::Other(format!(
            "unexpected reply to {}: {line:?}",
            args[0]
        ))),
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

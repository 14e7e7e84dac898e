//! The PostgreSQL probe: one kept connection pinged with `SELECT 1`; `verify` opens a fresh
//! connection and runs a real query.
//!
//! The URL's `sslmode` works as in libpq: `disable`, `prefer` (the default: TLS when the
//! server offers it), `require`, `verify-ca` and `verify-full`, the last two with
//! `sslrootcert=<CA file>` (else the system's CAs). A certificate the probe rejects is a
//! `db.tls_rejected` incident, not a lost connection: reconnecting will not fix it.

use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};

use super::tls::{self, Verify};
use super::{Probe, ProbeFailure};
use crate::event::types;
use crate::model::Severity;

/// Where and how to connect: the URL's settings, and its TLS mode.
#[derive(Debug, Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    /// None: `disable`.
    tls: Option<(SslMode, Verify)>,
}

impl PgTarget {
    /// Reads a libpq-style URL (`postgres://…?sslmode=…&sslrootcert=…`) or key=value string.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (rest, params) = split_ssl_params(url);
        let mode = params
            .iter()
            .find(|(k, _)| k == "sslmode")
            .map(|(_, v)| v.as_str());
        let ca_path = params
            .iter()
            .find(|(k, _)| k == "sslrootcert")
            .map(|(_, v)| v.clone());
        let tls = match (mode.unwrap_or("prefer"), ca_path) {
            ("disable", _) => None,
            ("prefer", _) => Some((SslMode::Prefer, Verify::Nothing)),
            ("require", None) => Some((SslMode::Require, Verify::Nothing)),
            // As libpq: a root certificate given makes `require` check the chain.
            ("require" | "verify-ca", ca_path) => {
                Some((SslMode::Require, Verify::Chain { ca_path }))
            }
            ("verify-full", ca_path) => Some((SslMode::Require, Verify::Full { ca_path })),
            (other, _) => {
                return Err(format!(
                    "sslmode {other:?} is not one of disable, prefer, require, verify-ca, \
                     verify-full"
                ))
            }
        };
        let mut config = tokio_postgres::Config::from_str(&rest)
            .map_err(|error| format!("not a PostgreSQL URL: {error}"))?;
        config.ssl_mode(tls.as_ref().map_or(SslMode::Disable, |(mode, _)| *mode));
        Ok(Self { config, tls })
    }
}

/// The URL without `sslmode` and `sslrootcert` (tokio-postgres knows neither
/// `verify-*` nor root certificates), and those two as (key, value).
fn split_ssl_params(url: &str) -> (String, Vec<(String, String)>) {
    let is_ssl = |key: &str| key == "sslmode" || key == "sslrootcert";
    let mut taken = Vec::new();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), taken);
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some((key, value)) if is_ssl(key) => taken.push((key.to_owned(), value.to_owned())),
                _ => kept.push(pair),
            }
        }
        let rest = match kept.is_empty() {
            true => base.to_owned(),
            false => format!("{base}?{}", kept.join("&")),
        };
        return (rest, taken);
    }
    let mut kept = Vec::new();
    for word in url.split_whitespace() {
        match word.split_once('=') {
            Some((key, value)) if is_ssl(key) => taken.push((key.to_owned(), value.to_owned())),
            _ => kept.push(word),
        }
    }
    (kept.join(" "), taken)
}

pub struct PostgresProbe {
    target: Result<PgTarget, String>,
    client: Option<Client>,
}

impl PostgresProbe {
    pub fn new(url: String) -> Self {
        Self {
            target: PgTarget::parse(&url),
            client: None,
        }
    }

    fn failure(error: tokio_postgres::Error) -> ProbeFailure {
        match tls::certificate_problem(&error) {
            Some(problem) => ProbeFailure {
                event_type: types::DB_TLS_REJECTED,
                severity: Severity::High,
                error: format!("the server's TLS certificate was rejected: {problem}"),
            },
            None => Self::failure_text(describe(&error)),
        }
    }

    fn failure_text(error: String) -> ProbeFailure {
        ProbeFailure {
            event_type: types::DB_CONNECTION_LOST,
            severity: Severity::High,
            error,
        }
    }

    async fn connect(target: &Result<PgTarget, String>) -> Result<Client, ProbeFailure> {
        let target = target.as_ref().map_err(|e| Self::failure_text(e.clone()))?;
        let Some((_, verify)) = &target.tls else {
            let (client, connection) = target.config.connect(NoTls).await.map_err(Self::failure)?;
            // The connection task ends when the client is dropped or the server goes away.
            tokio::spawn(async move {
                let _ = connection.await;
            });
            return Ok(client);
        };
        let config = tls::client_config(verify).map_err(Self::failure_text)?;
        let connector = tokio_postgres_rustls::MakeRustlsConnect::new(config);
        let (client, connection) = target
            .config
            .connect(connector)
            .await
            .map_err(Self::failure)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    async fn ping(&mut self) -> Result<String, ProbeFailure> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = Some(Self::connect(&self.target).await?);
        }
        let client = self.client.as_ref().expect("connected above");
        match client.simple_query("SELECT 1").await {
            Ok(_) => Ok("SELECT 1 ok".to_owned()),
            Err(error) => {
                self.client = None;
                Err(Self::failure(error))
            }
        }
    }

    async fn round_trip(target: &Result<PgTarget, String>) -> Result<String, ProbeFailure> {
        let client = Self::connect(target).await?;
        let row = client
            .query_one("SELECT current_database()::text, version()", &[])
            .await
            .map_err(Self::failure)?;
        let database: String = row.get(0);
        let version: String = row.get(1);
        let version = version.split(',').next().unwrap_or_default();
        Ok(format!("database {database} answered: {version}"))
    }
}

fn timed_out(timeout: Duration) -> ProbeFailure {
    PostgresProbe::failure_text(format!("no answer within {} ms", timeout.as_millis()))
}

/// The error and its causes: tokio-postgres keeps the useful part ("Connection refused") in
/// the source chain.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Probe for PostgresProbe {
    fn probe(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(async move {
            match tokio::time::timeout(timeout, self.ping()).await {
                Ok(result) => result,
                Err(_) => {
                    self.client = None;
                    Err(timed_out(timeout))
                }
            }
        })
    }

    fn verify(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(async move {
            tokio::time::timeout(timeout, Self::round_trip(&self.target))
                .await
                .unwrap_or_else(|_| Err(timed_out(timeout)))
        })
    }

    fn recovery_event(&self) -> &'static str {
        types::DB_CONNECTION_RESTORED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_reads_as_libpq_does() {
        let tls = |url: &str| PgTarget::parse(url).map(|t| t.tls);
        assert_eq!(tls("postgres://u@h/db?sslmode=disable"), Ok(None));
        assert_eq!(
            tls("postgres://u@h/db"),
            Ok(Some((SslMode::Prefer, Verify::Nothing)))
        );
        assert_eq!(
            tls("postgres://u@h/db?sslmode=require&connect_timeout=3"),
            Ok(Some((SslMode::Require, Verify::Nothing)))
        );
        let ca = Some("/ca.pem".to_owned());
        assert_eq!(
            tls("postgres://u@h/db?sslrootcert=/ca.pem&sslmode=require"),
            Ok(Some((
                SslMode::Require,
                Verify::Chain {
                    ca_path: ca.clone()
                }
            )))
        );
        assert_eq!(
            tls("host=h user=u sslmode=verify-full sslrootcert=/ca.pem"),
            Ok(Some((SslMode::Require, Verify::Full { ca_path: ca })))
        );
        assert!(tls("postgres://u@h/db?sslmode=maybe").is_err());
        let target =
            PgTarget::parse("postgres://u@h:5433/db?sslmode=require&connect_timeout=3").unwrap();
        assert_eq!(target.config.get_ports(), [5433]);
        assert_eq!(
            target.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
    }
}

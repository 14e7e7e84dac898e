//! The PostgreSQL probe: one kept connection pinged with `SELECT 1`; `verify` opens a fresh
//! connection and runs a real query.
//!
//! The URL's `sslmode` works as in libpq: `disable`, `prefer` (the default: TLS when the
//! server offers it), `require`, `verify-ca` and `verify-full`, the last two with
//! `sslrootcert=<CA file>` (else the system's CAs). A certificate the probe rejects is a
//! `db.tls_rejected` incident, not a lost connection: reconnecting will not fix it. Nor is a
//! refused login (`db.auth_failed`, `login.rs`); the password is looked for at each new
//! connection where libpq looks (`credentials/`).

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_postgres::{Client, NoTls};

use super::login;
use super::{Probe, ProbeFailure};
use crate::event::types;
use crate::model::Severity;
use crate::spec::PasswordSpec;
use crate::target::PgTarget;
use crate::tls;

/// Where to connect and where the password is.
pub struct Login {
    pub target: Result<PgTarget, String>,
    pub passfile: Option<String>,
    pub password: PasswordSpec,
}

pub struct PostgresProbe {
    login: Login,
    client: Option<Client>,
}

impl PostgresProbe {
    pub fn new(url: &str, passfile: Option<String>, password: PasswordSpec) -> Self {
        let login = Login {
            target: PgTarget::parse(url),
            passfile,
            password,
        };
        Self {
            login,
            client: None,
        }
    }

    /// What a failed connection or query says; `note` is why no passfile gave a password.
    fn failure(error: tokio_postgres::Error, note: Option<&str>) -> ProbeFailure {
        if let Some(problem) = tls::certificate_problem(&error) {
            return ProbeFailure {
                event_type: types::DB_TLS_REJECTED,
                severity: Severity::High,
                error: format!("the server's TLS certificate was rejected: {problem}"),
            };
        }
        login::postgres(&error, note).unwrap_or_else(|| Self::failure_text(describe(&error)))
    }

    fn failure_text(error: String) -> ProbeFailure {
        ProbeFailure {
            event_type: types::DB_CONNECTION_LOST,
            severity: Severity::High,
            error,
        }
    }

    async fn connect(settings: &Login) -> Result<Client, ProbeFailure> {
        let target = settings
            .target
            .as_ref()
            .map_err(|e| Self::failure_text(e.clone()))?;
        let env = crate::credentials::process_env;
        let found = crate::credentials::pg_login(
            target,
            settings.passfile.as_deref(),
            &settings.password,
            &env,
        )
        .map_err(|why| login::unreadable(types::DB_AUTH_FAILED, &why))?;
        let mut config = target.config.clone();
        if let Some(password) = &found.password {
            config.password(password.expose());
        }
        let failed = |error| Self::failure(error, found.note.as_deref());
        let Some((_, verify)) = &target.tls else {
            let (client, connection) = config.connect(NoTls).await.map_err(failed)?;
            // The connection task ends when the client is dropped or the server goes away.
            tokio::spawn(async move {
                let _ = connection.await;
            });
            return Ok(client);
        };
        let tls_config = tls::client_config(verify).map_err(Self::failure_text)?;
        let connector = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config);
        let (client, connection) = config.connect(connector).await.map_err(failed)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    async fn ping(&mut self) -> Result<String, ProbeFailure> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = Some(Self::connect(&self.login).await?);
        }
        let client = self.client.as_ref().expect("connected above");
        match client.simple_query("SELECT 1").await {
            Ok(_) => Ok("SELECT 1 ok".to_owned()),
            Err(error) => {
                self.client = None;
                Err(Self::failure(error, None))
            }
        }
    }

    async fn round_trip(settings: &Login) -> Result<String, ProbeFailure> {
        let client = Self::connect(settings).await?;
        let row = client
            .query_one("SELECT current_database()::text, version()", &[])
            .await
            .map_err(|error| Self::failure(error, None))?;
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
            tokio::time::timeout(timeout, Self::round_trip(&self.login))
                .await
                .unwrap_or_else(|_| Err(timed_out(timeout)))
        })
    }

    fn recovery_event(&self) -> &'static str {
        types::DB_CONNECTION_RESTORED
    }
}

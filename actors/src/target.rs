//! A PostgreSQL target as the driver takes it: the pure reading of the URL
//! (`grace_core::target`) handed to tokio-postgres. Redis and MySQL targets need no driver's
//! config and are the core's as they are.

use std::str::FromStr;

use tokio_postgres::config::SslMode;

pub use grace_core::target::{MysqlTarget, PgTls, PgUrl, RedisTarget, Verify};

/// Where and how to connect: the URL's settings, and its TLS mode.
#[derive(Debug, Clone)]
pub struct PgTarget {
    pub(crate) config: tokio_postgres::Config,
    /// None: `disable`.
    pub(crate) tls: Option<(PgTls, Verify)>,
}

impl PgTarget {
    /// Reads a libpq-style URL (`postgres://…?sslmode=…&sslrootcert=…`) or key=value string.
    pub fn parse(url: &str) -> Result<Self, String> {
        let PgUrl { rest, tls, .. } = PgUrl::parse(url)?;
        let mut config = tokio_postgres::Config::from_str(&rest)
            .map_err(|error| format!("not a PostgreSQL URL: {error}"))?;
        config.ssl_mode(match &tls {
            None => SslMode::Disable,
            Some((PgTls::Prefer, _)) => SslMode::Prefer,
            Some((PgTls::Require, _)) => SslMode::Require,
        });
        Ok(Self { config, tls })
    }

    /// Whether the URL carries a password.
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn sslmode_reads_as_libpq_does() {
        let tls = |url: &str| PgTarget::parse(url).map(|t| t.tls);
        assert_eq!(tls("postgres://u@h/db?sslmode=disable"), Ok(None));
        assert_eq!(
            tls("postgres://u@h/db"),
            Ok(Some((PgTls::Prefer, Verify::Nothing)))
        );
        assert_eq!(
            tls("postgres://u@h/db?sslmode=require&connect_timeout=3"),
            Ok(Some((PgTls::Require, Verify::Nothing)))
        );
        let ca = Some("/ca.pem".to_owned());
        assert_eq!(
            tls("postgres://u@h/db?sslrootcert=/ca.pem&sslmode=require"),
            Ok(Some((
                PgTls::Require,
                Verify::Chain {
                    ca_path: ca.clone()
                }
            )))
        );
        assert_eq!(
            tls("host=h user=u sslmode=verify-full sslrootcert=/ca.pem"),
            Ok(Some((PgTls::Require, Verify::Full { ca_path: ca })))
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

    /// The core reads URLs without the driver, for config checks; it must take and refuse
    /// what the driver does, and find the same password.
    #[test]
    fn the_core_reads_urls_as_the_driver_does() {
        let urls = [
            "postgres://u@h/db",
            "postgresql://u:pw@h:5433/db?connect_timeout=3",
            "postgres://u:@h/db",
            "postgres://u:p%40ss@h1:5432,h2:5433/db",
            "postgres://h",
            "postgres://u@[::1]:5432/db",
            "postgres://u@h/db?password=x&application_name=grace",
            "postgres://u@h/db?nonsense=1",
            "postgres://u@h:port/db",
            "postgres://u@h/db?connect_timeout=soon",
            "postgres://u@h/db?keepalives=2",
            "host=/run/postgresql user=grace dbname=app",
            "host=h user=u password='a b\\'c'",
            "host=h port=5432 connect_timeout=3",
            "host=h port=many",
            "host=h bogus=1",
            "host=h user",
        ];
        for url in urls {
            let core = PgUrl::parse(url).map(|u| u.has_password);
            let driver = PgTarget::parse(url).map(|t| t.has_password());
            assert_eq!(core.is_ok(), driver.is_ok(), "{url}: {core:?} / {driver:?}");
            assert_eq!(core.ok(), driver.ok(), "{url}");
        }
    }
}

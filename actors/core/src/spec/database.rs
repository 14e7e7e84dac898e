//! The keys of the database monitors (`postgres`, `mysql`, `redis`): the url, and where the
//! password is when it is not in the url: `password_file` (a file whose first line is it: a secret mounted
//! by systemd's `LoadCredential=`, Kubernetes or Vault) or `password_env` (an environment
//! variable of Grace's). A `postgres` monitor also reads libpq's passfile (`passfile`,
//! `PGPASSFILE`, `~/.pgpass`) and `PGPASSWORD` (`credentials/`). One place per password: two
//! would leave people guessing which one Grace used.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::*;

/// Longest environment variable name accepted for `password_env`.
const ENV_NAME_BYTES_MAX: usize = 255;

/// The password keys of a database monitor, as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PasswordSpec {
    /// A file whose first line is the password.
    #[serde(default)]
    pub password_file: Option<String>,
    /// The name of an environment variable of Grace's that holds the password.
    #[serde(default)]
    pub password_env: Option<String>,
}

/// Where the password comes from, when not from the url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// The first line of this file, read at each login (a changed file needs no reload).
    File(PathBuf),
    /// This environment variable of Grace's.
    Env(String),
}

impl PasswordSpec {
    /// Where the password comes from; None: the url (or, for `postgres`, libpq's places).
    /// A checked spec has at most one of the two keys.
    pub fn source(&self) -> Option<PasswordSource> {
        match (&self.password_file, &self.password_env) {
            (Some(path), _) => Some(PasswordSource::File(PathBuf::from(path))),
            (None, Some(name)) => Some(PasswordSource::Env(name.clone())),
            (None, None) => None,
        }
    }

    /// What is wrong with the keys, given whether the url holds a password too.
    pub fn problems(&self, url_has_password: bool, problems: &mut Vec<SpecProblem>) {
        if let Some(path) = &self.password_file {
            if path.trim().is_empty() {
                problems.push(SpecProblem::new("password_file", "must name a file"));
            }
        }
        if let Some(name) = &self.password_env {
            if !is_env_name(name) {
                let why = format!(
                    "must be an environment variable's name (letters, digits and _, not starting \
                     with a digit, at most {ENV_NAME_BYTES_MAX} bytes)"
                );
                problems.push(SpecProblem::new("password_env", why));
            }
        }
        if self.password_file.is_some() && self.password_env.is_some() {
            let one = "give one of password_file and password_env, not both";
            problems.push(SpecProblem::new("password_env", one));
        }
        if url_has_password && self.source().is_some() {
            let one = "holds a password, and password_file or password_env gives another: keep one";
            problems.push(SpecProblem::new("url", one));
        }
    }
}

/// `PGPASSWORD`, `DB_PASSWORD_1`: what a shell would export.
fn is_env_name(name: &str) -> bool {
    let first_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    first_ok
        && name.len() <= ENV_NAME_BYTES_MAX
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl MonitorKind {
    /// What is allowed but unwise in this monitor's settings: a password in clear text in the
    /// url (accepted, as before; shown by Grace only as `***`).
    pub fn warnings(&self) -> Vec<SpecProblem> {
        let in_url = match self {
            MonitorKind::Postgres { url, .. } => {
                crate::target::PgUrl::parse(url).is_ok_and(|t| t.has_password)
            }
            MonitorKind::Redis { url, .. } => {
                crate::target::RedisTarget::parse(url).is_ok_and(|t| t.password.is_some())
            }
            MonitorKind::Mysql { url, .. } => {
                crate::target::MysqlTarget::parse(url).is_ok_and(|t| !t.password.is_empty())
            }
            _ => false,
        };
        let elsewhere = match self {
            MonitorKind::Postgres { .. } => "password_file, password_env or a passfile",
            _ => "password_file or password_env",
        };
        let warning = format!(
            "holds a password in clear text, readable by anyone who can read this file: \
             move it to {elsewhere}"
        );
        in_url
            .then(|| SpecProblem::new("url", warning))
            .into_iter()
            .collect()
    }
}

/// A `postgres` monitor's url, passfile and password keys.
pub(super) fn postgres_problems(
    url: &str,
    passfile: Option<&str>,
    password: &PasswordSpec,
    problems: &mut Vec<SpecProblem>,
) {
    match crate::target::PgUrl::parse(url) {
        Ok(target) => password.problems(target.has_password, problems),
        Err(error) => problems.push(SpecProblem::new("url", error)),
    }
    if passfile.is_some_and(|path| path.trim().is_empty()) {
        problems.push(SpecProblem::new("passfile", "must name a file"));
    }
    if passfile.is_some() && password.source().is_some() {
        let one = "give one of passfile, password_file and password_env";
        problems.push(SpecProblem::new("passfile", one));
    }
}

/// A `redis` monitor's url, CA file and password keys.
pub(super) fn redis_problems(
    url: &str,
    has_ca_path: bool,
    password: &PasswordSpec,
    problems: &mut Vec<SpecProblem>,
) {
    match crate::target::RedisTarget::parse(url) {
        Err(error) => {
            problems.push(SpecProblem::new("url", format!("not a Redis URL: {error}")));
        }
        Ok(target) => {
            if has_ca_path && !target.tls {
                let tls_only = "only for rediss:// (TLS) URLs";
                problems.push(SpecProblem::new("tls_ca_path", tls_only));
            }
            password.problems(target.password.is_some(), problems);
        }
    }
}

/// A `mysql` monitor's url and password keys.
pub(super) fn mysql_problems(url: &str, password: &PasswordSpec, problems: &mut Vec<SpecProblem>) {
    match crate::target::MysqlTarget::parse(url) {
        Ok(target) => password.problems(!target.password.is_empty(), problems),
        Err(error) => {
            problems.push(SpecProblem::new("url", format!("not a MySQL URL: {error}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(spec: &PasswordSpec, url_has_password: bool) -> Vec<String> {
        let mut problems = Vec::new();
        spec.problems(url_has_password, &mut problems);
        problems.into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn one_place_per_password_and_every_problem_with_its_key() {
        let file = PasswordSpec {
            password_file: Some("/run/credentials/grace/pg".into()),
            password_env: None,
        };
        assert!(fields(&file, false).is_empty());
        assert_eq!(
            file.source(),
            Some(PasswordSource::File("/run/credentials/grace/pg".into()))
        );
        assert_eq!(fields(&file, true), ["url"]);
        let both = PasswordSpec {
            password_file: Some(" ".into()),
            password_env: Some("9LIVES".into()),
        };
        assert_eq!(
            fields(&both, true),
            ["password_file", "password_env", "password_env", "url"]
        );
        let env = PasswordSpec {
            password_file: None,
            password_env: Some("PG_PASSWORD".into()),
        };
        assert_eq!(
            env.source(),
            Some(PasswordSource::Env("PG_PASSWORD".into()))
        );
        assert!(fields(&PasswordSpec::default(), true).is_empty());
    }
}

//! Finding the password a database monitor logs in with, at each login, so a password file
//! changed since needs no reload: `password_file` (its first line) or `password_env` (an
//! environment variable), and for PostgreSQL the places libpq looks (`postgres.rs`,
//! `pgpass.rs`). What is found is a [`Secret`]; what is said when nothing is found names the
//! places looked in, never a password.

mod pgpass;
mod postgres;

pub use postgres::pg_login;

use std::io::Read;
use std::path::Path;

use crate::secret::Secret;
use crate::spec::{PasswordSource, PasswordSpec};

/// Largest password file read: a password is a line.
const PASSWORD_FILE_BYTES_MAX: u64 = 64 * 1024;

/// How a variable of the environment is looked up: Grace's own ([`process_env`]), or a test's.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The environment Grace runs in.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The password `spec` names, when it names a place; why it cannot be had, otherwise.
pub fn from_spec(spec: &PasswordSpec, env: Env) -> Option<Result<Secret, String>> {
    spec.source().map(|source| read(&source, env))
}

/// The password in `source`, or why there is none.
pub fn read(source: &PasswordSource, env: Env) -> Result<Secret, String> {
    match source {
        PasswordSource::File(path) => first_line(path),
        PasswordSource::Env(name) => env(name)
            .filter(|value| !value.is_empty())
            .map(Secret::new)
            .ok_or_else(|| format!("the environment variable {name} (password_env) is not set")),
    }
}

/// The first line of the file at `path`, without its line end.
fn first_line(path: &Path) -> Result<Secret, String> {
    let shown = path.display();
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(PASSWORD_FILE_BYTES_MAX).read_to_string(&mut text))
        .map_err(|error| format!("cannot read the password file {shown}: {error}"))?;
    match text.lines().next() {
        Some(line) if !line.is_empty() => Ok(Secret::new(line)),
        _ => Err(format!("the password file {shown} is empty")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_file_gives_its_first_line_and_an_env_variable_its_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\r\nignored\n").unwrap();
        let env = |name: &str| (name == "PG_PW").then(|| "from-env".to_owned());
        let file = read(&PasswordSource::File(path.clone()), &env).unwrap();
        assert_eq!(file.expose(), "s3cret");
        let from_env = read(&PasswordSource::Env("PG_PW".into()), &env).unwrap();
        assert_eq!(from_env.expose(), "from-env");
        let unset = read(&PasswordSource::Env("NOPE".into()), &env).unwrap_err();
        assert_eq!(
            unset,
            "the environment variable NOPE (password_env) is not set"
        );
        std::fs::write(&path, "\nsecond-line-is-not-it\n").unwrap();
        let empty = read(&PasswordSource::File(path.clone()), &env).unwrap_err();
        assert!(empty.contains("is empty"), "{empty}");
        let missing = read(&PasswordSource::File(dir.path().join("none")), &env).unwrap_err();
        assert!(
            missing.contains("cannot read the password file"),
            "{missing}"
        );
    }
}

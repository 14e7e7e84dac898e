//! The password a `postgres` monitor logs in with, looked for in libpq's order: the url;
//! `password_file` or `password_env` (Grace's keys, in the url's place); `PGPASSWORD`; then
//! the passfile — `passfile`, else `PGPASSFILE`, else `~/.pgpass` of the user Grace runs as —
//! whose first line matching the connection's host, port, database and user gives it.

use std::path::PathBuf;

use tokio_postgres::config::Host;

use super::pgpass::{self, PassKey};
use super::Env;
use crate::secret::Secret;
use crate::spec::PasswordSpec;
use crate::target::PgTarget;

/// What a login will use: a password found outside the url (None: the url's, or none), and
/// why the passfile gave none, for the failure when the server then asks for a password.
#[derive(Debug, Default)]
pub struct PgLogin {
    pub password: Option<Secret>,
    pub note: Option<String>,
}

/// The password for `target`, or why the place `spec` names cannot give it.
pub fn pg_login(
    target: &PgTarget,
    passfile: Option<&str>,
    spec: &PasswordSpec,
    env: Env,
) -> Result<PgLogin, String> {
    if target.has_password() {
        return Ok(PgLogin::default());
    }
    if let Some(found) = super::from_spec(spec, env) {
        return found.map(|password| PgLogin {
            password: Some(password),
            note: None,
        });
    }
    if let Some(password) = env("PGPASSWORD").filter(|value| !value.is_empty()) {
        return Ok(PgLogin {
            password: Some(Secret::new(password)),
            note: None,
        });
    }
    Ok(from_passfile(target, passfile, env))
}

/// The passfile's password for `target`, or a note saying why there is none.
fn from_passfile(target: &PgTarget, passfile: Option<&str>, env: Env) -> PgLogin {
    let path = passfile
        .map(PathBuf::from)
        .or_else(|| {
            env("PGPASSFILE")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| home(env).map(|home| home.join(".pgpass")));
    let Some(path) = path else {
        let note = "no passfile: neither PGPASSFILE nor HOME is set".to_owned();
        return PgLogin {
            password: None,
            note: Some(note),
        };
    };
    let key = pass_key(target);
    let found = pgpass::read(&path).and_then(|text| {
        pgpass::find(&text, &key)
            .ok_or_else(|| format!("no line of {} matches {key}", path.display()))
    });
    match found {
        Ok(password) => PgLogin {
            password: Some(password),
            note: None,
        },
        Err(note) => PgLogin {
            password: None,
            note: Some(note),
        },
    }
}

/// What a passfile line is matched against, as libpq matches it: the host named (a Unix
/// socket's is `localhost`), else the host address; the port (5432); the database (the user's
/// name when none is given); the user.
fn pass_key(target: &PgTarget) -> PassKey {
    let config = &target.config;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) if !name.is_empty() => name.clone(),
        Some(_) => "localhost".to_owned(),
        None => config
            .get_hostaddrs()
            .first()
            .map_or_else(|| "localhost".to_owned(), ToString::to_string),
    };
    let user = config.get_user().unwrap_or_default().to_owned();
    PassKey {
        host,
        port: config
            .get_ports()
            .first()
            .copied()
            .unwrap_or(5432)
            .to_string(),
        database: config
            .get_dbname()
            .map_or_else(|| user.clone(), str::to_owned),
        user,
    }
}

/// The home directory of the user Grace runs as: `HOME`, else the password database's, as
/// libpq finds it.
fn home(env: Env) -> Option<PathBuf> {
    if let Some(home) = env("HOME").filter(|home| !home.is_empty()) {
        return Some(PathBuf::from(home));
    }
    password_database_home()
}

fn password_database_home() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut buffer = vec![libc::c_char::default(); 16 * 1024];
    // SAFETY: getpwuid_r writes into `entry` and `buffer`, both alive and sized as passed, and
    // sets `found` to `&mut entry` or null; `pw_dir` points into `buffer`, read before it goes.
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let status = libc::getpwuid_r(
            libc::getuid(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        );
        if status != 0 || found.is_null() || entry.pw_dir.is_null() {
            return None;
        }
        let dir = std::ffi::CStr::from_ptr(entry.pw_dir);
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(dir.to_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn login(
        url: &str,
        passfile: Option<&str>,
        spec: &PasswordSpec,
        env: &[(&str, &str)],
    ) -> PgLogin {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.get(name).cloned();
        let target = PgTarget::parse(url).unwrap();
        pg_login(&target, passfile, spec, &lookup).unwrap()
    }

    fn password(login: &PgLogin) -> Option<&str> {
        login.password.as_ref().map(Secret::expose)
    }

    #[test]
    fn the_password_is_looked_for_where_libpq_looks_in_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().display().to_string();
        let pgpass = dir.path().join(".pgpass");
        std::fs::write(&pgpass, "127.0.0.1:5432:orders:grace:from-pgpass\n").unwrap();
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
        let url = "postgres://grace@127.0.0.1:5432/orders";
        let none = PasswordSpec::default();
        let home_env = [("HOME", home.as_str())];
        assert_eq!(
            password(&login(url, None, &none, &home_env)),
            Some("from-pgpass")
        );
        let with_pgpassword = [("HOME", home.as_str()), ("PGPASSWORD", "from-env")];
        assert_eq!(
            password(&login(url, None, &none, &with_pgpassword)),
            Some("from-env")
        );
        let spec = PasswordSpec {
            password_file: None,
            password_env: Some("MINE".into()),
        };
        let mine = [("MINE", "mine"), ("PGPASSWORD", "from-env")];
        assert_eq!(password(&login(url, None, &spec, &mine)), Some("mine"));
        // The url's own password is left in the url.
        let in_url = login("postgres://grace:pw@127.0.0.1/orders", None, &spec, &mine);
        assert_eq!((password(&in_url), in_url.note.as_deref()), (None, None));
    }

    #[test]
    fn a_passfile_that_gives_nothing_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("grace.pgpass");
        std::fs::write(&file, "db:5432:*:grace:other-host\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let path = file.display().to_string();
        let none = PasswordSpec::default();
        let url = "host=127.0.0.1 user=grace";
        let unmatched = login(url, Some(&path), &none, &[]);
        assert_eq!(password(&unmatched), None);
        assert_eq!(
            unmatched.note.unwrap(),
            format!("no line of {path} matches 127.0.0.1:5432:grace:grace")
        );
        let by_env = login(url, None, &none, &[("PGPASSFILE", &path)]);
        assert!(by_env.note.unwrap().starts_with("no line of"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let open = login(url, Some(&path), &none, &[]).note.unwrap();
        assert!(open.contains("chmod 600"), "{open}");
        let socket = PgTarget::parse("host=/run/postgresql user=grace dbname=app").unwrap();
        assert_eq!(pass_key(&socket).to_string(), "localhost:5432:app:grace");
    }

    #[test]
    fn without_home_the_password_database_names_the_home_directory() {
        let home = password_database_home().expect("the user running the tests has an entry");
        assert!(home.is_absolute(), "{}", home.display());
        let no_home = |_: &str| None;
        assert_eq!(super::home(&no_home), Some(home));
    }
}

//! libpq's password file, read as libpq reads it: one `hostname:port:database:username:password`
//! per line; `*` in any of the first four fields matches anything; `\:` and `\\` are a colon
//! and a backslash; lines starting with `#` are comments; the first line that matches wins.
//! Like libpq, a file that is not a plain file or that group or others may read or write is
//! ignored — with the reason said, where libpq prints a warning.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::secret::Secret;

/// Largest passfile read; libpq's are a few lines.
const PASSFILE_BYTES_MAX: u64 = 1024 * 1024;

/// What a line is matched against: the connection's host (`localhost` for a Unix socket, as in
/// libpq), port, database and user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassKey {
    pub host: String,
    pub port: String,
    pub database: String,
    pub user: String,
}

impl std::fmt::Display for PassKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let PassKey {
            host,
            port,
            database,
            user,
        } = self;
        write!(f, "{host}:{port}:{database}:{user}")
    }
}

/// One field of a line: its text with escapes undone, and whether it was a bare `*`.
struct Field {
    text: String,
    wildcard: bool,
}

impl Field {
    fn matches(&self, value: &str) -> bool {
        self.wildcard || self.text == value
    }
}

/// The password of the first line of `text` that matches `key`.
pub fn find(text: &str, key: &PassKey) -> Option<Secret> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| matching(line.trim_end_matches('\r'), key))
}

/// The line's password, when its first four fields match `key`.
fn matching(line: &str, key: &PassKey) -> Option<Secret> {
    let fields = split(line);
    let [host, port, database, user, password] = fields.get(..5)? else {
        return None;
    };
    let wanted = [&key.host, &key.port, &key.database, &key.user];
    [host, port, database, user]
        .iter()
        .zip(wanted)
        .all(|(field, value)| field.matches(value))
        .then(|| Secret::new(password.text.clone()))
}

/// The line's fields, split at unescaped colons, escapes undone. A password ends at an
/// unescaped colon too, as in libpq.
fn split(line: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    let (mut text, mut raw_len, mut escaped) = (String::new(), 0, false);
    for c in line.chars() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, ':') => {
                let wildcard = raw_len == 1 && text == "*";
                fields.push(Field {
                    text: std::mem::take(&mut text),
                    wildcard,
                });
                raw_len = 0;
                continue;
            }
            _ => {
                text.push(c);
                escaped = false;
            }
        }
        // Raw characters, the backslash of an escape included: `\*` is a star, not a wildcard.
        raw_len += 1;
    }
    let wildcard = raw_len == 1 && text == "*";
    fields.push(Field { text, wildcard });
    fields
}

/// The file at `path`, unless libpq would ignore it: why not, otherwise.
pub fn read(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let metadata =
        std::fs::metadata(path).map_err(|error| format!("cannot read {shown}: {error}"))?;
    if !metadata.is_file() {
        return Err(format!("{shown} is not a plain file, so it is ignored"));
    }
    if metadata.mode() & 0o077 != 0 {
        return Err(format!(
            "{shown} is ignored, as libpq ignores it: group or others may read it (chmod 600 it)"
        ));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(PASSFILE_BYTES_MAX).read_to_string(&mut text))
        .map_err(|error| format!("cannot read {shown}: {error}"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: &str, port: &str, database: &str, user: &str) -> PassKey {
        PassKey {
            host: host.into(),
            port: port.into(),
            database: database.into(),
            user: user.into(),
        }
    }

    fn found(text: &str, key: &PassKey) -> Option<String> {
        find(text, key).map(|secret| secret.expose().to_owned())
    }

    #[test]
    fn the_first_matching_line_wins_and_stars_match_anything() {
        let file = "# monitoring\n\
                    db1:5432:orders:grace:first\n\
                    *:5432:*:grace:any-db\n\
                    *:*:*:*:fallback\n";
        let orders = key("db1", "5432", "orders", "grace");
        assert_eq!(found(file, &orders).as_deref(), Some("first"));
        let other_db = key("db1", "5432", "shop", "grace");
        assert_eq!(found(file, &other_db).as_deref(), Some("any-db"));
        let other_port = key("db1", "5433", "orders", "grace");
        assert_eq!(found(file, &other_port).as_deref(), Some("fallback"));
        assert_eq!(found("db1:5432:orders:grace:x\n", &other_port), None);
        assert_eq!(found("", &orders), None);
    }

    #[test]
    fn escapes_are_a_colon_and_a_backslash_and_an_escaped_star_is_a_star() {
        let file = "fe80\\:\\:1:5432:*:grace:p\\:a\\\\ss\r\n";
        let v6 = key("fe80::1", "5432", "orders", "grace");
        assert_eq!(found(file, &v6).as_deref(), Some("p:a\\ss"));
        let literal_star = "db1:5432:\\*:grace:star\n*:*:*:*:other\n";
        let star_db = key("db1", "5432", "*", "grace");
        assert_eq!(found(literal_star, &star_db).as_deref(), Some("star"));
        let orders = key("db1", "5432", "orders", "grace");
        assert_eq!(found(literal_star, &orders).as_deref(), Some("other"));
        // A password ends at an unescaped colon; a line short of five fields matches nothing.
        assert_eq!(found("*:*:*:*:pw:rest", &orders).as_deref(), Some("pw"));
        assert_eq!(found("*:*:*:*\n#*:*:*:*:commented", &orders), None);
        assert_eq!(key("h", "1", "d", "u").to_string(), "h:1:d:u");
    }

    #[test]
    fn a_file_others_may_read_is_ignored_as_libpq_ignores_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = read(&path).unwrap_err();
        assert!(error.contains("chmod 600"), "{error}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&path).unwrap(), "*:*:*:*:pw\n");
        assert!(read(dir.path()).unwrap_err().contains("not a plain file"));
        assert!(read(&dir.path().join("none")).is_err());
    }
}

//! API tokens and the roles they carry, kept in a token file of hashes.
//!
//! A token is 256 random bits, shown once when `grace token create` makes it. The file keeps
//! its SHA-256 only: a token that random cannot be guessed from its hash, so a slow password
//! hash would buy nothing, and lookups compare hashes in constant time.
//!
//! The tokens live in their own file (`[auth] tokens_path`), not in the SurrealDB store,
//! because the store is locked by the running `grace serve`: the CLI must be able to create
//! and revoke tokens while Grace runs, and Grace must see the change without a restart. The
//! CLI writes the whole file anew under a lock and renames it into place; the server looks at
//! the file's identity (inode, size, mtime) on every check and rereads it when it changed.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token may do. `read` < `operate` < `admin`; `ingest` stands apart: it may only push
/// events, heartbeats and Alertmanager alerts, which is all an app or Alertmanager needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every GET and `/ws`.
    Read,
    /// `POST /events`, `/heartbeats/{id}`, `/integrations/alertmanager`.
    Ingest,
    /// `read`, plus acting on incidents, monitors, playbooks and pipelines.
    Operate,
    /// Everything: config reload and forced playbook runs too.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Read, Role::Ingest, Role::Operate, Role::Admin];

    /// Whether a token with this role may do what needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        match (self, needed) {
            (Role::Admin, _) => true,
            (Role::Operate, Role::Read | Role::Operate) => true,
            (mine, needed) => mine == needed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Ingest => "ingest",
            Role::Operate => "operate",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a role: read, ingest, operate or admin"))
    }
}

/// One token as the file keeps it: never the token itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub role: Role,
    /// SHA-256 of the token, hex.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not a token file: {error}")]
    Damaged { path: PathBuf, error: String },
    #[error("a token named {0:?} exists already (revoke it first)")]
    Exists(String),
    #[error("no token is named {0:?}")]
    NoSuch(String),
    #[error("{0}")]
    BadName(String),
    #[error("more than {TOKENS_MAX} tokens: revoke some first")]
    TooMany,
}

/// Most tokens one file holds: each check compares against all of them.
pub const TOKENS_MAX: usize = 1_000;
/// The longest token name.
const NAME_LEN_MAX: usize = 64;
/// The name of the caller when tokens are not required; no token may take it.
pub const LOCAL: &str = "local";
/// What every token starts with, so a leaked one is recognisable (secret scanners).
const TOKEN_PREFIX: &str = "grace_";

/// A new random token: `grace_` and 64 hex digits (256 bits).
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn check_name(name: &str) -> Result<(), TokenError> {
    let fine = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty() || name.len() > NAME_LEN_MAX || !name.chars().all(fine) {
        return Err(TokenError::BadName(format!(
            "a token name is 1 to {NAME_LEN_MAX} letters, digits, '-', '_' or '.', not {name:?}"
        )));
    }
    if name == LOCAL {
        return Err(TokenError::BadName(format!(
            "{LOCAL:?} names requests when tokens are off; choose another name"
        )));
    }
    Ok(())
}

/// Adds a token named `name`; returns the token, the only time it is ever shown.
pub fn create(
    path: &Path,
    name: &str,
    role: Role,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<String, TokenError> {
    check_name(name)?;
    let token = generate();
    edit(path, |file| {
        if file.tokens.iter().any(|t| t.name == name) {
            return Err(TokenError::Exists(name.to_owned()));
        }
        if file.tokens.len() >= TOKENS_MAX {
            return Err(TokenError::TooMany);
        }
        file.tokens.push(TokenRecord {
            name: name.to_owned(),
            role,
            sha256: hex::encode(digest(&token)),
            created_at: now,
            expires_at,
        });
        Ok(())
    })?;
    Ok(token)
}

/// Removes the token named `name`; Grace refuses it from its next request on.
pub fn revoke(path: &Path, name: &str) -> Result<(), TokenError> {
    edit(path, |file| {
        let before = file.tokens.len();
        file.tokens.retain(|t| t.name != name);
        match file.tokens.len() < before {
            true => Ok(()),
            false => Err(TokenError::NoSuch(name.to_owned())),
        }
    })
}

/// Every token, without secrets (the file has none).
pub fn list(path: &Path) -> Result<Vec<TokenRecord>, TokenError> {
    Ok(read(path)?.tokens)
}

fn read(path: &Path) -> Result<TokenFile, TokenError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| TokenError::Damaged {
            path: path.to_owned(),
            error: error.to_string(),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
        Err(error) => Err(io(path, error)),
    }
}

fn io(path: &Path, error: std::io::Error) -> TokenError {
    TokenError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Read, change and write the file under an exclusive lock, so two `grace token` commands at
/// once cannot lose each other's change; the new file replaces the old by rename, so Grace
/// never reads half of one. Only its owner may read it (0600).
fn edit(
    path: &Path,
    change: impl FnOnce(&mut TokenFile) -> Result<(), TokenError>,
) -> Result<(), TokenError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    let lock_path = path.with_extension("lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| io(&lock_path, e))?;
    lock.lock().map_err(|e| io(&lock_path, e))?;
    let mut file = read(path)?;
    change(&mut file)?;
    let text = serde_json::to_vec_pretty(&file).expect("a token file serialises");
    let temp = path.with_extension("tmp");
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|e| io(&temp, e))?;
    out.write_all(&text).map_err(|e| io(&temp, e))?;
    out.sync_all().map_err(|e| io(&temp, e))?;
    std::fs::rename(&temp, path).map_err(|e| io(path, e))
}

/// Parses a lifetime such as `90d`, `12h`, `30m` or `45s`.
pub fn parse_lifetime(text: &str) -> Result<chrono::Duration, String> {
    let bad = || format!("{text:?} is not a lifetime such as 90d, 12h, 30m or 45s");
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(bad()),
    };
    if number <= 0 || number > 3_650 * 86_400 / seconds {
        return Err(format!(
            "{text:?}: a lifetime is more than 0 and at most ten years"
        ));
    }
    Ok(chrono::Duration::seconds(number * seconds))
}

/// What a presented token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid {
        name: String,
        role: Role,
    },
    Expired {
        name: String,
    },
    /// Never made, revoked, or mistyped: the caller is not told which.
    Unknown,
    /// The token file cannot be read: every token is refused until it can.
    Unreadable(String),
}

/// The server's view of the token file, reread whenever the file changes.
pub struct TokenBook {
    path: PathBuf,
    cached: RwLock<Cached>,
}

#[derive(Default)]
struct Cached {
    /// The file's (inode, size, mtime ns) when read; None when it did not exist.
    stamp: Option<(u64, u64, i128)>,
    tokens: Vec<([u8; 32], TokenRecord)>,
    /// Why the file could not be read, if it could not.
    error: Option<String>,
    loaded: bool,
}

impl TokenBook {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            cached: RwLock::new(Cached::default()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks `token` against the file as it is now.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Verdict {
        self.refresh();
        let cached = self.cached.read().expect("token cache lock");
        if let Some(error) = &cached.error {
            return Verdict::Unreadable(error.clone());
        }
        let presented = digest(token);
        // Compare with every token, in constant time each, so timing says nothing of which
        // one nearly matched.
        let mut found = None;
        for (hash, record) in &cached.tokens {
            if bool::from(hash.ct_eq(&presented)) {
                found = Some(record);
            }
        }
        match found {
            None => Verdict::Unknown,
            Some(record) if record.expires_at.is_some_and(|at| at <= now) => Verdict::Expired {
                name: record.name.clone(),
            },
            Some(record) => Verdict::Valid {
                name: record.name.clone(),
                role: record.role,
            },
        }
    }

    fn stamp(&self) -> Result<Option<(u64, u64, i128)>, std::io::Error> {
        match std::fs::metadata(&self.path) {
            Ok(meta) => {
                let mtime = meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128;
                Ok(Some((meta.ino(), meta.size(), mtime)))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Rereads the file if it is not the one read last time.
    fn refresh(&self) {
        let stamp = self.stamp();
        {
            let cached = self.cached.read().expect("token cache lock");
            if cached.loaded && matches!(&stamp, Ok(s) if *s == cached.stamp) {
                return;
            }
        }
        let mut cached = self.cached.write().expect("token cache lock");
        *cached = match stamp.map_err(|e| io(&self.path, e)).and_then(|stamp| {
            let file = read(&self.path)?;
            Ok((stamp, file))
        }) {
            Ok((stamp, file)) => Cached {
                stamp,
                tokens: file.tokens.into_iter().map(hashed).collect(),
                error: None,
                loaded: true,
            },
            Err(error) => {
                tracing::error!(%error, "the token file cannot be read; every token is refused");
                Cached {
                    error: Some(error.to_string()),
                    ..Cached::default()
                }
            }
        };
    }
}

/// A record with its hash decoded; a hash that is not 64 hex digits matches nothing.
fn hashed(record: TokenRecord) -> ([u8; 32], TokenRecord) {
    let mut hash = [0u8; 32];
    if hex::decode_to_slice(&record.sha256, &mut hash).is_err() {
        tracing::warn!(name = %record.name, "a token's hash is damaged; it matches nothing");
        hash = [0u8; 32];
    }
    (hash, record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn roles_allow_what_they_say() {
        use Role::*;
        let allowed = |mine: Role| -> Vec<Role> {
            Role::ALL.into_iter().filter(|n| mine.allows(*n)).collect()
        };
        assert_eq!(allowed(Read), vec![Read]);
        assert_eq!(allowed(Ingest), vec![Ingest]);
        assert_eq!(allowed(Operate), vec![Read, Operate]);
        assert_eq!(allowed(Admin), vec![Read, Ingest, Operate, Admin]);
        assert_eq!("operate".parse::<Role>(), Ok(Operate));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn a_token_works_until_revoked_and_the_file_keeps_only_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let book = TokenBook::new(path.clone());
        let token = create(&path, "ci", Role::Ingest, None, now()).unwrap();
        assert!(token.starts_with("grace_") && token.len() == 6 + 64);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&token[6..]),
            "the file holds the token itself"
        );
        let valid = Verdict::Valid {
            name: "ci".into(),
            role: Role::Ingest,
        };
        assert_eq!(book.verify(&token, now()), valid);
        assert_eq!(book.verify("grace_00", now()), Verdict::Unknown);
        assert!(matches!(
            create(&path, "ci", Role::Read, None, now()),
            Err(TokenError::Exists(_))
        ));
        revoke(&path, "ci").unwrap();
        assert_eq!(book.verify(&token, now()), Verdict::Unknown);
        assert!(matches!(revoke(&path, "ci"), Err(TokenError::NoSuch(_))));
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn an_expired_token_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let expires = now() + parse_lifetime("1h").unwrap();
        let token = create(&path, "temp", Role::Read, Some(expires), now()).unwrap();
        let book = TokenBook::new(path);
        assert!(matches!(book.verify(&token, now()), Verdict::Valid { .. }));
        let later = expires + chrono::Duration::seconds(1);
        assert_eq!(
            book.verify(&token, later),
            Verdict::Expired {
                name: "temp".into()
            }
        );
    }

    #[test]
    fn a_damaged_file_refuses_every_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let token = create(&path, "a", Role::Admin, None, now()).unwrap();
        std::fs::write(&path, "{not json").unwrap();
        let book = TokenBook::new(path);
        assert!(matches!(book.verify(&token, now()), Verdict::Unreadable(_)));
    }

    #[test]
    fn names_and_lifetimes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        for bad in ["", "local", "has space", &"x".repeat(65)] {
            assert!(matches!(
                create(&path, bad, Role::Read, None, now()),
                Err(TokenError::BadName(_))
            ));
        }
        assert_eq!(parse_lifetime("90d").unwrap().num_days(), 90);
        assert_eq!(parse_lifetime("30m").unwrap().num_seconds(), 1_800);
        for bad in ["", "d", "0d", "-1d", "5w", "99999d"] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }
}

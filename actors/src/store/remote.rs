//! Where the store lives, and connecting to it: embedded (SurrealKV on disk, or memory) or a
//! SurrealDB server that several Grace nodes share (`[store] url`). One engine type
//! (`surrealdb::engine::any`) serves all three, so every query, transaction and guard Grace
//! runs is the same code whichever it is: nothing is embedded-only.
//!
//! A server is reached over `ws://` or `wss://` (rustls, the CA file given or the system's),
//! signed in as a root, namespace or database user whose password comes from a file or an
//! environment variable — never from the config. A server that does not answer fails the start
//! within [`CONNECT_TIMEOUT_MS`]; once connected, the SDK reconnects by itself and signs in
//! again, and a read that finds no server fails after the store's read timeout.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use surrealdb::engine::any::{self, Any};
use surrealdb::opt::auth::{Database, Namespace, Root};
use surrealdb::opt::Config;
use surrealdb::Surreal;

use super::{StoreError, StoreResult};
use crate::credentials;
use crate::spec::PasswordSource;
use crate::target::Verify;

/// How long opening a server's connection and signing in may take at start.
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;

/// The namespace and database Grace uses in an embedded store.
const EMBEDDED_NAMES: (&str, &str) = ("grace", "grace");

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// Nothing survives the process; for tests and throwaway runs.
    Memory,
    /// A SurrealKV directory, and how much memory its engine may hold; every commit is fsynced.
    Path(PathBuf, super::EmbeddedLimits),
    /// A SurrealDB server, shared by every node of a cluster.
    Remote(RemoteStore),
}

/// A SurrealDB server and who Grace is on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteStore {
    /// `ws://host:port` or `wss://host:port`.
    pub url: String,
    pub namespace: String,
    pub database: String,
    pub username: String,
    /// Where the user is defined (`DEFINE USER … ON ROOT | NAMESPACE | DATABASE`).
    pub level: UserLevel,
    pub password: PasswordSource,
    /// A PEM file of the CAs a `wss://` server's certificate must lead to; the system's when
    /// None.
    pub ca_file: Option<String>,
}

/// Where a SurrealDB user is defined, so where Grace signs in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserLevel {
    #[default]
    Root,
    Namespace,
    Database,
}

impl StoreLocation {
    /// What the log and the errors call it: a directory, `memory`, or the server's url.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Memory => "memory".to_owned(),
            StoreLocation::Path(dir, _) => dir.display().to_string(),
            StoreLocation::Remote(remote) => format!(
                "{} (namespace {}, database {})",
                remote.url, remote.namespace, remote.database
            ),
        }
    }

    /// Whether the embedded store at this path was closed within `timeout`: SurrealKV closes
    /// once the last handle to it is dropped — flushing its memtable, so the next start replays
    /// no log — and then lets go of its `LOCK` file, which is what this waits for. Any other
    /// location has nothing to close here.
    pub async fn closed_within(&self, timeout: std::time::Duration) -> bool {
        let StoreLocation::Path(dir, _) = self else {
            return true;
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let lock = dir.join("LOCK");
        loop {
            if lock_is_free(&lock) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(CLOSE_POLL_MS)).await;
        }
    }

    /// The database, connected, signed in and switched to Grace's namespace and database.
    pub(super) async fn connect(&self) -> StoreResult<super::Conn> {
        let (db, namespace, database) = match self {
            StoreLocation::Memory => {
                let db = super::Conn::Any(any::connect("mem://").await?);
                (db, EMBEDDED_NAMES.0, EMBEDDED_NAMES.1)
            }
            StoreLocation::Path(dir, limits) => {
                let db = super::Conn::Local(super::embedded::open(dir, *limits).await?);
                (db, EMBEDDED_NAMES.0, EMBEDDED_NAMES.1)
            }
            StoreLocation::Remote(remote) => {
                let db = within_connect_timeout(&remote.url, remote.connect()).await?;
                (
                    super::Conn::Any(db),
                    remote.namespace.as_str(),
                    remote.database.as_str(),
                )
            }
        };
        db.use_names(namespace, database).await?;
        Ok(db)
    }
}

impl RemoteStore {
    async fn connect(&self) -> StoreResult<Surreal<Any>> {
        let password = credentials::read(&self.password, &credentials::process_env)
            .map_err(StoreError::Unavailable)?;
        let mut config = Config::new();
        if self.url.starts_with("wss://") {
            let verify = Verify::Full {
                ca_path: self.ca_file.clone(),
            };
            let tls = crate::tls::client_config(&verify).map_err(StoreError::Unavailable)?;
            config = config.rustls(tls);
        }
        let db = any::connect((self.url.clone(), config)).await?;
        let (username, password) = (self.username.clone(), password.expose().to_owned());
        let (namespace, database) = (self.namespace.clone(), self.database.clone());
        match self.level {
            UserLevel::Root => db.signin(Root { username, password }).await?,
            UserLevel::Namespace => {
                let user = Namespace {
                    namespace,
                    username,
                    password,
                };
                db.signin(user).await?
            }
            UserLevel::Database => {
                let user = Database {
                    namespace,
                    database,
                    username,
                    password,
                };
                db.signin(user).await?
            }
        };
        Ok(db)
    }
}

/// `connect`, failed with `Unavailable` if it takes longer than [`CONNECT_TIMEOUT_MS`]: a
/// server that does not answer must not hold the start forever.
async fn within_connect_timeout<T>(
    url: &str,
    connect: impl std::future::Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    let limit = Duration::from_millis(CONNECT_TIMEOUT_MS);
    tokio::time::timeout(limit, connect).await.map_err(|_| {
        StoreError::Unavailable(format!(
            "{url} did not answer within {CONNECT_TIMEOUT_MS} ms"
        ))
    })?
}

/// How often a clean stop looks whether the store has closed.
const CLOSE_POLL_MS: u64 = 20;

/// Whether nobody holds the lock on `path` (SurrealKV takes it with `flock`): taken and let go
/// at once here. A file that is not there is free.
fn lock_is_free(path: &std::path::Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    else {
        return true;
    };
    // SAFETY: flock on a descriptor this function owns for the whole call.
    let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if taken {
        // SAFETY: as above; closing the file would let go of it too.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
    }
    taken
}

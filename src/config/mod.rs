//! Grace's configuration file: TOML in, a checked [`Config`] out, or every error at once.
//!
//! Each section and each monitor, playbook and step is read on its own, so one mistake does not
//! hide the next: `grace check-config` lists them all, each with the key it concerns
//! (`playbooks[0].steps[2].argv`). The default config ships inside the binary.
//!
//! The types and the entry points are here; `reader.rs` reads the TOML section by section.

mod defaults;
mod people;
mod reader;
mod shapes;
mod store;
mod warnings;

pub use warnings::warnings;

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use actors::cluster::NodeId;
use actors::spec::PasswordSpec;
use actors::spec::TreeSpec;
use actors::store::{EmbeddedLimits, RemoteStore, StoreLocation, UserLevel};
use serde::Deserialize;

/// The config `grace serve` runs when given none: `config/grace.toml` as shipped …
pub const DEFAULT_CONFIG: &str = include_str!("../../config/grace.toml");
/// … with the playbook files shipped beside it in `config/playbooks/`.
pub const DEFAULT_PLAYBOOKS: [(&str, &str); 3] = [
    (
        "api_backoff.toml",
        include_str!("../../config/playbooks/api_backoff.toml"),
    ),
    (
        "log_error_triage.toml",
        include_str!("../../config/playbooks/log_error_triage.toml"),
    ),
    (
        "restart_process.toml",
        include_str!("../../config/playbooks/restart_process.toml"),
    ),
];

/// The folder beside a config file whose `*.toml` files hold more `[[playbooks]]`.
pub const PLAYBOOKS_DIR: &str = "playbooks";
/// Most playbook files read from it: every file is parsed and kept in memory.
const PLAYBOOK_FILES_MAX: usize = 256;

/// The HTTP/WebSocket server.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[serde(default = "defaults::bind")]
    pub bind: SocketAddr,
    /// Largest request body accepted; larger ones get 413.
    #[serde(default = "defaults::body_limit_bytes")]
    pub body_limit_bytes: u64,
    /// Most items one list request may ask for with `limit`.
    #[serde(default = "defaults::page_limit_max")]
    pub page_limit_max: usize,
    /// A connection that has not sent a whole request head within this is closed, so clients
    /// that trickle bytes (slowloris) cannot hold connections.
    #[serde(default = "defaults::header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// A request body not received whole within this gets 408.
    #[serde(default = "defaults::body_read_timeout_ms")]
    pub body_read_timeout_ms: u64,
    /// Most connections served at once (HTTP or HTTPS; a WebSocket, once upgraded, counts
    /// under `limits.ws_clients_max` instead); past it the server accepts no more until one
    /// closes, so many clients cannot grow it without end.
    #[serde(default = "defaults::connections_max")]
    pub connections_max: usize,
    /// Host names (without port) requests may be addressed to besides the bound address,
    /// `localhost`, `127.0.0.1` and `[::1]`: anything else is refused, so a web page cannot
    /// reach Grace by rebinding its own DNS name to 127.0.0.1.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// A clean stop (SIGTERM, SIGINT) ends within this: the server stops accepting, what is
    /// queued is committed, the tree stops (a run in flight is handed over to the restart
    /// rules), and Grace exits — whatever is still busy by then.
    #[serde(default = "defaults::shutdown_timeout_ms")]
    pub shutdown_timeout_ms: u64,
    /// Serve HTTPS and WSS with this certificate chain (PEM); needs `tls_key_path`.
    #[serde(default)]
    pub tls_cert_path: Option<String>,
    /// The private key (PEM) of `tls_cert_path`.
    #[serde(default)]
    pub tls_key_path: Option<String>,
}

impl ServerConfig {
    /// The certificate and key files when Grace serves HTTPS.
    pub fn tls(&self) -> Option<(&str, &str)> {
        self.tls_cert_path
            .as_deref()
            .zip(self.tls_key_path.as_deref())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: defaults::bind(),
            body_limit_bytes: defaults::body_limit_bytes(),
            page_limit_max: defaults::page_limit_max(),
            header_read_timeout_ms: defaults::header_read_timeout_ms(),
            shutdown_timeout_ms: defaults::shutdown_timeout_ms(),
            body_read_timeout_ms: defaults::body_read_timeout_ms(),
            connections_max: defaults::connections_max(),
            allowed_hosts: Vec::new(),
            tls_cert_path: None,
            tls_key_path: None,
        }
    }
}

/// Where state is kept, as written: an embedded store (`path`, the default) or a SurrealDB
/// server that several Grace nodes share (`url`, with who Grace signs in as). The password of a
/// server's user comes from `password_file` or `password_env`, never the config: a `password`
/// key is refused, with a message saying where to put it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// A directory for the embedded SurrealDB (SurrealKV), relative to the working directory,
    /// or `"memory"` to keep nothing across restarts; `data/grace` when neither this nor `url`
    /// is given.
    #[serde(default)]
    pub path: Option<String>,
    /// A SurrealDB server: `ws://host:port` or `wss://host:port`.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default = "defaults::store_names")]
    pub namespace: String,
    #[serde(default = "defaults::store_names")]
    pub database: String,
    #[serde(default)]
    pub username: Option<String>,
    /// Where the user is defined: `root` (the default), `namespace` or `database`.
    #[serde(default)]
    pub user_level: UserLevel,
    #[serde(default)]
    pub password_file: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// Read only to be refused (see the type).
    #[serde(default)]
    pub password: Option<toml::Value>,
    /// A PEM file of the CAs a `wss://` server's certificate must lead to.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// The embedded store's memtable: writes held in memory before they go to a table on disk
    /// (and at most what a start after a crash replays).
    #[serde(default = "defaults::memtable_bytes_max")]
    pub memtable_bytes_max: u64,
    /// The embedded store's read cache.
    #[serde(default = "defaults::cache_bytes_max")]
    pub cache_bytes_max: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: None,
            url: None,
            namespace: defaults::store_names(),
            database: defaults::store_names(),
            username: None,
            user_level: UserLevel::default(),
            password_file: None,
            password_env: None,
            password: None,
            ca_file: None,
            memtable_bytes_max: defaults::memtable_bytes_max(),
            cache_bytes_max: defaults::cache_bytes_max(),
        }
    }
}

impl StoreConfig {
    /// How much memory the embedded engine may hold.
    fn limits(&self) -> EmbeddedLimits {
        EmbeddedLimits {
            memtable_bytes_max: self.memtable_bytes_max,
            cache_bytes_max: self.cache_bytes_max,
        }
    }

    /// Where the store is. For a checked config: a `url` comes with its user and password.
    pub fn location(&self) -> StoreLocation {
        let Some(url) = &self.url else {
            return match self.path.as_deref() {
                Some("memory") => StoreLocation::Memory,
                Some(path) => StoreLocation::Path(PathBuf::from(path), self.limits()),
                None => StoreLocation::Path(PathBuf::from(defaults::store_path()), self.limits()),
            };
        };
        StoreLocation::Remote(RemoteStore {
            url: url.clone(),
            namespace: self.namespace.clone(),
            database: self.database.clone(),
            username: self.username.clone().unwrap_or_default(),
            level: self.user_level,
            password: self
                .password_spec()
                .source()
                .expect("a checked [store] with a url names where its password is"),
            ca_file: self.ca_file.clone(),
        })
    }

    /// The password keys, as the database monitors have them.
    pub fn password_spec(&self) -> PasswordSpec {
        PasswordSpec {
            password_file: self.password_file.clone(),
            password_env: self.password_env.clone(),
        }
    }
}

/// Whether requests need a token.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Tokens are required when `server.bind` is not a loopback address, so the quick start
    /// on 127.0.0.1 needs none and Grace open to a network never goes without.
    #[default]
    Auto,
    /// Tokens are always required.
    Required,
    /// No tokens: every request acts as `local`. Only for a loopback bind.
    Off,
}

/// Who may call Grace: `[auth]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub mode: AuthMode,
    /// The token file `grace token` writes (hashes only), relative to the working directory.
    #[serde(default = "defaults::tokens_path")]
    pub tokens_path: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::default(),
            tokens_path: defaults::tokens_path(),
        }
    }
}

impl AuthConfig {
    /// Whether a request to a Grace bound to `bind` must carry a token.
    pub fn tokens_required(&self, bind: &SocketAddr) -> bool {
        match self.mode {
            AuthMode::Auto => !bind.ip().is_loopback(),
            AuthMode::Required => true,
            AuthMode::Off => false,
        }
    }
}

/// A checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub auth: AuthConfig,
    pub cluster: ClusterConfig,
    pub tree: TreeSpec,
}

impl Config {
    /// This node of a cluster: whenever the store is a server (`[store] url`), which every
    /// node of the same config shares; None for the embedded store (one node).
    pub fn node(&self) -> Option<NodeSpec> {
        self.store.url.as_ref()?;
        let node_id = self.cluster.node_id.clone().unwrap_or_else(host_name);
        Some(NodeSpec {
            node_id: NodeId::new(node_id).expect("a checked [cluster] names a valid node"),
            lease_ms: self.cluster.lease_ms as i64,
            advertise_url: self.cluster.advertise_url.clone(),
        })
    }
}

/// This machine's name, the default node id: the kernel's, else `HOSTNAME`, else `grace`.
pub fn host_name() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    kernel
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| NodeId::new(name.as_str()).is_ok())
        .unwrap_or_else(|| "grace".to_owned())
}

/// `[cluster]` as written: this node's name, the lease, and the url it is reached at. Read
/// only with `[store] url`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Unique per node; the host name when left out.
    #[serde(default)]
    pub node_id: Option<String>,
    /// How long the engines' lease lasts without a renewal (renewed every third of it): the
    /// longest a dead leader leaves the engines unattended.
    #[serde(default = "defaults::lease_ms")]
    pub lease_ms: u64,
    /// How people and the other nodes reach this node (`http://10.0.0.5:7878`); the address it
    /// listens on when left out.
    #[serde(default)]
    pub advertise_url: Option<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            node_id: None,
            lease_ms: defaults::lease_ms(),
            advertise_url: None,
        }
    }
}

/// A checked `[cluster]` for this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    pub node_id: NodeId,
    pub lease_ms: i64,
    pub advertise_url: Option<String>,
}

/// One thing wrong with a config, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The key it concerns, e.g. `monitors[0].interval_ms`; empty for the whole file.
    pub key: String,
    pub message: String,
}

/// Everything wrong with a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub source_name: String,
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} problem{}",
            self.source_name,
            self.issues.len(),
            if self.issues.len() == 1 { "" } else { "s" }
        )?;
        for issue in &self.issues {
            if issue.key.is_empty() {
                writeln!(f, "  - {}", issue.message)?;
            } else {
                writeln!(f, "  - {}: {}", issue.key, issue.message)?;
            }
        }
        Ok(())
    }
}

/// Reads and checks a config file, with the playbook files in the `playbooks/` folder beside
/// it (when there is one).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let name = path.display().to_string();
    let unreadable = |what: &Path, error: std::io::Error| ConfigError {
        source_name: name.clone(),
        issues: vec![ConfigIssue {
            key: String::new(),
            message: format!("cannot read {}: {error}", what.display()),
        }],
    };
    let text = std::fs::read_to_string(path).map_err(|error| unreadable(path, error))?;
    let dir = path.parent().unwrap_or(Path::new(".")).join(PLAYBOOKS_DIR);
    let mut files = Vec::new();
    if dir.is_dir() {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|error| unreadable(&dir, error))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        paths.sort();
        if paths.len() > PLAYBOOK_FILES_MAX {
            return Err(ConfigError {
                source_name: name,
                issues: vec![ConfigIssue {
                    key: PLAYBOOKS_DIR.to_owned(),
                    message: format!("more than {PLAYBOOK_FILES_MAX} playbook files"),
                }],
            });
        }
        for file in paths {
            let text = std::fs::read_to_string(&file).map_err(|error| unreadable(&file, error))?;
            let file_name = file.file_name().unwrap_or_default().to_string_lossy();
            files.push((format!("{PLAYBOOKS_DIR}/{file_name}"), text));
        }
    }
    parse_with(&name, &text, &files)
}

/// How the config `grace serve` found on this machine (with no `--config`) is named in
/// messages.
pub const DISCOVERED: &str = "the config grace found here";

/// The built-in default config with its shipped playbook files.
pub fn built_in() -> Result<Config, ConfigError> {
    let files: Vec<(String, String)> = DEFAULT_PLAYBOOKS
        .iter()
        .map(|(name, text)| (format!("{PLAYBOOKS_DIR}/{name}"), (*text).to_owned()))
        .collect();
    parse_with("built-in default config", DEFAULT_CONFIG, &files)
}

/// Checks config text alone; `source_name` says where it came from in error messages.
pub fn parse(source_name: &str, text: &str) -> Result<Config, ConfigError> {
    parse_with(source_name, text, &[])
}

/// Checks config text and playbook files, given as (name, text): their playbooks join the
/// inline ones, and their problems are keyed by file (`playbooks/x.toml: playbooks[0].on`).
pub fn parse_with(
    source_name: &str,
    text: &str,
    playbook_files: &[(String, String)],
) -> Result<Config, ConfigError> {
    let mut reader = reader::Reader::default();
    let config = reader.read(text).map(|mut config| {
        let mut ids: HashSet<String> = config.tree.playbooks.iter().map(|p| p.id.clone()).collect();
        for (file, text) in playbook_files {
            for playbook in reader.playbook_file(file, text) {
                if !ids.insert(playbook.id.clone()) {
                    reader.issue(
                        format!("{file}: playbooks"),
                        format!("playbook id {:?} is defined twice", playbook.id),
                    );
                }
                config.tree.playbooks.push(playbook);
            }
        }
        config
    });
    match config {
        Some(config) if reader.issues.is_empty() => Ok(config),
        _ => Err(ConfigError {
            source_name: source_name.to_owned(),
            issues: reader.issues,
        }),
    }
}

#[cfg(test)]
mod tests;

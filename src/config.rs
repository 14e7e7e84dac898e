//! Grace's configuration file: TOML in, a checked [`Config`] out, or every error at once.
//!
//! Each section and each monitor, playbook and step is read on its own, so one mistake does not
//! hide the next: `grace check-config` lists them all, each with the key it concerns
//! (`playbooks[0].steps[2].argv`). The default config ships inside the binary.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use actors::retention::RetentionSpec;
use actors::spec::{
    LimitsSpec, MonitorSpec, PipelineSpec, PlaybookSpec, SpecProblem, StepSpec, SupervisionSpec,
    TreeSpec, TrustSpec, WebhookSpec,
};
use actors::store::StoreLocation;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The config `grace serve` runs when given none: `config/grace.toml` as shipped …
pub const DEFAULT_CONFIG: &str = include_str!("../config/grace.toml");
/// … with the playbook files shipped beside it in `config/playbooks/`.
pub const DEFAULT_PLAYBOOKS: [(&str, &str); 3] = [
    (
        "api_backoff.toml",
        include_str!("../config/playbooks/api_backoff.toml"),
    ),
    (
        "log_error_triage.toml",
        include_str!("../config/playbooks/log_error_triage.toml"),
    ),
    (
        "restart_process.toml",
        include_str!("../config/playbooks/restart_process.toml"),
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
    /// Host names (without port) requests may be addressed to besides the bound address,
    /// `localhost`, `127.0.0.1` and `[::1]`: anything else is refused, so a web page cannot
    /// reach Grace by rebinding its own DNS name to 127.0.0.1.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
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
            body_read_timeout_ms: defaults::body_read_timeout_ms(),
            allowed_hosts: Vec::new(),
            tls_cert_path: None,
            tls_key_path: None,
        }
    }
}

/// Where state is kept.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// A directory for the embedded SurrealDB (SurrealKV), relative to the working directory,
    /// or `"memory"` to keep nothing across restarts.
    #[serde(default = "defaults::store_path")]
    pub path: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: defaults::store_path(),
        }
    }
}

impl StoreConfig {
    pub fn location(&self) -> StoreLocation {
        if self.path == "memory" {
            StoreLocation::Memory
        } else {
            StoreLocation::Path(PathBuf::from(&self.path))
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
    pub tree: TreeSpec,
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

const SECTIONS: [&str; 11] = [
    "server",
    "store",
    "auth",
    "trust",
    "supervision",
    "limits",
    "retention",
    "monitors",
    "playbooks",
    "webhooks",
    "pipelines",
];
/// Most `[[pipelines]]`: each may run at once, as its own task.
const PIPELINES_MAX: usize = 256;

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
    let mut reader = Reader::default();
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

#[derive(Default)]
struct Reader {
    issues: Vec<ConfigIssue>,
    /// Ids of the configured monitors and webhooks, for the names other items refer to.
    monitor_ids: HashSet<String>,
    webhook_ids: HashSet<String>,
}

impl Reader {
    fn issue(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.issues.push(ConfigIssue {
            key: key.into(),
            message: message.into(),
        });
    }

    fn problems(&mut self, prefix: &str, problems: Vec<SpecProblem>) {
        for problem in problems {
            self.issue(format!("{prefix}.{}", problem.field), problem.message);
        }
    }

    fn read(&mut self, text: &str) -> Option<Config> {
        let mut table: toml::Table = match text.parse() {
            Ok(table) => table,
            Err(error) => {
                self.issue("", format!("not valid TOML: {}", error.message()));
                return None;
            }
        };
        for key in table.keys() {
            if !SECTIONS.contains(&key.as_str()) {
                self.issue(
                    key.clone(),
                    format!("unknown section; expected one of {}", SECTIONS.join(", ")),
                );
            }
        }
        let server: ServerConfig = self.section(&mut table, "server");
        let store: StoreConfig = self.section(&mut table, "store");
        let auth: AuthConfig = self.section(&mut table, "auth");
        if auth.mode == AuthMode::Off && !server.bind.ip().is_loopback() {
            self.issue(
                "auth.mode",
                format!(
                    "\"off\" would open {} to anyone who can reach it: use \"auto\" or \"required\" \
                     and `grace token create`, or bind to 127.0.0.1",
                    server.bind
                ),
            );
        }
        if auth.tokens_path.trim().is_empty() {
            self.issue("auth.tokens_path", "must be a file path");
        }
        let trust: TrustSpec = self.section(&mut table, "trust");
        let supervision: SupervisionSpec = self.section(&mut table, "supervision");
        let limits: LimitsSpec = self.section(&mut table, "limits");
        let retention: RetentionSpec = self.section(&mut table, "retention");
        if store.path.trim().is_empty() {
            self.issue("store.path", "must be a directory or \"memory\"");
        }
        if server.body_limit_bytes == 0 || server.page_limit_max == 0 {
            self.issue(
                "server",
                "body_limit_bytes and page_limit_max must be at least 1",
            );
        }
        if server.tls_cert_path.is_some() != server.tls_key_path.is_some() {
            self.issue(
                "server.tls_key_path",
                "tls_cert_path and tls_key_path go together: give both, or neither",
            );
        }
        if server.header_read_timeout_ms == 0 || server.body_read_timeout_ms == 0 {
            self.issue(
                "server",
                "header_read_timeout_ms and body_read_timeout_ms must be at least 1",
            );
        }
        self.problems("trust", trust.problems());
        self.problems("supervision", supervision.problems());
        self.problems("limits", limits.problems());
        self.problems("retention", retention.problems());

        let monitors = self.monitors(table.remove("monitors"));
        self.monitor_ids = monitors.iter().map(|m| m.id.clone()).collect();
        let webhooks = self.webhooks(table.remove("webhooks"));
        self.webhook_ids = webhooks.iter().map(|w| w.id.clone()).collect();
        let pipelines = self.pipelines(table.remove("pipelines"));
        let playbooks = self.playbooks(table.remove("playbooks"));
        Some(Config {
            server,
            store,
            auth,
            tree: TreeSpec {
                monitors,
                playbooks,
                pipelines,
                webhooks,
                trust,
                supervision,
                limits,
                retention,
            },
        })
    }

    /// A `[section]` table, or its defaults when absent.
    fn section<T: DeserializeOwned + Default>(&mut self, table: &mut toml::Table, key: &str) -> T {
        match table.remove(key) {
            None => T::default(),
            Some(value) => self.item(key, value).unwrap_or_default(),
        }
    }

    /// Deserialises one item, reporting the exact key of a failure.
    fn item<T: DeserializeOwned>(&mut self, key: &str, value: toml::Value) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(item) => Some(item),
            Err(error) => {
                let path = error.path().to_string();
                let key = if path == "." || path.is_empty() {
                    key.to_owned()
                } else {
                    format!("{key}.{path}")
                };
                self.issue(key, error.into_inner().message().to_owned());
                None
            }
        }
    }

    /// The items of an array of tables (`[[monitors]]`).
    fn array(&mut self, key: &str, value: Option<toml::Value>) -> Vec<(String, toml::Value)> {
        match value {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| (format!("{key}[{index}]"), item))
                .collect(),
            Some(_) => {
                self.issue(key, format!("must be an array of tables ([[{key}]])"));
                Vec::new()
            }
        }
    }

    fn monitors(&mut self, value: Option<toml::Value>) -> Vec<MonitorSpec> {
        let mut monitors = Vec::new();
        let mut ids = HashSet::new();
        for (key, item) in self.array("monitors", value) {
            let Some(spec) = self.item::<MonitorSpec>(&key, item.clone()) else {
                continue;
            };
            self.unknown_keys(&key, &item, &spec);
            self.problems(&key, spec.problems());
            if !ids.insert(spec.id.clone()) {
                self.issue(
                    format!("{key}.id"),
                    format!("duplicate monitor id {:?}", spec.id),
                );
            }
            monitors.push(spec);
        }
        self.dependencies(&monitors);
        monitors
    }

    /// Every `depends_on` names a configured monitor, and no chain of them comes back round.
    fn dependencies(&mut self, monitors: &[MonitorSpec]) {
        let index: std::collections::HashMap<&str, usize> = monitors
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.as_str(), i))
            .collect();
        for (i, monitor) in monitors.iter().enumerate() {
            for parent in &monitor.depends_on {
                if !index.contains_key(parent.as_str()) {
                    self.issue(
                        format!("monitors[{i}].depends_on"),
                        format!("no monitor named {parent:?}"),
                    );
                }
            }
            // Walk up from this monitor; meeting it again is a cycle.
            let mut seen = HashSet::new();
            let mut frontier: Vec<&str> = monitor.depends_on.iter().map(String::as_str).collect();
            while let Some(id) = frontier.pop() {
                if id == monitor.id {
                    self.issue(
                        format!("monitors[{i}].depends_on"),
                        format!("{:?} depends on itself through a cycle", monitor.id),
                    );
                    break;
                }
                if seen.insert(id) {
                    if let Some(&j) = index.get(id) {
                        frontier.extend(monitors[j].depends_on.iter().map(String::as_str));
                    }
                }
            }
        }
    }

    /// Keys in the input that the spec does not know. `MonitorSpec` flattens its kind, which
    /// serde cannot combine with `deny_unknown_fields`, so compare with the spec written back.
    fn unknown_keys(&mut self, key: &str, input: &toml::Value, spec: &MonitorSpec) {
        let known = serde_json::to_value(spec).unwrap_or_default();
        if let (Some(input), Some(known)) = (input.as_table(), known.as_object()) {
            for field in input.keys().filter(|field| !known.contains_key(*field)) {
                self.issue(format!("{key}.{field}"), "unknown field");
            }
        }
    }

    fn webhooks(&mut self, value: Option<toml::Value>) -> Vec<WebhookSpec> {
        let mut webhooks = Vec::new();
        let mut ids = HashSet::new();
        for (key, item) in self.array("webhooks", value) {
            let Some(spec) = self.item::<WebhookSpec>(&key, item) else {
                continue;
            };
            self.problems(&key, spec.problems());
            if !ids.insert(spec.id.clone()) {
                self.issue(
                    format!("{key}.id"),
                    format!("duplicate webhook id {:?}", spec.id),
                );
            }
            webhooks.push(spec);
        }
        webhooks
    }

    fn pipelines(&mut self, value: Option<toml::Value>) -> Vec<PipelineSpec> {
        let mut pipelines = Vec::new();
        let mut ids = HashSet::new();
        let items = self.array("pipelines", value);
        if items.len() > PIPELINES_MAX {
            self.issue("pipelines", format!("at most {PIPELINES_MAX} pipelines"));
        }
        for (key, item) in items {
            let Some(spec) = self.item::<PipelineSpec>(&key, item) else {
                continue;
            };
            self.problems(&key, spec.problems());
            self.known(&format!("{key}.depends_on"), &spec.depends_on, "monitor");
            if !ids.insert(spec.id.clone()) {
                self.issue(
                    format!("{key}.id"),
                    format!("duplicate pipeline id {:?}", spec.id),
                );
            }
            pipelines.push(spec);
        }
        pipelines
    }

    /// Every name in `names` is a configured monitor (or webhook).
    fn known(&mut self, key: &str, names: &[String], what: &str) {
        let ids = if what == "webhook" {
            &self.webhook_ids
        } else {
            &self.monitor_ids
        };
        let unknown: Vec<String> = names
            .iter()
            .filter(|name| !ids.contains(*name))
            .map(|name| format!("{name:?}"))
            .collect();
        if !unknown.is_empty() {
            self.issue(key, format!("no {what} named {}", unknown.join(", ")));
        }
    }

    /// The `[[playbooks]]` of one playbook file; nothing else may be in it.
    fn playbook_file(&mut self, file: &str, text: &str) -> Vec<PlaybookSpec> {
        let mut table: toml::Table = match text.parse() {
            Ok(table) => table,
            Err(error) => {
                self.issue(file, format!("not valid TOML: {}", error.message()));
                return Vec::new();
            }
        };
        for key in table.keys().filter(|key| *key != "playbooks") {
            self.issue(
                format!("{file}: {key}"),
                "a playbook file holds only [[playbooks]]",
            );
        }
        self.playbooks_at(&format!("{file}: playbooks"), table.remove("playbooks"))
    }

    fn playbooks(&mut self, value: Option<toml::Value>) -> Vec<PlaybookSpec> {
        self.playbooks_at("playbooks", value)
    }

    /// The playbooks of an array of tables whose key (for errors) is `key`.
    fn playbooks_at(&mut self, key: &str, value: Option<toml::Value>) -> Vec<PlaybookSpec> {
        let mut playbooks = Vec::new();
        let mut ids = HashSet::new();
        for (key, mut item) in self.array(key, value) {
            // Steps one by one, so every bad step is reported.
            let raw_steps = item.as_table_mut().and_then(|table| table.remove("steps"));
            let mut steps = Vec::new();
            let mut steps_ok = true;
            match raw_steps {
                Some(raw) => {
                    for (step_key, step) in self.array(&format!("{key}.steps"), Some(raw)) {
                        match self.item::<StepSpec>(&step_key, step) {
                            Some(step) => {
                                self.problems(&step_key, step.problems());
                                if let StepSpec::Notify { webhooks, .. } = &step {
                                    self.known(
                                        &format!("{step_key}.webhooks"),
                                        webhooks,
                                        "webhook",
                                    );
                                }
                                steps.push(step);
                            }
                            None => steps_ok = false,
                        }
                    }
                }
                None => {
                    self.issue(format!("{key}.steps"), "missing field `steps`");
                    steps_ok = false;
                }
            }
            if let Some(table) = item.as_table_mut() {
                table.insert("steps".to_owned(), toml::Value::Array(Vec::new()));
            }
            let Some(mut spec) = self.item::<PlaybookSpec>(&key, item) else {
                continue;
            };
            spec.steps = steps;
            let problems = spec
                .problems()
                .into_iter()
                .filter(|problem| steps_ok || problem.field != "steps")
                .collect();
            self.problems(&key, problems);
            self.known(&format!("{key}.monitors"), &spec.monitors, "monitor");
            if !ids.insert(spec.id.clone()) {
                self.issue(
                    format!("{key}.id"),
                    format!("duplicate playbook id {:?}", spec.id),
                );
            }
            playbooks.push(spec);
        }
        playbooks
    }
}

mod defaults {
    use std::net::SocketAddr;

    pub fn bind() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 7878))
    }
    pub fn body_limit_bytes() -> u64 {
        64 * 1024
    }
    pub fn page_limit_max() -> usize {
        500
    }
    pub fn header_read_timeout_ms() -> u64 {
        10_000
    }
    pub fn body_read_timeout_ms() -> u64 {
        30_000
    }
    pub fn store_path() -> String {
        "data/grace".to_owned()
    }
    pub fn tokens_path() -> String {
        "data/grace-tokens.json".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_off_beyond_loopback_is_an_error_and_auto_requires_tokens_there() {
        let open = "[server]\nbind = \"0.0.0.0:7878\"\n[auth]\nmode = \"off\"\n";
        let error = parse("t", open).unwrap_err();
        assert_eq!(error.issues[0].key, "auth.mode");
        let auto = parse("t", "[server]\nbind = \"0.0.0.0:7878\"\n").unwrap();
        assert!(auto.auth.tokens_required(&auto.server.bind));
        let local = parse("t", "").unwrap();
        assert!(!local.auth.tokens_required(&local.server.bind));
        let required = parse("t", "[auth]\nmode = \"required\"\n").unwrap();
        assert!(required.auth.tokens_required(&required.server.bind));
        let half_tls = "[server]\ntls_cert_path = \"cert.pem\"\n";
        assert_eq!(
            parse("t", half_tls).unwrap_err().issues[0].key,
            "server.tls_key_path"
        );
    }

    #[test]
    fn the_shipped_default_config_is_valid() {
        let config = parse("default", DEFAULT_CONFIG).unwrap();
        assert_eq!(config.server.bind.to_string(), "127.0.0.1:7878");
        assert_eq!(config.tree.monitors[0].id, "orders-db");
        assert_eq!(config.tree.monitors[0].interval_ms, 500);
        let playbook = &config.tree.playbooks[0];
        assert_eq!(playbook.id, "db_reconnect");
        let names: Vec<&str> = playbook.steps.iter().map(StepSpec::name).collect();
        assert_eq!(
            names,
            [
                "check",
                "command",
                "reconnect",
                "verify",
                "rerun_pipelines",
                "restore_trust"
            ]
        );
        let built_in = built_in().unwrap();
        let ids: Vec<&str> = built_in
            .tree
            .playbooks
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "db_reconnect",
                "api_backoff",
                "log_error_triage",
                "restart_process"
            ]
        );
    }

    #[test]
    fn every_error_is_reported_with_its_key() {
        let text = r#"
            [server]
            bind = "not an address"
            [store]
            path = ""
            [trust]
            drop_on_incident = 2.0
            [[monitors]]
            id = "a"
            kind = "postgres"
            url = "postgres://x@127.0.0.1/db"
            interval_ms = 0
            colour = "red"
            [[monitors]]
            id = "a"
            kind = "postgres"
            url = "postgres://x@127.0.0.1/db"
            [[monitors]]
            id = "b"
            kind = "carrier-pigeon"
            [[monitors]]
            id = "c"
            kind = "tcp"
            address = "no-port"
            [[playbooks]]
            id = "p"
            on = []
            steps = [
              { kind = "check" },
              { kind = "command", argv = [] },
              { kind = "reconnect", backoff_ms = "soon" },
              { kind = "teleport" },
            ]
            [bogus]
        "#;
        let error = parse("test.toml", text).unwrap_err();
        let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
        for expected in [
            "bogus",
            "server.bind",
            "store.path",
            "trust.drop_on_incident",
            "monitors[0].interval_ms",
            "monitors[0].colour",
            "monitors[1].id",
            "monitors[2]",
            "monitors[3].address",
            "playbooks[0].on",
            "playbooks[0].steps[1].argv",
            "playbooks[0].steps[2]",
            "playbooks[0].steps[3].kind",
        ] {
            assert!(keys.contains(&expected), "missing {expected} in {error}");
        }
        let text = error.to_string();
        assert!(text.starts_with("test.toml: "), "{text}");
    }

    #[test]
    fn pipelines_selectors_and_placeholders_are_checked_by_name() {
        let text = r#"
            [[monitors]]
            id = "db"
            kind = "postgres"
            url = "postgres://x@127.0.0.1/db"
            [[pipelines]]
            id = "export"
            argv = ["export"]
            url = "http://127.0.0.1:1/"
            depends_on = ["db", "cache"]
            every_ms = 10
            [[playbooks]]
            id = "p"
            on = ["db.*"]
            monitors = ["dbb"]
            steps = [
              { kind = "command", argv = ["kill", "{incident.payload}"], retries = 99 },
              { kind = "notify", message = "", webhooks = ["pager"] },
              { kind = "rerun_pipelines", runs_max = 0 },
            ]
        "#;
        let error = parse("test.toml", text).unwrap_err();
        let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
        for expected in [
            "pipelines[0].argv",
            "pipelines[0].depends_on",
            "pipelines[0].every_ms",
            "playbooks[0].monitors",
            "playbooks[0].steps[0].argv[1]",
            "playbooks[0].steps[0].retries",
            "playbooks[0].steps[1].message",
            "playbooks[0].steps[1].webhooks",
            "playbooks[0].steps[2].runs_max",
        ] {
            assert!(keys.contains(&expected), "missing {expected} in {error}");
        }
        let text = error.to_string();
        assert!(text.contains("no monitor named \"cache\""), "{text}");
        assert!(
            text.contains("{incident.payload} cannot be filled in"),
            "{text}"
        );
    }

    #[test]
    fn syntax_errors_are_reported() {
        let error = parse("x", "[server\nbind=").unwrap_err();
        assert_eq!(error.issues.len(), 1);
        assert!(error.issues[0].message.contains("not valid TOML"));
    }

    #[test]
    fn an_empty_file_is_a_valid_config_with_defaults() {
        let config = parse("empty", "").unwrap();
        assert!(config.tree.monitors.is_empty());
        assert_eq!(
            config.store.location(),
            StoreLocation::Path("data/grace".into())
        );
    }
}

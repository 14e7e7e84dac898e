//! Reads a config's TOML a section and an item at a time, so that one mistake does not hide
//! the next: every problem is kept with its key, and the items that read well go on to be
//! checked against each other (names other items refer to, dependencies).

use std::collections::HashSet;

use actors::history::HistorySpec;
use actors::retention::RetentionSpec;
use actors::spec::{
    AlertmanagerSpec, IncidentsSpec, LimitsSpec, MaintenanceInput, MaintenanceSpec, MonitorSpec,
    PipelineInput, PipelineSpec, PlaybookSpec, SpecProblem, SpecProblems, StepSpec,
    SupervisionSpec, TreeSpec, TrustSpec, WebhookSpec, MAINTENANCE_MAX,
};
use serde::de::DeserializeOwned;

use super::{AuthConfig, AuthMode, ClusterConfig, Config, ConfigIssue, ServerConfig, StoreConfig};

const SECTIONS: [&str; 19] = [
    "server",
    "store",
    "cluster",
    "auth",
    "trust",
    "incidents",
    "supervision",
    "limits",
    "retention",
    "history",
    "alertmanager",
    "monitors",
    "playbooks",
    "webhooks",
    "receivers",
    "routes",
    "pipelines",
    "maintenance",
    "status_page",
];
/// Most `[[pipelines]]`: each may run at once, as its own task.
const PIPELINES_MAX: usize = 256;

/// What has been read so far, and every problem found.
#[derive(Default)]
pub(super) struct Reader {
    pub(super) issues: Vec<ConfigIssue>,
    /// Ids of the configured monitors and webhooks, for the names other items refer to.
    monitor_ids: HashSet<String>,
    webhook_ids: HashSet<String>,
}

impl Reader {
    pub(super) fn issue(&mut self, key: impl Into<String>, message: impl Into<String>) {
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

    pub(super) fn read(&mut self, text: &str) -> Option<Config> {
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
        let (server, store, auth) = self.server_sections(&mut table);
        let cluster = self.cluster_section(&mut table, &store);
        let trust: TrustSpec = self.section(&mut table, "trust");
        let supervision: SupervisionSpec = self.section(&mut table, "supervision");
        let limits: LimitsSpec = self.section(&mut table, "limits");
        let retention: RetentionSpec = self.section(&mut table, "retention");
        let alertmanager: AlertmanagerSpec = self.section(&mut table, "alertmanager");
        let incidents: IncidentsSpec = self.section(&mut table, "incidents");
        let history: HistorySpec = self.section(&mut table, "history");
        self.problems("trust", trust.problems());
        self.problems("supervision", supervision.problems());
        self.problems("limits", limits.problems());
        self.problems("retention", retention.problems());
        self.problems("alertmanager", alertmanager.problems());
        self.problems("incidents", incidents.problems());
        self.problems("history", history.problems());
        let monitors = self.monitors(table.remove("monitors"));
        self.monitor_ids = monitors.iter().map(|m| m.id.clone()).collect();
        let webhooks = self.webhooks(table.remove("webhooks"));
        self.webhook_ids = webhooks.iter().map(|w| w.id.clone()).collect();
        let receivers = self.receivers(table.remove("receivers"), &webhooks);
        let mut reachable = self.webhook_ids.clone();
        reachable.extend(receivers.iter().map(|r| r.id.clone()));
        let routes = self.routes(table.remove("routes"), &reachable);
        let pipelines = self.pipelines(table.remove("pipelines"));
        let playbooks = self.playbooks(table.remove("playbooks"));
        let maintenance = self.maintenance(table.remove("maintenance"));
        let status_page = self.status_page(&mut table);
        Some(Config {
            server,
            store,
            auth,
            cluster,
            tree: TreeSpec {
                monitors,
                playbooks,
                pipelines,
                webhooks,
                receivers,
                routes,
                trust,
                supervision,
                limits,
                retention,
                alertmanager,
                incidents,
                history,
                maintenance,
                status_page,
            },
        })
    }

    /// `[server]`, `[store]` and `[auth]`, checked together: whether tokens are needed
    /// depends on where the server listens.
    fn server_sections(
        &mut self,
        table: &mut toml::Table,
    ) -> (ServerConfig, StoreConfig, AuthConfig) {
        let server: ServerConfig = self.section(table, "server");
        let store: StoreConfig = self.section(table, "store");
        let auth: AuthConfig = self.section(table, "auth");
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
        self.problems("store", super::store::problems(&store));
        self.server_limits(&server);
        (server, store, auth)
    }

    /// `[cluster]`: only with a shared store, a lease within its bounds, a valid node id.
    fn cluster_section(&mut self, table: &mut toml::Table, store: &StoreConfig) -> ClusterConfig {
        let written = table.contains_key("cluster");
        let cluster: ClusterConfig = self.section(table, "cluster");
        if written && store.url.is_none() {
            let why = "needs a store every node shares: set [store] url to a SurrealDB server";
            self.issue("cluster", why);
        }
        if let Err(bounds) = actors::cluster::check_lease_ms(cluster.lease_ms as i64) {
            self.issue("cluster.lease_ms", bounds.to_string());
        }
        if let Some(id) = &cluster.node_id {
            if let Err(error) = actors::cluster::NodeId::new(id.as_str()) {
                self.issue("cluster.node_id", error.to_string());
            }
        }
        let url = cluster.advertise_url.as_deref();
        if url.is_some_and(|url| !url.starts_with("http://") && !url.starts_with("https://")) {
            self.issue(
                "cluster.advertise_url",
                "must be an http:// or https:// url",
            );
        }
        cluster
    }

    fn server_limits(&mut self, server: &ServerConfig) {
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
        if server.connections_max == 0 {
            self.issue("server.connections_max", "must be at least 1");
        }
        if server.shutdown_timeout_ms == 0 {
            self.issue("server.shutdown_timeout_ms", "must be at least 1");
        }
        if server.header_read_timeout_ms == 0 || server.body_read_timeout_ms == 0 {
            self.issue(
                "server",
                "header_read_timeout_ms and body_read_timeout_ms must be at least 1",
            );
        }
    }

    /// A `[section]` table, or its defaults when absent.
    pub(super) fn section<T: DeserializeOwned + Default>(
        &mut self,
        table: &mut toml::Table,
        key: &str,
    ) -> T {
        match table.remove(key) {
            None => T::default(),
            Some(value) => self.item(key, value).unwrap_or_default(),
        }
    }

    /// Deserialises one item, reporting the exact key of a failure.
    pub(super) fn item<T: DeserializeOwned>(&mut self, key: &str, value: toml::Value) -> Option<T> {
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
    pub(super) fn array(
        &mut self,
        key: &str,
        value: Option<toml::Value>,
    ) -> Vec<(String, toml::Value)> {
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
        for (key, mut item) in self.array("monitors", value) {
            self.statuses_shape(&key, &mut item);
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

    /// No chain of `depends_on` comes back round. A name that is no monitor is a component
    /// only Alertmanager's alerts speak of (`[alertmanager] component_labels`).
    fn dependencies(&mut self, monitors: &[MonitorSpec]) {
        let index: std::collections::HashMap<&str, usize> = monitors
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.as_str(), i))
            .collect();
        for (i, monitor) in monitors.iter().enumerate() {
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

    /// `[[maintenance]]`: each window checked, ids unique, every problem with its key.
    fn maintenance(&mut self, value: Option<toml::Value>) -> Vec<MaintenanceSpec> {
        let items = self.array("maintenance", value);
        if items.len() > MAINTENANCE_MAX {
            self.issue("maintenance", format!("at most {MAINTENANCE_MAX} windows"));
        }
        let mut windows: Vec<MaintenanceSpec> = Vec::new();
        for (key, item) in items {
            let Some(input) = self.item::<MaintenanceInput>(&key, item) else {
                continue;
            };
            match input.into_spec() {
                Err(problems) => self.problems(&key, problems),
                Ok(spec) if windows.iter().any(|w| w.id == spec.id) => self.issue(
                    format!("{key}.id"),
                    format!("duplicate window id {:?}", spec.id),
                ),
                Ok(spec) => windows.push(spec),
            }
        }
        windows
    }

    fn pipelines(&mut self, value: Option<toml::Value>) -> Vec<PipelineSpec> {
        let mut pipelines = Vec::new();
        let mut ids = HashSet::new();
        let items = self.array("pipelines", value);
        if items.len() > PIPELINES_MAX {
            self.issue("pipelines", format!("at most {PIPELINES_MAX} pipelines"));
        }
        for (key, item) in items {
            let Some(input) = self.item::<PipelineInput>(&key, item) else {
                continue;
            };
            self.known(&format!("{key}.depends_on"), &input.depends_on, "monitor");
            if !ids.insert(input.id.clone()) {
                self.issue(
                    format!("{key}.id"),
                    format!("duplicate pipeline id {:?}", input.id),
                );
            }
            match PipelineSpec::try_from(input) {
                Ok(spec) => pipelines.push(spec),
                Err(SpecProblems(problems)) => self.problems(&key, problems),
            }
        }
        pipelines
    }

    /// Whether `id` is a configured monitor.
    pub(super) fn is_monitor(&self, id: &str) -> bool {
        self.monitor_ids.contains(id)
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
    pub(super) fn playbook_file(&mut self, file: &str, text: &str) -> Vec<PlaybookSpec> {
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
                    for (step_key, mut step) in self.array(&format!("{key}.steps"), Some(raw)) {
                        self.statuses_shape(&step_key, &mut step);
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

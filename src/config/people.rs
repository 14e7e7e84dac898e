//! `[[receivers]]` and `[[routes]]`: each read and checked on its own, then against each other
//! and the webhooks — ids unique across receivers and webhooks, every receiver a route names
//! configured — with every problem under its key.

use std::collections::HashSet;

use actors::spec::{ReceiverSpec, RouteSpec, WebhookSpec, RECEIVERS_MAX, ROUTES_MAX};
use actors::status_page::StatusPageSpec;

use super::reader::Reader;

const RECEIVER_KINDS: [&str; 7] = [
    "webhook",
    "slack",
    "teams",
    "discord",
    "email",
    "pagerduty",
    "opsgenie",
];

impl Reader {
    /// `[[receivers]]`: kinds' own keys only, ids unique among receivers and `webhooks`.
    pub(super) fn receivers(
        &mut self,
        value: Option<toml::Value>,
        webhooks: &[WebhookSpec],
    ) -> Vec<ReceiverSpec> {
        let items = self.array("receivers", value);
        if items.len() > RECEIVERS_MAX {
            self.issue("receivers", format!("at most {RECEIVERS_MAX} receivers"));
        }
        let mut ids: HashSet<String> = webhooks.iter().map(|w| w.id.clone()).collect();
        let mut receivers = Vec::new();
        for (key, item) in items {
            if !self.known_kind(&key, &item) {
                continue;
            }
            let Some(spec) = self.item::<ReceiverSpec>(&key, item.clone()) else {
                continue;
            };
            self.unknown_fields(&key, &item, &spec);
            for problem in spec.problems() {
                self.issue(format!("{key}.{}", problem.field), problem.message);
            }
            if !ids.insert(spec.id.clone()) {
                let why = format!(
                    "duplicate id {:?} (receivers and webhooks share ids)",
                    spec.id
                );
                self.issue(format!("{key}.id"), why);
            }
            receivers.push(spec);
        }
        receivers
    }

    /// Whether the receiver names a kind there is, said under its `kind` key when not.
    fn known_kind(&mut self, key: &str, item: &toml::Value) -> bool {
        let kind = item.get("kind").and_then(toml::Value::as_str);
        if kind.is_some_and(|kind| RECEIVER_KINDS.contains(&kind)) {
            return true;
        }
        let why = format!("must be one of {}", RECEIVER_KINDS.join(", "));
        self.issue(format!("{key}.kind"), why);
        false
    }

    /// Keys the receiver's kind does not have (the kind is flattened, which serde cannot
    /// combine with `deny_unknown_fields`): compared with the spec written back.
    fn unknown_fields(&mut self, key: &str, input: &toml::Value, spec: &ReceiverSpec) {
        let known = serde_json::to_value(spec).unwrap_or_default();
        let optional = [
            "ca_file",
            "username",
            "password_file",
            "password_env",
            "routing_key_file",
            "routing_key_env",
            "api_key_file",
            "api_key_env",
        ];
        if let (Some(input), Some(known)) = (input.as_table(), known.as_object()) {
            let unknown = input
                .keys()
                .filter(|field| !known.contains_key(*field) && !optional.contains(&field.as_str()));
            for field in unknown.collect::<Vec<_>>() {
                let why = format!("unknown field for a {} receiver", spec.kind.name());
                self.issue(format!("{key}.{field}"), why);
            }
        }
    }

    /// `[[routes]]`: each checked, ids unique, every receiver named configured.
    pub(super) fn routes(
        &mut self,
        value: Option<toml::Value>,
        known: &HashSet<String>,
    ) -> Vec<RouteSpec> {
        let items = self.array("routes", value);
        if items.len() > ROUTES_MAX {
            self.issue("routes", format!("at most {ROUTES_MAX} routes"));
        }
        let mut ids = HashSet::new();
        let mut routes = Vec::new();
        for (key, item) in items {
            let Some(spec) = self.item::<RouteSpec>(&key, item) else {
                continue;
            };
            for problem in spec.problems() {
                self.issue(format!("{key}.{}", problem.field), problem.message);
            }
            if !ids.insert(spec.id.clone()) {
                self.issue(
                    format!("{key}.id"),
                    format!("duplicate route id {:?}", spec.id),
                );
            }
            self.route_receivers(&key, &spec, known);
            routes.push(spec);
        }
        routes
    }

    fn route_receivers(&mut self, key: &str, spec: &RouteSpec, known: &HashSet<String>) {
        let lists = std::iter::once(("receivers".to_owned(), &spec.receivers)).chain(
            spec.levels
                .iter()
                .enumerate()
                .map(|(index, level)| (format!("levels[{index}].receivers"), &level.receivers)),
        );
        for (field, names) in lists {
            let unknown: Vec<String> = names
                .iter()
                .filter(|name| !known.contains(*name))
                .map(|name| format!("{name:?}"))
                .collect();
            if !unknown.is_empty() {
                let why = format!("no receiver or webhook named {}", unknown.join(", "));
                self.issue(format!("{key}.{field}"), why);
            }
        }
    }

    /// `[status_page]`: checked, and every component a configured monitor.
    pub(super) fn status_page(&mut self, table: &mut toml::Table) -> StatusPageSpec {
        let spec: StatusPageSpec = self.section(table, "status_page");
        for problem in spec.problems() {
            self.issue(format!("status_page.{}", problem.field), problem.message);
        }
        for (index, component) in spec.components.iter().enumerate() {
            if !self.is_monitor(component.id()) {
                let why = format!("no monitor named {:?}", component.id());
                self.issue(format!("status_page.components[{index}]"), why);
            }
        }
        spec
    }
}

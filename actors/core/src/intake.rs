//! Events pushed in from outside: instrumented apps (`POST /events`) and Prometheus
//! Alertmanager's webhook. Both become ordinary [`EventDraft`]s that say what they are
//! (problem, recovery or info) in their data, so the incident manager deduplicates, resolves and
//! triggers playbooks for them exactly as it does for a monitor's events.
//!
//! The rules a pushed event must follow live here; the HTTP layer only parses JSON and reports
//! the problems found, each naming its field.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::catalog::RECOVERY_WORDS;
use crate::event::{catalog, EventClass, EventDraft, CLASS_KEY};
use crate::model::Severity;
use crate::names::name_problem;
use crate::spec::{AlertmanagerSpec, ALERT_FAMILY_PREFIX};

/// Longest accepted event type, source and title, in bytes: they are keys and labels, not
/// documents (a payload carries the details).
pub const TYPE_LEN_MAX: usize = 128;
pub const SOURCE_LEN_MAX: usize = 128;
pub const TITLE_LEN_MAX: usize = 256;

/// Type prefixes only Grace publishes: accepting them from outside would let a client forge
/// incident or playbook history.
const RESERVED_FAMILIES: [&str; 11] = [
    "incident.",
    "pipeline.",
    "webhook.",
    "notification.",
    "playbook.",
    "agent.",
    "actor.",
    "trust.",
    "monitor.",
    "work_order.",
    ALERT_FAMILY_PREFIX,
];

/// What a pushed event says it is.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PushedKind {
    Problem,
    Recovery,
    /// Recorded in the log and the feed; no incident.
    Info,
}

/// An event an application pushes in.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushedEvent {
    /// Dotted, lowercase: `payment.gateway_timeout`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The component it is about; incidents are deduplicated per source and type.
    pub source: String,
    pub severity: Option<Severity>,
    pub title: Option<String>,
    /// Problem, recovery or info. Default: the catalog's answer for Grace's own types, a
    /// recovery for types ending in `.restored`, `.recovered`, `.resolved`, `.ok`, `.up` or
    /// `.healthy`, a problem otherwise.
    pub kind: Option<PushedKind>,
    /// Any JSON: recorded with the event as it is.
    #[serde(default)]
    #[schema(value_type = Value)]
    pub payload: Value,
}

impl PushedEvent {
    /// Every rule the event breaks, as (field, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let t = &self.event_type;
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if t.len() > TYPE_LEN_MAX {
            problems.push(("type", format!("longer than {TYPE_LEN_MAX} bytes")));
        } else if !t.contains('.') || !t.split('.').all(segment_ok) {
            problems.push((
                "type",
                format!("{t:?} is not a dotted lowercase type like \"payment.gateway_timeout\""),
            ));
        } else if let Some(family) = RESERVED_FAMILIES.iter().find(|f| t.starts_with(*f)) {
            problems.push((
                "type",
                format!("{family}* events are Grace's own and cannot be pushed in"),
            ));
        }
        if self.source.trim().is_empty() {
            problems.push(("source", "must not be empty".to_owned()));
        } else if self.source.len() > SOURCE_LEN_MAX {
            problems.push(("source", format!("longer than {SOURCE_LEN_MAX} bytes")));
        } else if let Some(why) = name_problem(&self.source) {
            problems.push(("source", why));
        }
        if self
            .source
            .starts_with(crate::spec::ALERTMANAGER_SOURCE_PREFIX)
        {
            problems.push((
                "source",
                "alertmanager/… sources are Alertmanager's (POST /integrations/alertmanager)"
                    .to_owned(),
            ));
        }
        if self.title.as_ref().is_some_and(|t| t.len() > TITLE_LEN_MAX) {
            problems.push(("title", format!("longer than {TITLE_LEN_MAX} bytes")));
        }
        problems
    }

    /// The event as Grace records it. Call only when [`problems`](Self::problems) is empty.
    pub fn into_draft(self) -> EventDraft {
        let catalogued = catalog(&self.event_type);
        let kind = self.kind.unwrap_or(match &catalogued {
            EventClass::Problem { .. } => PushedKind::Problem,
            EventClass::Recovery => PushedKind::Recovery,
            EventClass::Info if is_recovery_word(&self.event_type) => PushedKind::Recovery,
            EventClass::Info => PushedKind::Problem,
        });
        let (default_severity, default_title) = match catalogued {
            EventClass::Problem { severity, title } => (severity, title),
            _ => (Severity::Medium, self.event_type.clone()),
        };
        let mut data = Map::new();
        let class = match kind {
            PushedKind::Problem => "problem",
            PushedKind::Recovery => "recovery",
            PushedKind::Info => "info",
        };
        data.insert(CLASS_KEY.to_owned(), json!(class));
        if kind == PushedKind::Problem {
            data.insert(
                "severity".to_owned(),
                json!(self.severity.unwrap_or(default_severity)),
            );
            data.insert(
                "title".to_owned(),
                json!(self.title.unwrap_or(default_title)),
            );
        } else if let Some(title) = self.title {
            data.insert("title".to_owned(), json!(title));
        }
        data.insert("payload".to_owned(), self.payload);
        data.insert("pushed".to_owned(), json!(true));
        EventDraft::new(&self.event_type, Value::Object(data)).source(self.source)
    }
}

fn is_recovery_word(event_type: &str) -> bool {
    let last = event_type.rsplit('.').next().unwrap_or(event_type);
    RECOVERY_WORDS.contains(&last)
}

/// Longest alert name kept in a type; longer ones are cut.
const ALERT_NAME_LEN_MAX: usize = 64;
/// Most labels and annotations one alert may carry, and their longest name and value: they
/// are kept on the event and the incident.
pub const LABELS_MAX: usize = 64;
pub const LABEL_LEN_MAX: usize = 128;
pub const LABEL_VALUE_LEN_MAX: usize = 1_024;

/// One alert of an Alertmanager webhook notification (payload version 4).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    /// Alertmanager's identity of the alert: an incident resolves when every alert it fired
    /// for has resolved.
    pub fingerprint: String,
}

impl Alert {
    /// Every rule the alert breaks, as (field, message).
    pub fn problems(&self, spec: &AlertmanagerSpec) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.status != "firing" && self.status != "resolved" {
            problems.push((
                "status".to_owned(),
                format!("{:?} is neither \"firing\" nor \"resolved\"", self.status),
            ));
        }
        let fingerprint_ok = !self.fingerprint.is_empty()
            && self.fingerprint.len() <= SOURCE_LEN_MAX / 2
            && self.fingerprint.bytes().all(|b| b.is_ascii_alphanumeric());
        if !fingerprint_ok {
            problems.push((
                "fingerprint".to_owned(),
                "must be a short alphanumeric id".to_owned(),
            ));
        }
        for (field, map) in [("labels", &self.labels), ("annotations", &self.annotations)] {
            problems.extend(map_problems(field, map));
        }
        if let Some((label, component)) = spec.component(&self.labels) {
            if component.len() > SOURCE_LEN_MAX {
                let why =
                    format!("names the component, which must be at most {SOURCE_LEN_MAX} bytes");
                problems.push((format!("labels.{label}"), why));
            } else if let Some(why) = name_problem(component) {
                problems.push((
                    format!("labels.{label}"),
                    format!("names the component: {why}"),
                ));
            }
        }
        problems
    }

    /// The component the alert is about: the first of `component_labels` it has, or else the
    /// alert itself (`alertmanager/<fingerprint>`).
    pub fn source(&self, spec: &AlertmanagerSpec) -> String {
        match spec.component(&self.labels) {
            Some((_, component)) => component.trim().to_owned(),
            None => format!(
                "{}{}",
                crate::spec::ALERTMANAGER_SOURCE_PREFIX,
                self.fingerprint
            ),
        }
    }

    /// `alert.<alertname>.firing` or `.resolved`, the name in snake case.
    pub fn event_type(&self) -> String {
        let name = self.labels.get("alertname").map_or("", String::as_str);
        let status = if self.status == "firing" {
            "firing"
        } else {
            "resolved"
        };
        format!("{ALERT_FAMILY_PREFIX}{}.{status}", type_segment(name))
    }

    /// The alert as Grace records it. Call only when [`problems`](Self::problems) is empty.
    pub fn into_draft(self, spec: &AlertmanagerSpec) -> EventDraft {
        let firing = self.status == "firing";
        let source = self.source(spec);
        let event_type = self.event_type();
        let name = self
            .labels
            .get("alertname")
            .cloned()
            .unwrap_or_else(|| "alert".to_owned());
        let title = self
            .annotations
            .get("summary")
            .cloned()
            .unwrap_or_else(|| name.clone());
        let severity = match self.labels.get("severity").map(String::as_str) {
            Some("critical" | "page") => Severity::Critical,
            Some("error" | "high") => Severity::High,
            Some("info" | "low" | "none") => Severity::Low,
            _ => Severity::Medium,
        };
        let data = json!({
            CLASS_KEY: if firing { "problem" } else { "recovery" },
            "severity": severity,
            "title": truncate(&title, TITLE_LEN_MAX),
            "alertname": name,
            "fingerprint": self.fingerprint,
            "labels": self.labels,
            "annotations": self.annotations,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "generator_url": self.generator_url,
        });
        EventDraft::new(&event_type, data).source(source)
    }
}

/// Labels or annotations past their bounds, naming the map.
fn map_problems(field: &str, map: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if map.len() > LABELS_MAX {
        problems.push((field.to_owned(), format!("at most {LABELS_MAX} entries")));
    }
    if let Some((name, _)) = map
        .iter()
        .find(|(name, value)| name.len() > LABEL_LEN_MAX || value.len() > LABEL_VALUE_LEN_MAX)
    {
        let name = truncate(name, LABEL_LEN_MAX);
        let why = format!(
            "names are at most {LABEL_LEN_MAX} bytes and values at most {LABEL_VALUE_LEN_MAX}"
        );
        problems.push((format!("{field}.{name}"), why));
    }
    problems
}

/// An alert name as one segment of a dotted lowercase type: `OrdersDBDown` is `orders_db_down`,
/// `http-5xx` is `http_5xx`; nothing usable is `unnamed`.
fn type_segment(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            out.push('_');
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1);
        let word_starts = c.is_ascii_uppercase()
            && prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if word_starts {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    let words: Vec<&str> = out.split('_').filter(|w| !w.is_empty()).collect();
    let joined = truncate(&words.join("_"), ALERT_NAME_LEN_MAX);
    match joined.trim_end_matches('_') {
        "" => "unnamed".to_owned(),
        segment => segment.to_owned(),
    }
}

fn truncate(text: &str, len_max: usize) -> String {
    let mut end = text.len().min(len_max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::classify;

    fn pushed(event_type: &str) -> PushedEvent {
        PushedEvent {
            event_type: event_type.to_owned(),
            source: "checkout".to_owned(),
            severity: None,
            title: None,
            kind: None,
            payload: Value::Null,
        }
    }

    #[test]
    fn a_pushed_event_says_what_it_is() {
        let draft = pushed("payment.gateway_timeout").into_draft();
        assert!(matches!(
            classify(&draft.event_type, &draft.data),
            EventClass::Problem {
                severity: Severity::Medium,
                ..
            }
        ));
        let draft = pushed("payment.recovered").into_draft();
        assert_eq!(
            classify(&draft.event_type, &draft.data),
            EventClass::Recovery
        );
        // Grace's own catalog still applies to its types pushed from outside.
        let draft = pushed("db.connection_lost").into_draft();
        assert!(matches!(
            classify(&draft.event_type, &draft.data),
            EventClass::Problem {
                severity: Severity::High,
                ..
            }
        ));
        let mut info = pushed("deploy.finished");
        info.kind = Some(PushedKind::Info);
        let draft = info.into_draft();
        assert!(classify(&draft.event_type, &draft.data).is_info());
    }

    #[test]
    fn bad_pushed_events_name_their_fields() {
        let mut event = pushed("Payment Failed");
        event.source = " ".to_owned();
        let fields: Vec<_> = event.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["type", "source"]);
        assert_eq!(pushed("incident.opened").problems()[0].0, "type");
        assert!(pushed("payment.failed").problems().is_empty());
        assert_eq!(
            pushed("alert.orders_db_down.firing").problems()[0].0,
            "type"
        );
        let mut spoof = pushed("payment.failed");
        spoof.source = "orders\u{202e}-db\u{0}\u{200b}".to_owned();
        assert_eq!(spoof.problems()[0].0, "source");
    }

    fn alert(status: &str, labels: &[(&str, &str)]) -> Alert {
        Alert {
            status: status.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            starts_at: None,
            ends_at: None,
            generator_url: None,
            fingerprint: "f00d".to_owned(),
        }
    }

    #[test]
    fn an_alert_is_about_its_component_and_typed_by_its_name() {
        let spec = AlertmanagerSpec::default();
        let firing = alert("firing", &[("alertname", "OrdersDBDown"), ("job", "pg")]);
        let draft = firing.clone().into_draft(&spec);
        assert_eq!(draft.event_type, "alert.orders_db_down.firing");
        assert_eq!(draft.source.as_deref(), Some("pg"));
        let resolved = alert("resolved", &[("alertname", "OrdersDBDown"), ("job", "pg")]);
        assert_eq!(
            crate::event::family(&resolved.event_type()),
            crate::event::family(&draft.event_type)
        );
        assert_eq!(
            classify(&resolved.event_type(), &resolved.into_draft(&spec).data),
            EventClass::Recovery
        );
        assert_eq!(alert("firing", &[]).source(&spec), "alertmanager/f00d");
        assert_eq!(alert("firing", &[]).event_type(), "alert.unnamed.firing");
        for (name, segment) in [
            ("InstanceDown", "instance_down"),
            ("HTTPErrors5xx", "http_errors5xx"),
            ("http-5xx rate", "http_5xx_rate"),
            ("KubePodCrashLooping", "kube_pod_crash_looping"),
            ("__", "unnamed"),
        ] {
            assert_eq!(type_segment(name), segment, "{name}");
        }
    }

    #[test]
    fn an_alert_past_its_bounds_names_the_label() {
        let spec = AlertmanagerSpec::default();
        let long = "x".repeat(SOURCE_LEN_MAX + 1);
        let fields: Vec<String> = alert("firing", &[("service", &long)])
            .problems(&spec)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(fields, ["labels.service"]);
        let huge = "v".repeat(LABEL_VALUE_LEN_MAX + 1);
        let fields: Vec<String> = alert("burning", &[("team", &huge)])
            .problems(&spec)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(fields, ["status", "labels.team"]);
        let spoof = alert("firing", &[("service", "orders\u{202e}-db")]);
        let fields: Vec<String> = spoof.problems(&spec).into_iter().map(|p| p.0).collect();
        assert_eq!(fields, ["labels.service"]);
    }
}

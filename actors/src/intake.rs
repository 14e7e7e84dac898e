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

/// Longest accepted event type, source and title, in bytes: they are keys and labels, not
/// documents (a payload carries the details).
pub const TYPE_LEN_MAX: usize = 128;
pub const SOURCE_LEN_MAX: usize = 128;
pub const TITLE_LEN_MAX: usize = 256;

/// Type prefixes only Grace publishes: accepting them from outside would let a client forge
/// incident or playbook history.
const RESERVED_FAMILIES: [&str; 10] = [
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

/// Event types an Alertmanager alert becomes. Both belong to the `alert` family, so a resolved
/// alert resolves its firing incident.
pub const ALERT_FIRING: &str = "alert.firing";
pub const ALERT_RESOLVED: &str = "alert.resolved";

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
    /// Alertmanager's identity of the alert: the incident is keyed by it.
    pub fingerprint: String,
}

impl Alert {
    /// Every rule the alert breaks, as (field, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.status != "firing" && self.status != "resolved" {
            problems.push((
                "status",
                format!("{:?} is neither \"firing\" nor \"resolved\"", self.status),
            ));
        }
        let fingerprint_ok = !self.fingerprint.is_empty()
            && self.fingerprint.len() <= SOURCE_LEN_MAX / 2
            && self.fingerprint.bytes().all(|b| b.is_ascii_alphanumeric());
        if !fingerprint_ok {
            problems.push(("fingerprint", "must be a short alphanumeric id".to_owned()));
        }
        problems
    }

    /// The source an alert's incident is keyed by: one incident per fingerprint.
    pub fn source(&self) -> String {
        format!(
            "{}{}",
            crate::spec::ALERTMANAGER_SOURCE_PREFIX,
            self.fingerprint
        )
    }

    /// The alert as Grace records it. Call only when [`problems`](Self::problems) is empty.
    pub fn into_draft(self) -> EventDraft {
        let firing = self.status == "firing";
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
        let source = self.source();
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
        let event_type = if firing { ALERT_FIRING } else { ALERT_RESOLVED };
        EventDraft::new(event_type, data).source(source)
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
    }
}

//! Typed events with dotted types (`db.connection_lost`), the patterns that subscribe to them
//! (`db.*`), and the catalog that says which types are problems and which are recoveries.
//!
//! An [`EventDraft`] becomes an [`Event`] when the store actor gives it its `seq` and persists
//! it; only persisted events are ever pushed to subscribers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Severity;
use crate::time::micros;

/// Event types Grace itself publishes. Monitors add their own problem/recovery types.
pub mod types {
    pub const DB_CONNECTION_LOST: &str = "db.connection_lost";
    pub const DB_CONNECTION_RESTORED: &str = "db.connection_restored";
    /// The database answered with a TLS certificate the probe does not trust.
    pub const DB_TLS_REJECTED: &str = "db.tls_rejected";
    /// The database refused Grace's login (a missing or wrong password, an unknown user, a
    /// host its rules turn away): a configuration problem, not an outage.
    pub const DB_AUTH_FAILED: &str = "db.auth_failed";
    /// Redis refused Grace's `AUTH`, or wants one Grace did not send.
    pub const REDIS_AUTH_FAILED: &str = "redis.auth_failed";
    /// Redis answered with a TLS certificate the probe does not trust.
    pub const REDIS_TLS_REJECTED: &str = "redis.tls_rejected";
    pub const TCP_UNREACHABLE: &str = "tcp.unreachable";
    pub const TCP_RESTORED: &str = "tcp.restored";
    pub const API_UNAVAILABLE: &str = "api.unavailable";
    pub const API_ERROR: &str = "api.error";
    pub const API_DEGRADED: &str = "api.degraded";
    pub const API_RATE_LIMIT_EXCEEDED: &str = "api.rate_limit_exceeded";
    pub const API_RESTORED: &str = "api.restored";
    pub const REDIS_UNAVAILABLE: &str = "redis.unavailable";
    pub const REDIS_RESTORED: &str = "redis.restored";
    pub const CHECK_WARNING: &str = "check.warning";
    pub const CHECK_CRITICAL: &str = "check.critical";
    pub const CHECK_UNKNOWN: &str = "check.unknown";
    pub const CHECK_OK: &str = "check.ok";
    pub const HEARTBEAT_MISSED: &str = "heartbeat.missed";
    pub const HEARTBEAT_RESTORED: &str = "heartbeat.restored";
    pub const LOGFILE_MISSING: &str = "logfile.missing";
    pub const LOGFILE_RESTORED: &str = "logfile.restored";
    pub const PROCESS_EXITED: &str = "process.exited";
    pub const PROCESS_NOT_ANSWERING: &str = "process.not_answering";
    pub const PROCESS_RESTORED: &str = "process.restored";
    pub const INCIDENT_OPENED: &str = "incident.opened";
    pub const INCIDENT_UPDATED: &str = "incident.updated";
    pub const INCIDENT_RESOLVED: &str = "incident.resolved";
    pub const INCIDENT_ESCALATED: &str = "incident.escalated";
    /// A healed incident's failure came back within `incidents.reopen_window_ms`.
    pub const INCIDENT_REOPENED: &str = "incident.reopened";
    /// A person silenced (or ended a silence of) what some matchers cover.
    pub const SILENCE_CREATED: &str = "silence.created";
    pub const SILENCE_EXPIRED: &str = "silence.expired";
    pub const PLAYBOOK_STARTED: &str = "playbook.started";
    pub const PLAYBOOK_STEP: &str = "playbook.step";
    pub const PLAYBOOK_FINISHED: &str = "playbook.finished";
    /// A playbook that matched did not run by itself: cooldown or open circuit breaker.
    pub const PLAYBOOK_HELD: &str = "playbook.held";
    /// A run Grace stopped in the middle of goes on from the step it was in.
    pub const PLAYBOOK_RESUMED: &str = "playbook.resumed";
    pub const AGENT_SPAWNED: &str = "agent.spawned";
    pub const AGENT_FINISHED: &str = "agent.finished";
    pub const ACTOR_RESTARTED: &str = "actor.restarted";
    pub const TRUST_CHANGED: &str = "trust.changed";
    pub const CONFIG_RELOADED: &str = "config.reloaded";
    /// People paused, resumed or silenced a monitor.
    pub const MONITOR_CONTROLLED: &str = "monitor.controlled";
    /// A monitored component keeps going up and down (its flap window), and is steady again.
    pub const MONITOR_FLAPPING: &str = "monitor.flapping";
    pub const MONITOR_STEADY: &str = "monitor.steady";
    pub const WEBHOOK_DELIVERED: &str = "webhook.delivered";
    pub const PIPELINE_STARTED: &str = "pipeline.started";
    pub const PIPELINE_FINISHED: &str = "pipeline.finished";
    /// A `notify` step's message, queued for the webhooks.
    pub const NOTIFICATION_SENT: &str = "notification.sent";
    /// A route told people about an incident (its deliveries are queued with it).
    pub const INCIDENT_NOTIFIED: &str = "incident.notified";
    /// A person left a note on an incident.
    pub const INCIDENT_NOTE: &str = "incident.note";
    /// A person assigned, commented on, closed or reopened a work order.
    pub const WORK_ORDER_UPDATED: &str = "work_order.updated";
    /// The store takes writes again after failing them (a full disk): since when, why.
    pub const STORE_RECOVERED: &str = "store.recovered";

    /// Every type above, in the order above (the catalog lists them).
    pub const ALL: [&str; 54] = [
        DB_CONNECTION_LOST,
        DB_CONNECTION_RESTORED,
        DB_TLS_REJECTED,
        DB_AUTH_FAILED,
        REDIS_TLS_REJECTED,
        REDIS_AUTH_FAILED,
        TCP_UNREACHABLE,
        TCP_RESTORED,
        API_UNAVAILABLE,
        API_ERROR,
        API_DEGRADED,
        API_RATE_LIMIT_EXCEEDED,
        API_RESTORED,
        REDIS_UNAVAILABLE,
        REDIS_RESTORED,
        CHECK_WARNING,
        CHECK_CRITICAL,
        CHECK_UNKNOWN,
        CHECK_OK,
        HEARTBEAT_MISSED,
        HEARTBEAT_RESTORED,
        LOGFILE_MISSING,
        LOGFILE_RESTORED,
        PROCESS_EXITED,
        PROCESS_NOT_ANSWERING,
        PROCESS_RESTORED,
        MONITOR_FLAPPING,
        MONITOR_STEADY,
        INCIDENT_OPENED,
        INCIDENT_UPDATED,
        INCIDENT_RESOLVED,
        INCIDENT_ESCALATED,
        INCIDENT_REOPENED,
        SILENCE_CREATED,
        SILENCE_EXPIRED,
        PLAYBOOK_STARTED,
        PLAYBOOK_STEP,
        PLAYBOOK_FINISHED,
        PLAYBOOK_HELD,
        PLAYBOOK_RESUMED,
        AGENT_SPAWNED,
        AGENT_FINISHED,
        ACTOR_RESTARTED,
        TRUST_CHANGED,
        CONFIG_RELOADED,
        MONITOR_CONTROLLED,
        WEBHOOK_DELIVERED,
        PIPELINE_STARTED,
        PIPELINE_FINISHED,
        NOTIFICATION_SENT,
        INCIDENT_NOTIFIED,
        INCIDENT_NOTE,
        WORK_ORDER_UPDATED,
        STORE_RECOVERED,
    ];
}

/// A persisted event: what every subscriber and WebSocket client receives.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// Position in the event log; strictly increasing, never reused.
    pub seq: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(with = "micros")]
    pub at: DateTime<Utc>,
    /// The component or actor the event is about (a monitor id, an actor name).
    pub source: Option<String>,
    /// The incident the event belongs to, once there is one.
    pub incident_id: Option<u64>,
    pub data: Value,
}

/// An event before it is sequenced and persisted.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    pub event_type: String,
    pub source: Option<String>,
    pub incident_id: Option<u64>,
    pub data: Value,
}

impl EventDraft {
    pub fn new(event_type: &str, data: Value) -> Self {
        Self {
            event_type: event_type.to_owned(),
            source: None,
            incident_id: None,
            data,
        }
    }

    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn incident(mut self, incident_id: u64) -> Self {
        self.incident_id = Some(incident_id);
        self
    }

    /// Gives the draft its place in the log.
    pub fn sequenced(self, seq: u64, at: DateTime<Utc>) -> Event {
        Event {
            seq,
            event_type: self.event_type,
            at,
            source: self.source,
            incident_id: self.incident_id,
            data: self.data,
        }
    }
}

/// What an event means to the incident manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventClass {
    /// Something is wrong with `source`: open or bump an incident.
    Problem { severity: Severity, title: String },
    /// `source` is healthy again: resolve its incidents of the same family.
    Recovery,
    /// Bookkeeping (incident.*, playbook.*, ...): no incident of its own.
    Info,
}

impl EventClass {
    pub fn is_info(&self) -> bool {
        matches!(self, EventClass::Info)
    }
}

/// Where an event that was pushed in (`POST /events`, Alertmanager) says what it is. Events
/// Grace's monitors publish carry no such key and are looked up in the catalog instead.
pub const CLASS_KEY: &str = "class";

/// What an event means: what it says of itself when it was pushed in, else the catalog.
pub fn classify(event_type: &str, data: &Value) -> EventClass {
    match data.get(CLASS_KEY).and_then(Value::as_str) {
        Some("problem") => EventClass::Problem {
            severity: data
                .get("severity")
                .and_then(|s| serde_json::from_value(s.clone()).ok())
                .unwrap_or(Severity::Medium),
            title: data
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or(event_type)
                .to_owned(),
        },
        Some("recovery") => EventClass::Recovery,
        _ => match catalog(event_type) {
            // A login failure is titled by what the probe said: the reason and the fix.
            EventClass::Problem { severity, title } if is_login_failure(event_type) => {
                let said = data.get("error").and_then(Value::as_str);
                EventClass::Problem {
                    severity,
                    title: said.map_or(title, |error| cut(error, SAID_TITLE_BYTES_MAX)),
                }
            }
            class => class,
        },
    }
}

/// Longest part of a title taken from what a probe said.
const SAID_TITLE_BYTES_MAX: usize = 400;

/// Whether `event_type` is a login Grace could not make: a configuration problem no restart
/// fixes, announced as its own kind so no outage playbook runs for it and it is never taken for
/// a relapse of an outage.
pub fn is_login_failure(event_type: &str) -> bool {
    matches!(event_type, types::DB_AUTH_FAILED | types::REDIS_AUTH_FAILED)
}

/// Whether `event_type` says the server refused Grace (its login, its certificate) rather
/// than failed: a configuration problem of Grace's, not an outage of theirs.
pub fn refuses_grace(event_type: &str) -> bool {
    is_login_failure(event_type) || event_type.ends_with(".tls_rejected")
}

/// What an incident is called: its problem's title and the component ("Redis unavailable:
/// cache"). A login failure says who cannot log in where, then why and what to do: "Grace
/// cannot log in to cache: NOAUTH Authentication required. — give it …".
pub fn incident_title(event_type: &str, title: &str, source: &str) -> String {
    if !is_login_failure(event_type) {
        return format!("{title}: {source}");
    }
    let lead = format!("Grace cannot log in to {source}: ");
    match title.starts_with(&lead) {
        true => title.to_owned(), // already whole (a symptom that becomes an incident again)
        false => format!("{lead}{title}"),
    }
}

/// `text` cut to at most `bytes_max` bytes at a character boundary, with `…` when cut.
fn cut(text: &str, bytes_max: usize) -> String {
    if text.len() <= bytes_max {
        return text.to_owned();
    }
    let mut end = bytes_max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The catalog of the problem and recovery types Grace's own monitors publish.
pub fn catalog(event_type: &str) -> EventClass {
    let problem = |severity, title: &str| EventClass::Problem {
        severity,
        title: title.to_owned(),
    };
    match event_type {
        types::DB_CONNECTION_LOST => problem(Severity::High, "Database connection lost"),
        types::TCP_UNREACHABLE => problem(Severity::High, "TCP service unreachable"),
        types::API_UNAVAILABLE => problem(Severity::High, "API unavailable"),
        types::API_ERROR => problem(Severity::High, "API errors"),
        types::API_DEGRADED => problem(Severity::Medium, "API slow"),
        types::API_RATE_LIMIT_EXCEEDED => problem(Severity::Medium, "API rate limit exceeded"),
        types::REDIS_UNAVAILABLE => problem(Severity::High, "Redis unavailable"),
        types::DB_TLS_REJECTED => problem(Severity::High, "Database TLS certificate rejected"),
        types::REDIS_TLS_REJECTED => problem(Severity::High, "Redis TLS certificate rejected"),
        types::DB_AUTH_FAILED => problem(Severity::High, "Database login refused"),
        types::REDIS_AUTH_FAILED => problem(Severity::High, "Redis login refused"),
        types::CHECK_WARNING => problem(Severity::Medium, "Check warning"),
        types::CHECK_CRITICAL => problem(Severity::High, "Check critical"),
        types::CHECK_UNKNOWN => problem(Severity::Low, "Check unknown"),
        types::HEARTBEAT_MISSED => problem(Severity::Medium, "Heartbeat missed"),
        types::LOGFILE_MISSING => problem(Severity::Low, "Log file missing"),
        types::PROCESS_EXITED => problem(Severity::High, "Process exited"),
        types::PROCESS_NOT_ANSWERING => problem(Severity::High, "Process not answering"),
        types::MONITOR_FLAPPING => problem(Severity::Medium, "Flapping"),
        types::DB_CONNECTION_RESTORED
        | types::TCP_RESTORED
        | types::REDIS_RESTORED
        | types::API_RESTORED
        | types::CHECK_OK
        | types::HEARTBEAT_RESTORED
        | types::LOGFILE_RESTORED
        | types::PROCESS_RESTORED
        | types::MONITOR_STEADY => EventClass::Recovery,
        _ => EventClass::Info,
    }
}

/// The family of a type: everything before the last dot (`db` for `db.connection_lost`). A
/// recovery resolves the incidents of its own family on the same source.
pub fn family(event_type: &str) -> &str {
    event_type
        .rsplit_once('.')
        .map_or(event_type, |(family, _)| family)
}

/// A subscription pattern: an exact type, `prefix.*` for a whole family and its descendants,
/// or `*` for everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn new(pattern: impl Into<String>) -> Self {
        Self(pattern.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, event_type: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some("") => true,
            Some(prefix) => event_type.starts_with(prefix),
            None => self.0 == event_type,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_family_and_all() {
        assert!(Pattern::new("db.*").matches("db.connection_lost"));
        assert!(!Pattern::new("db.*").matches("dbx.connection_lost"));
        assert!(!Pattern::new("db.*").matches("incident.opened"));
        assert!(Pattern::new("*").matches("incident.opened"));
        assert!(Pattern::new("incident.opened").matches("incident.opened"));
        assert!(!Pattern::new("incident.opened").matches("incident.opened2"));
    }

    #[test]
    fn catalog_knows_db_problems_and_recoveries() {
        let none = Value::Null;
        assert!(matches!(
            classify(types::DB_CONNECTION_LOST, &none),
            EventClass::Problem { .. }
        ));
        assert_eq!(
            classify(types::DB_CONNECTION_RESTORED, &none),
            EventClass::Recovery
        );
        assert_eq!(classify(types::INCIDENT_OPENED, &none), EventClass::Info);
        assert_eq!(family(types::DB_CONNECTION_RESTORED), "db");
    }

    #[test]
    fn a_login_failure_is_titled_by_its_reason_and_fix_and_names_who_cannot_log_in_where() {
        let said = serde_json::json!({ "error": "password missing — put it in password_file" });
        let EventClass::Problem { severity, title } = classify(types::DB_AUTH_FAILED, &said) else {
            panic!("a login failure is a problem");
        };
        assert_eq!(severity, Severity::High);
        let whole = incident_title(types::DB_AUTH_FAILED, &title, "pg15-main");
        assert_eq!(
            whole,
            "Grace cannot log in to pg15-main: password missing — put it in password_file"
        );
        assert_eq!(
            incident_title(types::DB_AUTH_FAILED, &whole, "pg15-main"),
            whole
        );
        let EventClass::Problem { title, .. } = classify(types::REDIS_AUTH_FAILED, &Value::Null)
        else {
            panic!("a login failure is a problem");
        };
        assert_eq!(
            incident_title(types::REDIS_AUTH_FAILED, &title, "cache"),
            "Grace cannot log in to cache: Redis login refused"
        );
        let long = serde_json::json!({ "error": "é".repeat(400) });
        let EventClass::Problem { title, .. } = classify(types::DB_AUTH_FAILED, &long) else {
            panic!("a login failure is a problem");
        };
        assert!(title.len() <= SAID_TITLE_BYTES_MAX + "…".len(), "{title}");
        // Other problems keep the catalog's words and the component after them.
        assert_eq!(
            incident_title(types::DB_CONNECTION_LOST, "Database connection lost", "db"),
            "Database connection lost: db"
        );
        assert!(!is_login_failure(types::DB_CONNECTION_LOST));
    }
}

//! The one catalog of event types: what each type Grace publishes means (a problem, with its
//! severity and title; a recovery; or bookkeeping), the words people see for each family of
//! problems, and the last words that make a pushed event a recovery. The incident manager
//! classifies by it (`event::catalog`), intake reads its recovery words, and the dashboard
//! fetches it (`GET /catalog`) rather than keeping a copy.

use serde::Serialize;
use utoipa::ToSchema;

use crate::event::{catalog, types, EventClass};
use crate::model::Severity;

/// A pushed event whose type ends in one of these (`payment.recovered`) is a recovery.
pub const RECOVERY_WORDS: [&str; 6] = ["restored", "recovered", "resolved", "ok", "up", "healthy"];

/// How people are told about a family of problems: "Database hiccup — orders-db lost
/// connection", and once healed, "Database reconnected". The first family whose prefix an
/// event type starts with (or equals) applies.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Family {
    pub prefix: &'static str,
    pub name: &'static str,
    pub verb: &'static str,
    /// What a heal of it is called: "Database reconnected".
    pub healed: &'static str,
}

const fn family(
    prefix: &'static str,
    name: &'static str,
    verb: &'static str,
    healed: &'static str,
) -> Family {
    Family {
        prefix,
        name,
        verb,
        healed,
    }
}

/// The families, most specific first.
pub const FAMILIES: [Family; 13] = [
    family(
        "api.rate_limit_exceeded",
        "Rate limited",
        "asked us to slow down",
        "Rate limit waited out",
    ),
    // Before "db." and "redis.": a refused login is not a lost connection.
    family(
        "db.auth_failed",
        "Cannot log in",
        "refuses Grace's login",
        "Logging in again",
    ),
    family(
        "redis.auth_failed",
        "Cannot log in",
        "refuses Grace's login",
        "Logging in again",
    ),
    family(
        "db.",
        "Database hiccup",
        "lost connection",
        "Database reconnected",
    ),
    family(
        "api.",
        "API trouble",
        "is not answering well",
        "API answering again",
    ),
    family(
        "tcp.",
        "Service unreachable",
        "stopped answering",
        "Service reachable again",
    ),
    family("redis.", "Cache trouble", "stopped answering", "Cache back"),
    family(
        "check.",
        "Health check failing",
        "failed its check",
        "Health check passing again",
    ),
    family(
        "heartbeat.",
        "Missed check-in",
        "went quiet",
        "Checking in again",
    ),
    family(
        "logfile.",
        "Log file missing",
        "lost its log file",
        "Log file back",
    ),
    family(
        "log.",
        "Errors in the logs",
        "logged errors",
        "Log errors handled",
    ),
    family(
        "process.",
        "Process stopped",
        "stopped",
        "Process running again",
    ),
    family(
        "monitor.flapping",
        "Flapping",
        "keeps going up and down",
        "Steady again",
    ),
];

/// What one event type means.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct EventEntry {
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// `problem`, `recovery` or `info`.
    pub class: &'static str,
    /// For a problem: how bad, and the incident's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// The whole catalog, as `GET /catalog` sends it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Catalog {
    pub events: Vec<EventEntry>,
    pub families: Vec<Family>,
    pub recovery_words: Vec<&'static str>,
}

/// The catalog of every type Grace publishes itself.
pub fn whole() -> Catalog {
    let events = types::ALL
        .iter()
        .map(|event_type| match catalog(event_type) {
            EventClass::Problem { severity, title } => EventEntry {
                event_type,
                class: "problem",
                severity: Some(severity),
                title: Some(title),
            },
            EventClass::Recovery => entry(event_type, "recovery"),
            EventClass::Info => entry(event_type, "info"),
        })
        .collect();
    Catalog {
        events,
        families: FAMILIES.to_vec(),
        recovery_words: RECOVERY_WORDS.to_vec(),
    }
}

fn entry(event_type: &'static str, class: &'static str) -> EventEntry {
    EventEntry {
        event_type,
        class,
        severity: None,
        title: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_a_monitor_publishes_has_words_for_people_and_is_listed_once() {
        let whole = whole();
        let problems: Vec<&EventEntry> = whole
            .events
            .iter()
            .filter(|e| e.class == "problem")
            .collect();
        assert!(problems.len() >= 15, "{problems:?}");
        let family_of = |t: &str| {
            FAMILIES
                .iter()
                .find(|f| t == f.prefix || t.starts_with(f.prefix))
        };
        for problem in &problems {
            assert!(
                family_of(problem.event_type).is_some(),
                "{} has no family",
                problem.event_type
            );
        }
        let mut seen = std::collections::HashSet::new();
        assert!(
            whole.events.iter().all(|e| seen.insert(e.event_type)),
            "a type listed twice"
        );
    }

    #[test]
    fn a_refused_login_has_words_of_its_own_not_a_lost_connections() {
        for event_type in [types::DB_AUTH_FAILED, types::REDIS_AUTH_FAILED] {
            let words = FAMILIES
                .iter()
                .find(|f| event_type == f.prefix || event_type.starts_with(f.prefix))
                .unwrap();
            assert_eq!(words.name, "Cannot log in", "{event_type}");
            let entry = whole()
                .events
                .into_iter()
                .find(|e| e.event_type == event_type)
                .unwrap();
            assert_eq!(
                (entry.class, entry.severity),
                ("problem", Some(Severity::High))
            );
        }
    }
}

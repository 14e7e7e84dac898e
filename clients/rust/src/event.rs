//! What an app reports: one event of `POST /events`, and the three types `monitored` uses.

use serde::Serialize;
use serde_json::Value;

/// A call to a dependency failed (the future's `Err`).
pub const FAILED: &str = "dependency.failed";
/// A call took longer than its `slow` threshold.
pub const SLOW: &str = "dependency.slow";
/// The first good call after a failed or slow one: it resolves the incident (same family).
pub const RECOVERED: &str = "dependency.recovered";

/// What an event says it is (`kind` in `POST /events`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Problem,
    Recovery,
    Info,
}

/// One event for `POST /events`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    /// Dotted lowercase: `payment.gateway_timeout`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The component it is about; Grace deduplicates incidents per source and type.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// `low`, `medium`, `high` or `critical`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub payload: Value,
}

impl Event {
    /// An event of `event_type` about `source`, its kind left to Grace.
    pub fn new(event_type: impl Into<String>, source: impl Into<String>) -> Self {
        Self {
            event_type: event_type.into(),
            source: source.into(),
            kind: None,
            severity: None,
            title: None,
            payload: Value::Null,
        }
    }

    pub fn kind(mut self, kind: Kind) -> Self {
        self.kind = Some(kind);
        self
    }

    pub fn severity(mut self, severity: impl Into<String>) -> Self {
        self.severity = Some(severity.into());
        self
    }

    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_the_json_post_events_takes() {
        let event = Event::new(FAILED, "shop/orders-db")
            .kind(Kind::Problem)
            .severity("high");
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({
                "type": "dependency.failed", "source": "shop/orders-db",
                "kind": "problem", "severity": "high",
            })
        );
    }
}

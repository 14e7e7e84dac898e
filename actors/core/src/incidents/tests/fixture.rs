//! What the unit tests of the book's state types (`active_set.rs`, `recently_healed.rs`) build
//! on: an incident made directly, without the book's rules.

use crate::model::{Incident, IncidentStatus, Severity};

/// An open incident `id` of `event_type` on `source`, as the state types' unit tests need one.
pub(in crate::incidents) fn incident_on(id: u64, source: &str, event_type: &str) -> Incident {
    Incident {
        id,
        event_type: event_type.to_owned(),
        severity: Severity::High,
        title: format!("{event_type} on {source}"),
        source: source.to_owned(),
        status: IncidentStatus::Open,
        detected_at: chrono::DateTime::UNIX_EPOCH,
        acknowledged_at: None,
        resolved_at: None,
        resolution_time_seconds: None,
        occurrences: 1,
        trust: 1.0,
        resolved_by: None,
        active_run_id: None,
        work_order_id: None,
        recovery_seen: false,
        awaiting_alert: false,
        silenced: false,
        event_seqs: vec![1],
        symptoms: Vec::new(),
        suggestions: Vec::new(),
        labels: Default::default(),
        alerts_firing: Vec::new(),
        superseded_by: None,
        relapses: 0,
        reopened_at: None,
        maintenance: None,
    }
}

//! The run book's rules, one test each, read as its specification: which playbook an incident
//! gets (`selection`), the sub-agent slots and their queue (`queue`), a run's life (`runs`) and
//! what goes to people (`escalation`). No store, no actors: each decision's [`Changes`] is
//! looked at as the actor would commit it.

mod escalation;
mod queue;
mod runs;
mod selection;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::book::RunBook;
use super::changes::{Changes, Effect, Handover};
use crate::model::{Incident, IncidentStatus, RunId, Severity};
use crate::spec::{MonitorSpec, PlaybookSpec, TreeSpec};

/// A playbook healing `db.*` on any component, with one command step and a verify.
fn playbook(id: &str) -> PlaybookSpec {
    serde_json::from_value(json!({
        "id": id, "on": ["db.*"], "sources": ["monitors", "pushed"],
        "steps": [{ "kind": "command", "argv": ["true"] }, { "kind": "verify" }],
    }))
    .unwrap()
}

/// A config with `playbooks`, a watched monitor `orders-db`, two sub-agent slots and a queue
/// of two.
fn spec(playbooks: Vec<PlaybookSpec>) -> TreeSpec {
    let monitor: MonitorSpec = serde_json::from_value(json!({
        "id": "orders-db", "kind": "tcp", "address": "127.0.0.1:1",
    }))
    .unwrap();
    let mut spec = TreeSpec {
        playbooks,
        monitors: vec![monitor],
        ..TreeSpec::default()
    };
    spec.limits.agents_max = 2;
    spec.limits.agents_queue_max = 2;
    spec.incidents.relapses_max = 3;
    spec.incidents.relapse_backoff_ms = 1_000;
    spec.incidents.relapse_backoff_max_ms = 300_000;
    spec
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000) + Duration::milliseconds(ms)
}

/// An open incident `id` of `event_type` on `source`, detected at 0.
fn incident_on(id: u64, source: &str, event_type: &str) -> Incident {
    Incident {
        id,
        event_type: event_type.to_owned(),
        severity: Severity::High,
        title: format!("{event_type} on {source}"),
        source: source.to_owned(),
        status: IncidentStatus::Open,
        detected_at: at(0),
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

/// An open `db.down` incident `id` on a component of its own.
fn incident(id: u64) -> Incident {
    incident_on(id, &format!("db-{id}"), "db.down")
}

/// What `trigger` decided for `incident`.
fn trigger(book: &mut RunBook, spec: &TreeSpec, incident: Incident) -> Changes {
    let mut out = Changes::default();
    book.trigger(incident, spec, at(0), &mut out);
    out
}

/// The run a decision started, if any.
fn started(out: &Changes) -> Option<RunId> {
    out.effects.iter().find_map(|effect| match effect {
        Effect::Spawn(spawn) => Some(spawn.run_id.clone()),
        _ => None,
    })
}

/// The event types a decision announces, in order.
fn announced(out: &Changes) -> Vec<String> {
    out.drafts.iter().map(|d| d.event_type.clone()).collect()
}

fn handover(out: &Changes) -> Option<Handover> {
    out.handover.clone()
}

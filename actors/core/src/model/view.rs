//! The one wire shape of an incident: the REST API answers with it and the events that
//! announce an incident (`incident.opened`, `incident.updated`, …) carry it, so a client reads
//! an incident the same way from either. It leaves out what only the incident manager needs
//! (the seqs of the events it came from, whether a recovery was seen).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    Incident, IncidentStatus, ResolvedBy, Severity, Suggestion, SuggestionStatus, Symptom,
};
use super::{RunId, WorkOrderId};
use crate::time::{micros, micros_opt};

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentView {
    pub id: u64,
    pub event_type: String,
    pub severity: Severity,
    pub source: String,
    pub title: String,
    pub status: IncidentStatus,
    #[serde(with = "micros")]
    pub detected_at: DateTime<Utc>,
    #[serde(with = "micros_opt")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(with = "micros_opt")]
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_time_seconds: Option<f64>,
    pub occurrences: u64,
    pub trust: f64,
    pub resolved_by: Option<ResolvedBy>,
    pub active_run_id: Option<RunId>,
    pub work_order_id: Option<WorkOrderId>,
    pub silenced: bool,
    /// Failures of dependent components attached to this incident.
    pub symptoms: Vec<SymptomView>,
    /// Playbooks offered to people (below their `auto_run_min_trust`).
    pub suggestions: Vec<SuggestionView>,
    /// The labels of the Alertmanager alert that opened it; empty for other incidents.
    pub labels: BTreeMap<String, String>,
    /// How many Alertmanager alerts are still firing into it.
    pub alerts_firing: usize,
    /// A playbook's run succeeded while its alerts still fired: it resolves when they do.
    pub awaiting_alert: bool,
    /// The incident it became a symptom of, when it ended as `superseded`.
    pub superseded_by: Option<u64>,
    /// How many times it came back soon after it was healed, and when it last did.
    pub relapses: u32,
    #[serde(with = "micros_opt")]
    pub reopened_at: Option<DateTime<Utc>>,
    /// The maintenance window or silence it opened in: no playbook runs for it.
    pub maintenance: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionView {
    /// `s1`, `s2`, … within the incident.
    pub suggestion_id: String,
    pub playbook_id: String,
    pub playbook_name: String,
    pub trust: f64,
    pub auto_run_min_trust: f64,
    /// `pending`, `approved` (its run was started) or `dismissed`.
    pub status: SuggestionStatus,
    #[serde(with = "micros")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "micros_opt")]
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<&Suggestion> for SuggestionView {
    fn from(suggestion: &Suggestion) -> Self {
        Self {
            suggestion_id: suggestion.suggestion_id.clone(),
            playbook_id: suggestion.playbook_id.clone(),
            playbook_name: suggestion.playbook_name.clone(),
            trust: suggestion.trust,
            auto_run_min_trust: suggestion.auto_run_min_trust,
            status: suggestion.status,
            created_at: suggestion.created_at,
            decided_at: suggestion.decided_at,
        }
    }
}

/// A dependent component's failure, attached to the incident of what it depends on.
#[derive(Debug, Serialize, ToSchema)]
pub struct SymptomView {
    pub source: String,
    pub event_type: String,
    pub severity: Severity,
    pub title: String,
    #[serde(with = "micros")]
    pub at: DateTime<Utc>,
    pub seq: u64,
    /// When it was seen to end while attached (an alert that resolved).
    #[serde(with = "micros_opt")]
    pub ended_at: Option<DateTime<Utc>>,
}

impl From<&Symptom> for SymptomView {
    fn from(symptom: &Symptom) -> Self {
        Self {
            source: symptom.source.clone(),
            event_type: symptom.event_type.clone(),
            severity: symptom.severity,
            title: symptom.title.clone(),
            at: symptom.at,
            seq: symptom.seq,
            ended_at: symptom.ended_at,
        }
    }
}

impl From<&Incident> for IncidentView {
    fn from(incident: &Incident) -> Self {
        Self {
            id: incident.id,
            event_type: incident.event_type.clone(),
            severity: incident.severity,
            source: incident.source.clone(),
            title: incident.title.clone(),
            status: incident.status,
            detected_at: incident.detected_at,
            acknowledged_at: incident.acknowledged_at,
            resolved_at: incident.resolved_at,
            resolution_time_seconds: incident.resolution_time_seconds,
            occurrences: incident.occurrences,
            trust: incident.trust,
            resolved_by: incident.resolved_by,
            active_run_id: incident.active_run_id.clone(),
            work_order_id: incident.work_order_id.clone(),
            silenced: incident.silenced,
            symptoms: incident.symptoms.iter().map(SymptomView::from).collect(),
            suggestions: incident
                .suggestions
                .iter()
                .map(SuggestionView::from)
                .collect(),
            labels: incident.labels.clone(),
            alerts_firing: incident.alerts_firing.len(),
            awaiting_alert: incident.awaiting_alert,
            superseded_by: incident.superseded_by,
            relapses: incident.relapses,
            reopened_at: incident.reopened_at,
            maintenance: incident.maintenance.clone(),
        }
    }
}

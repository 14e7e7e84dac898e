//! An incident, its status and severity, the symptoms folded into it and the suggestions on it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{RunId, WorkOrderId};
use crate::time::{micros, micros_opt};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Open,
    Acknowledged,
    Mitigating,
    Resolved,
    Escalated,
}

impl IncidentStatus {
    /// Every status but `resolved` is active: it deduplicates repeats and can still be resolved.
    pub fn is_active(self) -> bool {
        self != IncidentStatus::Resolved
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Mitigating => "mitigating",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Escalated => "escalated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Open,
            Self::Acknowledged,
            Self::Mitigating,
            Self::Resolved,
            Self::Escalated,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// One deduplicated failure of one component: repeats of the same event type on the same
/// source while it is active only bump `occurrences`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Incident {
    pub id: u64,
    pub event_type: String,
    pub severity: Severity,
    /// The component (monitor id) the incident is about.
    pub source: String,
    pub title: String,
    pub status: IncidentStatus,
    #[serde(with = "micros")]
    pub detected_at: DateTime<Utc>,
    #[serde(default, with = "micros_opt")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default, with = "micros_opt")]
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_time_seconds: Option<f64>,
    pub occurrences: u64,
    /// The component's trust right after the incident opened.
    pub trust: f64,
    /// How it ended.
    pub resolved_by: Option<ResolvedBy>,
    /// The run healing it right now, if any.
    pub active_run_id: Option<RunId>,
    pub work_order_id: Option<WorkOrderId>,
    /// A recovery of the component was observed while a playbook was running on it.
    #[serde(default)]
    pub recovery_seen: bool,
    /// A playbook's run on it succeeded while its alerts still fired: it resolves (by the
    /// playbook) when they do, and stays open while they fire — the alert has the last word.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_alert: bool,
    /// It opened while its monitor was silenced: recorded, but no playbook runs for it.
    #[serde(default)]
    pub silenced: bool,
    /// Seqs of the events that concern it (bounded by `limits.incident_events_max`).
    pub event_seqs: Vec<u64>,
    /// Failures of components that depend on this one, seen while it was down: attached here
    /// instead of opening incidents of their own (bounded like `event_seqs`).
    #[serde(default)]
    pub symptoms: Vec<Symptom>,
    /// Playbooks not trusted enough to run by themselves, offered to people instead.
    #[serde(default)]
    pub suggestions: Vec<Suggestion>,
    /// The labels of the alert that opened it (Alertmanager's); playbooks may select on them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Fingerprints of the Alertmanager alerts firing into it: it resolves when the last of
    /// them does (bounded by [`ALERTS_FIRING_MAX`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts_firing: Vec<String>,
    /// It ended because what it depends on turned out to be down: the incident it became a
    /// symptom of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<u64>,
    /// How many times it came back within `incidents.reopen_window_ms` of being healed, and
    /// when it last did.
    #[serde(default)]
    pub relapses: u32,
    #[serde(default, with = "micros_opt", skip_serializing_if = "Option::is_none")]
    pub reopened_at: Option<DateTime<Utc>>,
    /// The maintenance window or silence it opened in (then `silenced` too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<String>,
}

/// Most alert fingerprints one incident tracks. Past it, further alerts bump the incident
/// without being waited for.
pub const ALERTS_FIRING_MAX: usize = 256;

/// How an incident ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResolvedBy {
    /// A playbook healed it.
    Playbook,
    /// The component came back by itself (its monitor, or a pushed recovery).
    Recovery,
    /// A person resolved it.
    Manual,
    /// What it depends on turned out to be down: it became a symptom of that incident
    /// (`superseded_by`).
    Superseded,
}

impl ResolvedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolvedBy::Playbook => "playbook",
            ResolvedBy::Recovery => "recovery",
            ResolvedBy::Manual => "manual",
            ResolvedBy::Superseded => "superseded",
        }
    }
}

/// Where a suggestion stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionStatus {
    Pending,
    /// A person approved it and its run was started.
    Approved,
    Dismissed,
}

impl SuggestionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionStatus::Pending => "pending",
            SuggestionStatus::Approved => "approved",
            SuggestionStatus::Dismissed => "dismissed",
        }
    }
}

/// A playbook offered to people on an incident (trust-gated autonomy).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Suggestion {
    /// `s1`, `s2`, … within the incident.
    pub suggestion_id: String,
    pub playbook_id: String,
    pub playbook_name: String,
    /// The playbook's trust when it was suggested, and the trust it needs to run by itself.
    pub trust: f64,
    pub auto_run_min_trust: f64,
    pub status: SuggestionStatus,
    #[serde(with = "micros")]
    pub created_at: DateTime<Utc>,
    #[serde(default, with = "micros_opt")]
    pub decided_at: Option<DateTime<Utc>>,
}

/// A dependent component's failure, attached to the incident of what it depends on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Symptom {
    pub source: String,
    pub event_type: String,
    pub severity: Severity,
    pub title: String,
    #[serde(with = "micros")]
    pub at: DateTime<Utc>,
    pub seq: u64,
    /// When it was seen to end while attached (an alert that resolved); a symptom that has
    /// not ended gets an incident of its own when the one it is attached to resolves.
    #[serde(default, with = "micros_opt", skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// An alert's labels and the fingerprints firing, kept for the incident it may become.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts_firing: Vec<String>,
}

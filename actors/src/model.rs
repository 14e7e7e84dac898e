//! The records Grace keeps: incidents, playbook executions, sub-agents, work orders and trust.
//!
//! They are persisted as they are (serde → SurrealDB) and returned by the kernel's queries; the
//! HTTP layer maps them to its own wire types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::time::{micros, micros_opt};

/// Who asked for a change: the name of the token used, or `local` when tokens are off (and for
/// a SIGHUP). Recorded as `by` on the event the change causes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Who(String);

impl Who {
    pub const LOCAL: &'static str = "local";

    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn local() -> Self {
        Self(Self::LOCAL.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

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
    pub active_run_id: Option<String>,
    pub work_order_id: Option<String>,
    /// A recovery of the component was observed while a playbook was running on it.
    #[serde(default)]
    pub recovery_seen: bool,
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
}

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
}

impl ResolvedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolvedBy::Playbook => "playbook",
            ResolvedBy::Recovery => "recovery",
            ResolvedBy::Manual => "manual",
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
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    /// Grace stopped in the middle of a step that could not safely be done again.
    Interrupted,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
}

/// The log of one step of one run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct StepRecord {
    pub name: String,
    pub status: StepStatus,
    pub attempts: u32,
    #[serde(default, with = "micros_opt")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, with = "micros_opt")]
    pub finished_at: Option<DateTime<Utc>>,
    pub output: String,
}

/// One playbook run on one incident, carried out by one sub-agent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Execution {
    pub run_id: String,
    pub playbook_id: String,
    pub playbook_name: String,
    pub incident_id: u64,
    /// The component it healed (the incident's source), so cooldowns and circuit breakers
    /// can be rebuilt from recent runs after a restart.
    #[serde(default)]
    #[schema(required = true)]
    pub source: String,
    /// A person started it (by hand, or by approving a suggestion).
    #[serde(default)]
    #[schema(required = true)]
    pub by_hand: bool,
    /// Who, when a person started it.
    #[serde(default)]
    pub started_by: Option<Who>,
    pub agent_id: String,
    pub status: ExecutionStatus,
    pub steps_completed: u32,
    pub steps: Vec<StepRecord>,
    #[serde(with = "micros")]
    pub started_at: DateTime<Utc>,
    #[serde(default, with = "micros_opt")]
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub work_order_id: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Running,
    Succeeded,
    Failed,
}

/// A sub-agent: the supervised actor that carries out one run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Agent {
    pub agent_id: String,
    pub agent_name: String,
    pub task: String,
    pub incident_id: u64,
    pub run_id: String,
    /// Trust in the playbook this agent runs, from its success history.
    pub trust_score: f64,
    pub status: AgentStatus,
    #[serde(with = "micros")]
    pub started_at: DateTime<Utc>,
    #[serde(default, with = "micros_opt")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// Why a work order was written.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderReason {
    /// A playbook run failed (or was interrupted and could not resume).
    #[default]
    RunFailed,
    /// The circuit breaker stopped a playbook from running again.
    CircuitBreaker,
    /// The incident outlived its component's `escalate_after_ms`.
    Overdue,
}

/// What a person has to do when automation could not heal an incident.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct WorkOrder {
    pub work_order_id: String,
    pub incident_id: u64,
    #[serde(default)]
    #[schema(required = true)]
    pub reason: WorkOrderReason,
    /// The failed run; none when automation was stopped before a run (circuit breaker).
    #[serde(default)]
    pub run_id: Option<String>,
    pub playbook_id: String,
    pub failing_step: Option<String>,
    pub output: String,
    #[serde(with = "micros")]
    pub created_at: DateTime<Utc>,
    pub status: String,
}

/// One work order (or `notify` message) for one webhook. It is recorded `pending`, with the
/// body to send, in the same transaction as what it tells about (an outbox), and sent from
/// there: a delivery is never lost to a crash, and one still pending is sent after a restart.
/// Every try is counted, the last answer kept.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Delivery {
    pub delivery_id: String,
    pub webhook_id: String,
    /// The work order sent, or none for a notification.
    #[serde(default)]
    pub work_order_id: Option<String>,
    /// The `notify` message sent (`NT-…`), or none for a work order.
    #[serde(default)]
    pub notification_id: Option<String>,
    pub incident_id: u64,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// When it was recorded, to be sent.
    #[serde(default = "crate::time::epoch", with = "micros")]
    #[schema(required = true)]
    pub created_at: DateTime<Utc>,
    /// When the last try ended; none while pending.
    #[serde(default, with = "micros_opt")]
    pub finished_at: Option<DateTime<Utc>>,
    /// What is posted to the webhook.
    #[serde(default)]
    #[schema(value_type = Object, required = true)]
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Recorded, not yet answered with a 2xx nor given up on.
    Pending,
    Delivered,
    /// Every try failed.
    Failed,
}

/// What people decided about a monitor: paused (no probing), or silenced until a time
/// (incidents are still recorded but no playbook runs). Kept across restarts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MonitorControl {
    pub monitor_id: String,
    pub paused: bool,
    #[serde(default, with = "micros_opt")]
    pub silenced_until: Option<DateTime<Utc>>,
}

impl MonitorControl {
    pub fn silenced_at(&self, at: DateTime<Utc>) -> bool {
        self.silenced_until.is_some_and(|until| until > at)
    }
}

/// A trust score in [0, 1] of a component (`component:<id>`) or a playbook (`playbook:<id>`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct TrustScore {
    pub subject: String,
    pub score: f64,
    /// Runs that ended on components Grace watches (playbooks only): the history trust is
    /// computed from.
    pub runs: u64,
    pub successes: u64,
    /// Runs that ended on components only pushed events name: counted, never scored, so
    /// whoever can reach the port cannot talk a playbook's trust down (or up).
    #[serde(default)]
    #[schema(required = true)]
    pub unscored_runs: u64,
    #[serde(default)]
    #[schema(required = true)]
    pub unscored_successes: u64,
    #[serde(with = "micros")]
    pub updated_at: DateTime<Utc>,
}

impl TrustScore {
    /// A component nobody has seen fail is fully trusted.
    pub fn component(component: &str) -> Self {
        Self::new(component_subject(component), 1.0)
    }

    /// A playbook with no history sits at the prior of its success rate, 0.5.
    pub fn playbook(playbook_id: &str) -> Self {
        Self::new(playbook_subject(playbook_id), 0.5)
    }

    fn new(subject: String, score: f64) -> Self {
        Self {
            subject,
            score,
            runs: 0,
            successes: 0,
            unscored_runs: 0,
            unscored_successes: 0,
            updated_at: crate::time::now(),
        }
    }

    /// Playbook trust is the Laplace-smoothed success rate: (successes + 1) / (runs + 2), so one
    /// early failure does not condemn a playbook and a long record weighs more than a short one.
    pub fn record_run(&mut self, succeeded: bool) {
        self.runs += 1;
        if succeeded {
            self.successes += 1;
        }
        self.score = (self.successes as f64 + 1.0) / (self.runs as f64 + 2.0);
        self.updated_at = crate::time::now();
    }

    /// A run on a component no monitor watches: counted, the score unchanged.
    pub fn record_unscored_run(&mut self, succeeded: bool) {
        self.unscored_runs += 1;
        if succeeded {
            self.unscored_successes += 1;
        }
        self.updated_at = crate::time::now();
    }

    pub fn adjust(&mut self, delta: f64) {
        self.score = (self.score + delta).clamp(0.0, 1.0);
        self.updated_at = crate::time::now();
    }
}

/// The subject key of a component's trust.
pub fn component_subject(component: &str) -> String {
    format!("component:{component}")
}

/// The subject key of a playbook's trust.
pub fn playbook_subject(playbook_id: &str) -> String {
    format!("playbook:{playbook_id}")
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PipelineRunStatus {
    /// A rerun waiting for its pipeline to be free.
    Queued,
    Running,
    Succeeded,
    Failed,
    /// Grace stopped while it ran; it is not known how far it got.
    Interrupted,
}

/// What started a pipeline run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PipelineTrigger {
    Schedule,
    Manual,
    /// A healing playbook reran a run that failed while its component was down.
    Rerun,
}

/// One run of a pipeline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct PipelineRun {
    pub run_id: String,
    pub pipeline_id: String,
    pub status: PipelineRunStatus,
    pub trigger: PipelineTrigger,
    /// The failed run this one reruns.
    #[serde(default)]
    pub rerun_of: Option<String>,
    /// The run that reran this failed one (set once, so nothing is rerun twice).
    #[serde(default)]
    pub rerun_by: Option<String>,
    /// Who, for a `manual` run.
    #[serde(default)]
    pub started_by: Option<Who>,
    /// The program's exit code (argv jobs) …
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// … or the HTTP status (url jobs).
    #[serde(default)]
    pub http_status: Option<u16>,
    /// The tail of what it printed (or what went wrong).
    pub output: String,
    #[serde(with = "micros")]
    pub started_at: DateTime<Utc>,
    #[serde(default, with = "micros_opt")]
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
}

/// The store refusing writes (a full disk, a broken device), from the first failed commit
/// until one succeeds again: `/health` says `degraded` with it meanwhile.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreFailure {
    pub since: chrono::DateTime<chrono::Utc>,
    /// The latest error.
    pub reason: String,
    pub failed_commits: u64,
}

//! What each event Grace composes itself carries in `data`: one type per event type, so each
//! wire format is written down once, next to the others, and `EventDraft::of` pairs it with its
//! type. (Probe findings, log matches and pushed events carry what their source saw; `probe/`
//! and `intake.rs` build those.)

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::{types, EventDraft};
use crate::model::{
    Agent, Delivery, ExecutionStatus, IncidentView, PipelineRun, ResolvedBy, RunId, StepRecord,
    Who, WorkOrderId,
};

/// The `data` of one event type.
pub trait Payload: Serialize {
    /// The event type it is the data of.
    const TYPE: &'static str;
}

impl EventDraft {
    /// A draft of `payload`'s event type with `payload` as its data.
    pub fn of<P: Payload>(payload: &P) -> Self {
        let data = serde_json::to_value(payload).expect("payloads serialise to JSON");
        EventDraft::new(P::TYPE, data)
    }
}

macro_rules! payload {
    ($name:ident, $event_type:expr) => {
        impl Payload for $name {
            const TYPE: &'static str = $event_type;
        }
    };
}

/// `incident.opened`, `incident.updated`, `incident.escalated`, `incident.resolved`: the
/// incident as REST shows it, and what happened to it. The event type is the caller's.
#[derive(Debug, Serialize)]
pub struct IncidentChanged {
    pub incident: IncidentView,
    /// Why it was updated: `symptom`, `acknowledged`, `playbook started`, `suggestion`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The person who changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Who>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_order_id: Option<WorkOrderId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<ResolvedBy>,
}

/// `incident.updated` with `reason: "repeat"`: only what repeats change.
#[derive(Debug, Serialize)]
pub struct IncidentRepeated {
    pub incident: RepeatDelta,
    pub reason: &'static str,
    /// Events of the incident's kind that arrived since it was last announced.
    pub repeats: u64,
}
payload!(IncidentRepeated, types::INCIDENT_UPDATED);

/// What a repeat changes on an incident.
#[derive(Debug, Serialize)]
pub struct RepeatDelta {
    pub id: u64,
    pub source: String,
    pub event_type: String,
    pub status: crate::model::IncidentStatus,
    pub occurrences: u64,
}

/// `trust.changed`: a component's or a playbook's trust moved.
#[derive(Debug, Serialize)]
pub struct TrustChanged {
    pub subject: String,
    pub from: f64,
    pub to: f64,
}
payload!(TrustChanged, types::TRUST_CHANGED);

/// `actor.restarted`: a supervisor restarted a child.
#[derive(Debug, Serialize)]
pub struct ActorRestarted {
    pub actor: String,
    pub kind: &'static str,
    pub restarts: u32,
}
payload!(ActorRestarted, types::ACTOR_RESTARTED);

/// `config.reloaded`: what a reload did to the monitors, and who asked.
#[derive(Debug, Serialize)]
pub struct ConfigReloaded {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// How many monitors stayed as they were.
    pub unchanged: usize,
    pub restart_required: Vec<String>,
    pub errors: Vec<String>,
    pub by: Who,
}
payload!(ConfigReloaded, types::CONFIG_RELOADED);

/// `monitor.controlled`: a person paused, resumed or silenced a monitor.
#[derive(Debug, Serialize)]
pub struct MonitorControlled {
    pub monitor: String,
    pub paused: bool,
    /// RFC 3339; none when not silenced.
    pub silenced_until: Option<String>,
    pub by: Who,
}
payload!(MonitorControlled, types::MONITOR_CONTROLLED);

/// `silence.created`: a person silenced what `silence.matchers` covers, from `starts_at` to
/// `ends_at` (`created_by` says who).
#[derive(Debug, Serialize)]
pub struct SilenceCreated {
    pub silence: crate::silence::Silence,
}
payload!(SilenceCreated, types::SILENCE_CREATED);

/// `silence.expired`: a person ended a silence early.
#[derive(Debug, Serialize)]
pub struct SilenceExpired {
    pub silence: crate::silence::Silence,
    pub by: Who,
}
payload!(SilenceExpired, types::SILENCE_EXPIRED);

/// `monitor.flapping`: the monitor's flap window saw `changes` swings and `failures` failed
/// probes in its last `window` probes.
#[derive(Debug, Serialize)]
pub struct MonitorFlapping {
    pub monitor: String,
    pub kind: &'static str,
    pub changes: usize,
    pub failures: usize,
    pub window: usize,
    /// Failed probes over probes in the window, 0 to 1.
    pub failure_ratio: f64,
    /// What the last failed probe said.
    pub error: Option<String>,
}
payload!(MonitorFlapping, types::MONITOR_FLAPPING);

/// `monitor.steady`: a flapping component is steady again.
#[derive(Debug, Serialize)]
pub struct MonitorSteady {
    pub monitor: String,
    pub kind: &'static str,
}
payload!(MonitorSteady, types::MONITOR_STEADY);

/// `playbook.started`: a run, its steps, and who started it when a person did.
#[derive(Debug, Serialize)]
pub struct PlaybookStarted {
    pub run_id: RunId,
    pub playbook_id: String,
    pub playbook_name: String,
    pub steps: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Who>,
    /// An admin ran it past its trigger, cooldown and breaker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forced: Option<bool>,
}
payload!(PlaybookStarted, types::PLAYBOOK_STARTED);

/// `playbook.step`: a step started or ended.
#[derive(Debug, Serialize)]
pub struct PlaybookStep {
    pub run_id: RunId,
    pub playbook_id: String,
    pub index: usize,
    pub step: StepRecord,
}
payload!(PlaybookStep, types::PLAYBOOK_STEP);

/// `playbook.finished`: how a run ended, and its work order when it failed.
#[derive(Debug, Serialize)]
pub struct PlaybookFinished {
    pub run_id: RunId,
    pub playbook_id: String,
    pub status: ExecutionStatus,
    pub duration_seconds: Option<f64>,
    pub failing_step: Option<String>,
    pub output: String,
    pub work_order_id: Option<WorkOrderId>,
}
payload!(PlaybookFinished, types::PLAYBOOK_FINISHED);

/// `playbook.resumed`: a run a stop interrupted goes on at `from_step`.
#[derive(Debug, Serialize)]
pub struct PlaybookResumed {
    pub run_id: RunId,
    pub playbook_id: String,
    pub from_step: usize,
}
payload!(PlaybookResumed, types::PLAYBOOK_RESUMED);

/// `playbook.held`: a cooldown or an open circuit breaker kept a playbook from running.
#[derive(Debug, Serialize)]
pub struct PlaybookHeld {
    pub playbook_id: String,
    /// `cooldown` or `circuit_breaker`.
    pub reason: &'static str,
    pub detail: String,
}
payload!(PlaybookHeld, types::PLAYBOOK_HELD);

/// `agent.spawned`: a run's sub-agent started.
#[derive(Debug, Serialize)]
pub struct AgentSpawned {
    pub agent: Agent,
}
payload!(AgentSpawned, types::AGENT_SPAWNED);

/// `agent.finished`: a run's sub-agent ended.
#[derive(Debug, Serialize)]
pub struct AgentFinished {
    pub agent: Agent,
}
payload!(AgentFinished, types::AGENT_FINISHED);

/// `notification.sent`: a `notify` step's message, recorded with its deliveries.
#[derive(Debug, Serialize)]
pub struct NotificationSent {
    pub notification_id: String,
    pub message: String,
}
payload!(NotificationSent, types::NOTIFICATION_SENT);

/// `webhook.delivered`: how one delivery ended.
#[derive(Debug, Serialize)]
pub struct WebhookDelivered {
    pub delivery: Delivery,
}
payload!(WebhookDelivered, types::WEBHOOK_DELIVERED);

/// `pipeline.started`: a run of a pipeline began.
#[derive(Debug, Serialize)]
pub struct PipelineStarted {
    pub run: PipelineRun,
}
payload!(PipelineStarted, types::PIPELINE_STARTED);

/// `pipeline.finished`: a run of a pipeline ended.
#[derive(Debug, Serialize)]
pub struct PipelineFinished {
    pub run: PipelineRun,
}
payload!(PipelineFinished, types::PIPELINE_FINISHED);

/// `store.recovered`: the store takes writes again after refusing them.
#[derive(Debug, Serialize)]
pub struct StoreRecovered {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub reason: String,
    pub failed_commits: u64,
}
payload!(StoreRecovered, types::STORE_RECOVERED);

/// `incident.notified`: a route told receivers about an incident; its deliveries are pending
/// in the same commit.
#[derive(Debug, Serialize)]
pub struct IncidentNotified {
    pub incident_id: u64,
    pub route: String,
    pub reason: crate::paging::Reason,
    /// The page's escalation level after this tell (1: the route's own receivers).
    pub level: u32,
    pub receivers: Vec<String>,
    pub deliveries: Vec<String>,
}
payload!(IncidentNotified, types::INCIDENT_NOTIFIED);

/// `incident.note`: a person's note on an incident.
#[derive(Debug, Serialize)]
pub struct IncidentNote {
    pub incident_id: u64,
    pub note: crate::model::Note,
}
payload!(IncidentNote, types::INCIDENT_NOTE);

/// `work_order.updated`: a person changed a work order; it as it now stands.
#[derive(Debug, Serialize)]
pub struct WorkOrderUpdated {
    pub action: crate::model::WorkOrderAction,
    pub work_order: crate::model::WorkOrder,
    pub by: Who,
}
payload!(WorkOrderUpdated, types::WORK_ORDER_UPDATED);

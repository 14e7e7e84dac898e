//! The JSON the HTTP API speaks. Actor replies become these types here, so the wire format
//! can stay stable while the actors' records change; the one exception is the incident, whose
//! wire shape (`actors::model::IncidentView`) the events announcing incidents carry too, so
//! REST and the feed send the same. Executions, agents, work orders and pipeline runs are sent
//! field for field as recorded; they have no view type of their own yet.
//!
//! Every type derives `ToSchema`: `GET /openapi.json` describes the replies from these very
//! types, so the document cannot drift from what is sent.

use actors::event::Event;
use actors::model::StoreFailure;
use actors::model::{Execution, PipelineRun, TrustScore, Who};
pub use actors::model::{IncidentView, SuggestionView};
use actors::protocol::monitor::MonitorStatus;
use actors::spec::{PipelineJob, PipelineSpec, PlaybookSpec};
use actors::time::{micros, micros_opt};
use actors::{ActorNode, ReloadReport};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::tokens::Role;

/// A page of a list: `next` is the cursor for the following page, or null at the end.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
    /// How many items the whole list has, where it is known cheaply (active incidents).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
}

/// A whole list, not paged.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// A playbook: what triggers it, its steps, its trust from its history, and (for one playbook)
/// its latest runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybookView {
    pub id: String,
    pub name: String,
    pub on: Vec<String>,
    /// The monitor selector: only incidents on these trigger it (any when empty).
    pub monitors: Vec<String>,
    /// The kind of each step, in order.
    pub steps: Vec<&'static str>,
    /// The success-rate trust; 0.5 before the first run.
    pub trust: f64,
    pub runs: u64,
    pub successes: u64,
    /// Its latest runs, newest first: only from `GET /playbooks/{playbook_id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub recent_runs: Option<Vec<Execution>>,
}

impl PlaybookView {
    pub fn new(
        playbook: &PlaybookSpec,
        trust: Option<&TrustScore>,
        recent_runs: Option<Vec<Execution>>,
    ) -> Self {
        Self {
            id: playbook.id.clone(),
            name: playbook.display_name().to_owned(),
            on: playbook.on.clone(),
            monitors: playbook.monitors.clone(),
            steps: playbook.steps.iter().map(|step| step.name()).collect(),
            trust: trust.map_or(0.5, |t| t.score),
            runs: trust.map_or(0, |t| t.runs + t.unscored_runs),
            successes: trust.map_or(0, |t| t.successes + t.unscored_successes),
            recent_runs,
        }
    }
}

/// A pipeline: what it runs, what it needs, when it runs, and its latest run.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineView {
    pub id: String,
    pub name: String,
    /// `command` (argv) or `http` (url).
    pub job: &'static str,
    /// The program and its arguments (`command` jobs).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub argv: Option<Vec<String>>,
    /// The URL requested (`http` jobs).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub url: Option<String>,
    pub depends_on: Vec<String>,
    pub every_ms: Option<u64>,
    pub timeout_ms: u64,
    pub last_run: Option<PipelineRun>,
}

impl PipelineView {
    pub fn new(pipeline: &PipelineSpec, last_run: Option<PipelineRun>) -> Self {
        let (job, argv, url) = match &pipeline.job {
            PipelineJob::Program { argv, .. } => ("command", Some(argv.clone()), None),
            PipelineJob::Call { url, .. } => ("http", None, Some(url.clone())),
        };
        Self {
            id: pipeline.id.clone(),
            name: pipeline.display_name().to_owned(),
            job,
            argv,
            url,
            depends_on: pipeline.depends_on.clone(),
            every_ms: pipeline.every_ms,
            timeout_ms: pipeline.timeout_ms,
            last_run,
        }
    }
}

/// An incident with the events that concern it, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentView,
    pub timeline: Vec<EventView>,
}

/// One event, as on the WebSocket feed: `{seq, type, at, data}`. `data` also carries `source`
/// and `incident_id` when the event has them.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub seq: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(with = "micros")]
    pub at: DateTime<Utc>,
    /// What the event says; its fields depend on its type.
    #[schema(value_type = Object)]
    pub data: Value,
}

impl From<&Event> for EventView {
    fn from(event: &Event) -> Self {
        let mut data = event.data.clone();
        if let Some(fields) = data.as_object_mut() {
            if let Some(source) = &event.source {
                fields.entry("source").or_insert_with(|| json!(source));
            }
            if let Some(incident_id) = event.incident_id {
                fields
                    .entry("incident_id")
                    .or_insert_with(|| json!(incident_id));
            }
        }
        Self {
            seq: event.seq,
            event_type: event.event_type.clone(),
            at: event.at,
            data,
        }
    }
}

/// One node of the live actor tree, with the actors it supervises.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorView {
    /// ractor's id for this incarnation; a restarted actor gets a new one.
    pub id: String,
    /// The actor's role (`kernel`, `monitors`, `monitor:orders-db`, `agent:agent-…`).
    pub name: String,
    /// `supervisor`, `store`, `bus`, `feed`, `incidents`, `playbooks`, `monitor` or `agent`.
    pub kind: &'static str,
    /// `starting`, `running`, `stopping` or `stopped`.
    pub status: &'static str,
    /// Times its supervisor restarted it.
    pub restarts: u32,
    #[schema(no_recursion)]
    pub children: Vec<ActorView>,
}

impl From<&ActorNode> for ActorView {
    fn from(node: &ActorNode) -> Self {
        Self {
            id: node.id.clone(),
            name: node.name.clone(),
            kind: node.kind,
            status: node.status.as_str(),
            restarts: node.restarts,
            children: node.children.iter().map(ActorView::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonitorView {
    pub id: String,
    /// The monitor's kind as configured (`postgres`, `http`, `heartbeat`, …).
    pub kind: &'static str,
    pub state: MonitorState,
    pub consecutive_failures: u32,
    #[serde(with = "micros_opt")]
    pub last_probe_at: Option<DateTime<Utc>>,
    pub latency_ms: Option<u64>,
    pub last_error: Option<String>,
    pub paused: bool,
    /// Until when it is silenced; null when it is not.
    #[serde(with = "micros_opt")]
    pub silenced_until: Option<DateTime<Utc>>,
    /// Kind-specific detail of the last probe (a check's exit code, summary, perfdata).
    #[serde(skip_serializing_if = "Value::is_null")]
    #[schema(value_type = Object)]
    pub details: Value,
    pub trust: f64,
}

impl MonitorView {
    pub fn new(status: &MonitorStatus, trust: f64) -> Self {
        Self {
            id: status.id.clone(),
            kind: status.kind,
            state: match (status.control.paused, status.down, status.last_probe_at) {
                (true, _, _) => MonitorState::Paused,
                (false, true, _) => MonitorState::Down,
                (false, false, None) => MonitorState::Unknown,
                (false, false, Some(_)) => MonitorState::Up,
            },
            paused: status.control.paused,
            silenced_until: status
                .control
                .silenced_until
                .filter(|until| *until > chrono::Utc::now()),
            consecutive_failures: status.consecutive_failures,
            last_probe_at: status.last_probe_at,
            latency_ms: status.last_latency_ms,
            last_error: status.last_error.clone(),
            details: status.details.clone(),
            trust,
        }
    }
}

/// What a monitor's probes say now: `unknown` before the first probe.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MonitorState {
    Up,
    Down,
    Unknown,
    Paused,
}

/// `GET /health`: whether every actor runs and the store takes writes.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    pub status: HealthStatus,
    /// Present while the store refuses writes (a full disk): since when, and why.
    pub store_failure: Option<StoreFailureView>,
    /// Grace's version.
    pub version: &'static str,
    /// The seq of the newest event in the log.
    pub last_seq: u64,
    /// The event log's identity: a seq means something only within one log.
    pub log_id: String,
    pub actors: ActorCounts,
    pub incidents: IncidentsProgress,
    /// Feed (`/ws`) clients connected now.
    pub ws_clients: usize,
    /// Whether every other route needs a token (`[auth]`): the dashboard asks for one only
    /// then. Any request can find this out anyway (a 401 says it), so saying it here costs
    /// nothing.
    pub tokens_required: bool,
    /// In a cluster: this node, whether it leads, and who does. Absent on one node.
    pub cluster: Option<NodeHealthView>,
}

/// A node of a cluster, as its `/health` tells.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeHealthView {
    pub node_id: String,
    pub role: NodeRole,
    /// The leader as this node last read it (itself when it leads); null while none leads.
    pub leader: Option<LeaderView>,
}

/// Whether a node runs the engines.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    Leader,
    Standby,
}

/// The node that runs the engines.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeaderView {
    pub node_id: String,
    /// Where it serves (its `[cluster] advertise_url`); empty when not known yet.
    pub url: String,
}

/// `ok` when every actor runs and the store takes writes; `degraded` otherwise.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Degraded,
}

/// Why the store refuses writes.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreFailureView {
    pub since: DateTime<Utc>,
    /// The latest error.
    pub reason: String,
    pub failed_commits: u64,
}

impl From<StoreFailure> for StoreFailureView {
    fn from(failure: StoreFailure) -> Self {
        Self {
            since: failure.since,
            reason: failure.reason,
            failed_commits: failure.failed_commits,
        }
    }
}

/// Actors in the supervision tree, and how many of them are running.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorCounts {
    pub total: usize,
    pub running: usize,
}

/// How far the incident manager has got through the event log.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentsProgress {
    /// The last seq it applied.
    pub applied_seq: u64,
    /// Events logged but not applied yet.
    pub lag: u64,
}

/// `GET /whoami`: who the token is and what it may do.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoamiView {
    /// The token's name; `local` when tokens are not required.
    pub name: Who,
    /// The token's role; `admin` when tokens are not required.
    pub role: Role,
    /// Whether this Grace requires tokens (`[auth]`).
    pub required: bool,
}

/// `POST /heartbeats/{monitor_id}`: the beat was recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeartbeatView {
    pub monitor: String,
    /// Always `received`.
    pub status: &'static str,
}

/// `POST /config/reload`: what the new config changed. Monitors, playbooks and pipelines are
/// named by id; settings by key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadView {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Settings that changed but only take effect when Grace restarts.
    pub restart_required: Vec<String>,
    /// Monitors that could not be stopped or started, with why.
    pub errors: Vec<String>,
}

impl From<ReloadReport> for ReloadView {
    fn from(report: ReloadReport) -> Self {
        Self {
            added: report.added,
            removed: report.removed,
            changed: report.changed,
            unchanged: report.unchanged,
            restart_required: report.restart_required,
            errors: report.errors,
        }
    }
}

/// `POST /playbooks/{playbook_id}/run`: the run started.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybookRunStarted {
    pub run_id: String,
    pub playbook_id: String,
    pub incident_id: u64,
}

/// A decision on a suggestion, and the run approving it started.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    pub suggestion: SuggestionView,
    /// The run started by approving; null for a dismissal.
    pub run_id: Option<String>,
}

/// Pushed events or alerts, recorded durably.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestView {
    /// How many events were recorded.
    pub accepted: usize,
    /// Their seqs in the event log, in the order sent.
    pub seqs: Vec<u64>,
}

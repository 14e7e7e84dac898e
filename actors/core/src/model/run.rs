//! A playbook run (an execution), its steps, and the sub-agent that carries it out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AgentId, RunId, Who, WorkOrderId};
use crate::cluster::{Epoch, NodeId};
use crate::time::{micros, micros_opt};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    /// Grace stopped in the middle of a step that could not safely be done again.
    Interrupted,
    /// Its incident turned out to be a symptom of another (what its component depends on is
    /// down) and the run was stopped.
    Superseded,
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
    /// In a cluster: the node that started the step and the epoch of the engines' lease it
    /// held then. Absent on one node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_by: Option<RanBy>,
}

/// Who ran a step: the history that shows no step ran twice, and none under an epoch its node
/// no longer held.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct RanBy {
    #[schema(value_type = String)]
    pub node_id: NodeId,
    #[schema(value_type = u64)]
    pub epoch: Epoch,
}

/// One playbook run on one incident, carried out by one sub-agent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Execution {
    pub run_id: RunId,
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
    pub agent_id: AgentId,
    pub status: ExecutionStatus,
    pub steps_completed: u32,
    pub steps: Vec<StepRecord>,
    #[serde(with = "micros")]
    pub started_at: DateTime<Utc>,
    #[serde(default, with = "micros_opt")]
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub work_order_id: Option<WorkOrderId>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Running,
    Succeeded,
    Failed,
    /// Stopped before it finished: its incident was superseded.
    Stopped,
}

/// A sub-agent: the supervised actor that carries out one run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Agent {
    pub agent_id: AgentId,
    pub agent_name: String,
    pub task: String,
    pub incident_id: u64,
    pub run_id: RunId,
    /// Trust in the playbook this agent runs, from its success history.
    pub trust_score: f64,
    pub status: AgentStatus,
    #[serde(with = "micros")]
    pub started_at: DateTime<Utc>,
    #[serde(default, with = "micros_opt")]
    pub finished_at: Option<DateTime<Utc>>,
}

//! What the incident manager takes and answers: news in the log, people's commands, run
//! outcomes, and the reads served from its memory.

use std::sync::Arc;

use ractor::RpcReplyPort;

use crate::model::{Incident, IncidentStatus, RunId, Suggestion, Who, WorkOrderId};
use crate::protocol::Unavailable;
use crate::store::StoreError;

/// How a playbook run ended, as the incident manager needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Succeeded,
    Failed { work_order_id: WorkOrderId },
}

/// Why an incident command was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IncidentError {
    #[error("incident {0} does not exist")]
    NotFound(u64),
    #[error("incident {id} is {status}; it cannot be {action}")]
    Conflict {
        id: u64,
        status: &'static str,
        action: &'static str,
    },
    #[error("store error: {0}")]
    Store(Arc<StoreError>),
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error("incident {incident_id} has no suggestion {suggestion_id:?}")]
    NoSuchSuggestion {
        incident_id: u64,
        suggestion_id: String,
    },
}

impl From<StoreError> for IncidentError {
    fn from(error: StoreError) -> Self {
        IncidentError::Store(Arc::new(error))
    }
}

/// A page of incidents, newest first, and how many match in all where that is known cheaply
/// (active ones, counted in memory).
#[derive(Debug, Clone)]
pub struct IncidentPage {
    pub items: Vec<Incident>,
    pub total: Option<usize>,
}

/// Which incidents a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentFilter {
    Any,
    /// Every status but `resolved`.
    Active,
    Status(IncidentStatus),
}

pub type IncidentReply = RpcReplyPort<Result<Incident, IncidentError>>;

pub enum IncidentsMsg {
    /// The log has news (from the store actor, or the periodic check).
    Observe,
    /// The next page of a catch-up (sent to itself).
    NextPage,
    /// A person acknowledges an incident.
    Acknowledge(u64, Who, IncidentReply),
    /// A person resolves an incident.
    Resolve(u64, Who, IncidentReply),
    /// A playbook run started healing the incident.
    RunStarted { incident_id: u64, run_id: RunId },
    /// A playbook run ended.
    RunFinished {
        incident_id: u64,
        run_id: RunId,
        outcome: RunOutcome,
    },
    /// A playbook below its `auto_run_min_trust`: offer it to people on the incident.
    Suggest {
        incident_id: u64,
        suggestion: Suggestion,
    },
    /// A person approves or dismisses a suggestion; replies with the suggestion as decided.
    Decide {
        incident_id: u64,
        suggestion_id: String,
        approve: bool,
        by: Who,
        reply: RpcReplyPort<Result<Suggestion, IncidentError>>,
    },
    /// Automation was stopped before a run (an open circuit breaker), or the incident is past
    /// its `escalate_after_ms` (`overdue`): escalate to the work order recorded for it. An
    /// overdue incident keeps the run healing it, if any.
    Escalate {
        incident_id: u64,
        work_order_id: WorkOrderId,
        overdue: bool,
    },
    /// Periodic: find incidents past their component's `escalate_after_ms`.
    CheckOverdue,
    /// A playbook's `set_trust` step: set the component's trust. Replies with the new score.
    SetTrust(String, f64, RpcReplyPort<Result<f64, IncidentError>>),
    /// A question about the active incidents, answered from memory.
    Query(IncidentQuery),
    /// Verified recovery: give the component back trust. Replies with the new score.
    RestoreTrust(String, RpcReplyPort<Result<f64, IncidentError>>),
}

/// The questions the kernel asks the incident manager about the active incidents.
pub enum IncidentQuery {
    /// How many active incidents have each status (for `GET /metrics`).
    CountByStatus(RpcReplyPort<Vec<(IncidentStatus, usize)>>),
    /// The newest active incidents below a cursor, and how many are active in all (the
    /// dashboard's tiles: a page, however many are active).
    NewestActive {
        before: Option<u64>,
        limit: usize,
        /// Only those in this (active) status.
        status: Option<IncidentStatus>,
        reply: RpcReplyPort<IncidentPage>,
    },
    /// The ids of the active incidents below an id, ascending (a walk over the resolved ones
    /// in the store skips them).
    ActiveIdsBelow(u64, RpcReplyPort<Vec<u64>>),
}

//! What the incident manager takes and answers: news in the log, people's commands, run
//! outcomes, and the reads served from its memory.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ractor::RpcReplyPort;

use crate::event::EventDraft;
pub use crate::model::RunOutcome;
use crate::model::WorkOrderId;
use crate::model::{Incident, IncidentStatus, RunId, StepRecord, StepStatus, Suggestion, Who};
use crate::payload::PlaybookStep;
use crate::protocol::Unavailable;
use crate::store::{StoreError, Write};
pub use grace_core::incidents::Refused;

/// Why an incident command was refused: by the book (no such incident, not in a state for
/// it, no such suggestion), or because the store or the manager could not be reached.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IncidentError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("store error: {0}")]
    Store(Arc<StoreError>),
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
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
    /// The log has news (from the store actor; at most one waits, `progress.incidents_nudged`).
    Observe,
    /// Periodic (at most one waits, `ticks.rs`): look at the log for news no nudge announced.
    CatchUp,
    /// The next page of a catch-up (sent to itself).
    NextPage,
    /// A person acknowledges an incident.
    Acknowledge(u64, Who, IncidentReply),
    /// A person resolves an incident.
    Resolve(u64, Who, IncidentReply),
    /// A playbook run started healing the incident.
    RunStarted { incident_id: u64, run_id: RunId },
    /// A playbook run ended: its records (`handed`: the run, its agent, trust, a work order)
    /// are committed with what the end does to the incident, in one transaction, whatever that
    /// is (nothing, when it was resolved meanwhile). Replies once committed.
    RunFinished {
        incident_id: u64,
        run_id: RunId,
        outcome: RunOutcome,
        handed: Handed,
        reply: RpcReplyPort<Result<(), IncidentError>>,
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
    /// Automation was stopped before a run (an open circuit breaker), the incident relapses,
    /// or it is past its `escalate_after_ms` (`overdue`): escalate it to work order
    /// `work_order_id`, committed with it (`handed`: the work order, its deliveries) in one
    /// transaction. An overdue incident keeps the run healing it, if any. Replies whether it
    /// escalated: when the incident no longer needs it, nothing is committed.
    Escalate {
        incident_id: u64,
        work_order_id: WorkOrderId,
        overdue: bool,
        handed: Handed,
        reply: RpcReplyPort<Result<bool, IncidentError>>,
    },
    /// Periodic (at most one waits, `ticks.rs`): find incidents past their component's
    /// `escalate_after_ms`.
    CheckOverdue,
    /// A playbook's trust step (`set_trust`, `restore_trust`): move the component's trust and
    /// end the step, both in one commit. Replies with the step's record as announced.
    TrustStep(
        Box<TrustStep>,
        RpcReplyPort<Result<StepRecord, IncidentError>>,
    ),
    /// A question about the active incidents, answered from memory.
    Query(IncidentQuery),
    /// Answers once everything before it in the mailbox is handled — and, since the manager
    /// awaits its commits inside its handlers, committed or failed: the barrier a restarting
    /// playbook engine puts before it reads the runs left `running`.
    Barrier(RpcReplyPort<()>),
    /// A run's end was committed without the manager (it was away or too slow for the
    /// hand-over): apply the ends of the runs healing its incidents as stored, as at its start.
    Reconcile,
}

/// Records the playbook engine decided and hands to the incident manager, to be committed in
/// one transaction with the incident change they cause (the engine still decides them: the
/// incident manager only carries them), announced before it.
#[derive(Debug, Default, Clone)]
pub struct Handed {
    pub drafts: Vec<EventDraft>,
    pub writes: Vec<Write>,
}

impl Handed {
    pub fn is_empty(&self) -> bool {
        self.drafts.is_empty() && self.writes.is_empty()
    }
}

/// How a trust step moves the component's trust.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrustChange {
    /// `set_trust`: to this value.
    Set(f64),
    /// `restore_trust`, after verified recovery: up by `trust.restore_on_recovery`.
    Restore,
}

/// A trust step of a run, as its sub-agent carries it out. The incident manager owns component
/// trust, so it commits the change; the step's end is announced in the same commit, just
/// before the `trust.changed` it caused, so the log tells it in the order it happened.
#[derive(Debug, Clone)]
pub struct TrustStep {
    /// The incident's component, whose trust moves.
    pub component: String,
    pub change: TrustChange,
    pub run_id: RunId,
    pub playbook_id: String,
    pub incident_id: u64,
    /// The step's place in the playbook.
    pub index: usize,
    /// The step's record as it started (`running`).
    pub started: StepRecord,
}

impl TrustStep {
    /// The step's record once the trust is at `score`: succeeded, saying so.
    pub fn done(&self, score: f64, now: DateTime<Utc>) -> StepRecord {
        let component = &self.component;
        let output = match self.change {
            TrustChange::Set(_) => format!("trust in {component} set to {score:.2}"),
            TrustChange::Restore => format!("trust in {component} restored to {score:.2}"),
        };
        StepRecord {
            status: StepStatus::Succeeded,
            attempts: 1,
            finished_at: Some(now),
            output,
            ..self.started.clone()
        }
    }

    /// The `playbook.step` announcing `record`, as the playbook engine announces steps.
    pub fn announcement(&self, record: &StepRecord) -> EventDraft {
        EventDraft::of(&PlaybookStep {
            run_id: self.run_id.clone(),
            playbook_id: self.playbook_id.clone(),
            index: self.index,
            step: record.clone(),
        })
        .incident(self.incident_id)
    }
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

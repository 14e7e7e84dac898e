//! What the playbook engine takes: new incidents, runs by hand, and its sub-agents' reports.

use ractor::RpcReplyPort;

use crate::model::{
    ChangeRefused, Incident, RunId, StepRecord, Who, WorkOrder, WorkOrderAction, WorkOrderRequest,
};
pub use crate::model::{RunError, RunReport};

pub enum PlaybooksMsg {
    /// A new incident: run the first playbook whose trigger matches, if any.
    Trigger(Box<Incident>),
    /// A person runs a playbook on an active incident; replies with the run id.
    RunNow {
        playbook_id: String,
        incident_id: u64,
        by: Who,
        /// Past the trigger, cooldown and breaker checks (admins only; recorded).
        force: bool,
        reply: RpcReplyPort<Result<RunId, RunError>>,
    },
    /// An incident came back more than `incidents.relapses_max` times soon after it was
    /// healed: people are told, and its playbook runs again after a backoff (or, with
    /// `on_relapse = "people"`, not at all).
    Relapsing(Box<Incident>),
    /// The backoff before healing relapsing incident `incident_id` again has passed.
    RelapseDue { incident_id: u64 },
    /// Incident `incident_id` was superseded by incident `by` (what it depends on is down):
    /// stop its run, waiting or running, as `superseded`.
    Supersede { incident_id: u64, by: u64 },
    /// A sub-agent reports a step's progress: the engine records it and announces it (unless
    /// `announced`: a trust step's end is announced with its trust change), then replies, so
    /// whatever the step does next comes after it in the log.
    StepUpdate {
        run_id: RunId,
        index: usize,
        record: StepRecord,
        announced: bool,
        reply: RpcReplyPort<()>,
    },
    /// A sub-agent finished its run.
    Finished { run_id: RunId, report: RunReport },
    /// An incident outlived its component's `escalate_after_ms`: record a work order for
    /// people and send it, whatever automation is doing.
    Overdue(Box<Incident>),
    /// A person assigns, comments on, closes or reopens a work order (the engine is the work
    /// orders' one writer); replies with it as committed.
    ChangeWorkOrder {
        work_order_id: String,
        action: WorkOrderAction,
        request: WorkOrderRequest,
        by: Who,
        reply: RpcReplyPort<Result<WorkOrder, WorkOrderError>>,
    },
}

/// Why a work order was not changed.
#[derive(Debug, thiserror::Error)]
pub enum WorkOrderError {
    #[error("work order {0} does not exist")]
    NotFound(String),
    #[error(transparent)]
    Refused(#[from] ChangeRefused),
    #[error("the store: {0}")]
    Store(String),
    #[error(transparent)]
    Unavailable(#[from] super::Unavailable),
}

//! What the playbook engine takes: new incidents, runs by hand, and its sub-agents' reports.

use ractor::RpcReplyPort;

use crate::model::{Incident, RunId, StepRecord, Who};

/// How a sub-agent's run ended.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub succeeded: bool,
    /// Grace stopped in the middle of it (the run becomes `interrupted`, not `failed`).
    pub interrupted: bool,
    pub failing_step: Option<String>,
    pub output: String,
}

/// Why a playbook could not be run by hand.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    #[error("there is no playbook named {0:?}")]
    NoSuchPlaybook(String),
    #[error("incident {0} does not exist")]
    NoSuchIncident(u64),
    #[error("incident {0} is resolved; there is nothing to heal")]
    Resolved(u64),
    #[error("incident {incident_id} already has a run: {run}")]
    Busy { incident_id: u64, run: String },
    #[error("all {0} sub-agents are busy; try again when one is free")]
    Full(usize),
    /// Its trigger does not match the incident: not the playbook for it.
    #[error("{0}; an admin may run it anyway with \"force\": true")]
    NotTriggered(String),
    /// Its cooldown or circuit breaker holds it, as it would an automatic run.
    #[error("{0}; an admin may run it anyway with \"force\": true")]
    Held(String),
    #[error("store error: {0}")]
    Store(String),
}

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
}

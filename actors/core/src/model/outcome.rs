//! How a run ends, as the engine hears it from its sub-agent ([`RunReport`]) and as the incident
//! manager needs to know it ([`RunOutcome`]), and why a person's run was refused ([`RunError`]).
//! Plain data, here so the pure playbook book can decide on them; the protocol re-exports them.

use super::WorkOrderId;

/// How a sub-agent's run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    pub succeeded: bool,
    /// Grace stopped in the middle of it (the run becomes `interrupted`, not `failed`).
    pub interrupted: bool,
    pub failing_step: Option<String>,
    pub output: String,
}

impl RunReport {
    /// A run that failed before or outside its steps, saying `why`.
    pub fn failed(why: String) -> Self {
        Self {
            succeeded: false,
            interrupted: false,
            failing_step: None,
            output: why,
        }
    }
}

/// How a playbook run ended, as the incident manager needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Succeeded,
    Failed { work_order_id: WorkOrderId },
}

/// Why a playbook could not be run by hand.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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

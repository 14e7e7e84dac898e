//! What one decision of the run book made ([`Changes`]): the records to write and the events
//! announcing them, committed by the engine in one transaction — or, when the decision also
//! changes an incident ([`Handover`]), handed to the incident manager, which owns incidents,
//! to commit with its own change — and the [`Effect`]s to carry out once they are durable.

use crate::event::EventDraft;
use crate::model::{Agent, AgentId, Execution, Incident, RunId, RunOutcome, Suggestion};
use crate::model::{TrustScore, WorkOrder};
use crate::spec::PlaybookSpec;

/// The incident change a decision needs, committed by the incident manager in the same
/// transaction as the engine's records (as a trust step's end is).
#[derive(Debug, Clone, PartialEq)]
pub enum Handover {
    /// A run ended: the incident is resolved, escalated to the run's work order, or left.
    RunFinished {
        incident_id: u64,
        run_id: RunId,
        outcome: RunOutcome,
    },
    /// The work order escalates the incident (`overdue`: keeping the run healing it). Nothing
    /// is committed when the incident no longer needs it.
    Escalate { incident_id: u64, overdue: bool },
}

/// A sub-agent to spawn for a recorded run, starting at `first_step`.
#[derive(Debug, Clone)]
pub struct Spawn {
    pub run_id: RunId,
    pub agent_id: AgentId,
    pub playbook: PlaybookSpec,
    pub incident: Incident,
    pub first_step: usize,
}

/// What to do once the changes are durable.
#[derive(Debug, Clone)]
pub enum Effect {
    Spawn(Box<Spawn>),
    /// The agent's work is done: stop it (after its report, so its exit is not a crash).
    StopAgent(AgentId),
    /// Kill the agent mid-step (its run was superseded); the book has forgotten the run already.
    KillAgent(AgentId),
    /// Tell the incident manager a run heals the incident.
    RunStarted {
        incident_id: u64,
        run_id: RunId,
    },
    /// Offer a playbook to people on the incident.
    Suggest {
        incident_id: u64,
        suggestion: Box<Suggestion>,
    },
    /// Heal relapsing incident `incident_id` again after `delay_ms` (`RunBook::relapse_due`).
    HealAfter {
        incident_id: u64,
        delay_ms: u64,
    },
    /// Count an ended run for `GET /metrics`.
    CountRun(Box<Execution>),
    /// The queue was full: the incident waits in the store (logged).
    Overflowed {
        incident_id: u64,
        playbook_id: String,
    },
    /// A sub-agent slot is free: start what waits for one (`RunBook::next_waiting`).
    SlotFree,
}

/// Everything one decision changed.
#[derive(Debug, Default)]
pub struct Changes {
    /// The latest record of every run and sub-agent changed.
    pub runs: Vec<Execution>,
    /// Runs this decision read as `running` and ends or resumes: committed only while their
    /// stored record is still `running`, so a run is not ended (or resumed) twice — once by a
    /// hand-over that landed late, once by a restarted engine that read it before it landed.
    pub expect_running: Vec<RunId>,
    pub agents: Vec<Agent>,
    /// The playbook's trust, when a run's end moved it.
    pub trust: Option<TrustScore>,
    /// A new work order for people (its deliveries are added as it is committed).
    pub work_order: Option<WorkOrder>,
    /// The events announcing the changes, in order.
    pub drafts: Vec<EventDraft>,
    pub handover: Option<Handover>,
    pub effects: Vec<Effect>,
    /// The decision's crash points (`<point>.before_commit`, `<point>.after_commit`).
    pub point: Option<&'static str>,
}

impl Changes {
    /// Nothing to write, announce or hand over (effects may remain).
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
            && self.agents.is_empty()
            && self.trust.is_none()
            && self.work_order.is_none()
            && self.drafts.is_empty()
            && self.handover.is_none()
    }
}

//! What a run is carried out with: the sub-agent's arguments, the `Runner` that goes through
//! the steps (its step-by-step loop is in `sub_agent.rs`, each step kind in `steps/`), and a
//! step's outcome. A leaf, so the step kinds and the sub-agent both build on it.

use std::sync::Arc;

use crate::context::Ctx;
use crate::model::{Incident, RunId, StepRecord};
use crate::probe::Probe;
use crate::spec::PlaybookSpec;

/// The run a sub-agent carries out.
pub struct SubAgentArgs {
    pub ctx: Arc<Ctx>,
    pub run_id: RunId,
    pub playbook: PlaybookSpec,
    pub incident: Incident,
    /// The step to start at: 0, or where a run interrupted by a restart resumes.
    pub first_step: usize,
}

/// The outcome of one step.
pub(crate) struct StepResult {
    pub(crate) ok: bool,
    pub(crate) attempts: u32,
    pub(crate) output: String,
    /// `check` found the target answering: skip to the next `verify`.
    pub(crate) skip_to_verify: bool,
    /// The step's end is already announced (a trust step's, with its trust change): the
    /// record as announced, which the engine then only records.
    pub(crate) announced: Option<StepRecord>,
}

impl StepResult {
    pub(crate) fn new(ok: bool, attempts: u32, output: String) -> Self {
        Self {
            ok,
            attempts,
            output,
            skip_to_verify: false,
            announced: None,
        }
    }
}

/// Carries out the steps of one run, in order.
pub(crate) struct Runner<'a> {
    pub(crate) args: &'a SubAgentArgs,
    /// The incident's component, when a monitor watches it or alerts speak of it.
    pub(crate) probe: Option<Box<dyn Probe>>,
}

//! `check`: is the target reachable right now? It records the answer and never fails the run;
//! when the target answers, the steps up to the next `verify` are skipped.

use super::super::runner::{Runner, StepResult};

impl Runner<'_> {
    pub(in crate::playbooks) async fn check(&mut self, timeout_ms: u64) -> StepResult {
        match self.probe_once(timeout_ms).await {
            Ok(note) => StepResult {
                skip_to_verify: true,
                ..StepResult::new(true, 1, format!("target answers: {note}"))
            },
            Err(error) => StepResult::new(true, 1, format!("target does not answer: {error}")),
        }
    }
}

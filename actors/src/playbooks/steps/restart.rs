//! `restart`: starts the monitored process or service again, the way its monitor says.

use std::time::Duration;

use super::super::runner::{Runner, StepResult};

impl Runner<'_> {
    pub(in crate::playbooks) async fn restart(&mut self, timeout_ms: u64) -> StepResult {
        let outcome = match self.probe.as_mut() {
            Some(probe) => probe.restart(Duration::from_millis(timeout_ms)).await,
            None => Err(self.no_target()),
        };
        let ok = outcome.is_ok();
        StepResult::new(ok, 1, outcome.unwrap_or_else(|error| error))
    }
}

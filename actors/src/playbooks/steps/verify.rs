//! `verify`: a real query against the target (a PostgreSQL `SELECT`, a Redis `PING`, …); the
//! step fails when it does not succeed.

use std::time::Duration;

use super::super::runner::{Runner, StepResult};

impl Runner<'_> {
    pub(in crate::playbooks) async fn verify(&mut self, timeout_ms: u64) -> StepResult {
        let outcome = match self.probe.as_mut() {
            Some(probe) => probe
                .verify(Duration::from_millis(timeout_ms))
                .await
                .map_err(|failure| failure.error),
            None => Err(self.no_target()),
        };
        let ok = outcome.is_ok();
        let output = outcome.unwrap_or_else(|error| format!("verification failed: {error}"));
        StepResult::new(ok, 1, output)
    }
}

//! `reconnect`: tries the target again after each delay of its backoff (2 s, 4 s, 8 s by
//! default); the step fails when the last try fails.

use std::time::Duration;

use super::super::runner::{Runner, StepResult};

impl Runner<'_> {
    pub(in crate::playbooks) async fn reconnect(
        &mut self,
        backoff_ms: &[u64],
        timeout_ms: u64,
    ) -> StepResult {
        let mut log = Vec::new();
        for (attempt, delay_ms) in backoff_ms.iter().enumerate() {
            tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
            let try_number = attempt + 1;
            match self.probe_once(timeout_ms).await {
                Ok(note) => {
                    log.push(format!(
                        "try {try_number} after {delay_ms} ms: connected ({note})"
                    ));
                    return StepResult::new(true, try_number as u32, log.join("\n"));
                }
                Err(error) => log.push(format!("try {try_number} after {delay_ms} ms: {error}")),
            }
        }
        StepResult::new(false, backoff_ms.len() as u32, log.join("\n"))
    }
}

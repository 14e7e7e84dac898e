//! `wait`: a fixed time, out the `Retry-After` window the incident's first event announced, or
//! until the target answers; never longer than the step's `timeout_ms`.

use std::time::Duration;

use super::super::runner::{Runner, StepResult};
use crate::spec::{WaitFor, WaitUntil};

/// How often a `wait` step for a healthy target probes it, and how long each probe may take.
const WAIT_POLL: Duration = Duration::from_millis(1_000);
const WAIT_PROBE_TIMEOUT: Duration = Duration::from_millis(5_000);

impl Runner<'_> {
    pub(in crate::playbooks) async fn wait(
        &mut self,
        until: WaitFor,
        timeout_ms: u64,
    ) -> StepResult {
        let limit = Duration::from_millis(timeout_ms);
        match until {
            WaitFor::Time { ms } => {
                let wait = Duration::from_millis(ms).min(limit);
                tokio::time::sleep(wait).await;
                StepResult::new(true, 1, format!("waited {} ms", wait.as_millis()))
            }
            WaitFor::Event(WaitUntil::RetryAfter) => match self.retry_window().await {
                Some(left) => {
                    let wait = left.min(limit);
                    tokio::time::sleep(wait).await;
                    let waited =
                        format!("waited out the Retry-After window: {} ms", wait.as_millis());
                    StepResult::new(true, 1, waited)
                }
                // Nothing said how long: wait for the target itself.
                None => {
                    self.wait_healthy(limit, "no Retry-After on the incident; ")
                        .await
                }
            },
            WaitFor::Event(WaitUntil::Healthy) => self.wait_healthy(limit, "").await,
        }
    }

    /// What is left of the `Retry-After` window the incident's first event announced.
    async fn retry_window(&self) -> Option<Duration> {
        let first = *self.args.incident.event_seqs.first()?;
        let events = self
            .args
            .ctx
            .store
            .events_after(first.saturating_sub(1), 1)
            .await
            .ok()?;
        let event = events.into_iter().find(|event| event.seq == first)?;
        let data = &event.data;
        let seconds = [
            "/details/retry_after_seconds",
            "/retry_after_seconds",
            "/payload/retry_after_seconds",
        ]
        .iter()
        .find_map(|pointer| data.pointer(pointer).and_then(serde_json::Value::as_f64))?;
        // A pushed event may carry any number: only a finite, sane window counts.
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        let window_ms = (seconds * 1000.0).min(crate::spec::bounds::DURATION_MS_MAX as f64);
        let window_ends = event.at + chrono::Duration::milliseconds(window_ms as i64);
        let left = (window_ends - crate::time::now()).num_milliseconds().max(0);
        Some(Duration::from_millis(left as u64))
    }

    /// Probes until the target answers or `limit` has passed.
    async fn wait_healthy(&mut self, limit: Duration, note: &str) -> StepResult {
        let started = std::time::Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            let left = limit.saturating_sub(started.elapsed());
            let probe_timeout = left.clamp(Duration::from_millis(1), WAIT_PROBE_TIMEOUT);
            match self.probe_once(probe_timeout.as_millis() as u64).await {
                Ok(answer) => {
                    return StepResult::new(
                        true,
                        tries,
                        format!(
                            "{note}target answers after {} ms: {answer}",
                            started.elapsed().as_millis()
                        ),
                    )
                }
                Err(error) if started.elapsed() >= limit => {
                    return StepResult::new(
                        false,
                        tries,
                        format!("{note}still not answering after {limit:?}: {error}"),
                    )
                }
                Err(_) => {
                    let pause = WAIT_POLL.min(limit.saturating_sub(started.elapsed()));
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

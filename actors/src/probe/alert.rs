//! The probe of a component only Alertmanager's alerts speak of: it is healthy when the alerts
//! of its incident have resolved. A playbook's `check`, `verify` and `wait until = "healthy"`
//! on an alert incident ask it, so the alert's own word confirms a heal — nothing else on the
//! machine knows what Prometheus measured.
//!
//! It reads the incident from the store: the incident manager takes the alert's `resolved`
//! off `alerts_firing` (and notes `recovery_seen` while a run is healing it).

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::{Probe, ProbeFailure};
use crate::model::Severity;
use crate::store::StoreView;

/// What a failed look at an alert is called in a step's log; never published.
const STILL_FIRING: &str = "alert.still_firing";

/// How often `verify` looks again while the alert fires.
const VERIFY_POLL: Duration = Duration::from_millis(250);

pub struct AlertProbe {
    store: StoreView,
    incident_id: u64,
}

impl AlertProbe {
    pub fn new(store: StoreView, incident_id: u64) -> Self {
        Self { store, incident_id }
    }

    /// One look: resolved, or which alerts still fire.
    async fn look(&self) -> Result<String, ProbeFailure> {
        let failure = |error: String| ProbeFailure {
            event_type: STILL_FIRING,
            severity: Severity::High,
            error,
        };
        let incident = self
            .store
            .incident(self.incident_id)
            .await
            .map_err(|error| failure(format!("cannot read the incident: {error}")))?
            .ok_or_else(|| failure(format!("incident {} is gone", self.incident_id)))?;
        let resolved = !incident.status.is_active()
            || incident.recovery_seen
            || incident.alerts_firing.is_empty();
        if resolved {
            return Ok(format!("the {} alert resolved", incident.event_type));
        }
        let firing = incident.alerts_firing.len();
        Err(failure(format!(
            "{firing} alert(s) of {} still firing on {}",
            incident.event_type, incident.source
        )))
    }
}

impl Probe for AlertProbe {
    fn probe(&mut self, _timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.look())
    }

    /// Waits for the alert to resolve, at most `timeout`: Prometheus evaluates its rule and
    /// Alertmanager sends the resolution on their own schedules, not at once.
    fn verify(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(async move {
            let started = Instant::now();
            loop {
                match self.look().await {
                    Ok(note) => return Ok(note),
                    Err(mut failure) if started.elapsed() >= timeout => {
                        failure.error = format!(
                            "{} after waiting {} ms for it to resolve",
                            failure.error,
                            timeout.as_millis()
                        );
                        return Err(failure);
                    }
                    Err(_) => {
                        let left = timeout.saturating_sub(started.elapsed());
                        tokio::time::sleep(VERIFY_POLL.min(left)).await;
                    }
                }
            }
        })
    }

    fn recovery_event(&self) -> &'static str {
        STILL_FIRING // never published: an alert's own resolution is its recovery
    }
}

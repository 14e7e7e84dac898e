//! The heartbeat probe: a dead-man switch. The app calls `POST /heartbeats/{monitor_id}`; a
//! probe fails once no beat has come for longer than `grace_ms`. A monitor that (re)starts
//! gives the app a full grace period before it counts a silence.

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::{Heartbeats, Probe, ProbeFailure};
use crate::event::types;
use crate::model::Severity;

pub struct HeartbeatProbe {
    monitor_id: String,
    grace: Duration,
    heartbeats: Heartbeats,
    started: Instant,
}

impl HeartbeatProbe {
    pub fn new(monitor_id: String, grace: Duration, heartbeats: Heartbeats) -> Self {
        Self {
            monitor_id,
            grace,
            heartbeats,
            started: Instant::now(),
        }
    }

    fn check(&self) -> Result<String, ProbeFailure> {
        let beat = self.heartbeats.last(&self.monitor_id);
        let since = beat.map_or(self.started, |beat| beat.max(self.started));
        let silent = since.elapsed();
        if silent <= self.grace {
            return Ok(match beat {
                Some(_) => format!("last beat {} ms ago", silent.as_millis()),
                None => "no beat yet; within the grace period".to_owned(),
            });
        }
        Err(ProbeFailure {
            event_type: types::HEARTBEAT_MISSED,
            severity: Severity::Medium,
            error: format!(
                "no heartbeat for {} ms (grace {} ms)",
                silent.as_millis(),
                self.grace.as_millis()
            ),
        })
    }
}

impl Probe for HeartbeatProbe {
    fn probe(&mut self, _timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(async move { self.check() })
    }

    fn verify(&mut self, _timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(async move { self.check() })
    }

    fn recovery_event(&self) -> &'static str {
        types::HEARTBEAT_RESTORED
    }
}

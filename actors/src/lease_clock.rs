//! How long this node may still act under the engines' lease, by its own monotonic clock. The
//! node's lease loop sets it at each renewal to the instant the renewal was *sent* plus
//! `lease_ms`: the database dates the lease from when it received the renewal, later, so the
//! lease in the database never ends before this one does, whatever the two clocks say.
//!
//! A command step is not started with less than [`COMMAND_MARGIN_MS`] left (a program cannot
//! be fenced once it runs); on one node there is no lease and no limit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::cluster::COMMAND_MARGIN_MS;

/// Shared by the lease loop (which sets it) and the sub-agents (which ask it).
#[derive(Debug, Clone, Default)]
pub struct LeaseClock(Option<Arc<Mutex<Option<Instant>>>>);

impl LeaseClock {
    /// One node: no lease, never a limit.
    pub fn unlimited() -> Self {
        Self(None)
    }

    /// A node of a cluster that holds no lease yet.
    pub fn held() -> Self {
        Self(Some(Arc::new(Mutex::new(None))))
    }

    /// A renewal (or the taking) sent at `sent` for `lease` went through.
    pub fn renewed(&self, sent: Instant, lease: Duration) {
        if let Some(until) = &self.0 {
            *until.lock().expect("lease clock poisoned") = Some(sent + lease);
        }
    }

    /// The lease is gone: nothing more may start under it.
    pub fn lost(&self) {
        if let Some(until) = &self.0 {
            *until.lock().expect("lease clock poisoned") = None;
        }
    }

    /// How long is left; None on one node (no limit).
    pub fn left(&self) -> Option<Duration> {
        let until = self.0.as_ref()?;
        let until = *until.lock().expect("lease clock poisoned");
        Some(until.map_or(Duration::ZERO, |until| {
            until.saturating_duration_since(Instant::now())
        }))
    }

    /// Whether a command may start now; why not, when it may not.
    pub fn may_start_command(&self) -> Result<(), String> {
        match self.left() {
            Some(left) if left < Duration::from_millis(COMMAND_MARGIN_MS as u64) => Err(format!(
                "not started: this node's lease on the engines has {} ms left, less than the \
                 {COMMAND_MARGIN_MS} ms a command needs (another node may be taking over)",
                left.as_millis()
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_needs_the_margin_left_and_one_node_has_no_limit() {
        assert!(LeaseClock::unlimited().may_start_command().is_ok());
        let clock = LeaseClock::held();
        assert!(clock.may_start_command().is_err(), "nothing held yet");
        clock.renewed(Instant::now(), Duration::from_secs(10));
        assert!(clock.may_start_command().is_ok());
        clock.renewed(
            Instant::now(),
            Duration::from_millis(COMMAND_MARGIN_MS as u64 / 2),
        );
        let refused = clock.may_start_command().unwrap_err();
        assert!(refused.contains("lease"), "{refused}");
        clock.renewed(Instant::now(), Duration::from_secs(10));
        clock.lost();
        assert!(clock.may_start_command().is_err());
    }
}

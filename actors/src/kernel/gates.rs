//! The bounded gate in front of every actor the outside world asks through the kernel.
//!
//! Ractor mailboxes are unbounded, and every HTTP request that asks an actor (acknowledge,
//! resolve, run, silence, control, a list the incident manager answers from memory …) puts one
//! message in its mailbox. Requests are as many as clients care to open, so without a bound a
//! flood grows a mailbox, and the memory behind it, without limit. Each target actor has a
//! gate here: at most `limits.actor_requests_max` asks from outside are in flight to it at once
//! (a pass is held for the whole ask, reply included); one more is refused at once with a
//! [`Unavailable`] that is `busy`, which the HTTP layer answers 503 with `Retry-After: 1`.
//! Nothing waits at the gate, so a refused request costs nothing. Actors asking one another
//! do not pass it: a flood from outside cannot starve the tree's own work.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ractor::RpcReplyPort;

use super::Kernel;
use crate::protocol::{Role, Unavailable};

/// One in-flight counter per target actor (by role name; all monitors share one).
#[derive(Debug, Default)]
pub(super) struct Gates {
    counts: Mutex<HashMap<&'static str, Arc<AtomicUsize>>>,
}

/// A pass through a gate: the ask it covers is counted in flight until this is dropped.
#[derive(Debug)]
pub(super) struct Pass(Arc<AtomicUsize>);

impl Drop for Pass {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gates {
    /// A pass to ask `target` (`what` in an error), or busy when `max` asks are in flight to it.
    /// `max` is read at each ask, so a reload's new limit holds from the next request.
    pub(super) fn enter(
        &self,
        target: &'static str,
        what: &'static str,
        max: usize,
    ) -> Result<Pass, Unavailable> {
        let count = self
            .counts
            .lock()
            .expect("gates poisoned")
            .entry(target)
            .or_default()
            .clone();
        if count.fetch_add(1, Ordering::AcqRel) >= max {
            count.fetch_sub(1, Ordering::AcqRel);
            return Err(Unavailable::busy(what));
        }
        Ok(Pass(count))
    }

    /// Asks in flight to `target` now.
    #[cfg(test)]
    fn in_flight(&self, target: &'static str) -> usize {
        let counts = self.counts.lock().expect("gates poisoned");
        counts.get(target).map_or(0, |c| c.load(Ordering::Acquire))
    }
}

impl Kernel {
    /// A pass through `target`'s gate, under the running `limits.actor_requests_max`.
    pub(super) fn pass(
        &self,
        target: &'static str,
        what: &'static str,
    ) -> Result<Pass, Unavailable> {
        let max = self.ctx.spec().limits.actor_requests_max;
        self.gates.enter(target, what, max)
    }

    /// Asks role `R` on behalf of the outside world: through its gate, then as
    /// [`Scope::ask`](crate::protocol::Scope::ask) does (at most `RPC_TIMEOUT_MS`).
    pub(super) async fn ask<R: Role, T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> R::Msg,
    ) -> Result<T, Unavailable> {
        let _pass = self.pass(R::NAME, R::WHAT)?;
        self.ctx.scope.ask::<R, T>(build).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_lets_max_asks_through_and_refuses_the_next_as_busy() {
        let gates = Gates::default();
        let passes: Vec<_> = (0..3)
            .map(|_| gates.enter("incidents", "the incident manager", 3).unwrap())
            .collect();
        let refused = gates
            .enter("incidents", "the incident manager", 3)
            .unwrap_err();
        assert!(refused.busy, "{refused}");
        assert_eq!(refused.what, "the incident manager");
        assert_eq!(gates.in_flight("incidents"), 3, "a refusal holds no place");
        drop(passes);
        assert_eq!(gates.in_flight("incidents"), 0);
        assert!(gates.enter("incidents", "the incident manager", 3).is_ok());
    }

    #[test]
    fn each_target_has_its_own_gate() {
        let gates = Gates::default();
        let _full = gates.enter("incidents", "the incident manager", 1).unwrap();
        assert!(gates.enter("incidents", "the incident manager", 1).is_err());
        assert!(gates.enter("playbooks", "the playbook engine", 1).is_ok());
    }

    #[test]
    fn a_lower_limit_holds_from_the_next_ask() {
        let gates = Gates::default();
        let _held: Vec<_> = (0..4)
            .map(|_| gates.enter("store", "the store", 8).unwrap())
            .collect();
        assert!(gates.enter("store", "the store", 4).is_err());
        assert!(gates.enter("store", "the store", 5).is_ok());
    }

    #[tokio::test]
    async fn passes_given_back_by_many_tasks_leave_the_gate_empty() {
        let gates = Arc::new(Gates::default());
        let tasks = (0..64).map(|_| {
            let gates = gates.clone();
            tokio::spawn(async move {
                let pass = gates.enter("bus", "the event bus", 16);
                tokio::task::yield_now().await;
                pass.is_ok()
            })
        });
        let admitted = futures_util::future::join_all(tasks).await;
        assert!(admitted.iter().any(|ok| *ok.as_ref().unwrap()));
        assert_eq!(gates.in_flight("bus"), 0);
    }
}

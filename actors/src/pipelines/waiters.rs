//! The callers waiting for a pipeline run to end (a `rerun_pipelines` step waits for each rerun
//! it asked for), bounded: each holds a reply port until its run ends, and a step that gave up
//! leaves its port behind, so without a bound a run that never ends would gather them forever.
//! Ports whose caller stopped waiting are dropped first; past `WAITERS_MAX` still waiting, a new
//! caller is refused and told why.

use std::collections::HashMap;

use ractor::RpcReplyPort;

use crate::model::PipelineRunId;

/// Most callers waiting for runs to end at once, over all runs. Each `rerun_pipelines` step
/// waits for at most `bounds::RERUN_RUNS_MAX` reruns, one at a time.
pub(super) const WAITERS_MAX: usize = 1_000;

/// Reply ports by the run they wait for.
pub(super) struct Waiters<T> {
    by_run: HashMap<PipelineRunId, Vec<RpcReplyPort<T>>>,
    max: usize,
}

impl<T: Clone> Default for Waiters<T> {
    fn default() -> Self {
        Waiters::new(WAITERS_MAX)
    }
}

impl<T: Clone> Waiters<T> {
    pub(super) fn new(max: usize) -> Self {
        Waiters {
            by_run: HashMap::new(),
            max,
        }
    }

    /// Keeps `port` until `run_id` ends; gives it back when `max` callers already wait.
    pub(super) fn wait(
        &mut self,
        run_id: PipelineRunId,
        port: RpcReplyPort<T>,
    ) -> Result<(), RpcReplyPort<T>> {
        if self.len() >= self.max {
            // Callers that timed out are not waiting any more: their places are free.
            for ports in self.by_run.values_mut() {
                ports.retain(|port| !port.is_closed());
            }
            self.by_run.retain(|_, ports| !ports.is_empty());
            if self.len() >= self.max {
                return Err(port);
            }
        }
        self.by_run.entry(run_id).or_default().push(port);
        Ok(())
    }

    /// Answers everyone waiting for `run_id`.
    pub(super) fn answer(&mut self, run_id: &PipelineRunId, answer: T) {
        for port in self.by_run.remove(run_id).unwrap_or_default() {
            let _ = port.send(answer.clone());
        }
    }

    /// How many callers wait.
    pub(super) fn len(&self) -> usize {
        self.by_run.values().map(Vec::len).sum()
    }

    /// The most that may wait at once.
    pub(super) fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::concurrency::{oneshot, OneshotReceiver};

    fn port() -> (RpcReplyPort<u32>, OneshotReceiver<u32>) {
        let (tx, rx) = oneshot();
        (RpcReplyPort::from(tx), rx)
    }

    #[tokio::test]
    async fn everyone_waiting_for_a_run_is_answered_when_it_ends() {
        let mut waiters = Waiters::new(10);
        let (run, other) = (PipelineRunId::new(), PipelineRunId::new());
        let (a, a_rx) = port();
        let (b, b_rx) = port();
        let (c, _c_rx) = port();
        assert!(waiters.wait(run.clone(), a).is_ok());
        assert!(waiters.wait(run.clone(), b).is_ok());
        assert!(waiters.wait(other, c).is_ok());
        waiters.answer(&run, 7);
        assert_eq!((a_rx.await.unwrap(), b_rx.await.unwrap()), (7, 7));
        assert_eq!(waiters.len(), 1);
    }

    #[test]
    fn past_the_bound_a_new_caller_is_refused() {
        let mut waiters = Waiters::new(2);
        let mut receivers = Vec::new();
        for _ in 0..2 {
            let (p, rx) = port();
            receivers.push(rx);
            assert!(waiters.wait(PipelineRunId::new(), p).is_ok());
        }
        let (refused, _rx) = port();
        assert!(waiters.wait(PipelineRunId::new(), refused).is_err());
        assert_eq!(waiters.len(), 2);
    }

    #[test]
    fn callers_that_stopped_waiting_make_room() {
        let mut waiters = Waiters::new(2);
        let (kept, _kept_rx) = port();
        let (gone, gone_rx) = port();
        waiters.wait(PipelineRunId::new(), kept).unwrap();
        waiters.wait(PipelineRunId::new(), gone).unwrap();
        drop(gone_rx);
        let (next, _next_rx) = port();
        assert!(waiters.wait(PipelineRunId::new(), next).is_ok());
        assert_eq!(waiters.len(), 2);
    }
}

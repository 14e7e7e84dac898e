//! A clean stop (`grace serve` on SIGTERM or SIGINT): commit what is queued, stop the tree,
//! and say which runs were handed over, all within one bound. Through `&self`, so whoever
//! else holds the kernel (the SIGHUP task, an open request) cannot keep the stop from
//! happening.
//!
//! A run in flight is not waited for (a step may take minutes): stopping the tree ends its
//! sub-agent mid-step (the step's program group is killed with it) and leaves its record
//! `running`, which is exactly what the restart rules (`playbooks/resume.rs`) take over: the
//! next start resumes it where that is safe, or ends it as interrupted and escalates.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use super::Kernel;
use crate::model::Execution;
use crate::protocol::bus::commit_in_order;

/// The bound of [`Kernel::shutdown`], as `server.shutdown_timeout_ms` defaults.
pub const SHUTDOWN_TIMEOUT_MS: u64 = 10_000;

/// How a clean stop went.
#[derive(Debug)]
pub struct Stopped {
    /// Whether what was queued was committed before the tree stopped.
    pub flushed: bool,
    /// Whether the tree had stopped within the bound.
    pub in_time: bool,
    /// Runs left `running` for the restart rules (empty when the store could not say in time).
    pub handed_over: Vec<Execution>,
}

impl Kernel {
    /// Stops the whole tree within [`SHUTDOWN_TIMEOUT_MS`] and waits for it.
    pub async fn shutdown(&self) -> Stopped {
        self.shutdown_within(Duration::from_millis(SHUTDOWN_TIMEOUT_MS))
            .await
    }

    /// Commits what the bus holds (at most half of `timeout`: a store refusing writes must
    /// not take the whole bound), stops the tree, and reads which runs it left `running`.
    pub async fn shutdown_within(&self, timeout: Duration) -> Stopped {
        let deadline = Instant::now() + timeout;
        // Before any sub-agent ends: their runs are handed over, not failed.
        self.ctx.stopping.store(true, Ordering::Release);
        let flush = commit_in_order(&self.ctx.scope, Vec::new(), Vec::new());
        let flushed = matches!(
            timeout_at(Instant::now() + timeout / 2, flush).await,
            Ok(Ok(_))
        );
        // The root ends its own loop, then kills every actor below it (ractor's terminate).
        self.root.stop(Some("shutdown".to_owned()));
        let in_time = timeout_at(deadline, self.exited()).await.is_ok();
        let handed_over = match timeout_at(deadline, self.ctx.store.running_executions()).await {
            Ok(Ok(runs)) => runs,
            _ => Vec::new(),
        };
        Stopped {
            flushed,
            in_time,
            handed_over,
        }
    }
}

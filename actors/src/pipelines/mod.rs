//! The pipeline runner: runs the configured `[[pipelines]]` on their schedule, by hand, or as
//! reruns asked for by a healing playbook, and records every run.
//!
//! What is decided is pure and told the time: `schedule.rs` (which pipelines are due),
//! `reruns.rs` (the bounded, deduplicated queue of reruns) and `waiters.rs` (the bounded reply
//! ports of callers waiting for runs). `actor.rs` does the I/O around them (the store, the
//! timer, spawning jobs, publishing) and `job.rs` runs one job: its program or its call.

mod actor;
mod job;
mod reruns;
mod schedule;
mod waiters;

pub(crate) use actor::PipelinesActor;

use chrono::{DateTime, Utc};

use crate::model::{PipelineRun, PipelineRunId, PipelineRunStatus, PipelineTrigger};

/// A new run of `pipeline_id`, running from `now`.
fn new_run(
    pipeline_id: &str,
    trigger: PipelineTrigger,
    rerun_of: Option<&PipelineRunId>,
    now: DateTime<Utc>,
) -> PipelineRun {
    PipelineRun {
        run_id: PipelineRunId::new(),
        pipeline_id: pipeline_id.to_owned(),
        status: PipelineRunStatus::Running,
        trigger,
        rerun_of: rerun_of.cloned(),
        rerun_by: None,
        started_by: None,
        exit_code: None,
        http_status: None,
        output: String::new(),
        started_at: now,
        finished_at: None,
        duration_ms: None,
    }
}

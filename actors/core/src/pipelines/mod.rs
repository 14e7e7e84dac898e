//! The pipeline runner's pure rules, told the time: `schedule` (which pipelines are due) and
//! `reruns` (the bounded, deduplicated queue of reruns a healing playbook asked for).

pub mod reruns;
pub mod schedule;

use chrono::{DateTime, Utc};

use crate::model::{PipelineRun, PipelineRunId, PipelineRunStatus, PipelineTrigger};

/// A new run of `pipeline_id`, running from `now`.
pub fn new_run(
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

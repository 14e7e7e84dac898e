//! Runs of the `[[pipelines]]` Grace runs: by schedule, by hand, or rerun after an outage.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::PipelineRunId;
use super::Who;
use crate::time::{micros, micros_opt};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PipelineRunStatus {
    /// A rerun waiting for its pipeline to be free.
    Queued,
    Running,
    Succeeded,
    Failed,
    /// Grace stopped while it ran; it is not known how far it got.
    Interrupted,
}

/// What started a pipeline run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PipelineTrigger {
    Schedule,
    Manual,
    /// A healing playbook reran a run that failed while its component was down.
    Rerun,
}

/// One run of a pipeline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct PipelineRun {
    pub run_id: PipelineRunId,
    pub pipeline_id: String,
    pub status: PipelineRunStatus,
    pub trigger: PipelineTrigger,
    /// The failed run this one reruns.
    #[serde(default)]
    pub rerun_of: Option<PipelineRunId>,
    /// The run that reran this failed one (set once, so nothing is rerun twice).
    #[serde(default)]
    pub rerun_by: Option<PipelineRunId>,
    /// Who, for a `manual` run.
    #[serde(default)]
    pub started_by: Option<Who>,
    /// The program's exit code (argv jobs) …
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// … or the HTTP status (url jobs).
    #[serde(default)]
    pub http_status: Option<u16>,
    /// The tail of what it printed (or what went wrong).
    pub output: String,
    #[serde(with = "micros")]
    pub started_at: DateTime<Utc>,
    #[serde(default, with = "micros_opt")]
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
}

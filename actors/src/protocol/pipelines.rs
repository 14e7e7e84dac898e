//! What the pipeline runner takes: ticks, runs by hand, reruns after a heal, and waits.

use chrono::{DateTime, Utc};
use ractor::RpcReplyPort;

use crate::model::{PipelineRun, PipelineRunId, Who};
use crate::store::StoreError;

/// Why a pipeline could not be run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PipelineError {
    #[error("there is no pipeline named {0:?}")]
    NoSuchPipeline(String),
    #[error("pipeline {pipeline:?} is already running: {run}")]
    /// The pipeline is running (`run`: the run id) or has reruns queued (`run` says so).
    Busy { pipeline: String, run: String },
    #[error("store error: {0}")]
    Store(String),
    /// `max` callers already wait for runs to end: the runner keeps no more reply ports.
    #[error("{max} callers already wait for pipeline runs to end, the most the runner keeps")]
    TooManyWaiting { max: usize },
}

impl From<StoreError> for PipelineError {
    fn from(error: StoreError) -> Self {
        PipelineError::Store(error.to_string())
    }
}

/// A failed run and the rerun queued (or already going) for it.
#[derive(Debug, Clone)]
pub struct Rerun {
    pub failed_run_id: PipelineRunId,
    pub rerun: PipelineRun,
}

pub enum PipelinesMsg {
    /// Periodic (at most one waits, `ticks.rs`): start the scheduled runs that are due.
    Tick,
    /// A person starts a run now; replies with it as started.
    RunNow {
        pipeline_id: String,
        by: Who,
        reply: RpcReplyPort<Result<PipelineRun, PipelineError>>,
    },
    /// A healing playbook: queue a rerun of every failed run, not rerun yet, of the pipelines
    /// that depend on `component`, that ended at or after `since` (at most `runs_max`).
    RerunFailed {
        component: String,
        since: DateTime<Utc>,
        runs_max: usize,
        reply: RpcReplyPort<Result<Vec<Rerun>, PipelineError>>,
    },
    /// Replies with the run once it has ended (None when there is no such run); refused when
    /// too many callers wait already.
    AwaitRun {
        run_id: PipelineRunId,
        reply: RpcReplyPort<Result<Option<PipelineRun>, PipelineError>>,
    },
    /// A run's task ended.
    Finished(PipelineRun),
}

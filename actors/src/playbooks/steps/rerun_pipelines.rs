//! `rerun_pipelines`: has the pipeline runs that failed while the component was down rerun,
//! and waits for them.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ractor::ActorRef;

use super::super::runner::{Runner, StepResult};
use crate::model::PipelineRunStatus;
use crate::protocol::pipelines::{PipelinesMsg, Rerun};
use crate::protocol::{Pipelines, RPC_TIMEOUT_MS};

/// How far before an incident on a component with no monitor `rerun_pipelines` looks for
/// failed runs.
const RERUN_LOOKBACK_DEFAULT_MS: u64 = 60_000;

impl Runner<'_> {
    /// Has the pipeline runs that failed while this component was down rerun, and waits for
    /// them, all within `timeout_ms`.
    pub(in crate::playbooks) async fn rerun_pipelines(
        &self,
        timeout_ms: u64,
        runs_max: usize,
    ) -> StepResult {
        let incident = &self.args.incident;
        let pipelines = match self.args.ctx.scope.find::<Pipelines>() {
            Ok(pipelines) => pipelines,
            Err(error) => return StepResult::new(false, 1, error.to_string()),
        };
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        let rerun_failed = |reply| PipelinesMsg::RerunFailed {
            component: incident.source.clone(),
            since: self.down_since(),
            runs_max,
            reply,
        };
        let reruns = match ractor::call_t!(pipelines, rerun_failed, RPC_TIMEOUT_MS) {
            Ok(Ok(reruns)) => reruns,
            Ok(Err(error)) => return StepResult::new(false, 1, error.to_string()),
            Err(error) => return StepResult::new(false, 1, error.to_string()),
        };
        if reruns.is_empty() {
            let none = format!("no failed pipeline runs to rerun for {}", incident.source);
            return StepResult::new(true, 1, none);
        }
        let mut ok = true;
        let mut lines = Vec::new();
        for rerun in reruns {
            let (ended_well, line) = await_rerun(&pipelines, rerun, deadline, timeout_ms).await;
            ok &= ended_well;
            lines.push(line);
        }
        StepResult::new(ok, 1, lines.join("\n"))
    }

    /// When the component went down. It starts before the incident opened: a monitor declares a
    /// component down only after `failures_before_down` probes, and jobs fail from the first
    /// moment.
    fn down_since(&self) -> DateTime<Utc> {
        let incident = &self.args.incident;
        let lookback_ms = self
            .args
            .ctx
            .spec()
            .monitors
            .iter()
            .find(|m| m.id == incident.source)
            .map_or(RERUN_LOOKBACK_DEFAULT_MS, |m| {
                m.interval_ms * (u64::from(m.failures_before_down) + 1) + m.timeout_ms
            });
        incident.detected_at - chrono::Duration::milliseconds(lookback_ms as i64)
    }
}

/// Waits until `deadline` for one rerun to end: whether it succeeded, and a line saying how.
async fn await_rerun(
    pipelines: &ActorRef<PipelinesMsg>,
    Rerun {
        failed_run_id,
        rerun,
    }: Rerun,
    deadline: Instant,
    timeout_ms: u64,
) -> (bool, String) {
    let left_ms = deadline
        .saturating_duration_since(Instant::now())
        .as_millis();
    let await_run = |reply| PipelinesMsg::AwaitRun {
        run_id: rerun.run_id.clone(),
        reply,
    };
    match ractor::call_t!(pipelines, await_run, left_ms.max(1) as u64) {
        Ok(Ok(Some(run))) if run.status == PipelineRunStatus::Succeeded => {
            let ms = run.duration_ms.unwrap_or(0);
            let line = format!(
                "{}: run {failed_run_id} failed → rerun {} succeeded in {ms} ms",
                run.pipeline_id, run.run_id,
            );
            (true, line)
        }
        Ok(Ok(Some(run))) => {
            let why = run.output.lines().next().unwrap_or_default();
            let line = format!(
                "{}: run {failed_run_id} failed → rerun {} {:?}: {why}",
                run.pipeline_id, run.run_id, run.status,
            );
            (false, line)
        }
        Ok(Err(error)) => {
            let line = format!(
                "{}: rerun {} could not be waited for: {error}",
                rerun.pipeline_id, rerun.run_id
            );
            (false, line)
        }
        Ok(Ok(None)) | Err(_) => {
            let line = format!(
                "{}: rerun {} did not end within the step's {timeout_ms} ms",
                rerun.pipeline_id, rerun.run_id
            );
            (false, line)
        }
    }
}

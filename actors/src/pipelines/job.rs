//! Running one pipeline job: its program (argv, never a shell) or its HTTP call, with the run's
//! deadline; what it answered is kept on the run (an HTTP answer read through the bounded
//! `outbound` call, shared with the playbook `http` step).

use std::time::Duration;

use serde_json::json;

use crate::model::PipelineRun;
use crate::outbound;
use crate::program::{self, Exit};
use crate::spec::{PipelineJob, PipelineSpec};

/// Bytes of an HTTP job's answer kept in its output.
const HTTP_BODY_KEEP_BYTES: usize = 4_096;

/// Runs the job once; returns whether it succeeded and what it said. Fills in the exit code or
/// HTTP status on `run`.
pub(crate) async fn execute(pipeline: &PipelineSpec, run: &mut PipelineRun) -> (bool, String) {
    let timeout = Duration::from_millis(pipeline.timeout_ms);
    match &pipeline.job {
        PipelineJob::Program { argv, env } => {
            let outcome = program::run(argv, env, timeout).await;
            if let Exit::Exited(status) = &outcome.exit {
                run.exit_code = status.code();
            }
            let program = argv.first().map_or("pipeline", String::as_str);
            (outcome.success(), outcome.describe(program, timeout))
        }
        PipelineJob::Call {
            url,
            method,
            expect_status,
        } => call(pipeline, run, (url, method, expect_status), timeout).await,
    }
}

/// An HTTP pipeline's call: `(url, method, expect_status)`, its answer read through the
/// bounded `outbound` call.
async fn call(
    pipeline: &PipelineSpec,
    run: &mut PipelineRun,
    (url, method, expect_status): (&str, &str, &[u16]),
    timeout: Duration,
) -> (bool, String) {
    let method = outbound::method(method);
    let body = json!({ "pipeline": pipeline.id, "run_id": run.run_id, "trigger": run.trigger });
    match outbound::call(&method, url, &body, timeout).await {
        Ok(answer) => {
            let status = answer.status;
            run.http_status = Some(status.as_u16());
            let body = answer.shown(HTTP_BODY_KEEP_BYTES);
            (
                answer.expected(expect_status),
                format!("{method} {url} answered {status}\n{body}"),
            )
        }
        Err(error) => (false, format!("{method} {url} failed: {error}")),
    }
}

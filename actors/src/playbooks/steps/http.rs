//! `http`: calls an API or webhook with the incident (or a configured body); the step
//! succeeds on an expected status, any 2xx by default. The answer is read through the one
//! bounded outbound call (`outbound.rs`), so a huge body cannot fill memory.

use std::time::Duration;

use super::super::runner::{Runner, StepResult};
use crate::outbound;

impl Runner<'_> {
    pub(in crate::playbooks) async fn http(
        &self,
        url: &str,
        method: &str,
        body: Option<&serde_json::Value>,
        expect_status: &[u16],
        timeout_ms: u64,
    ) -> StepResult {
        let incident = &self.args.incident;
        let body = body.cloned().unwrap_or_else(|| {
            serde_json::json!({
                "incident": {
                    "id": incident.id,
                    "source": incident.source,
                    "event_type": incident.event_type,
                    "title": incident.title,
                    "severity": incident.severity,
                }
            })
        });
        call_http(url, method, &body, expect_status, timeout_ms).await
    }
}

/// Bytes of the answer's body kept in the step's output.
const BODY_KEEP_BYTES: usize = 4_096;

/// Calls an API or webhook; the step succeeds on an expected status (any 2xx by default). The
/// answer's body is read through the bounded `outbound` call and its tail kept in the output.
async fn call_http(
    url: &str,
    method: &str,
    body: &serde_json::Value,
    expect_status: &[u16],
    timeout_ms: u64,
) -> StepResult {
    let method = outbound::method(method);
    let timeout = Duration::from_millis(timeout_ms);
    match outbound::call(&method, url, body, timeout).await {
        Ok(answer) => {
            let status = answer.status.as_u16();
            let mut output = format!("{method} {url} answered {status}");
            let shown = answer.shown(BODY_KEEP_BYTES);
            if !shown.is_empty() {
                output = format!("{output}\n{shown}");
            }
            StepResult::new(answer.expected(expect_status), 1, output)
        }
        Err(error) => StepResult::new(false, 1, format!("{method} {url} failed: {error}")),
    }
}

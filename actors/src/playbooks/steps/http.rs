//! `http`: calls an API or webhook with the incident (or a configured body); the step
//! succeeds on an expected status, any 2xx by default.

use std::time::Duration;

use super::super::runner::{Runner, StepResult};

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

/// Calls an API or webhook; the step succeeds on an expected status (any 2xx by default).
async fn call_http(
    url: &str,
    method: &str,
    body: &serde_json::Value,
    expect_status: &[u16],
    timeout_ms: u64,
) -> StepResult {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let sent = reqwest::Client::new()
        .request(method.clone(), url)
        .timeout(Duration::from_millis(timeout_ms))
        .json(body)
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let ok = if expect_status.is_empty() {
                response.status().is_success()
            } else {
                expect_status.contains(&status)
            };
            StepResult::new(ok, 1, format!("{method} {url} answered {status}"))
        }
        Err(error) => StepResult::new(false, 1, format!("{method} {url} failed: {error}")),
    }
}

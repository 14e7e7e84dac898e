//! `[[webhooks]]`: where work orders and notifications are sent, and in which format.

use serde::{Deserialize, Serialize};

use super::checks::*;
use super::*;

/// Where escalations are sent: every work order is posted to every webhook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// Unique name; deliveries are recorded under it.
    pub id: String,
    pub url: String,
    /// `json` (Grace's own body) or `slack` (a Slack-compatible `{"text": …}` body, for an
    /// incoming-webhook URL).
    #[serde(default)]
    pub format: WebhookFormat,
    /// Each try must be answered (2xx) within this time.
    #[serde(default = "defaults::webhook_timeout_ms")]
    pub timeout_ms: u64,
    /// Waits before the retries after a failed try; its length is the number of retries.
    #[serde(default = "defaults::webhook_backoff_ms")]
    pub backoff_ms: Vec<u64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
}

impl WebhookSpec {
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        check_id(&mut problems, "id", &self.id);
        check_url(&mut problems, "url", &self.url);
        check_duration(&mut problems, "timeout_ms", self.timeout_ms);
        if self.backoff_ms.len() > bounds::BACKOFF_TRIES_MAX
            || self
                .backoff_ms
                .iter()
                .any(|ms| *ms > bounds::DURATION_MS_MAX)
        {
            problems.push(SpecProblem::new(
                "backoff_ms",
                format!(
                    "at most {} delays of at most {} ms",
                    bounds::BACKOFF_TRIES_MAX,
                    bounds::DURATION_MS_MAX
                ),
            ));
        }
        problems
    }
}

//! Sending one delivery once to one receiver: an HTTP post for the webhook kinds (with the
//! secret PagerDuty and Opsgenie need added here, never stored), or an email over SMTP. The
//! notifier owns retries and records the outcome; this only says how one try went.

mod email;
mod http;

use std::time::Duration;

use serde_json::Value;

use crate::spec::{ReceiverKind, ReceiverSpec};

/// How one try went: the HTTP status or SMTP code if there was an answer, and an error unless
/// it was delivered.
pub struct Tried {
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl Tried {
    pub fn delivered(status: u16) -> Self {
        Self {
            status: Some(status),
            error: None,
        }
    }

    pub fn failed(status: Option<u16>, error: impl Into<String>) -> Self {
        Self {
            status,
            error: Some(error.into()),
        }
    }
}

/// Sends `body` to `receiver` once.
pub async fn send_once(http: &reqwest::Client, receiver: &ReceiverSpec, body: &Value) -> Tried {
    let timeout = Duration::from_millis(receiver.timeout_ms);
    match &receiver.kind {
        ReceiverKind::Webhook { url }
        | ReceiverKind::Slack { url }
        | ReceiverKind::Teams { url }
        | ReceiverKind::Discord { url } => http::post(http, url, None, body, timeout).await,
        ReceiverKind::Pagerduty { url, .. } => match secret(&receiver.kind) {
            Ok(key) => {
                let mut body = body.clone();
                body["routing_key"] = Value::String(key);
                http::post(http, url, None, &body, timeout).await
            }
            Err(error) => Tried::failed(None, error),
        },
        ReceiverKind::Opsgenie { url, .. } => match secret(&receiver.kind) {
            Ok(key) => {
                let path = body["path"].as_str().unwrap_or("/v2/alerts");
                let target = format!("{}{path}", url.trim_end_matches('/'));
                let auth = format!("GenieKey {key}");
                http::post(http, &target, Some(&auth), &body["json"], timeout).await
            }
            Err(error) => Tried::failed(None, error),
        },
        ReceiverKind::Email(email) => email::send(email, &receiver.kind, body, timeout).await,
    }
}

/// The receiver's secret, read at each try (a rotated file needs no reload).
fn secret(kind: &ReceiverKind) -> Result<String, String> {
    let spec = kind.secret().unwrap_or_default();
    match crate::credentials::from_spec(&spec, &crate::credentials::process_env) {
        Some(found) => found.map(|secret| secret.expose().to_owned()),
        None => Err("no secret configured".to_owned()),
    }
}

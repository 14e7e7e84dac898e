//! The HTTP probe: one request per probe, judged by status, body and latency, and polite to
//! rate limits.
//!
//! Timeouts and connection errors are `api.unavailable` (TLS failures say so), 5xx and
//! unexpected statuses or bodies `api.error`, a slow answer `api.degraded`, and a 429
//! `api.rate_limit_exceeded` with its parsed `Retry-After`. After a 429 the probe asks its
//! monitor to wait: at least `Retry-After`, and twice as long after each further 429, capped —
//! it never hammers an API that said slow down.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use super::{Probe, ProbeFailure};
use crate::event::types;
use crate::model::Severity;
use crate::spec::HttpSpec;

/// Most body bytes read to check `body_contains` / `json_pointer`.
const BODY_BYTES_MAX: usize = 1024 * 1024;
/// Longest wait between probes of a rate-limited API.
const BACKOFF_MAX_MS: u64 = 300_000;

pub struct HttpProbe {
    check: HttpSpec,
    client: Result<Client, String>,
    /// Consecutive 429s, for the exponential part of the backoff.
    rate_limited: u32,
    /// What the last 429 asked for.
    retry_after: Option<Duration>,
    details: Value,
}

impl HttpProbe {
    pub fn new(check: HttpSpec) -> Self {
        let client = build_client(&check.headers);
        Self {
            check,
            client,
            rate_limited: 0,
            retry_after: None,
            details: Value::Null,
        }
    }

    fn failure(event_type: &'static str, severity: Severity, error: String) -> ProbeFailure {
        ProbeFailure {
            event_type,
            severity,
            error,
        }
    }

    async fn request(&mut self, timeout: Duration) -> Result<String, ProbeFailure> {
        let unavailable =
            |error: String| Self::failure(types::API_UNAVAILABLE, Severity::High, error);
        let client = self.client.clone().map_err(unavailable)?;
        let method = Method::from_bytes(self.check.method.as_bytes())
            .map_err(|error| unavailable(format!("bad method: {error}")))?;
        let started = Instant::now();
        let sent = client
            .request(method, &self.check.url)
            .timeout(timeout)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return Err(unavailable(describe(&error, timeout))),
        };
        let status = response.status();
        let latency = started.elapsed();
        self.details =
            json!({ "status": status.as_u16(), "latency_ms": latency.as_millis() as u64 });

        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(self.rate_limited(response.headers()));
        }
        self.rate_limited = 0;
        self.retry_after = None;

        let expected = if self.check.expect_status.is_empty() {
            status.is_success() || status.is_redirection()
        } else {
            self.check.expect_status.contains(&status.as_u16())
        };
        if !expected {
            return Err(Self::failure(
                types::API_ERROR,
                Severity::High,
                format!("unexpected status {status}"),
            ));
        }
        if self.check.body_contains.is_some() || self.check.json_pointer.is_some() {
            let body = read_body(&mut response)
                .await
                .map_err(|error| Self::failure(types::API_ERROR, Severity::High, error))?;
            self.check_body(&body)
                .map_err(|error| Self::failure(types::API_ERROR, Severity::High, error))?;
        }
        if let Some(degraded_ms) = self.check.degraded_ms {
            if latency > Duration::from_millis(degraded_ms) {
                return Err(Self::failure(
                    types::API_DEGRADED,
                    Severity::Medium,
                    format!(
                        "slow: {} ms (degraded above {degraded_ms} ms)",
                        latency.as_millis()
                    ),
                ));
            }
        }
        Ok(format!("{status} in {} ms", latency.as_millis()))
    }

    /// A 429: counted, with what its `Retry-After` asks, as `api.rate_limit_exceeded`.
    fn rate_limited(&mut self, headers: &reqwest::header::HeaderMap) -> ProbeFailure {
        self.rate_limited += 1;
        self.retry_after = retry_after(headers);
        let seconds = self.retry_after.map(|after| after.as_secs_f64());
        self.details["retry_after_seconds"] = json!(seconds);
        let asked = seconds.map_or("no Retry-After".to_owned(), |s| {
            format!("Retry-After {s} s")
        });
        Self::failure(
            types::API_RATE_LIMIT_EXCEEDED,
            Severity::Medium,
            format!("429 Too Many Requests ({asked})"),
        )
    }

    fn check_body(&self, body: &str) -> Result<(), String> {
        if let Some(needle) = &self.check.body_contains {
            if !body.contains(needle.as_str()) {
                return Err(format!("body does not contain {needle:?}"));
            }
        }
        if let Some(pointer) = &self.check.json_pointer {
            let document: Value =
                serde_json::from_str(body).map_err(|error| format!("body is not JSON: {error}"))?;
            let found = document
                .pointer(pointer)
                .ok_or_else(|| format!("JSON has nothing at {pointer}"))?;
            if let Some(expected) = &self.check.json_equals {
                if found != expected {
                    return Err(format!("JSON at {pointer} is {found}, expected {expected}"));
                }
            }
        }
        Ok(())
    }
}

fn build_client(headers: &BTreeMap<String, String>) -> Result<Client, String> {
    let mut defaults = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|error| format!("bad header name {name:?}: {error}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|error| format!("bad value for header {name}: {error}"))?;
        defaults.insert(name, value);
    }
    Client::builder()
        .default_headers(defaults)
        .user_agent(concat!("grace/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| format!("cannot build an HTTP client: {error}"))
}

/// A request error with its causes, saying plainly when TLS was the problem.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    let lower = text.to_lowercase();
    if ["certificate", "tls", "ssl", "handshake"]
        .iter()
        .any(|w| lower.contains(w))
    {
        format!("TLS error: {text}")
    } else {
        text
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

async fn read_body(response: &mut reqwest::Response) -> Result<String, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| format!("cannot read the body: {error}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() >= BODY_BYTES_MAX {
            body.truncate(BODY_BYTES_MAX);
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

impl Probe for HttpProbe {
    fn probe(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.request(timeout))
    }

    fn verify(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.request(timeout))
    }

    fn recovery_event(&self) -> &'static str {
        types::API_RESTORED
    }

    fn details(&self) -> Value {
        self.details.clone()
    }

    fn next_delay(&self, interval: Duration) -> Duration {
        if self.rate_limited == 0 {
            return interval;
        }
        let exponential = interval.saturating_mul(2u32.saturating_pow(self.rate_limited.min(16)));
        exponential
            .max(self.retry_after.unwrap_or(Duration::ZERO))
            .min(Duration::from_millis(BACKOFF_MAX_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = SystemTime::now() + Duration::from_secs(120);
        let date = httpdate::fmt_http_date(later);
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let parsed = retry_after(&headers).unwrap();
        assert!(
            parsed > Duration::from_secs(110) && parsed <= Duration::from_secs(120),
            "{parsed:?}"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn backoff_honours_retry_after_doubles_and_is_capped() {
        let mut probe = HttpProbe::new(HttpSpec {
            url: "http://127.0.0.1:1/".into(),
            method: "GET".into(),
            headers: BTreeMap::new(),
            expect_status: vec![],
            body_contains: None,
            json_pointer: None,
            json_equals: None,
            degraded_ms: None,
        });
        let interval = Duration::from_secs(1);
        assert_eq!(probe.next_delay(interval), interval);
        probe.rate_limited = 1;
        probe.retry_after = Some(Duration::from_secs(30));
        assert_eq!(probe.next_delay(interval), Duration::from_secs(30));
        probe.rate_limited = 6;
        assert_eq!(probe.next_delay(interval), Duration::from_secs(64));
        probe.rate_limited = 20;
        assert_eq!(
            probe.next_delay(interval),
            Duration::from_millis(BACKOFF_MAX_MS)
        );
    }
}

//! One JSON post to a webhook-like receiver: any 2xx is delivered.

use std::time::Duration;

use serde_json::Value;

use super::Tried;

pub(super) async fn post(
    http: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    body: &Value,
    timeout: Duration,
) -> Tried {
    let mut request = http.post(url).timeout(timeout).json(body);
    if let Some(authorization) = authorization {
        request = request.header(reqwest::header::AUTHORIZATION, authorization);
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            Tried::delivered(response.status().as_u16())
        }
        Ok(response) => {
            let status = response.status();
            Tried::failed(Some(status.as_u16()), format!("answered {status}"))
        }
        Err(error) => Tried::failed(None, error.to_string()),
    }
}

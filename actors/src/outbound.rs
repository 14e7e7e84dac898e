//! The one way Grace calls out over HTTP on a job's behalf (a pipeline's call, a playbook's
//! `http` step): a JSON request with a deadline whose answer is read at most
//! `RESPONSE_BODY_MAX_BYTES`. A server that answers without end (a log stream, a huge export)
//! must not fill Grace's memory; what is past the bound is dropped, and the answer says so.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::program;

/// Most bytes of a response body read; the rest is dropped unread (the connection with it).
pub const RESPONSE_BODY_MAX_BYTES: usize = 64 * 1024;

/// Why a body read stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// It was longer than `RESPONSE_BODY_MAX_BYTES`.
    TooLong,
    /// The connection failed (or the deadline passed) while it was read.
    Failed(String),
}

/// What a server answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    /// The body's first bytes (at most `RESPONSE_BODY_MAX_BYTES`), as text.
    pub body: String,
    /// Why the body is not whole, when it is not.
    pub cut: Option<Cut>,
}

impl Answer {
    /// Whether the status is one of `expect_status` (any 2xx when it is empty).
    pub fn expected(&self, expect_status: &[u16]) -> bool {
        if expect_status.is_empty() {
            self.status.is_success()
        } else {
            expect_status.contains(&self.status.as_u16())
        }
    }

    /// The body for an output: its last `keep_bytes`, and a line saying what was dropped.
    pub fn shown(&self, keep_bytes: usize) -> String {
        let body = program::tail(&self.body, keep_bytes);
        match &self.cut {
            None => body,
            Some(Cut::TooLong) => format!(
                "{body}\n(the body past its first {RESPONSE_BODY_MAX_BYTES} bytes was dropped)"
            ),
            Some(Cut::Failed(error)) => format!("{body}\n(the body could not be read: {error})"),
        }
    }
}

/// An HTTP method as written in config; POST when it is not one (config checks refuse those).
pub fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).unwrap_or(Method::POST)
}

/// Sends `body` as JSON and reads the answer, all within `timeout` (reqwest's deadline covers
/// the body too). An error only when no status came back.
pub async fn call(
    method: &Method,
    url: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<Answer, reqwest::Error> {
    let mut response = reqwest::Client::new()
        .request(method.clone(), url)
        .timeout(timeout)
        .json(body)
        .send()
        .await?;
    let status = response.status();
    let (body, cut) = read_body(&mut response).await;
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        cut,
    })
}

/// At most `RESPONSE_BODY_MAX_BYTES` of the body, chunk by chunk; why it stopped short if so.
async fn read_body(response: &mut reqwest::Response) -> (Vec<u8>, Option<Cut>) {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > RESPONSE_BODY_MAX_BYTES {
                    body.truncate(RESPONSE_BODY_MAX_BYTES);
                    return (body, Some(Cut::TooLong));
                }
            }
            Ok(None) => return (body, None),
            Err(error) => return (body, Some(Cut::Failed(error.to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server on 127.0.0.1 that answers one request with `body_bytes` bytes of `x` (or never
    /// answers, when `None`); its address.
    async fn server(body_bytes: Option<usize>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            read_request(&mut socket).await;
            let Some(body_bytes) = body_bytes else {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {body_bytes}\r\nconnection: close\r\n\r\n"
            );
            let _ = socket.write_all(head.as_bytes()).await;
            // The client stops reading past its bound: a failed write is expected then.
            let _ = socket.write_all(&vec![b'x'; body_bytes]).await;
        });
        format!("http://{addr}/")
    }

    /// Reads a request's head and its `content-length` body.
    async fn read_request(socket: &mut tokio::net::TcpStream) {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before its request ended");
            seen.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&seen).to_lowercase();
        let head_len = text.find("\r\n\r\n").unwrap() + 4;
        let length: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        while seen.len() < head_len + length {
            let n = socket.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
        }
    }

    async fn call_it(url: &str, timeout: Duration) -> Result<Answer, reqwest::Error> {
        call(&method("POST"), url, &serde_json::json!({"a": 1}), timeout).await
    }

    #[tokio::test]
    async fn a_body_past_the_bound_is_read_up_to_it_and_the_answer_says_the_rest_was_dropped() {
        let url = server(Some(RESPONSE_BODY_MAX_BYTES * 4)).await;
        let answer = call_it(&url, Duration::from_secs(10)).await.unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body.len(), RESPONSE_BODY_MAX_BYTES);
        assert_eq!(answer.cut, Some(Cut::TooLong));
        let shown = answer.shown(10);
        assert!(shown.starts_with("…xxxxxxxxxx\n"), "{shown}");
        assert!(shown.ends_with("was dropped)"), "{shown}");
    }

    #[tokio::test]
    async fn a_body_within_the_bound_is_read_whole() {
        let url = server(Some(RESPONSE_BODY_MAX_BYTES)).await;
        let answer = call_it(&url, Duration::from_secs(10)).await.unwrap();
        assert_eq!(answer.body.len(), RESPONSE_BODY_MAX_BYTES);
        assert_eq!(answer.cut, None);
        assert!(answer.expected(&[]));
        assert!(answer.expected(&[200, 204]));
        assert!(!answer.expected(&[204]));
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_given_up_on_at_the_deadline() {
        let url = server(None).await;
        let error = call_it(&url, Duration::from_millis(200)).await.unwrap_err();
        assert!(error.is_timeout(), "{error}");
    }
}

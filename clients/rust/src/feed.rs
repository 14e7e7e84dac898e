//! The live feed (`GET /ws`), typed, and resumed by `seq`: when the connection drops — Grace
//! restarted, or this reader fell `ws_buffer_max` behind and was cut off — [`Subscription`]
//! reconnects with `since=<last seq it gave>`, so the reader sees every event once, in order.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// Waits before reconnecting after failed tries in a row; the last repeats.
const BACKOFF_MS: [u64; 6] = [100, 250, 500, 1_000, 2_000, 5_000];
/// Longest wait to connect, and for the handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One event of the feed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FeedEvent {
    pub seq: u64,
    /// `incident.opened`, `db.connection_lost`, … (`feed.truncated` when retention removed
    /// some of what was asked for).
    #[serde(rename = "type")]
    pub event_type: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub data: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Grace refused the subscription (a bad pattern, a missing or weak token): trying again
    /// would not help.
    #[error("Grace refused the feed ({status}): {body}")]
    Refused { status: u16, body: String },
    #[error("Grace's feed could not be reached after {tries} tries: {last}")]
    Unreachable { tries: u32, last: String },
    #[error("a feed message is not an event: {0}")]
    BadMessage(String),
}

/// Where the feed is.
#[derive(Clone)]
pub(crate) struct FeedConfig {
    pub(crate) url: String,
    pub(crate) token: Option<String>,
    pub(crate) ca_pem: Option<Vec<u8>>,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Socket = WebSocketStream<Box<dyn Io>>;

/// A subscription to the feed; [`next`](Self::next) gives its events.
pub struct Subscription {
    config: FeedConfig,
    types: String,
    last: Option<u64>,
    socket: Option<Socket>,
    failures: u32,
    reconnects_max: Option<u32>,
}

impl Subscription {
    pub(crate) fn new(config: FeedConfig, patterns: &[&str], since: Option<u64>) -> Self {
        Self {
            config,
            types: patterns.join(","),
            last: since,
            socket: None,
            failures: 0,
            reconnects_max: None,
        }
    }

    /// Gives up (with [`FeedError::Unreachable`]) after this many failed reconnects in a row.
    /// Default: never.
    pub fn reconnects_max(mut self, tries: u32) -> Self {
        self.reconnects_max = Some(tries);
        self
    }

    /// The `seq` of the last event given: where a new subscription would resume.
    pub fn last_seq(&self) -> Option<u64> {
        self.last
    }

    /// The next event, reconnecting as often as it takes (or `reconnects_max`).
    pub async fn next(&mut self) -> Result<FeedEvent, FeedError> {
        loop {
            let Some(socket) = self.socket.as_mut() else {
                self.reconnect().await?;
                continue;
            };
            let text = match socket.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    self.socket = None; // resumed after `last` at the next turn
                    continue;
                }
                Some(Ok(_)) => continue, // pings are answered by the stream itself
            };
            let event: FeedEvent = serde_json::from_str(text.as_str())
                .map_err(|error| FeedError::BadMessage(error.to_string()))?;
            if self.last.is_some_and(|last| event.seq <= last) {
                continue; // already given (the seam of a reconnect)
            }
            if event.event_type != "feed.truncated" {
                self.last = Some(event.seq);
            }
            return Ok(event);
        }
    }

    async fn reconnect(&mut self) -> Result<(), FeedError> {
        if self.failures > 0 {
            let backoff = BACKOFF_MS[(self.failures as usize - 1).min(BACKOFF_MS.len() - 1)];
            tokio::time::sleep(Duration::from_millis(backoff)).await;
        }
        match connect(&self.config, &self.types, self.last).await {
            Ok(socket) => {
                self.socket = Some(socket);
                self.failures = 0;
                Ok(())
            }
            Err(Failure::Refused { status, body }) => Err(FeedError::Refused { status, body }),
            Err(Failure::Retry(last)) => {
                self.failures += 1;
                match self.reconnects_max {
                    Some(max) if self.failures > max => Err(FeedError::Unreachable {
                        tries: self.failures,
                        last,
                    }),
                    _ => Ok(()),
                }
            }
        }
    }
}

enum Failure {
    Refused { status: u16, body: String },
    Retry(String),
}

async fn connect(config: &FeedConfig, types: &str, since: Option<u64>) -> Result<Socket, Failure> {
    let base = config
        .url
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    let mut url = format!("{base}/ws?types={}", query_escape(types));
    if let Some(since) = since {
        url.push_str(&format!("&since={since}"));
    }
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|error| Failure::Refused {
            status: 0,
            body: error.to_string(),
        })?;
    if let Some(token) = &config.token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Failure::Refused {
                status: 0,
                body: "the token is not a valid header value".to_owned(),
            })?;
        request.headers_mut().insert("authorization", value);
    }
    let uri = request.uri().clone();
    let host = uri
        .host()
        .unwrap_or("127.0.0.1")
        .trim_matches(['[', ']'])
        .to_owned();
    let secure = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let opening = async {
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(retry)?;
        let stream: Box<dyn Io> = if secure {
            Box::new(tls(config, &host, tcp).await?)
        } else {
            Box::new(tcp)
        };
        tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(handshake_failure)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, opening).await {
        Ok(result) => result.map(|(socket, _)| socket),
        Err(_) => Err(Failure::Retry("timed out connecting".to_owned())),
    }
}

async fn tls(
    config: &FeedConfig,
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
    let mut roots = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(pem) = &config.ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Failure::Refused {
                status: 0,
                body: e.to_string(),
            })?;
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::Refused {
            status: 0,
            body: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned()).map_err(|e| Failure::Refused {
        status: 0,
        body: e.to_string(),
    })?;
    tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .map_err(retry)
}

fn retry(error: impl std::fmt::Display) -> Failure {
    Failure::Retry(error.to_string())
}

/// A refused upgrade is final, except Grace's "too many clients" (503) and a 5xx.
fn handshake_failure(error: tungstenite::Error) -> Failure {
    match error {
        tungstenite::Error::Http(response) if response.status().is_client_error() => {
            let body = response
                .body()
                .as_ref()
                .map(|body| String::from_utf8_lossy(body).into_owned())
                .unwrap_or_default();
            Failure::Refused {
                status: response.status().as_u16(),
                body,
            }
        }
        other => Failure::Retry(other.to_string()),
    }
}

/// `types` as a query value: patterns are dotted names, `*` and commas.
fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

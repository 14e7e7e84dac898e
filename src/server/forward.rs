//! What a standby node sends on to the leader: the routes that need the engines (their state
//! in memory, their commands) are answered by the node that runs them. The request goes on as
//! it came — method, path, query, body, the caller's token — and the leader's answer comes
//! back as it is, so a client behind a load balancer need not know which node leads.
//!
//! The leader checks the token and the role itself. This node has already checked where the
//! request comes from (`origin.rs`); the leader is asked from here, so it sees no `Origin`. A
//! request that was forwarded once is never forwarded again: two nodes that each think the
//! other leads (for a round, during a takeover) answer 503 instead of passing it back and
//! forth.

use std::sync::Arc;
use std::time::Duration;

use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, Method};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::standby::Standby;
use super::ApiError;

/// The header a forwarded request carries: the node that sent it on.
pub const FORWARDED_BY: &str = "x-grace-forwarded-by";

/// Longest a forwarded request waits for the leader's answer.
const FORWARD_TIMEOUT_MS: u64 = 30_000;

/// The request headers that go on to the leader; the rest are this hop's.
const PASSED_ON: [&str; 4] = ["authorization", "content-type", "accept", "last-event-id"];

/// The answer headers that come back.
const PASSED_BACK: [&str; 4] = [
    "content-type",
    "retry-after",
    "www-authenticate",
    "location",
];

/// Sends the matched request on to the leader; `body` is the bounded body filter.
pub(super) fn to_leader(
    standby: Arc<Standby>,
    client: reqwest::Client,
    body: BoxedFilter<(bytes::Bytes,)>,
) -> BoxedFilter<(Response,)> {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(body)
        .and_then(move |method, path, query, headers, body| {
            let (standby, client) = (standby.clone(), client.clone());
            let request = Request {
                method,
                path,
                query,
                headers,
                body,
            };
            async move { forward(&standby, &client, request).await }
        })
        .boxed()
}

/// A request as this node took it.
struct Request {
    method: Method,
    path: warp::path::FullPath,
    query: String,
    headers: HeaderMap,
    body: bytes::Bytes,
}

async fn forward(
    standby: &Standby,
    client: &reqwest::Client,
    request: Request,
) -> Result<Response, Rejection> {
    let me = &standby.node_id;
    if let Some(from) = request.headers.get(FORWARDED_BY) {
        let from = from.to_str().unwrap_or("?");
        let message = format!(
            "node {me} stands by and node {from} forwarded this here: no node leads yet; retry"
        );
        return Err(warp::reject::custom(ApiError::Busy(message)));
    }
    let Some((leader, url)) = standby.leader() else {
        let message = format!("node {me} stands by and no node leads yet; retry");
        return Err(warp::reject::custom(ApiError::Busy(message)));
    };
    let mut target = format!("{}{}", url.trim_end_matches('/'), request.path.as_str());
    if !request.query.is_empty() {
        target.push('?');
        target.push_str(&request.query);
    }
    actors::CLUSTER.forwarded_requests.inc();
    let mut sent = client
        .request(request.method, &target)
        .timeout(Duration::from_millis(FORWARD_TIMEOUT_MS))
        .header(FORWARDED_BY, me.as_str())
        .body(request.body);
    for name in PASSED_ON {
        if let Some(value) = request.headers.get(name) {
            sent = sent.header(name, value);
        }
    }
    let unanswered = |error: reqwest::Error| {
        let message = format!(
            "node {me} stands by; the leader, node {leader} at {url}, did not answer: {error}"
        );
        warp::reject::custom(ApiError::Busy(message))
    };
    let answer = sent.send().await.map_err(unanswered)?;
    back(answer).await.map_err(unanswered)
}

/// The leader's answer, as this node's; an error when its body does not come whole.
async fn back(answer: reqwest::Response) -> Result<Response, reqwest::Error> {
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.bytes().await?;
    let mut reply = Response::new(body.into());
    *reply.status_mut() = status;
    for name in PASSED_BACK {
        if let Some(value) = headers.get(name) {
            reply.headers_mut().insert(name, value.clone());
        }
    }
    Ok(reply)
}

/// The client a standby forwards with: it trusts the server's own certificate too, since every
/// node serves with the same `[server]` settings.
pub fn client(server: &crate::config::ServerConfig) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(5));
    if let Some(path) = &server.tls_cert_path {
        let pem = std::fs::read(path)?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder.build()?)
}

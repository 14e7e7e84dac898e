//! `GET /ws`: the live event feed.
//!
//! `?since=N` first replays every persisted event with `seq > N`, then continues live. The
//! client is subscribed to the live feed *before* the replay reads the log, and live events at
//! or below the last replayed seq are skipped, so the seam has no gap and no duplicate.
//! `?types=db.*,incident.*` filters by pattern (at most TYPES_PATTERNS_MAX). A client that
//! falls `limits.ws_buffer_max` events behind is closed with code 4000 and a reason naming the
//! seq to resume from; one that stops reading altogether is dropped once a write has waited
//! WRITE_TIMEOUT_MS. At most `limits.ws_clients_max` clients are served at once; past that the
//! upgrade gets 503 with `Retry-After`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actors::event::{Event, Pattern};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use utoipa::IntoParams;
use warp::reply::Response;
use warp::ws::{Message, WebSocket, Ws};
use warp::{Filter, Rejection, Reply};

use super::api_docs::TokenErrors;
use super::error::{ApiError, ErrorBody};
use super::filters::Seq;
use super::wire::EventView;
use super::App;
use crate::tokens::Role;

/// Events read from the log per replay query: bounds memory while replaying a long history.
const REPLAY_PAGE_EVENTS: usize = 256;
/// Largest message a client may send us (we expect none but pings and close).
const CLIENT_MESSAGE_BYTES_MAX: usize = 4 * 1024;
/// Close code for "you fell behind; reconnect with since".
const CLOSE_LAGGED: u16 = 4000;
/// Patterns one `types=` may list, and the longest one: a subscription is a filter, not a
/// program.
const TYPES_PATTERNS_MAX: usize = 32;
const TYPE_PATTERN_BYTES_MAX: usize = 128;
/// How long one message may wait to be written: a client that stops reading is dropped then
/// instead of holding its connection and buffer forever.
const WRITE_TIMEOUT_MS: u64 = 10_000;

/// One of the `limits.ws_clients_max` places, given back when the connection ends.
struct ClientSlot(Arc<App>);

impl ClientSlot {
    fn take(app: &Arc<App>) -> Option<Self> {
        let max = app.kernel.limits().ws_clients_max;
        app.ws_clients
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(app.clone()))
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.ws_clients.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The number of feed clients connected now.
pub fn clients(app: &App) -> usize {
    app.ws_clients.load(Ordering::Acquire)
}

/// Sends one message within WRITE_TIMEOUT_MS; false when the client is gone or not reading.
async fn send<S>(tx: &mut S, message: Message) -> bool
where
    S: futures_util::Sink<Message> + Unpin,
{
    let write = tx.send(message);
    matches!(
        tokio::time::timeout(Duration::from_millis(WRITE_TIMEOUT_MS), write).await,
        Ok(Ok(()))
    )
}

/// What a feed request asks for, checked before the upgrade so bad input gets a 400.
pub struct FeedRequest {
    app: Arc<App>,
    since: Option<u64>,
    patterns: Vec<Pattern>,
}

/// The query of `GET /ws`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct FeedQuery {
    /// Replay every logged event after this seq first, then go on live, with no gap and no
    /// duplicate at the seam. At most the log's `last_seq` (see `/health`). Not given: live
    /// events only.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9223372036854775807_u64)]
    since: Option<Seq>,
    /// Only events whose type matches one of these comma-separated patterns (`db.*,incident.*`):
    /// at most 32, each at most 128 bytes. Not given: every event.
    #[param(example = "db.*,incident.*")]
    types: Option<String>,
}

pub(super) async fn parse(app: Arc<App>, query: FeedQuery) -> Result<FeedRequest, Rejection> {
    let since = query.since.map(|Seq(since)| since);
    let patterns = type_patterns(query.types)?;
    if let Some(since) = since {
        // A seq from another log (a wiped or in-memory store) would silently hide live events.
        let last = app
            .kernel
            .store()
            .last_seq()
            .await
            .map_err(ApiError::from)?;
        if since > last {
            return Err(ApiError::bad(
                "since",
                format!("{since} is ahead of the event log, which ends at {last}; reconnect with since={last} or lower"),
            )
            .into());
        }
    }
    Ok(FeedRequest {
        app,
        since,
        patterns,
    })
}

/// Refuses, with 400 naming the header, a request to `/ws` that does not ask for a WebSocket
/// (`Connection: upgrade` and `Upgrade: websocket`), before warp's own upgrade filter, whose
/// rejections for these the error mapping cannot name.
pub fn upgrade_asked() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("connection")
        .and(warp::header::optional::<String>("upgrade"))
        .and_then(
            |connection: Option<String>, upgrade: Option<String>| async move {
                let upgrading = connection.as_deref().is_some_and(|value| {
                    value
                        .split(',')
                        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
                });
                let websocket = upgrade
                    .as_deref()
                    .is_some_and(|value| value.trim().eq_ignore_ascii_case("websocket"));
                match (upgrading, websocket) {
                    (true, true) => Ok(()),
                    (false, _) => Err(warp::reject::custom(ApiError::bad(
                        "connection",
                        "GET /ws is a WebSocket: send `Connection: Upgrade`",
                    ))),
                    (true, false) => Err(warp::reject::custom(ApiError::bad(
                        "upgrade",
                        "GET /ws is a WebSocket: send `Upgrade: websocket`",
                    ))),
                }
            },
        )
        .untuple_one()
}

/// The live event feed, over WebSocket.
///
/// Each text message is one event as JSON (`EventView`: `{seq, type, at, data}`). With
/// `since`, the logged events after it come first, then live ones; when some of them were
/// removed by retention, a `feed.truncated` event says so first. A client that falls too far
/// behind is closed with code 4000 and a reason naming the `since` to reconnect with. A
/// browser, which cannot set headers on a WebSocket, sends its token as a
/// `Sec-WebSocket-Protocol` entry `grace.token.<token>` next to `grace`, and gets `grace`
/// named back.
#[utoipa::path(
    get,
    path = "/ws",
    tag = "feed",
    params(
        FeedQuery,
        ("Sec-WebSocket-Protocol" = Option<String>, Header, nullable = false,
            description = "`grace, grace.token.<token>`: the token, for a browser"),
    ),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 101, description = "Switching to the WebSocket feed; each message is an \
            `EventView`",
            headers(("Sec-WebSocket-Protocol" = String, description = "`grace`, when the client named it"))),
        (status = 400, description = "`bad_request`: `since` is not a seq of this log or is \
            ahead of it, `types` lists too many or too long patterns, or the request is not a \
            WebSocket upgrade (`field` names the header)", body = ErrorBody),
        (status = 503, description = "`busy`: `limits.ws_clients_max` clients are connected \
            already; retry after `Retry-After` seconds", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
        TokenErrors,
    )
)]
pub async fn upgrade(
    request: FeedRequest,
    protocols: Option<String>,
    ws: Ws,
) -> Result<Response, Rejection> {
    let FeedRequest {
        app,
        since,
        patterns,
    } = request;
    let Some(slot) = ClientSlot::take(&app) else {
        let max = app.kernel.limits().ws_clients_max;
        return Err(ApiError::Busy(format!("{max} feed clients are connected already")).into());
    };
    let mut response = ws
        .max_message_size(CLIENT_MESSAGE_BYTES_MAX)
        .on_upgrade(move |socket| async move {
            feed(socket, app, since, patterns).await;
            drop(slot);
        })
        .into_response();
    if super::auth::asked_for_protocol(protocols.as_deref()) {
        response.headers_mut().insert(
            "sec-websocket-protocol",
            warp::http::HeaderValue::from_static(super::auth::WS_PROTOCOL),
        );
    }
    Ok(response)
}

fn wanted(patterns: &[Pattern], event: &Event) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(&event.event_type))
}

fn message(event: &Event) -> Message {
    Message::text(serde_json::to_string(&EventView::from(event)).unwrap_or_default())
}

/// A `feed.truncated` notice when events after `since` were removed by retention; its `seq`
/// is the one before the oldest event kept.
async fn truncated(app: &App, since: Option<u64>) -> Option<Event> {
    let since = since?;
    let oldest = app.kernel.store().first_seq().await.ok()??;
    (oldest > since.saturating_add(1)).then(|| Event {
        seq: oldest - 1,
        event_type: "feed.truncated".to_owned(),
        at: actors::time::now(),
        source: None,
        incident_id: None,
        data: serde_json::json!({ "since": since, "oldest_seq": oldest }),
    })
}

/// Sends the stored events after `last` that `patterns` want, a page at a time; the seq it
/// got to, or none when the client is gone or the store failed (the socket is closed then).
async fn replay(
    app: &App,
    tx: &mut SplitSink<WebSocket, Message>,
    patterns: &[Pattern],
    mut last: u64,
) -> Option<u64> {
    loop {
        let page = match app
            .kernel
            .store()
            .events_after(last, REPLAY_PAGE_EVENTS)
            .await
        {
            Ok(page) => page,
            Err(error) => {
                tracing::error!(%error, "replay failed");
                let _ = tx.send(Message::close_with(1011u16, "replay failed")).await;
                return None;
            }
        };
        let Some(newest) = page.last().map(|event| event.seq) else {
            return Some(last);
        };
        for event in page.iter().filter(|event| wanted(patterns, event)) {
            if !send(tx, message(event)).await {
                return None;
            }
        }
        last = newest;
    }
}

/// One feed client: what it missed since `since`, then the live events, until it leaves or
/// falls behind.
async fn feed(socket: WebSocket, app: Arc<App>, since: Option<u64>, patterns: Vec<Pattern>) {
    let (mut tx, mut rx) = socket.split();
    let mut live = match app.kernel.subscribe(patterns.clone()).await {
        Ok(live) => live,
        Err(error) => {
            let _ = tx
                .send(Message::close_with(1011u16, error.to_string()))
                .await;
            return;
        }
    };
    let mut last = since.unwrap_or(0);
    if let Some(truncated) = truncated(&app, since).await {
        // What the client asked for was compacted away (`[retention]`): say so, then go on
        // from the oldest event kept.
        last = truncated.seq;
        if !send(&mut tx, message(&truncated)).await {
            return;
        }
    }
    if since.is_some() {
        match replay(&app, &mut tx, &patterns, last).await {
            Some(newest) => last = newest,
            None => return,
        }
    }
    loop {
        tokio::select! {
            event = live.recv() => match event {
                Some(event) => {
                    if event.seq <= last && since.is_some() {
                        continue; // already replayed
                    }
                    last = event.seq;
                    if !send(&mut tx, message(&event)).await {
                        return;
                    }
                }
                None => {
                    let reason = format!("fell behind; reconnect with since={last}");
                    send(&mut tx, Message::close_with(CLOSE_LAGGED, reason)).await;
                    return;
                }
            },
            incoming = rx.next() => match incoming {
                Some(Ok(message)) if !message.is_close() => {} // pings are answered by the library
                _ => return,
            },
        }
    }
}

/// The patterns of a `types=` (`db.*,incident.*`), checked against their bounds; none when not
/// given. The feed's and `GET /events`'s.
pub(super) fn type_patterns(types: Option<String>) -> Result<Vec<Pattern>, ApiError> {
    let patterns: Vec<Pattern> = types
        .map(|types| {
            types
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(Pattern::new)
                .collect()
        })
        .unwrap_or_default();
    if patterns.len() > TYPES_PATTERNS_MAX {
        let message = format!("{} patterns; at most {TYPES_PATTERNS_MAX}", patterns.len());
        return Err(ApiError::bad("types", message));
    }
    if let Some(long) = patterns
        .iter()
        .find(|p| p.as_str().len() > TYPE_PATTERN_BYTES_MAX)
    {
        let message = format!(
            "{:?} is longer than {TYPE_PATTERN_BYTES_MAX} bytes",
            long.as_str()
        );
        return Err(ApiError::bad("types", message));
    }
    Ok(patterns)
}

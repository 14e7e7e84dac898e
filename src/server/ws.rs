//! `GET /ws`: the live event feed.
//!
//! `?since=N` first replays every persisted event with `seq > N`, then continues live. The
//! client is subscribed to the live feed *before* the replay reads the log, and live events at
//! or below the last replayed seq are skipped, so the seam has no gap and no duplicate.
//! `?types=db.*,incident.*` filters by pattern. A client that falls `limits.ws_buffer_max`
//! events behind is closed with code 4000 and a reason naming the seq to resume from.

use std::sync::Arc;

use actors::event::{Event, Pattern};
use futures_util::{SinkExt, StreamExt};
use warp::reply::Response;
use warp::ws::{Message, WebSocket, Ws};
use warp::{Rejection, Reply};

use super::error::ApiError;
use super::wire::EventView;
use super::{optional_seq, App, Query};

/// Events read from the log per replay query: bounds memory while replaying a long history.
const REPLAY_PAGE_EVENTS: usize = 256;
/// Largest message a client may send us (we expect none but pings and close).
const CLIENT_MESSAGE_BYTES_MAX: usize = 4 * 1024;
/// Close code for "you fell behind; reconnect with since".
const CLOSE_LAGGED: u16 = 4000;

/// What a feed request asks for, checked before the upgrade so bad input gets a 400.
pub struct FeedRequest {
    app: Arc<App>,
    since: Option<u64>,
    patterns: Vec<Pattern>,
}

pub async fn parse(app: Arc<App>, query: Query) -> Result<FeedRequest, Rejection> {
    let since = optional_seq(&query, "since", "a whole number (a seq)")?;
    let patterns: Vec<Pattern> = query
        .get("types")
        .map(|types| {
            types
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(Pattern::new)
                .collect()
        })
        .unwrap_or_default();
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

pub async fn upgrade(request: FeedRequest, ws: Ws) -> Result<Response, Rejection> {
    let FeedRequest {
        app,
        since,
        patterns,
    } = request;
    Ok(ws
        .max_message_size(CLIENT_MESSAGE_BYTES_MAX)
        .on_upgrade(move |socket| feed(socket, app, since, patterns))
        .into_response())
}

fn wanted(patterns: &[Pattern], event: &Event) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(&event.event_type))
}

fn message(event: &Event) -> Message {
    Message::text(serde_json::to_string(&EventView::from(event)).unwrap_or_default())
}

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
    if since.is_some() {
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
                    return;
                }
            };
            let Some(newest) = page.last().map(|event| event.seq) else {
                break;
            };
            for event in page.iter().filter(|event| wanted(&patterns, event)) {
                if tx.send(message(event)).await.is_err() {
                    return;
                }
            }
            last = newest;
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
                    if tx.send(message(&event)).await.is_err() {
                        return;
                    }
                }
                None => {
                    let reason = format!("fell behind; reconnect with since={last}");
                    let _ = tx.send(Message::close_with(CLOSE_LAGGED, reason)).await;
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

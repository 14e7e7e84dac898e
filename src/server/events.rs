//! `GET /events`: the event log read in pages, oldest first, from a seq on — what `/ws` replays,
//! for a client that wants a page at a time (a script, `grace events`) rather than a live feed.
//!
//! Bounded twice: at most `limit` events come back, and one request reads at most
//! EVENTS_SCAN_MAX events of the log, so a `types` filter that matches nothing in a long log
//! answers quickly with an empty page and a `next` to go on from.

use std::sync::Arc;

use actors::event::Pattern;
use serde::Deserialize;
use utoipa::IntoParams;
use warp::reply::Response;
use warp::Rejection;

use super::api_docs::TokenErrors;
use super::error::ErrorBody;
use super::filters::{json, limit, Seq};
use super::wire::{EventView, Page};
use super::ws::type_patterns;
use super::{ApiError, App};
use crate::tokens::Role;

/// Most events of the log one request reads past `since`, whatever it keeps.
const EVENTS_SCAN_MAX: usize = 10_000;

/// Events read from the store at once while filling a filtered page.
const EVENTS_READ_CHUNK: usize = 1_000;

/// The query of `GET /events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct EventsQuery {
    /// The events after this seq (0, the default: from the first). A page's `next` is the
    /// `since` of the page after it.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9223372036854775807_u64)]
    since: Option<Seq>,
    /// Only events whose type matches one of these comma-separated patterns (`db.*,incident.*`):
    /// at most 32, each at most 128 bytes. Not given: every event.
    #[param(example = "db.*,incident.*")]
    types: Option<String>,
    /// How many events at most, oldest first: a whole number from 1 to `server.page_limit_max`
    /// (500 unless configured). 50 when not given.
    #[param(minimum = 1)]
    limit: Option<usize>,
}

/// The event log after `since`, oldest first, a page at a time.
///
/// `next` is the `since` of the following page: null once the page reaches the log's end. A
/// page may hold fewer than `limit` events (a `types` filter) and still have a `next`.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    params(EventsQuery),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "A page of the log", body = Page<EventView>),
        (status = 400, description = "`bad_request`: `limit` is out of range, or `types` lists \
            too many or too long patterns", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn list_events(app: Arc<App>, query: EventsQuery) -> Result<Response, Rejection> {
    let limit = limit(&app, query.limit)?;
    let patterns = type_patterns(query.types)?;
    let since = query.since.map_or(0, |Seq(since)| since);
    let store = app.kernel.store();
    let head = store.last_seq().await.map_err(ApiError::from)?;
    let mut items = Vec::new();
    let mut read_to = since;
    let mut chunks = EVENTS_SCAN_MAX / EVENTS_READ_CHUNK;
    while items.len() < limit && read_to < head && chunks > 0 {
        chunks -= 1;
        // Unfiltered, the page needs no more than it has room for.
        let wanted_max = match patterns.is_empty() {
            true => limit - items.len(),
            false => EVENTS_READ_CHUNK,
        };
        let chunk = store.events_after(read_to, wanted_max).await;
        let chunk = chunk.map_err(ApiError::from)?;
        if chunk.is_empty() {
            // Retention removed them: go on from the oldest kept.
            match store.first_seq().await.map_err(ApiError::from)? {
                Some(first) if first > read_to + 1 => read_to = (first - 1).min(head),
                _ => read_to = head,
            }
            continue;
        }
        for event in chunk {
            read_to = event.seq;
            if wanted(&patterns, &event.event_type) {
                items.push(EventView::from(&event));
                if items.len() == limit {
                    break;
                }
            }
        }
    }
    let next = (read_to < head).then(|| read_to.to_string());
    json(&Page {
        items,
        next,
        total: None,
    })
}

/// Whether an event of `event_type` is one the patterns ask for (all, with none).
fn wanted(patterns: &[Pattern], event_type: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(event_type))
}

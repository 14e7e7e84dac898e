//! `/silences`: people's maintenance — quiet, for a while, for what some matchers cover
//! (monitor ids, sources, event types, labels). An incident that opens under one is recorded
//! *in maintenance*: no playbook runs, nothing is escalated, and the dashboard shows it grey.
//! Silences end by themselves; `POST /silences/{id}/expire` ends one early.

use std::sync::Arc;

use actors::silence::{Matchers, Silence, SILENCE_DAYS_MAX};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::reply::Response;
use warp::{Rejection, Reply as _};

use super::api_docs::{BodyErrors, NoBody, TokenErrors};
use super::auth::Caller;
use super::error::ErrorBody;
use super::filters::json;
use super::intake::{parse_json, typed};
use super::wire::Items;
use super::{ApiError, App};
use crate::tokens::Role;

/// A new silence: what it covers, and for how long.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewSilence {
    pub matchers: Matchers,
    /// RFC 3339; now when absent.
    pub starts_at: Option<String>,
    /// RFC 3339. Give this or `duration_ms`.
    pub ends_at: Option<String>,
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub comment: String,
}

/// A silence, and whether it is in force.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SilenceView {
    #[serde(flatten)]
    pub silence: Silence,
    /// `pending` (not begun), `active` or `expired`.
    pub state: &'static str,
}

fn view(silence: Silence, now: DateTime<Utc>) -> SilenceView {
    let state = match silence {
        ref s if s.is_active(now) => "active",
        ref s if s.starts_at > now => "pending",
        _ => "expired",
    };
    SilenceView { silence, state }
}

/// Every silence, newest first.
#[utoipa::path(
    get,
    path = "/silences",
    tag = "monitors",
    security(("bearerAuth" = [Role::Read])),
    responses((status = 200, description = "The silences", body = Items<SilenceView>), TokenErrors)
)]
pub(super) async fn list_silences(app: Arc<App>) -> Result<Response, Rejection> {
    let now = actors::time::now();
    let items = app
        .kernel
        .silences()
        .into_iter()
        .map(|s| view(s, now))
        .collect();
    json(&Items { items })
}

/// One silence, with its state now.
#[utoipa::path(
    get,
    path = "/silences/{silence_id}",
    tag = "monitors",
    params(("silence_id" = String, Path, description = "The silence's id")),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The silence", body = SilenceView),
        (status = 404, description = "`not_found`: no such silence", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn get_silence(
    [silence_id]: [String; 1],
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let silence = app
        .kernel
        .silences()
        .into_iter()
        .find(|s| s.id == silence_id);
    let missing = || ApiError::NotFound(format!("silence {silence_id} does not exist"));
    json(&view(silence.ok_or_else(missing)?, actors::time::now()))
}

/// Silence what `matchers` cover, from `starts_at` (now) to `ends_at` or for `duration_ms`
/// (at most 30 days). Recorded as made by the token's name.
#[utoipa::path(
    post,
    path = "/silences",
    tag = "monitors",
    request_body(content = NewSilence, content_type = "application/json"),
    security(("bearerAuth" = [Role::Operate])),
    responses(
        (status = 201, description = "The silence, in force or pending", body = SilenceView),
        (status = 400, description = "`bad_request`: `field` names what is wrong (`matchers`, \
            `starts_at`, `ends_at`, `duration_ms`)", body = ErrorBody),
        (status = 409, description = "`conflict`: 1,000 silences are in force or pending", body = ErrorBody),
        BodyErrors,
    )
)]
pub(super) async fn create_silence(
    caller: Caller,
    app: Arc<App>,
    body: bytes::Bytes,
) -> Result<Response, Rejection> {
    let request: NewSilence =
        typed(parse_json(&body)?).map_err(|(field, message)| ApiError::bad(&field, message))?;
    let now = actors::time::now();
    let (starts_at, ends_at) = span(&request, now)?;
    if let Some((field, message)) = request.matchers.problems("matchers").into_iter().next() {
        return Err(ApiError::bad(&field, message).into());
    }
    let silence = Silence {
        id: format!("silence-{}", short_id()),
        matchers: request.matchers,
        starts_at,
        ends_at,
        comment: request.comment.chars().take(COMMENT_LEN_MAX).collect(),
        created_by: caller.who,
        created_at: now,
    };
    let silence = app
        .kernel
        .create_silence(silence)
        .await
        .map_err(ApiError::from)?;
    let reply = warp::reply::json(&view(silence, now));
    Ok(warp::reply::with_status(reply, warp::http::StatusCode::CREATED).into_response())
}

/// Longest comment kept, in characters.
const COMMENT_LEN_MAX: usize = 1_000;

/// When the silence begins and ends, each bad time named by its field.
fn span(
    request: &NewSilence,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let time = |field: &str, text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| ApiError::bad(field, "must be an RFC 3339 time"))
    };
    let longest = Duration::days(SILENCE_DAYS_MAX);
    let starts_at = match &request.starts_at {
        Some(text) => time("starts_at", text)?,
        None => now,
    };
    if starts_at > now + longest {
        return Err(ApiError::bad("starts_at", "at most 30 days from now"));
    }
    let ends_at = match (&request.ends_at, request.duration_ms) {
        (Some(text), None) => time("ends_at", text)?,
        (None, Some(ms)) if ms > 0 && ms <= longest.num_milliseconds() as u64 => {
            starts_at + Duration::milliseconds(ms as i64)
        }
        (None, Some(_)) => return Err(ApiError::bad("duration_ms", "must be 1 ms to 30 days")),
        _ => {
            return Err(ApiError::bad(
                "ends_at",
                "give exactly one of ends_at or duration_ms",
            ))
        }
    };
    if ends_at <= starts_at.max(now) || ends_at - starts_at > longest {
        return Err(ApiError::bad(
            "ends_at",
            "must be in the future, after starts_at, and at most 30 days after it",
        ));
    }
    Ok((starts_at, ends_at))
}

fn short_id() -> String {
    let bytes: [u8; 6] = rand::random();
    hex::encode(bytes)
}

/// End a silence now.
#[utoipa::path(
    post,
    path = "/silences/{silence_id}/expire",
    tag = "monitors",
    params(("silence_id" = String, Path, description = "The silence's id")),
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [Role::Operate])),
    responses(
        (status = 200, description = "The silence, ended", body = SilenceView),
        (status = 404, description = "`not_found`: no such silence", body = ErrorBody),
        BodyErrors,
    )
)]
pub(super) async fn expire_silence(
    [silence_id]: [String; 1],
    caller: Caller,
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let silence = app
        .kernel
        .expire_silence(&silence_id, caller.who)
        .await
        .map_err(ApiError::from)?;
    json(&view(silence, actors::time::now()))
}

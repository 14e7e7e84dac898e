//! `/monitors`: every monitor with its state, last probe and trust; pausing, resuming and
//! silencing one; and `/heartbeats/{id}` for heartbeat monitors.

use std::sync::Arc;

use actors::model::component_subject;
use actors::protocol::monitor::{ControlChange, MonitorStatus};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use warp::reply::Response;
use warp::Rejection;

use super::api_docs::{BodyErrors, NoBody, PostErrors, SilenceRequest, TokenErrors};
use super::auth::Caller;
use super::error::ErrorBody;
use super::filters::{json, name_in_path, segment};
use super::wire::{HeartbeatView, Items, MonitorView};
use super::{ApiError, App};
use crate::tokens::Role;

pub(super) async fn monitor_view(
    app: &App,
    status: &MonitorStatus,
) -> Result<MonitorView, ApiError> {
    let trust = app
        .kernel
        .store()
        .trust(&component_subject(&status.id))
        .await?
        .map_or(1.0, |trust| trust.score);
    Ok(MonitorView::new(status, trust))
}

/// Every monitor, with its state, its last probe and its trust.
#[utoipa::path(
    get,
    path = "/monitors",
    tag = "monitors",
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The monitors", body = Items<MonitorView>),
        TokenErrors,
    )
)]
pub(super) async fn list_monitors(app: Arc<App>) -> Result<Response, Rejection> {
    let mut items = Vec::new();
    for status in app.kernel.monitor_statuses() {
        items.push(monitor_view(&app, &status).await?);
    }
    json(&Items { items })
}

/// One monitor, with its state, its last probe and its trust.
#[utoipa::path(
    get,
    path = "/monitors/{monitor_id}",
    tag = "monitors",
    params(("monitor_id" = String, Path, description = "The monitor's id")),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The monitor", body = MonitorView),
        (status = 404, description = "`not_found`: no such monitor", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn get_monitor(
    [monitor_id]: [String; 1],
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let status = app
        .kernel
        .monitor_status(&monitor_id)
        .map_err(ApiError::from)?;
    json(&monitor_view(&app, &status).await?)
}

/// Longest silence one request may set: a week. Longer quiet is a config change, not a silence.
pub(super) const SILENCE_MINUTES_MAX: i64 = 7 * 24 * 60;

/// What `POST /monitors/{monitor_id}/{action}` does.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum MonitorAction {
    /// Stop probing it (kept across restarts).
    Pause,
    /// Probe it again.
    Resume,
    /// Keep recording its incidents, but run no playbook for them, for a while.
    Silence,
}

/// Pause, resume or silence a monitor.
///
/// `pause` stops probing it and `resume` starts again; `silence` keeps recording its incidents
/// but runs no playbook for them, for `{"minutes": N}` (0 lifts the silence) or until
/// `{"until": "<RFC 3339>"}`, at most a week. Only `silence` reads the body. Recorded as done
/// by the token's name.
#[utoipa::path(
    post,
    path = "/monitors/{monitor_id}/{action}",
    tag = "monitors",
    params(
        ("monitor_id" = String, Path, description = "The monitor's id"),
        ("action" = inline(MonitorAction), Path, description = "What to do"),
    ),
    request_body(content = Option<SilenceRequest>, content_type = "application/json",
        description = "For `silence`: exactly one of `minutes` or `until`. `pause` and `resume` \
            read no body."),
    security(("bearerAuth" = [Role::Operate])),
    responses(
        (status = 200, description = "The monitor, changed", body = MonitorView),
        (status = 400, description = "`bad_request`: the silence body is not one it takes \
            (`field` is `body`, `minutes` or `until`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such monitor, or no such action", body = ErrorBody),
        BodyErrors,
    )
)]
pub(super) async fn control_monitor(
    [monitor_id, action]: [String; 2],
    caller: Caller,
    app: Arc<App>,
    body: bytes::Bytes,
) -> Result<Response, Rejection> {
    let change = match segment::<MonitorAction>(&action) {
        Some(MonitorAction::Pause) => ControlChange::Pause,
        Some(MonitorAction::Resume) => ControlChange::Resume,
        Some(MonitorAction::Silence) => ControlChange::Silence(silence_until(&body)?),
        None => return Err(warp::reject::not_found()),
    };
    let status = app
        .kernel
        .control_monitor(&monitor_id, change, caller.who)
        .await
        .map_err(ApiError::from)?;
    json(&monitor_view(&app, &status).await?)
}

pub(super) fn silence_until(body: &[u8]) -> Result<Option<DateTime<Utc>>, ApiError> {
    let request: serde_json::Value = serde_json::from_slice(body).map_err(|error| {
        ApiError::bad(
            "body",
            format!("expected {{\"minutes\": N}} or {{\"until\": \"<RFC 3339>\"}}: {error}"),
        )
    })?;
    let now = Utc::now();
    let latest = now + chrono::Duration::minutes(SILENCE_MINUTES_MAX);
    match (request.get("minutes"), request.get("until")) {
        (Some(minutes), None) => match minutes.as_i64() {
            Some(0) => Ok(None),
            Some(m) if (1..=SILENCE_MINUTES_MAX).contains(&m) => {
                Ok(Some(now + chrono::Duration::minutes(m)))
            }
            _ => Err(ApiError::bad(
                "minutes",
                format!("must be a whole number from 0 (lift) to {SILENCE_MINUTES_MAX}"),
            )),
        },
        (None, Some(until)) => {
            let until = until
                .as_str()
                .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                .map(|until| until.with_timezone(&Utc))
                .ok_or_else(|| ApiError::bad("until", "must be an RFC 3339 time"))?;
            if until <= now || until > latest {
                return Err(ApiError::bad(
                    "until",
                    "must be in the future and at most a week away",
                ));
            }
            Ok(Some(until))
        }
        _ => Err(ApiError::bad(
            "body",
            "give exactly one of `minutes` or `until`",
        )),
    }
}

/// Record a heartbeat of a heartbeat monitor.
///
/// The monitor looks at once, so a job that beats after a miss is up again at once.
#[utoipa::path(
    post,
    path = "/heartbeats/{monitor_id}",
    tag = "monitors",
    params(("monitor_id" = String, Path, description = "The heartbeat monitor's id")),
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [Role::Ingest])),
    responses(
        (status = 200, description = "The beat was recorded", body = HeartbeatView),
        (status = 400, description = "`bad_request`: the id holds a control, bidirectional or \
            zero-width character (`field`: `monitor_id`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no heartbeat monitor of that id", body = ErrorBody),
        PostErrors,
    )
)]
pub(super) async fn heartbeat(
    [monitor_id]: [String; 1],
    app: Arc<App>,
) -> Result<Response, Rejection> {
    name_in_path("monitor_id", &monitor_id)?;
    app.kernel.beat(&monitor_id).map_err(ApiError::from)?;
    json(&HeartbeatView {
        monitor: monitor_id,
        status: "received",
    })
}

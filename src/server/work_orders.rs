//! People's side of a work order and an incident: assign, comment on, close and reopen a
//! work order (`POST /work-orders/{id}/{action}`), and leave a note on an incident (`POST
//! /monitoring/incidents/{id}/notes`). Each is recorded as done by the token's name and lands
//! on the incident's timeline.

use std::sync::Arc;

use actors::model::{Note, WorkOrder, WorkOrderAction, WorkOrderRequest};
use serde::Deserialize;
use utoipa::ToSchema;
use warp::reply::Response;
use warp::{Rejection, Reply as _};

use super::api_docs::BodyErrors;
use super::auth::Caller;
use super::error::ErrorBody;
use super::filters::json;
use super::intake::{parse_json, typed};
use super::{ApiError, App};
use crate::tokens::Role;

/// A note on an incident.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewNote {
    /// At most 4,000 bytes.
    pub text: String,
}

/// `assign` (needs `assignee`), `comment` (needs `note`), `close` (needs `note`, its
/// resolution) or `reopen`; `note` with `assign` or `reopen` is kept as a comment.
#[utoipa::path(
    post,
    path = "/work-orders/{work_order_id}/{action}",
    tag = "healing",
    params(
        ("work_order_id" = String, Path, description = "The work order's id"),
        ("action" = inline(WorkOrderAction), Path, description = "What to do"),
    ),
    request_body(content = WorkOrderRequest, content_type = "application/json"),
    security(("bearerAuth" = [Role::Operate])),
    responses(
        (status = 200, description = "The work order, changed", body = WorkOrder),
        (status = 400, description = "`bad_request`: a field it needs is missing or wrong \
            (`field` is `body`, `assignee` or `note`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such work order, or no such action", body = ErrorBody),
        (status = 409, description = "`conflict`: not in a state that allows it (closing a closed \
            one, assigning a closed one, reopening an open one)", body = ErrorBody),
        BodyErrors,
    )
)]
pub(super) async fn change_work_order(
    [work_order_id, action]: [String; 2],
    caller: Caller,
    app: Arc<App>,
    body: bytes::Bytes,
) -> Result<Response, Rejection> {
    let Some(action) = WorkOrderAction::parse(&action) else {
        return Err(warp::reject::not_found());
    };
    let request: WorkOrderRequest =
        typed(parse_json(&body)?).map_err(|(field, message)| ApiError::bad(&field, message))?;
    let kernel = &app.kernel;
    let changed = kernel
        .change_work_order(&work_order_id, action, request, caller.who)
        .await;
    json(&changed.map_err(ApiError::from)?)
}

/// Leaves a note on the incident's timeline, as the token's name.
#[utoipa::path(
    post,
    path = "/monitoring/incidents/{id}/notes",
    tag = "incidents",
    params(("id" = u64, Path, description = "The incident's id")),
    request_body(content = NewNote, content_type = "application/json"),
    security(("bearerAuth" = [Role::Operate])),
    responses(
        (status = 201, description = "The note, on the timeline", body = Note),
        (status = 400, description = "`bad_request`: `text` missing, empty or too long \
            (`field` is `body`, `text` or `note`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such incident", body = ErrorBody),
        BodyErrors,
    )
)]
pub(super) async fn note_incident(
    [raw_id]: [String; 1],
    caller: Caller,
    app: Arc<App>,
    body: bytes::Bytes,
) -> Result<Response, Rejection> {
    let id = super::filters::incident_id(&raw_id)?;
    let request: NewNote =
        typed(parse_json(&body)?).map_err(|(field, message)| ApiError::bad(&field, message))?;
    let noted = app
        .kernel
        .note_incident(id, &request.text, caller.who)
        .await;
    let missing = || ApiError::NotFound(format!("incident {id} does not exist"));
    let note = noted.map_err(ApiError::from)?.ok_or_else(missing)?;
    let reply = warp::reply::json(&note);
    Ok(warp::reply::with_status(reply, warp::http::StatusCode::CREATED).into_response())
}

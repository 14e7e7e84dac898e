//! `/monitoring/incidents`: incidents, newest first, one with its timeline, and what people do
//! to one (acknowledge, resolve). Deciding a suggestion is in `playbooks.rs`.

use std::sync::Arc;

use actors::model::IncidentStatus;
use actors::protocol::incidents::IncidentFilter;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::api_docs::{IncidentsQuery, NoBody, PostErrors, TokenErrors};
use super::auth::Caller;
use super::error::ErrorBody;
use super::filters::{any_of, incident_id, json, limit, optional_seq, Filters};
use super::wire::{EventView, IncidentDetail, IncidentView, Page};
use super::{ApiError, App, Query};

/// Events shown in an incident's timeline at most.
const TIMELINE_EVENTS_MAX: usize = 1_000;

pub(super) fn routes(f: &Filters) -> BoxedFilter<(Response,)> {
    let list = warp::path!("monitoring" / "incidents")
        .and(warp::get())
        .and(f.read.clone())
        .and(f.app.clone())
        .and(f.query.clone())
        .and_then(list_incidents);
    let one = warp::path!("monitoring" / "incidents" / String)
        .and(warp::get())
        .and(f.read.clone())
        .and(f.app.clone())
        .and_then(get_incident);
    let acknowledge = warp::path!("monitoring" / "incidents" / String / "acknowledge")
        .and(warp::post())
        .and(f.operate.clone())
        .and(f.json_post.clone())
        .and(f.app.clone())
        .and_then(acknowledge);
    let resolve = warp::path!("monitoring" / "incidents" / String / "resolve")
        .and(warp::post())
        .and(f.operate.clone())
        .and(f.json_post.clone())
        .and(f.app.clone())
        .and_then(resolve);
    any_of(vec![
        list.boxed(),
        one.boxed(),
        acknowledge.boxed(),
        resolve.boxed(),
    ])
}

/// Incidents, newest first, a page at a time.
///
/// `next` is the cursor of the following page, null at the end. With `status=active` or an
/// active status, the page also says how many incidents match in all (`total`).
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitoring/incidents",
    tag = "incidents",
    params(IncidentsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of incidents", body = Page<IncidentView>),
        (status = 400, description = "`bad_request`: `limit`, `status` or `cursor` is not one \
            it takes (`field` names it)", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn list_incidents(app: Arc<App>, query: Query) -> Result<Response, Rejection> {
    let limit = limit(&app, &query)?;
    let filter = match query.get("status").map(String::as_str) {
        None | Some("") => IncidentFilter::Any,
        Some("active") => IncidentFilter::Active,
        Some(raw) => IncidentFilter::Status(IncidentStatus::parse(raw).ok_or_else(|| {
            ApiError::bad(
                "status",
                format!("must be one of active, open, acknowledged, mitigating, resolved, escalated; got {raw:?}"),
            )
        })?),
    };
    let before = optional_seq(&query, "cursor", "a cursor from `next`")?;
    let page = app
        .kernel
        .incidents(filter, before, limit)
        .await
        .map_err(ApiError::from)?;
    let next = (page.items.len() == limit)
        .then(|| page.items.last().map(|incident| incident.id.to_string()))
        .flatten();
    json(&Page {
        items: page.items.iter().map(IncidentView::from).collect(),
        next,
        total: page.total,
    })
}

/// One incident, with its timeline: the events that concern it, oldest first.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitoring/incidents/{id}",
    tag = "incidents",
    params(("id" = u64, Path, description = "The incident's id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The incident and its timeline", body = IncidentDetail),
        (status = 400, description = "`bad_request`: the id is not a whole number (`field` is \
            `id`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such incident", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn get_incident(raw_id: String, app: Arc<App>) -> Result<Response, Rejection> {
    let id = incident_id(&raw_id)?;
    let store = app.kernel.store();
    let incident = store
        .incident(id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::NotFound(format!("incident {id} does not exist")))?;
    let events = store
        .incident_events(&incident, TIMELINE_EVENTS_MAX)
        .await
        .map_err(ApiError::from)?;
    json(&IncidentDetail {
        incident: IncidentView::from(&incident),
        timeline: events.iter().map(EventView::from).collect(),
    })
}

/// Acknowledge an incident: a person is on it.
///
/// Recorded as done by the token's name.
///
/// Role: `operate` (`admin` also does).
#[utoipa::path(
    post,
    path = "/monitoring/incidents/{id}/acknowledge",
    tag = "incidents",
    params(("id" = u64, Path, description = "The incident's id")),
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The incident, acknowledged", body = IncidentView),
        (status = 400, description = "`bad_request`: the id is not a whole number", body = ErrorBody),
        (status = 404, description = "`not_found`: no such incident", body = ErrorBody),
        (status = 409, description = "`conflict`: the incident is resolved, or acknowledged \
            already", body = ErrorBody),
        PostErrors,
    )
)]
pub(super) async fn acknowledge(
    raw_id: String,
    caller: Caller,
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let id = incident_id(&raw_id)?;
    let incident = app
        .kernel
        .acknowledge(id, caller.who)
        .await
        .map_err(ApiError::from)?;
    json(&IncidentView::from(&incident))
}

/// Resolve an incident by hand.
///
/// Recorded as done by the token's name (`resolved_by` is `manual`).
///
/// Role: `operate` (`admin` also does).
#[utoipa::path(
    post,
    path = "/monitoring/incidents/{id}/resolve",
    tag = "incidents",
    params(("id" = u64, Path, description = "The incident's id")),
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The incident, resolved", body = IncidentView),
        (status = 400, description = "`bad_request`: the id is not a whole number", body = ErrorBody),
        (status = 404, description = "`not_found`: no such incident", body = ErrorBody),
        (status = 409, description = "`conflict`: the incident is resolved already", body = ErrorBody),
        PostErrors,
    )
)]
pub(super) async fn resolve(
    raw_id: String,
    caller: Caller,
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let id = incident_id(&raw_id)?;
    let incident = app
        .kernel
        .resolve(id, caller.who)
        .await
        .map_err(ApiError::from)?;
    json(&IncidentView::from(&incident))
}

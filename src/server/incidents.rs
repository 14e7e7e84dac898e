//! `/monitoring/incidents`: incidents, newest first, one with its timeline, and what people do
//! to one (acknowledge, resolve). Deciding a suggestion is in `playbooks.rs`.

use std::sync::Arc;

use actors::model::IncidentStatus;
use actors::protocol::incidents::IncidentFilter;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use warp::reply::Response;
use warp::Rejection;

use super::api_docs::{NoBody, PostErrors, TokenErrors};
use super::auth::Caller;
use super::error::ErrorBody;
use super::filters::{incident_id, json, limit, Seq};
use super::incident_filters::{scan, Wanted};
use super::wire::{EventView, IncidentDetail, IncidentView, Page};
use super::{ApiError, App};
use crate::tokens::Role;

/// Events shown in an incident's timeline at most.
const TIMELINE_EVENTS_MAX: usize = 1_000;

/// The query of `GET /monitoring/incidents`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct IncidentsQuery {
    /// How many incidents at most: a whole number from 1 to `server.page_limit_max` (500
    /// unless configured). 50 when not given.
    #[param(minimum = 1)]
    limit: Option<usize>,
    /// Only incidents in this status; `active` is every status but `resolved`. With `active`
    /// or an active status the page also has `total`, how many match. Empty or not given:
    /// any status.
    #[param(inline)]
    status: Option<StatusFilter>,
    /// The `next` of the page before: the incidents older than it.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9223372036854775807_u64)]
    cursor: Option<Seq>,
    /// Only this component: exact, or a prefix ending in `*` (`checkout*`).
    source: Option<String>,
    /// Only event types matching this pattern (`db.*`).
    event_type: Option<String>,
    /// Only these severities, comma-separated (`high,critical`).
    severity: Option<String>,
    /// Only incidents detected at or after this time (RFC 3339).
    since: Option<String>,
    /// Only incidents detected before this time (RFC 3339).
    until: Option<String>,
    /// Only incidents whose title, source or event type contains this text (any case).
    q: Option<String>,
}

/// The statuses `GET /monitoring/incidents?status=` takes.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum StatusFilter {
    Active,
    Open,
    Acknowledged,
    Mitigating,
    Resolved,
    Escalated,
}

impl From<StatusFilter> for IncidentFilter {
    fn from(status: StatusFilter) -> Self {
        let only = IncidentFilter::Status;
        match status {
            StatusFilter::Active => IncidentFilter::Active,
            StatusFilter::Open => only(IncidentStatus::Open),
            StatusFilter::Acknowledged => only(IncidentStatus::Acknowledged),
            StatusFilter::Mitigating => only(IncidentStatus::Mitigating),
            StatusFilter::Resolved => only(IncidentStatus::Resolved),
            StatusFilter::Escalated => only(IncidentStatus::Escalated),
        }
    }
}

/// Incidents, newest first, a page at a time.
///
/// `next` is the cursor of the following page, null at the end. With `status=active` or an
/// active status, the page also says how many incidents match in all (`total`). Filtered by
/// `source`, `event_type`, `severity`, `since`, `until` or `q`, a page reads at most 10,000
/// incidents to fill itself: it can hold fewer than `limit` with a `next` to go on from.
#[utoipa::path(
    get,
    path = "/monitoring/incidents",
    tag = "incidents",
    params(IncidentsQuery),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "A page of incidents", body = Page<IncidentView>),
        (status = 400, description = "`bad_request`: `limit`, `status`, `cursor`, `severity`, \
            `since`, `until` or `q` is not one it takes (`field` names it)", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn list_incidents(
    app: Arc<App>,
    query: IncidentsQuery,
) -> Result<Response, Rejection> {
    let limit = limit(&app, query.limit)?;
    let filter = query
        .status
        .map_or(IncidentFilter::Any, IncidentFilter::from);
    let before = query.cursor.map(|Seq(cursor)| cursor);
    let q = query;
    let wanted = Wanted::read(q.source, q.event_type, q.severity, q.since, q.until, q.q)?;
    if !wanted.is_empty() {
        let (items, next) = scan(&app, filter, &wanted, before, limit).await?;
        let items = items.iter().map(IncidentView::from).collect();
        let next = next.map(|id| id.to_string());
        return json(&Page {
            items,
            next,
            total: None,
        });
    }
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
#[utoipa::path(
    get,
    path = "/monitoring/incidents/{id}",
    tag = "incidents",
    params(("id" = u64, Path, description = "The incident's id")),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The incident and its timeline", body = IncidentDetail),
        (status = 400, description = "`bad_request`: the id is not a whole number (`field` is \
            `id`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such incident", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn get_incident(
    [raw_id]: [String; 1],
    app: Arc<App>,
) -> Result<Response, Rejection> {
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
#[utoipa::path(
    post,
    path = "/monitoring/incidents/{id}/acknowledge",
    tag = "incidents",
    params(("id" = u64, Path, description = "The incident's id")),
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [Role::Operate])),
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
    [raw_id]: [String; 1],
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
#[utoipa::path(
    post,
    path = "/monitoring/incidents/{id}/resolve",
    tag = "incidents",
    params(("id" = u64, Path, description = "The incident's id")),
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [Role::Operate])),
    responses(
        (status = 200, description = "The incident, resolved", body = IncidentView),
        (status = 400, description = "`bad_request`: the id is not a whole number", body = ErrorBody),
        (status = 404, description = "`not_found`: no such incident", body = ErrorBody),
        (status = 409, description = "`conflict`: the incident is resolved already", body = ErrorBody),
        PostErrors,
    )
)]
pub(super) async fn resolve(
    [raw_id]: [String; 1],
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

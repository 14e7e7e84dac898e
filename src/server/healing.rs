//! What automation did, newest first: playbook runs (`/monitoring/executions`), sub-agents
//! (`/monitoring/agents`), work orders and webhook deliveries.

use std::sync::Arc;

use actors::model::{Agent, Delivery, Execution, WorkOrder};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::api_docs::{ExecutionsQuery, LimitQuery, TokenErrors};
use super::error::ErrorBody;
use super::filters::{any_of, json, limit, optional_seq, Filters};
use super::wire::Page;
use super::{ApiError, App, Query};

pub(super) fn routes(f: &Filters) -> BoxedFilter<(Response,)> {
    let list = |path: BoxedFilter<()>| {
        path.and(warp::get())
            .and(f.read.clone())
            .and(f.app.clone())
            .and(f.query.clone())
    };
    let executions =
        list(warp::path!("monitoring" / "executions").boxed()).and_then(list_executions);
    let agents = list(warp::path!("monitoring" / "agents").boxed()).and_then(list_agents);
    let work_orders = list(warp::path!("work-orders").boxed()).and_then(list_work_orders);
    let deliveries = list(warp::path!("deliveries").boxed()).and_then(list_deliveries);
    let execution = warp::path!("monitoring" / "executions" / String)
        .and(warp::get())
        .and(f.read.clone())
        .and(f.app.clone())
        .and_then(get_execution);
    any_of(vec![
        executions.boxed(),
        execution.boxed(),
        agents.boxed(),
        work_orders.boxed(),
        deliveries.boxed(),
    ])
}

/// Playbook runs (executions), newest first; with `incident_id`, only that incident's.
///
/// Not paged: `next` is always null.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitoring/executions",
    tag = "healing",
    params(ExecutionsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The latest runs", body = Page<Execution>),
        (status = 400, description = "`bad_request`: `limit` or `incident_id` is not one it \
            takes (`field` names it)", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn list_executions(app: Arc<App>, query: Query) -> Result<Response, Rejection> {
    let limit = limit(&app, &query)?;
    let incident = optional_seq(&query, "incident_id", "an incident id")?;
    let store = app.kernel.store();
    let executions = match incident {
        Some(incident_id) => store.incident_executions(incident_id, limit).await,
        None => store.executions(limit).await,
    };
    let executions = executions.map_err(ApiError::from)?;
    json(&Page {
        items: executions,
        next: None,
        total: None,
    })
}

/// Webhook deliveries of work orders and notifications, newest first.
///
/// Not paged: `next` is always null.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/deliveries",
    tag = "healing",
    params(LimitQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The latest deliveries", body = Page<Delivery>),
        (status = 400, description = "`bad_request`: `limit` is out of range", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn list_deliveries(app: Arc<App>, query: Query) -> Result<Response, Rejection> {
    let limit = limit(&app, &query)?;
    let deliveries = app
        .kernel
        .store()
        .deliveries(limit)
        .await
        .map_err(ApiError::from)?;
    json(&Page {
        items: deliveries,
        next: None,
        total: None,
    })
}

/// One playbook run, with the log of each step.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitoring/executions/{run_id}",
    tag = "healing",
    params(("run_id" = String, Path, description = "The run's id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The run", body = Execution),
        (status = 404, description = "`not_found`: no such run", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn get_execution(run_id: String, app: Arc<App>) -> Result<Response, Rejection> {
    let execution = app
        .kernel
        .store()
        .execution(&run_id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::NotFound(format!("execution {run_id} does not exist")))?;
    json(&execution)
}

/// Sub-agents, newest first: the supervised actors that carry out runs.
///
/// Not paged: `next` is always null.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitoring/agents",
    tag = "healing",
    params(LimitQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The latest sub-agents", body = Page<Agent>),
        (status = 400, description = "`bad_request`: `limit` is out of range", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn list_agents(app: Arc<App>, query: Query) -> Result<Response, Rejection> {
    let limit = limit(&app, &query)?;
    let agents = app
        .kernel
        .store()
        .agents(limit)
        .await
        .map_err(ApiError::from)?;
    json(&Page {
        items: agents,
        next: None,
        total: None,
    })
}

/// Work orders, newest first: what people must do where automation could not heal.
///
/// Not paged: `next` is always null.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/work-orders",
    tag = "healing",
    params(LimitQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The latest work orders", body = Page<WorkOrder>),
        (status = 400, description = "`bad_request`: `limit` is out of range", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn list_work_orders(app: Arc<App>, query: Query) -> Result<Response, Rejection> {
    let limit = limit(&app, &query)?;
    let work_orders = app
        .kernel
        .store()
        .work_orders(limit)
        .await
        .map_err(ApiError::from)?;
    json(&Page {
        items: work_orders,
        next: None,
        total: None,
    })
}

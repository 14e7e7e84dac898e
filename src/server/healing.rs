//! What automation did, newest first: playbook runs (`/monitoring/executions`), sub-agents
//! (`/monitoring/agents`), work orders and webhook deliveries.

use std::sync::Arc;

use actors::model::{Agent, AgentStatus, Delivery, Execution, WorkOrder};
use serde::Deserialize;
use utoipa::IntoParams;
use warp::reply::Response;
use warp::Rejection;

use super::api_docs::TokenErrors;
use super::error::ErrorBody;
use actors::store::Cursor;

use super::filters::{cursor, json, limit, paged, ListQuery, Seq};
use super::wire::Page;
use super::{ApiError, App};
use crate::tokens::Role;

/// The query of `GET /monitoring/executions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ExecutionsQuery {
    /// How many runs at most, newest first: a whole number from 1 to `server.page_limit_max`
    /// (500 unless configured). 50 when not given.
    #[param(minimum = 1)]
    limit: Option<usize>,
    /// Only the runs of this incident.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9223372036854775807_u64)]
    incident_id: Option<Seq>,
    /// The `next` of the page before (`<time>~<id>`): the runs older than its last one.
    cursor: Option<String>,
}

/// Playbook runs (executions), newest first; with `incident_id`, only that incident's.
///
/// `next` is the cursor of the following page, null at the end.
#[utoipa::path(
    get,
    path = "/monitoring/executions",
    tag = "healing",
    params(ExecutionsQuery),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The latest runs", body = Page<Execution>),
        (status = 400, description = "`bad_request`: `limit` or `incident_id` is not one it \
            takes (`field` names it)", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn list_executions(
    app: Arc<App>,
    query: ExecutionsQuery,
) -> Result<Response, Rejection> {
    let limit = limit(&app, query.limit)?;
    let after = cursor(query.cursor.as_deref())?;
    let incident = query.incident_id.map(|Seq(id)| id);
    let store = app.kernel.store();
    let executions = match incident {
        Some(id) => {
            store
                .incident_executions_page(id, after.as_ref(), limit)
                .await
        }
        None => store.executions_page(after.as_ref(), limit).await,
    };
    let executions = executions.map_err(ApiError::from)?;
    json(&paged(executions, limit, |e| {
        Cursor::new(&e.started_at, e.run_id.as_str())
    }))
}

/// Deliveries of work orders, notifications and pages, newest first.
///
/// `next` is the cursor of the following page, null at the end.
#[utoipa::path(
    get,
    path = "/deliveries",
    tag = "healing",
    params(ListQuery),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The latest deliveries", body = Page<Delivery>),
        (status = 400, description = "`bad_request`: `limit` is out of range, or `cursor` is \
            not a page's `next`", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn list_deliveries(
    app: Arc<App>,
    query: ListQuery,
) -> Result<Response, Rejection> {
    let limit = limit(&app, query.limit)?;
    let after = cursor(query.cursor.as_deref())?;
    let store = app.kernel.store();
    let deliveries = store.deliveries_page(after.as_ref(), limit).await;
    let deliveries = deliveries.map_err(ApiError::from)?;
    json(&paged(deliveries, limit, |d| {
        Cursor::new(&d.created_at, &d.delivery_id)
    }))
}

/// One playbook run, with the log of each step.
#[utoipa::path(
    get,
    path = "/monitoring/executions/{run_id}",
    tag = "healing",
    params(("run_id" = String, Path, description = "The run's id")),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The run", body = Execution),
        (status = 404, description = "`not_found`: no such run", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn get_execution(
    [run_id]: [String; 1],
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let execution = app
        .kernel
        .store()
        .execution(&run_id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::NotFound(format!("execution {run_id} does not exist")))?;
    json(&execution)
}

/// The query of `GET /monitoring/agents`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct AgentsQuery {
    /// How many sub-agents at most, newest first: a whole number from 1 to
    /// `server.page_limit_max` (500 unless configured). 50 when not given.
    #[param(minimum = 1)]
    limit: Option<usize>,
    /// Only the sub-agents in this status: `running` for the active ones. Not given: any.
    #[param(inline)]
    status: Option<AgentStatus>,
    /// The `next` of the page before (`<time>~<id>`): the sub-agents older than its last one.
    cursor: Option<String>,
}

/// Sub-agents, newest first: the supervised actors that carry out runs; with `status`, only
/// those in it (`running`: the active ones).
///
/// `next` is the cursor of the following page, null at the end.
#[utoipa::path(
    get,
    path = "/monitoring/agents",
    tag = "healing",
    params(AgentsQuery),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The latest sub-agents", body = Page<Agent>),
        (status = 400, description = "`bad_request`: `limit` is out of range, or `status` is \
            not one", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn list_agents(app: Arc<App>, query: AgentsQuery) -> Result<Response, Rejection> {
    let limit = limit(&app, query.limit)?;
    let after = cursor(query.cursor.as_deref())?;
    let store = app.kernel.store();
    let agents = store.agents_page(query.status, after.as_ref(), limit).await;
    let agents = agents.map_err(ApiError::from)?;
    json(&paged(agents, limit, |a| {
        Cursor::new(&a.started_at, a.agent_id.as_str())
    }))
}

/// One sub-agent: the run it carries out, its task, trust and status.
#[utoipa::path(
    get,
    path = "/monitoring/agents/{agent_id}",
    tag = "healing",
    params(("agent_id" = String, Path, description = "The sub-agent's id")),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The sub-agent", body = Agent),
        (status = 404, description = "`not_found`: no such sub-agent", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn get_agent(
    [agent_id]: [String; 1],
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let agent = app.kernel.store().agent(&agent_id).await;
    let agent = agent.map_err(ApiError::from)?;
    json(&agent.ok_or_else(|| ApiError::NotFound(format!("sub-agent {agent_id} does not exist")))?)
}

/// One work order: what people must do, and why.
#[utoipa::path(
    get,
    path = "/work-orders/{work_order_id}",
    tag = "healing",
    params(("work_order_id" = String, Path, description = "The work order's id")),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The work order", body = WorkOrder),
        (status = 404, description = "`not_found`: no such work order", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn get_work_order(
    [work_order_id]: [String; 1],
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let order = app.kernel.store().work_order(&work_order_id).await;
    let order = order.map_err(ApiError::from)?;
    let missing = || ApiError::NotFound(format!("work order {work_order_id} does not exist"));
    json(&order.ok_or_else(missing)?)
}

/// Work orders, newest first: what people must do where automation could not heal.
///
/// `next` is the cursor of the following page, null at the end.
#[utoipa::path(
    get,
    path = "/work-orders",
    tag = "healing",
    params(ListQuery),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The latest work orders", body = Page<WorkOrder>),
        (status = 400, description = "`bad_request`: `limit` is out of range, or `cursor` is \
            not a page's `next`", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn list_work_orders(
    app: Arc<App>,
    query: ListQuery,
) -> Result<Response, Rejection> {
    let limit = limit(&app, query.limit)?;
    let after = cursor(query.cursor.as_deref())?;
    let store = app.kernel.store();
    let orders = store.work_orders_page(after.as_ref(), limit).await;
    let orders = orders.map_err(ApiError::from)?;
    json(&paged(orders, limit, |w| {
        Cursor::new(&w.created_at, w.work_order_id.as_str())
    }))
}

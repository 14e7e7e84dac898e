//! `/routes` and `/receivers`: who is told about which incidents, and when (`[[routes]]`),
//! with each route's pages still going on; and the receivers by id and kind only — their
//! URLs and addresses can carry tokens, so they stay in the config.

use std::sync::Arc;

use actors::paging::Page;
use actors::spec::RouteSpec;
use serde::Serialize;
use utoipa::ToSchema;
use warp::reply::Response;
use warp::Rejection;

use super::api_docs::TokenErrors;
use super::error::ErrorBody;
use super::filters::json;
use super::wire::Items;
use super::{ApiError, App};
use crate::tokens::Role;

/// Most open pages shown with a route.
const PAGES_SHOWN_MAX: usize = 1_000;

/// A route as configured, and its pages not yet done.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RouteView {
    #[serde(flatten)]
    pub route: RouteSpec,
    /// Incidents it is paging people about now (at most 1,000).
    pub pages: Vec<Page>,
}

/// A receiver, without where it is.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ReceiverView {
    pub id: String,
    /// `webhook`, `slack`, `teams`, `discord`, `email`, `pagerduty` or `opsgenie`.
    pub kind: &'static str,
}

/// Every route, in the order they are tried.
#[utoipa::path(
    get,
    path = "/routes",
    tag = "people",
    security(("bearerAuth" = [Role::Read])),
    responses((status = 200, description = "The routes", body = Items<RouteView>), TokenErrors)
)]
pub(super) async fn list_routes(app: Arc<App>) -> Result<Response, Rejection> {
    let pages = app
        .kernel
        .store()
        .open_pages(PAGES_SHOWN_MAX)
        .await
        .map_err(ApiError::from)?;
    let items = app
        .kernel
        .spec()
        .routes
        .iter()
        .map(|route| view(route, &pages))
        .collect();
    json(&Items { items })
}

/// One route, with the incidents it is paging people about now.
#[utoipa::path(
    get,
    path = "/routes/{route_id}",
    tag = "people",
    params(("route_id" = String, Path, description = "The route's id")),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The route", body = RouteView),
        (status = 404, description = "`not_found`: no such route", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn get_route(
    [route_id]: [String; 1],
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let spec = app.kernel.spec();
    let missing = || ApiError::NotFound(format!("route {route_id} is not configured"));
    let route = spec
        .routes
        .iter()
        .find(|r| r.id == route_id)
        .ok_or_else(missing)?;
    let pages = app
        .kernel
        .store()
        .open_pages(PAGES_SHOWN_MAX)
        .await
        .map_err(ApiError::from)?;
    json(&view(route, &pages))
}

/// Every receiver and webhook routes may name.
#[utoipa::path(
    get,
    path = "/receivers",
    tag = "people",
    security(("bearerAuth" = [Role::Read])),
    responses((status = 200, description = "The receivers", body = Items<ReceiverView>), TokenErrors)
)]
pub(super) async fn list_receivers(app: Arc<App>) -> Result<Response, Rejection> {
    let spec = app.kernel.spec();
    let receivers = spec.receivers.iter().cloned();
    let webhooks = spec.webhooks.iter().map(actors::spec::ReceiverSpec::from);
    let items = receivers
        .chain(webhooks)
        .map(|r| ReceiverView {
            kind: r.kind.name(),
            id: r.id,
        })
        .collect();
    json(&Items { items })
}

fn view(route: &RouteSpec, pages: &[Page]) -> RouteView {
    let pages = pages
        .iter()
        .filter(|p| p.route_id == route.id)
        .cloned()
        .collect();
    RouteView {
        route: route.clone(),
        pages,
    }
}

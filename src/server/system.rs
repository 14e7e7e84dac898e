//! Grace itself: `/health`, `/metrics`, `/whoami`, the actor tree and config reload (the
//! OpenAPI document serves itself, `openapi.rs`).

use std::sync::Arc;

use actors::ActorState;
use warp::reply::Response;
use warp::Rejection;

use super::api_docs::{CallerErrors, NoBody, PostErrors, PublicErrors, TokenErrors};
use super::auth::Caller;
use super::error::ErrorBody;
use super::filters::json;
use super::wire::{
    ActorCounts, ActorView, HealthStatus, HealthView, IncidentsProgress, LeaderView,
    NodeHealthView, NodeRole, ReloadView, WhoamiView,
};
use super::{ws, ApiError, App};
use crate::reload::ReloadError;
use crate::tokens::Role;

/// Whether Grace is healthy.
///
/// `ok` when every actor runs and the store takes writes, `degraded` otherwise; with the event
/// log's position, the incident manager's progress, the feed clients connected and whether
/// tokens are required.
#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    security(()),
    responses(
        (status = 200, description = "Grace's health (also while degraded)", body = HealthView),
        PublicErrors,
    )
)]
pub(super) async fn health(app: Arc<App>) -> Result<Response, Rejection> {
    let last_seq = app
        .kernel
        .store()
        .last_seq()
        .await
        .map_err(ApiError::from)?;
    let tree = app.kernel.tree();
    let (mut total, mut running) = (0, 0);
    let mut stack = vec![&tree];
    while let Some(node) = stack.pop() {
        total += 1;
        running += usize::from(node.status == ActorState::Running);
        stack.extend(node.children.iter());
    }
    let (applied_seq, lag) = app.kernel.incidents_progress();
    let store_failure = app.kernel.store_failure().map(Into::into);
    let healthy = running == total && store_failure.is_none();
    json(&HealthView {
        status: if healthy {
            HealthStatus::Ok
        } else {
            HealthStatus::Degraded
        },
        store_failure,
        version: env!("CARGO_PKG_VERSION"),
        last_seq,
        log_id: app.kernel.store().log_id().to_owned(),
        actors: ActorCounts { total, running },
        incidents: IncidentsProgress { applied_seq, lag },
        ws_clients: ws::clients(&app),
        tokens_required: app.auth.required,
        cluster: node_health(&app),
    })
}

/// This node's place in a cluster, if it is in one.
fn node_health(app: &App) -> Option<NodeHealthView> {
    let node_id = app.node_id.clone()?;
    let role = match app.forward {
        Some(_) => NodeRole::Standby,
        None => NodeRole::Leader,
    };
    let leader = app.cluster.as_ref().and_then(|seen| seen.leader());
    let leader = leader.map(|(node_id, url)| LeaderView { node_id, url });
    Some(NodeHealthView {
        node_id,
        role,
        leader,
    })
}

/// Prometheus' scrape target, in OpenMetrics text.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "Grace's metrics", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        TokenErrors,
    )
)]
pub(super) async fn metrics(app: Arc<App>) -> Result<Response, Rejection> {
    let text = app.kernel.metrics_text(ws::clients(&app)).await;
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(warp::http::Response::builder()
        .header(warp::http::header::CONTENT_TYPE, content_type)
        .body(text.into())
        .expect("a valid response"))
}

/// Reread the config file and apply it.
///
/// 200 with what changed, or 400 listing every problem of the new config, which is then not
/// applied at all. Settings of `[server]`, `[store]` and `[auth]` take effect at the next
/// start (`restart_required`). Recorded as done by the token's name.
#[utoipa::path(
    post,
    path = "/config/reload",
    tag = "system",
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [Role::Admin])),
    responses(
        (status = 200, description = "The new config is applied", body = ReloadView),
        (status = 400, description = "`bad_request`: the new config is not valid; `errors` \
            lists every problem with its key, and nothing was applied", body = ErrorBody),
        PostErrors,
    )
)]
pub(super) async fn reload_config(caller: Caller, app: Arc<App>) -> Result<Response, Rejection> {
    match crate::reload::reload(&app.kernel, &app.started, caller.who).await {
        Ok(report) => json(&ReloadView::from(report)),
        Err(ReloadError::Invalid(error)) => Err(ApiError::Invalid(
            error
                .issues
                .into_iter()
                .map(|issue| {
                    let key = if issue.key.is_empty() {
                        "config".to_owned()
                    } else {
                        issue.key
                    };
                    (key, issue.message)
                })
                .collect(),
        )
        .into()),
        Err(ReloadError::Kernel(error)) => Err(ApiError::from(error).into()),
    }
}

/// Who the token is, and what it may do.
///
/// Whether tokens are required, and the caller's name and role (the dashboard shows a
/// read-only token no action buttons).
#[utoipa::path(
    get,
    path = "/whoami",
    tag = "system",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The caller", body = WhoamiView),
        CallerErrors,
    )
)]
pub(super) async fn whoami(caller: Caller, app: Arc<App>) -> Result<Response, Rejection> {
    json(&WhoamiView {
        name: caller.who,
        role: caller.role,
        required: app.auth.required,
    })
}

/// The live supervision tree: every actor, its state and its restarts.
#[utoipa::path(
    get,
    path = "/actors",
    tag = "system",
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The root of the tree", body = ActorView),
        TokenErrors,
    )
)]
pub(super) async fn actor_tree(app: Arc<App>) -> Result<Response, Rejection> {
    json(&ActorView::from(&app.kernel.tree()))
}

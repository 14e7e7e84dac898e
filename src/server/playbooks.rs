//! The playbook routes: `GET /playbooks`, `GET /playbooks/{id}` (with trust and recent runs)
//! and `POST /playbooks/{id}/run`, which a person uses to run a playbook on an active
//! incident by hand.

use std::sync::Arc;

use actors::model::{playbook_subject, Execution};
use actors::spec::PlaybookSpec;
use serde::Deserialize;
use utoipa::ToSchema;
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::api_docs::{BodyErrors, NoBody, PostErrors, TokenErrors};
use super::auth::Caller;
use super::error::ErrorBody;
use super::filters;
use super::wire::{DecisionView, Items, PlaybookRunStarted, PlaybookView, SuggestionView};
use super::{ApiError, App};
use crate::tokens::Role;

/// Recent runs shown with one playbook.
const RECENT_RUNS_MAX: usize = 20;

async fn view(
    app: &App,
    playbook: &PlaybookSpec,
    runs: Option<Vec<Execution>>,
) -> Result<PlaybookView, ApiError> {
    let trust = app
        .kernel
        .store()
        .trust(&playbook_subject(&playbook.id))
        .await?;
    Ok(PlaybookView::new(playbook, trust.as_ref(), runs))
}

/// Every playbook, with what triggers it, its steps and its trust.
#[utoipa::path(
    get,
    path = "/playbooks",
    tag = "playbooks",
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The playbooks", body = Items<PlaybookView>),
        TokenErrors,
    )
)]
pub async fn list(app: Arc<App>) -> Result<Response, Rejection> {
    let mut items = Vec::new();
    for playbook in app.kernel.playbooks() {
        items.push(view(&app, &playbook, None).await?);
    }
    filters::json(&Items { items })
}

/// One playbook, with its trust and its latest runs (at most 20).
#[utoipa::path(
    get,
    path = "/playbooks/{playbook_id}",
    tag = "playbooks",
    params(("playbook_id" = String, Path, description = "The playbook's id")),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The playbook, with `recent_runs`", body = PlaybookView),
        (status = 404, description = "`not_found`: no such playbook", body = ErrorBody),
        TokenErrors,
    )
)]
pub async fn get([playbook_id]: [String; 1], app: Arc<App>) -> Result<Response, Rejection> {
    let playbook = app
        .kernel
        .playbooks()
        .into_iter()
        .find(|p| p.id == playbook_id)
        .ok_or_else(|| ApiError::NotFound(format!("there is no playbook named {playbook_id:?}")))?;
    let runs = app
        .kernel
        .store()
        .playbook_executions(&playbook.id, RECENT_RUNS_MAX)
        .await
        .map_err(ApiError::from)?;
    filters::json(&view(&app, &playbook, Some(runs)).await?)
}

/// Which incident to run a playbook on.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    /// An active incident.
    incident_id: u64,
    /// Past the trigger, cooldown and circuit breaker: admins only, recorded on the run.
    #[serde(default)]
    force: bool,
}

/// Run a playbook on an active incident by hand.
///
/// 202 with the run id: the run goes on in the background (see
/// `GET /monitoring/executions/{run_id}`). It must still be triggered by the incident, and not
/// held by its cooldown or circuit breaker, unless `force` (admins only). Recorded as started
/// by the token's name.
/// With `force`, only `admin`.
#[utoipa::path(
    post,
    path = "/playbooks/{playbook_id}/run",
    tag = "playbooks",
    params(("playbook_id" = String, Path, description = "The playbook's id")),
    request_body(content = RunRequest, content_type = "application/json"),
    security(("bearerAuth" = [Role::Operate])),
    responses(
        (status = 202, description = "The run started", body = PlaybookRunStarted),
        (status = 400, description = "`bad_request`: the body is not `{\"incident_id\": N, \
            \"force\": false}` (`field` is `incident_id`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such playbook or incident", body = ErrorBody),
        (status = 409, description = "`conflict`: the incident is resolved, the playbook runs on \
            it already, it is not triggered by it, or held by its cooldown or circuit breaker", body = ErrorBody),
        (status = 503, description = "`unavailable`: too many runs at once", body = ErrorBody),
        BodyErrors,
    )
)]
pub async fn run(
    [playbook_id]: [String; 1],
    caller: Caller,
    app: Arc<App>,
    body: bytes::Bytes,
) -> Result<Response, Rejection> {
    let request: RunRequest = serde_json::from_slice(&body).map_err(|error| {
        ApiError::bad(
            "incident_id",
            format!("expected {{\"incident_id\": N, \"force\": false}}: {error}"),
        )
    })?;
    if request.force && !caller.role.allows(Role::Admin) {
        return Err(ApiError::NeedsRole {
            needed: Role::Admin,
            name: caller.who.to_string(),
            has: caller.role,
        }
        .into());
    }
    let run_id = app
        .kernel
        .run_playbook(&playbook_id, request.incident_id, caller.who, request.force)
        .await
        .map_err(ApiError::from)?
        .map_err(ApiError::from)?;
    let reply = PlaybookRunStarted {
        run_id: run_id.to_string(),
        playbook_id,
        incident_id: request.incident_id,
    };
    Ok(
        warp::reply::with_status(warp::reply::json(&reply), warp::http::StatusCode::ACCEPTED)
            .into_response(),
    )
}

/// What people decide about a suggested playbook.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Decision {
    /// Run the suggested playbook now.
    Approve,
    /// Do not run it.
    Dismiss,
}

/// Approve or dismiss a playbook suggested on an incident.
///
/// Approving runs the suggested playbook at once; the reply carries the decision and the run
/// id. Recorded as decided by the token's name.
#[utoipa::path(
    post,
    path = "/monitoring/incidents/{id}/suggestions/{suggestion_id}/{decision}",
    tag = "incidents",
    params(
        ("id" = u64, Path, description = "The incident's id"),
        ("suggestion_id" = String, Path, description = "The suggestion's id (`s1`, `s2`, …)"),
        ("decision" = inline(Decision), Path, description = "Approve or dismiss"),
    ),
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [Role::Operate])),
    responses(
        (status = 200, description = "The suggestion, decided, and the run approving started", body = DecisionView),
        (status = 400, description = "`bad_request`: the id is not a whole number", body = ErrorBody),
        (status = 404, description = "`not_found`: no such incident or suggestion, or no such \
            decision", body = ErrorBody),
        (status = 409, description = "`conflict`: decided already, or the playbook cannot run \
            now (the incident is resolved, a run is in progress, a cooldown holds it)", body = ErrorBody),
        (status = 503, description = "`unavailable`: too many runs at once", body = ErrorBody),
        PostErrors,
    )
)]
pub async fn decide(
    [raw_id, suggestion_id, action]: [String; 3],
    caller: Caller,
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let approve = match filters::segment::<Decision>(&action) {
        Some(Decision::Approve) => true,
        Some(Decision::Dismiss) => false,
        None => return Err(warp::reject::not_found()),
    };
    let incident_id = filters::incident_id(&raw_id)?;
    let decided = app
        .kernel
        .decide_suggestion(incident_id, &suggestion_id, approve, caller.who)
        .await
        .map_err(ApiError::from)?;
    filters::json(&DecisionView {
        suggestion: SuggestionView::from(&decided.suggestion),
        run_id: decided.run_id.map(|run| run.to_string()),
    })
}

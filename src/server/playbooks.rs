//! The playbook routes: `GET /playbooks`, `GET /playbooks/{id}` (with trust and recent runs)
//! and `POST /playbooks/{id}/run`, which a person uses to run a playbook on an active
//! incident by hand.

use std::sync::Arc;

use actors::model::{playbook_subject, Execution};
use actors::spec::PlaybookSpec;
use serde::Deserialize;
use serde_json::json;
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::auth::Caller;
use super::wire::{PlaybookView, SuggestionView};
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

pub async fn list(app: Arc<App>) -> Result<Response, Rejection> {
    let mut items = Vec::new();
    for playbook in app.kernel.playbooks() {
        items.push(view(&app, &playbook, None).await?);
    }
    super::json(&json!({ "items": items }))
}

pub async fn get(playbook_id: String, app: Arc<App>) -> Result<Response, Rejection> {
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
    super::json(&view(&app, &playbook, Some(runs)).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    incident_id: u64,
    /// Past the trigger, cooldown and circuit breaker: admins only, recorded on the run.
    #[serde(default)]
    force: bool,
}

/// `POST /playbooks/{id}/run` with `{"incident_id": N}`: 202 with the run id.
pub async fn run(
    playbook_id: String,
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
    let reply =
        json!({ "run_id": run_id, "playbook_id": playbook_id, "incident_id": request.incident_id });
    Ok(
        warp::reply::with_status(warp::reply::json(&reply), warp::http::StatusCode::ACCEPTED)
            .into_response(),
    )
}

/// `POST /monitoring/incidents/{id}/suggestions/{sid}/approve|dismiss`. Approving runs the
/// suggested playbook at once; the reply carries the decision and the run id.
pub async fn decide(
    raw_id: String,
    suggestion_id: String,
    action: String,
    caller: Caller,
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let approve = match action.as_str() {
        "approve" => true,
        "dismiss" => false,
        _ => return Err(warp::reject::not_found()),
    };
    let incident_id = super::incident_id(&raw_id)?;
    // Approving starts the run first: a suggestion is only marked approved once its run is
    // under way, so one that cannot run now (busy, full) can still be approved later.
    let run_id = if approve {
        let incident = app
            .kernel
            .store()
            .incident(incident_id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("incident {incident_id} does not exist")))?;
        let pending = incident
            .suggestions
            .iter()
            .find(|s| s.suggestion_id == suggestion_id)
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "incident {incident_id} has no suggestion {suggestion_id:?}"
                ))
            })?;
        if pending.status != "pending" {
            return Err(ApiError::Conflict(format!(
                "suggestion {suggestion_id} on incident {incident_id} is {} already",
                pending.status
            ))
            .into());
        }
        let run = app
            .kernel
            .run_playbook(&pending.playbook_id, incident_id, caller.who.clone(), false)
            .await
            .map_err(ApiError::from)?
            .map_err(ApiError::from)?;
        Some(run)
    } else {
        None
    };
    let suggestion = app
        .kernel
        .decide_suggestion(incident_id, &suggestion_id, approve, caller.who)
        .await
        .map_err(ApiError::from)?;
    super::json(&json!({ "suggestion": SuggestionView::from(&suggestion), "run_id": run_id }))
}

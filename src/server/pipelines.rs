//! The pipeline routes: `GET /pipelines` (each with its latest run), `GET /pipelines/{id}/runs`
//! and `POST /pipelines/{id}/run`, which starts a run by hand.

use std::sync::Arc;

use serde_json::json;
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::auth::Caller;
use super::wire::PipelineView;
use super::{ApiError, App, Query};

pub async fn list(app: Arc<App>) -> Result<Response, Rejection> {
    let mut items = Vec::new();
    for pipeline in app.kernel.pipelines() {
        let last = app
            .kernel
            .store()
            .pipeline_runs(&pipeline.id, 1)
            .await
            .map_err(ApiError::from)?;
        items.push(PipelineView::new(&pipeline, last.into_iter().next()));
    }
    super::json(&json!({ "items": items }))
}

/// `GET /pipelines/{id}/runs?limit=N`: newest first.
pub async fn runs(pipeline_id: String, app: Arc<App>, query: Query) -> Result<Response, Rejection> {
    if !app.kernel.pipelines().iter().any(|p| p.id == pipeline_id) {
        return Err(
            ApiError::NotFound(format!("there is no pipeline named {pipeline_id:?}")).into(),
        );
    }
    let limit = super::limit(&app, &query)?;
    let runs = app
        .kernel
        .store()
        .pipeline_runs(&pipeline_id, limit)
        .await
        .map_err(ApiError::from)?;
    super::json(&json!({ "items": runs }))
}

/// `POST /pipelines/{id}/run`: 202 with the run as started.
pub async fn run(
    pipeline_id: String,
    caller: Caller,
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let run = app
        .kernel
        .run_pipeline(&pipeline_id, caller.who)
        .await
        .map_err(ApiError::from)?
        .map_err(ApiError::from)?;
    Ok(
        warp::reply::with_status(warp::reply::json(&run), warp::http::StatusCode::ACCEPTED)
            .into_response(),
    )
}

//! The pipeline routes: `GET /pipelines` (each with its latest run), `GET /pipelines/{id}/runs`
//! and `POST /pipelines/{id}/run`, which starts a run by hand.

use std::sync::Arc;

use actors::model::PipelineRun;
use actors::store::Cursor;
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::api_docs::{NoBody, PostErrors, TokenErrors};
use super::auth::Caller;
use super::error::ErrorBody;
use super::filters::{self, ListQuery};
use super::wire::{Items, Page, PipelineView};
use super::{ApiError, App};
use crate::tokens::Role;

/// Every pipeline, with its latest run.
#[utoipa::path(
    get,
    path = "/pipelines",
    tag = "pipelines",
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The pipelines", body = Items<PipelineView>),
        TokenErrors,
    )
)]
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
    filters::json(&Items { items })
}

/// A pipeline's runs, newest first; `next` is the cursor of the following page, null at the
/// end.
#[utoipa::path(
    get,
    path = "/pipelines/{pipeline_id}/runs",
    tag = "pipelines",
    params(("pipeline_id" = String, Path, description = "The pipeline's id"), ListQuery),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The latest runs", body = Page<PipelineRun>),
        (status = 400, description = "`bad_request`: `limit` is out of range, or `cursor` is \
            not a page's `next`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such pipeline", body = ErrorBody),
        TokenErrors,
    )
)]
pub async fn runs(
    [pipeline_id]: [String; 1],
    app: Arc<App>,
    query: ListQuery,
) -> Result<Response, Rejection> {
    if !app.kernel.pipelines().iter().any(|p| p.id == pipeline_id) {
        return Err(
            ApiError::NotFound(format!("there is no pipeline named {pipeline_id:?}")).into(),
        );
    }
    let limit = filters::limit(&app, query.limit)?;
    let after = filters::cursor(query.cursor.as_deref())?;
    let store = app.kernel.store();
    let runs = store
        .pipeline_runs_page(&pipeline_id, after.as_ref(), limit)
        .await;
    let runs = runs.map_err(ApiError::from)?;
    let at = |run: &PipelineRun| Cursor::new(&run.started_at, run.run_id.as_str());
    filters::json(&filters::paged(runs, limit, at))
}

/// Start a pipeline run by hand.
///
/// 202 with the run as started; it goes on in the background. Recorded as started by the
/// token's name.
#[utoipa::path(
    post,
    path = "/pipelines/{pipeline_id}/run",
    tag = "pipelines",
    params(("pipeline_id" = String, Path, description = "The pipeline's id")),
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [Role::Operate])),
    responses(
        (status = 202, description = "The run started", body = PipelineRun),
        (status = 404, description = "`not_found`: no such pipeline", body = ErrorBody),
        (status = 409, description = "`conflict`: the pipeline is running already", body = ErrorBody),
        PostErrors,
    )
)]
pub async fn run(
    [pipeline_id]: [String; 1],
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

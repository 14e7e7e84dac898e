//! `GET /monitors/{monitor_id}/history`: a monitor's last 24 hours at a glance — one cell per
//! `history.bucket_ms` coloured by the worst state in it, uptime over 24 hours and 30 days, and
//! the latency of each cell for a sparkline. Read from the stored buckets and the one being
//! summed now.

use std::sync::Arc;

use actors::history::{self, Cell};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use warp::reply::Response;
use warp::Rejection;

use super::api_docs::TokenErrors;
use super::error::ErrorBody;
use super::filters::json;
use super::{ApiError, App};
use crate::tokens::Role;
use actors::time::micros;

/// A monitor's history at a glance.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct HistoryView {
    pub monitor: String,
    /// How long each cell is (`history.bucket_ms`).
    pub bucket_ms: u64,
    /// The last 24 hours, oldest first, at most 288 cells (fewer, the newest, when buckets
    /// are shorter than 5 minutes). `state`: `none` (no probe), `up`, `failing` (some probe
    /// failed), `down` (the monitor called it down).
    pub cells: Vec<Cell>,
    /// The share of good probes over the last 24 hours and 30 days (as far as kept); null
    /// without probes.
    pub uptime_24h: Option<f64>,
    pub uptime_30d: Option<f64>,
    #[serde(with = "micros")]
    pub now: DateTime<Utc>,
}

/// One monitor's history: status bar, uptime, latency.
#[utoipa::path(
    get,
    path = "/monitors/{monitor_id}/history",
    tag = "monitors",
    params(("monitor_id" = String, Path, description = "The monitor's id")),
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "Its history", body = HistoryView),
        (status = 404, description = "`not_found`: no such monitor", body = ErrorBody),
        TokenErrors,
    )
)]
pub(super) async fn monitor_history(
    [monitor_id]: [String; 1],
    app: Arc<App>,
) -> Result<Response, Rejection> {
    let status = app
        .kernel
        .monitor_status(&monitor_id)
        .map_err(ApiError::from)?;
    let spec = app.kernel.history();
    let now = actors::time::now();
    let month = now - Duration::milliseconds(spec.keep_ms.min(30 * 86_400_000) as i64);
    let day = now - Duration::hours(24);
    let rows = app
        .kernel
        .store()
        .history(&monitor_id, month)
        .await
        .map_err(ApiError::from)?;
    let open = status.history.as_ref();
    let count = (86_400_000 / spec.bucket_ms) as usize;
    json(&HistoryView {
        monitor: monitor_id,
        bucket_ms: spec.bucket_ms,
        cells: history::cells(&rows, open, now, spec.bucket_ms, count),
        uptime_24h: history::uptime(&rows, open, day),
        uptime_30d: history::uptime(&rows, open, month),
        now,
    })
}

//! `GET /cluster`: the nodes sharing this store, whether each is live, and the leases each
//! holds — the engines' and each spread monitor's (`monitor:<id>`) — at which epoch, until
//! when (the database's clock). On one node (an embedded
//! store) it says so and lists none.

use std::sync::Arc;

use actors::cluster::LeaseKey;
use actors::store::ClusterRead;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use warp::reply::Response;
use warp::Rejection;

use super::api_docs::TokenErrors;
use super::filters::json;
use super::{ApiError, App};
use crate::tokens::Role;

/// The cluster as this node reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterView {
    /// Whether this Grace is a node of a cluster (its store is a server).
    pub clustered: bool,
    /// This node's id, when it is one.
    pub node_id: Option<String>,
    pub nodes: Vec<NodeView>,
}

/// One node, as its membership row says.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeView {
    pub node_id: String,
    /// Where its HTTP server is.
    pub url: String,
    /// Renewing its membership, and not stopping.
    pub live: bool,
    pub stopping: bool,
    pub renewed_at: Option<DateTime<Utc>>,
    /// The leases it holds (today: `engines`, which makes it the leader).
    pub leases: Vec<LeaseView>,
}

/// A lease a node holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeaseView {
    pub key: String,
    /// Grows at every change of owner; every write of the holder's is checked against it.
    pub epoch: u64,
    pub expires_at: Option<DateTime<Utc>>,
    pub renewed_at: Option<DateTime<Utc>>,
    /// What the lease owns besides its key: for the engines' lease, each playbook run in
    /// flight (`run:<id>`) and each pipeline schedule (`schedule:<id>`), which the engines own.
    pub covers: Vec<String>,
}

/// The nodes of the cluster and the leases they hold.
#[utoipa::path(
    get,
    path = "/cluster",
    tag = "system",
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The nodes and their leases", body = ClusterView),
        TokenErrors,
    )
)]
pub(super) async fn cluster(app: Arc<App>) -> Result<Response, Rejection> {
    let Some(node_id) = app.node_id.clone() else {
        let one = ClusterView {
            clustered: false,
            node_id: None,
            nodes: Vec::new(),
        };
        return json(&one);
    };
    let read = app
        .kernel
        .store()
        .cluster_read()
        .await
        .map_err(ApiError::from)?;
    let runs = app.kernel.store().running_executions().await;
    let runs = runs.map_err(ApiError::from)?.into_iter();
    let schedules = app.kernel.spec().pipelines.clone().into_iter();
    let engines: Vec<String> = runs
        .map(|run| format!("run:{}", run.run_id))
        .chain(
            schedules
                .filter(|pipeline| pipeline.every_ms.is_some())
                .map(|pipeline| format!("schedule:{}", pipeline.id)),
        )
        .collect();
    json(&view(node_id, &read, &engines))
}

/// The view of `read`; `engines` what the engines' lease covers.
fn view(node_id: String, read: &ClusterRead, engines: &[String]) -> ClusterView {
    let at = DateTime::<Utc>::from_timestamp_millis;
    let nodes = read
        .nodes
        .iter()
        .map(|row| {
            let leases = read
                .leases
                .iter()
                .filter(|lease| lease.held_by(&row.node.node_id, read.now_ms))
                .map(|lease| LeaseView {
                    key: lease.key.to_string(),
                    epoch: lease.epoch.0,
                    expires_at: at(lease.expires_at_ms),
                    renewed_at: at(lease.renewed_at_ms),
                    covers: match lease.key {
                        LeaseKey::Engines => engines.to_vec(),
                        _ => Vec::new(),
                    },
                })
                .collect();
            NodeView {
                node_id: row.node.node_id.to_string(),
                url: row.url.clone(),
                live: row.node.is_live(read.now_ms),
                stopping: row.node.stopping,
                renewed_at: at(row.node.renewed_at_ms),
                leases,
            }
        })
        .collect();
    ClusterView {
        clustered: true,
        node_id: Some(node_id),
        nodes,
    }
}

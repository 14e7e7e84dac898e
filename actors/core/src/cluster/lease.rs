//! The rows the cluster keeps in the shared database: a lease per monitor, schedule and run
//! in flight, and a membership row per node. They are stored as they are here (serde), read
//! whole each round, and judged against the time the round is told.
//!
//! A lease is expired from `expires_at_ms` on (the instant itself included), and so is a
//! membership row: every check here and in `fence` uses that one comparison, so no two of
//! them disagree at the boundary.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ids::{Epoch, LeaseKey, NodeId};
use super::limits::NODES_MAX;

/// One lease row, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub key: LeaseKey,
    /// None once handed back: free for the next owner at once.
    pub owner: Option<NodeId>,
    pub epoch: Epoch,
    pub expires_at_ms: i64,
    pub renewed_at_ms: i64,
}

impl Lease {
    /// Whether the lease has run out at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        now_ms >= self.expires_at_ms
    }

    /// How long the lease has left at `now_ms` (zero or less once expired).
    pub fn left_ms(&self, now_ms: i64) -> i64 {
        self.expires_at_ms.saturating_sub(now_ms)
    }

    /// Whether another node may take the lease at `now_ms`: handed back or run out.
    pub fn is_free(&self, now_ms: i64) -> bool {
        self.owner.is_none() || self.expired(now_ms)
    }

    /// Whether `node` holds the lease at `now_ms` by this row.
    pub fn held_by(&self, node: &NodeId, now_ms: i64) -> bool {
        self.owner.as_ref() == Some(node) && !self.expired(now_ms)
    }
}

/// One node's membership row, as stored. A node writes it every round; the others count it
/// live until it expires or says the node is stopping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub node_id: NodeId,
    pub renewed_at_ms: i64,
    pub expires_at_ms: i64,
    /// Set by a node stopping cleanly, before it hands its leases back, so nobody hands it
    /// anything new in the meantime.
    pub stopping: bool,
}

impl Node {
    /// The row `node_id` writes at `now_ms`: live for one lease from now.
    pub fn heartbeat(node_id: NodeId, now_ms: i64, lease_ms: i64) -> Self {
        Self {
            node_id,
            renewed_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(lease_ms),
            stopping: false,
        }
    }

    /// Whether work may be spread to this node at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        !self.stopping && now_ms < self.expires_at_ms
    }
}

/// The live nodes of `rows` at `now_ms`, by id, each once, at most [`NODES_MAX`]: the set the
/// spread is over. Sorted, so every node reading the same rows gets the same set.
pub fn live_nodes(rows: &[Node], now_ms: i64) -> Vec<NodeId> {
    let live: BTreeSet<&NodeId> = rows
        .iter()
        .filter(|row| row.is_live(now_ms))
        .map(|row| &row.node_id)
        .collect();
    live.into_iter().take(NODES_MAX).cloned().collect()
}

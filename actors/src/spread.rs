//! A cluster's monitors spread over its nodes: the leases of the spread monitors (those that
//! probe a server over the network, `MonitorKind::spreads`) that this node holds, each at its
//! epoch, as the node's lease book last settled them. The node's round writes it
//! (`Kernel::hold_monitors`); the kernel starts and stops monitors by it; a monitor's every
//! commit carries its lease as a guard (`Write::LeaseHeld`), so once another node has taken
//! the lease nothing it finds lands.

use std::collections::BTreeMap;
use std::sync::RwLock;

use crate::cluster::{Epoch, LeaseKey, NodeId};
use crate::model::RanBy;
use crate::store::{StatusRow, Write};

/// The spread monitors one kernel runs, by monitor id, at the epoch of each lease.
pub struct Spread {
    pub me: NodeId,
    held: RwLock<BTreeMap<String, Epoch>>,
}

impl Spread {
    /// Node `me`'s, holding nothing yet.
    pub fn new(me: NodeId) -> Self {
        Self {
            me,
            held: RwLock::new(BTreeMap::new()),
        }
    }

    /// The epoch this node holds monitor `id`'s lease at, if it holds it.
    pub fn epoch_of(&self, id: &str) -> Option<Epoch> {
        self.held.read().expect("spread poisoned").get(id).copied()
    }

    /// Holds `held` from now; the set held before.
    pub(crate) fn replace(&self, held: BTreeMap<String, Epoch>) -> BTreeMap<String, Epoch> {
        std::mem::replace(&mut *self.held.write().expect("spread poisoned"), held)
    }

    /// The guard a commit of monitor `id` carries while it runs under `epoch`.
    pub fn guard(&self, id: &str, epoch: Epoch) -> Write {
        Write::LeaseHeld {
            by: self.ran_by(epoch),
            key: LeaseKey::Monitor(id.to_owned()),
        }
    }

    pub fn ran_by(&self, epoch: Epoch) -> RanBy {
        RanBy {
            node_id: self.me.clone(),
            epoch,
        }
    }
}

/// A monitor's view as stored for the other nodes.
pub(crate) fn status_row(
    status: crate::protocol::monitor::MonitorStatus,
    ran_by: crate::model::RanBy,
) -> StatusRow {
    StatusRow {
        monitor_id: status.id,
        down: status.down,
        refused: status.refused,
        consecutive_failures: status.consecutive_failures,
        last_probe_at: status.last_probe_at,
        last_latency_ms: status.last_latency_ms,
        last_error: status.last_error,
        details: status.details,
        ran_by,
    }
}

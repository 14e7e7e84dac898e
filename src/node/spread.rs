//! A node's share of the spread monitors (those that probe a server over the network): a lease
//! row each, decided every round by the pure lease book (`actors::cluster::LeaseBook`) over
//! the rows just read and the live nodes — rendezvous hashing, so a node joining or leaving
//! moves only its share — and written by compare-and-set, the acquires in one transaction and
//! the renewals in another.
//!
//! Within a round the node stops the monitors the book dropped or hands back before it
//! writes anything, and starts the ones it took after their writes commit: no two nodes probe
//! one monitor under one lease. Each monitor's commits are guarded by its lease, so a node
//! that lost one (a pause, a partition) lands nothing for it. The views of the monitors this
//! node runs are stored for the others once a round; the leader reads the others' onto its
//! board, which its incident manager and `/monitors` read.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use actors::cluster::{
    live_nodes, preferred_owner, Epoch, Lease, LeaseAction, LeaseBook, LeaseKey, NodeId, Settled,
};
use actors::store::{ClusterRead, StatusRow};
use actors::Kernel;
use chrono::{DateTime, Utc};

use super::{Node, EXPIRY_MARGIN_MS};

/// This node's monitor leases across rounds.
pub(super) struct MonitorLeases {
    book: LeaseBook,
    /// Each held monitor's last probe as last stored, so a round stores only what moved.
    stored: HashMap<String, Option<DateTime<Utc>>>,
}

impl MonitorLeases {
    pub(super) fn new(me: NodeId, lease_ms: i64) -> anyhow::Result<Self> {
        Ok(Self {
            book: LeaseBook::new(me, lease_ms)?,
            stored: HashMap::new(),
        })
    }

    /// The monitors held, by id, at the epoch of each lease.
    fn held(&self) -> BTreeMap<String, Epoch> {
        self.book
            .held()
            .filter_map(|(key, epoch)| match key {
                LeaseKey::Monitor(id) => Some((id.clone(), epoch)),
                _ => None,
            })
            .collect()
    }
}

impl Node {
    /// The tree serving now: the leader's, or the standby's.
    fn kernel(&self) -> Option<&Kernel> {
        let app = self.term.as_ref().map(|term| &term.app);
        app.or(self.serving.as_ref()).map(|app| &app.kernel)
    }

    /// The spread monitors' round, after the engines' one, over the same read.
    pub(super) async fn spread_round(&mut self, read: &ClusterRead) {
        let spec = match self.kernel() {
            Some(kernel) => kernel.spec(),
            None => std::sync::Arc::new(self.config.tree.clone()),
        };
        let wanted: Vec<LeaseKey> = spec
            .monitors
            .iter()
            .filter(|monitor| monitor.kind.spreads())
            .map(|monitor| LeaseKey::Monitor(monitor.id.clone()))
            .collect();
        let nodes: Vec<_> = read.nodes.iter().map(|row| row.node.clone()).collect();
        let live = live_nodes(&nodes, read.now_ms);
        let leases: Vec<Lease> = monitor_leases(read).cloned().collect();
        let actions = self
            .monitors
            .book
            .decide(&leases, &wanted, &live, read.now_ms);
        // What was dropped or is handed back stops before anything is written.
        self.hold().await;
        self.write_leases(&actions).await;
        self.hold().await;
        self.store_views().await;
    }

    /// Has the serving tree run exactly the monitors the book holds.
    pub(super) async fn hold(&self) {
        if let Some(kernel) = self.kernel() {
            kernel.hold_monitors(self.monitors.held()).await;
        }
    }

    /// Makes the round's writes and tells the book how each came out: the acquires in one
    /// transaction, the renewals in another, each hand-back in its own.
    async fn write_leases(&mut self, actions: &[LeaseAction]) {
        let mut acquires = Vec::new();
        let mut renewals = Vec::new();
        for action in actions {
            match action {
                LeaseAction::Acquire {
                    key,
                    expected_epoch,
                    new_epoch,
                } => acquires.push((key.clone(), *expected_epoch, *new_epoch)),
                LeaseAction::Renew { key, epoch } => renewals.push((key.clone(), *epoch)),
                LeaseAction::Release { key, epoch } => {
                    let release = self.store.release_lease(key, &self.me, *epoch);
                    if let Err(error) = self.bounded(release).await {
                        tracing::warn!(%error, %key, "cannot hand a monitor's lease back");
                    }
                }
                LeaseAction::Drop { .. } => {}
            }
        }
        self.acquire_monitors(acquires).await;
        self.renew_monitors(renewals).await;
    }

    async fn acquire_monitors(&mut self, acquires: Vec<(LeaseKey, Option<Epoch>, Epoch)>) {
        if acquires.is_empty() {
            return;
        }
        let acquire = self
            .store
            .acquire_leases(&self.me, &acquires, self.lease_ms);
        let taken = match self.bounded(acquire).await {
            Ok(taken) => {
                actors::CLUSTER.lease_takeovers.inc_by(taken.len() as u64);
                taken
            }
            Err(error) => {
                tracing::warn!(%error, "cannot take the monitors' leases");
                Vec::new()
            }
        };
        for (key, expected_epoch, new_epoch) in acquires {
            let settled = match taken.contains(&key) {
                true => Settled::Committed,
                false => Settled::Refused,
            };
            let action = LeaseAction::Acquire {
                key,
                expected_epoch,
                new_epoch,
            };
            self.monitors.book.settle(&action, settled);
        }
    }

    async fn renew_monitors(&mut self, renewals: Vec<(LeaseKey, Epoch)>) {
        if renewals.is_empty() {
            return;
        }
        let renew = self.store.renew_leases(&self.me, &renewals, self.lease_ms);
        let renewed = match self.bounded(renew).await {
            Ok(renewed) => {
                actors::CLUSTER.lease_renewals.inc_by(renewed.len() as u64);
                renewed
            }
            Err(error) => {
                tracing::warn!(%error, "cannot renew the monitors' leases");
                Vec::new()
            }
        };
        for (key, epoch) in renewals {
            let settled = match renewed.contains(&key) {
                true => Settled::Committed,
                false => Settled::Refused,
            };
            let action = LeaseAction::Renew { key, epoch };
            self.monitors.book.settle(&action, settled);
        }
    }

    /// Stores the views of the monitors this node runs that probed since the last round.
    async fn store_views(&mut self) {
        let Some(kernel) = self.kernel() else {
            return;
        };
        let rows: Vec<StatusRow> = kernel
            .held_status_rows()
            .into_iter()
            .filter(|row| self.monitors.stored.get(&row.monitor_id) != Some(&row.last_probe_at))
            .collect();
        if rows.is_empty() {
            return;
        }
        let put = self.store.put_monitor_statuses(&self.me, &rows);
        match self.bounded(put).await {
            Ok(()) => {
                let held = self.monitors.held();
                let stored = &mut self.monitors.stored;
                stored.retain(|id, _| held.contains_key(id));
                for row in rows {
                    stored.insert(row.monitor_id, row.last_probe_at);
                }
            }
            Err(error) => tracing::warn!(%error, "cannot store the monitors' views"),
        }
    }

    /// On the leader: the views of the monitors other nodes run, onto its board.
    pub(super) async fn learn_views(&self) {
        let Some(term) = &self.term else {
            return;
        };
        // Nothing to read when this node runs every spread monitor (or there is none).
        let held = self.monitors.held();
        let spec = term.app.kernel.spec();
        let mut spread = spec.monitors.iter().filter(|m| m.kind.spreads());
        if spread.all(|m| held.contains_key(&m.id)) {
            return;
        }
        match self.bounded(self.store.monitor_statuses()).await {
            Ok(rows) => term.app.kernel.learn_statuses(rows),
            Err(error) => tracing::warn!(%error, "cannot read the other nodes' monitor views"),
        }
    }

    /// When to look again so that a monitor of a node that stopped renewing is taken up as
    /// soon as both its lease and the node's membership have run out, if this node is the one
    /// to take it then: within the lease, not the lease and a round.
    pub(super) fn monitor_wake(&self, read: &ClusterRead) -> Option<Duration> {
        let nodes: Vec<_> = read.nodes.iter().map(|row| row.node.clone()).collect();
        let live = live_nodes(&nodes, read.now_ms);
        monitor_leases(read)
            .filter_map(|lease| {
                let owner = lease.owner.as_ref().filter(|owner| **owner != self.me)?;
                let others: Vec<NodeId> = live.iter().filter(|n| *n != owner).cloned().collect();
                (preferred_owner(&lease.key, &others)? == self.me).then_some(())?;
                let member_left_ms = nodes
                    .iter()
                    .find(|node| &node.node_id == owner)
                    .map_or(0, |node| node.expires_at_ms - read.now_ms);
                let left_ms = lease.left_ms(read.now_ms).max(member_left_ms).max(0);
                Some(Duration::from_millis(left_ms as u64 + EXPIRY_MARGIN_MS))
            })
            .min()
    }

    /// A clean stop: every monitor lease handed back (its monitors stopped with the tree).
    pub(super) async fn release_monitors(&mut self) {
        for action in self.monitors.book.release_all() {
            if let LeaseAction::Release { key, epoch } = action {
                let release = self.store.release_lease(&key, &self.me, epoch);
                if let Err(error) = self.bounded(release).await {
                    tracing::warn!(%error, %key, "cannot hand a monitor's lease back");
                }
            }
        }
    }
}

/// The monitors' lease rows of a read.
fn monitor_leases(read: &ClusterRead) -> impl Iterator<Item = &Lease> {
    read.leases
        .iter()
        .filter(|lease| matches!(lease.key, LeaseKey::Monitor(_)))
}

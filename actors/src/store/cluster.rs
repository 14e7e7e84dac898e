//! The cluster's rows in the shared database, and the fence on every write.
//!
//! - `cluster_lease:engines`, the engines' lease (`cluster::leader`): taken, renewed and handed back by
//!   compare-and-set in one transaction each, judged by the database's own clock
//!   (`time::now()`), so nodes whose clocks differ still agree on when it runs out.
//! - `cluster_node:<id>`, a membership row per node: written every round, live for one lease.
//! - The fence: a store made [`fenced`](Store::fenced) for a leader's engines writes, in the
//!   same transaction as every write, a mark on `cluster_lease:engines` that only succeeds while its
//!   node holds the lease at its epoch. A write is what makes two transactions conflict, so a
//!   takeover and a deposed leader's write cannot both land: one is refused (`Fenced`), or
//!   retried after the other and then refused.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{cause, Store, StoreError, StoreResult, StoreView};
use crate::cluster::{Epoch, Lease, LeaseKey, Node, NodeId};

/// What a fenced write's refusal says, so it is told apart from a store fault.
pub(super) const FENCED_MARKER: &str = "grace-fenced";
/// What a refused compare-and-set on the lease says.
const LEASE_MARKER: &str = "grace-lease";
/// Most tries of a transaction that lost a conflict with another (it wrote nothing): a
/// leader's writes and its renewals all write `cluster_lease:engines`, and every node's
/// commits append to one log. A store of one node is not retried: each table has one writer
/// there, and an error it did not expect (a full disk) must reach the store actor at once.
const CONFLICT_TRIES_MAX: u32 = 16;
/// What SurrealDB says of a transaction that lost a conflict.
const CONFLICT_MARKER: &str = "Transaction conflict";

/// The node and epoch a leader's writes are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub node: NodeId,
    pub epoch: Epoch,
}

/// A node's membership row: the core's, and where its HTTP server is, for people and for the
/// standby nodes that point to the leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRow {
    #[serde(flatten)]
    pub node: Node,
    pub url: String,
}

/// One round's read: the lease, the membership rows and the database's time.
#[derive(Debug, Clone)]
pub struct ClusterRead {
    /// The engines' lease.
    pub lease: Option<Lease>,
    /// Every lease row, the engines' among them.
    pub leases: Vec<Lease>,
    pub nodes: Vec<NodeRow>,
    pub now_ms: i64,
}

/// Most membership rows read in a round.
const NODE_ROWS_MAX: usize = 1_024;

/// Most lease rows read in a round: every node's most, and the engines'.
const LEASE_ROWS_MAX: usize = crate::cluster::NODES_MAX * crate::cluster::LEASES_HELD_MAX + 1;

/// The cluster's tables, defined only by a node of a cluster ([`Store::prepare_cluster`]): an
/// embedded store never has them (each table SurrealDB keeps is background work for it, which
/// a store on a full disk could not spare).
const CLUSTER_SCHEMA: &str = "
    DEFINE TABLE IF NOT EXISTS cluster_lease SCHEMALESS;
    DEFINE TABLE IF NOT EXISTS cluster_node SCHEMALESS;
    DEFINE TABLE IF NOT EXISTS monitor_status SCHEMALESS;
";

impl Store {
    /// Defines the cluster's tables (once per database; again is harmless).
    pub async fn prepare_cluster(&self) -> StoreResult<()> {
        self.write_query(CLUSTER_SCHEMA, json!({})).await
    }

    /// This store as one of several nodes': a commit that lost a conflict with another
    /// node's (both appended to the log) is tried again.
    pub fn shared(&self) -> Store {
        let mut view = self.0.clone();
        view.shared = true;
        view.head = None;
        Store(view)
    }

    /// This store with every write fenced by `fence`.
    pub fn fenced(&self, fence: Fence) -> Store {
        let mut view = self.0.clone();
        view.fence = Some(Arc::new(fence));
        Store(view)
    }

    /// Takes the engines' lease (see [`Store::acquire_lease`]).
    pub async fn acquire_engines(
        &self,
        me: &NodeId,
        expected: Option<Epoch>,
        epoch: Epoch,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        self.acquire_lease(&LeaseKey::Engines, me, expected, epoch, lease_ms)
            .await
    }

    /// Renews the engines' lease (see [`Store::renew_lease`]).
    pub async fn renew_engines(
        &self,
        me: &NodeId,
        epoch: Epoch,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        self.renew_lease(&LeaseKey::Engines, me, epoch, lease_ms)
            .await
    }

    /// Hands the engines' lease back (see [`Store::release_lease`]).
    pub async fn release_engines(&self, me: &NodeId, epoch: Epoch) -> StoreResult<bool> {
        self.release_lease(&LeaseKey::Engines, me, epoch).await
    }

    /// Takes the lease on `key` for `me` at `epoch`, if it still is as read (`expected`) and
    /// free or `me`'s; `Ok(false)` when another node got there first.
    pub async fn acquire_lease(
        &self,
        key: &LeaseKey,
        me: &NodeId,
        expected: Option<Epoch>,
        epoch: Epoch,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let body = "LET $now = time::millis(time::now());
            LET $row = (SELECT * FROM ONLY type::record('cluster_lease', $key));
            IF ($row.epoch ?? 0) != $expected { THROW 'grace-lease moved'; };
            IF $row != NONE AND $row.expires_at_ms > $now AND $row.owner != $me {
                THROW 'grace-lease held'; };
            UPSERT type::record('cluster_lease', $key) CONTENT { key: $key, owner: $me,
                epoch: $epoch, expires_at_ms: $now + $lease_ms, renewed_at_ms: $now }
                RETURN NONE;";
        let expected = expected.map_or(0, |epoch| epoch.0);
        let vars = json!({ "key": key, "me": me, "expected": expected, "epoch": epoch,
            "lease_ms": lease_ms });
        self.lease_write(body, vars).await
    }

    /// Renews `me`'s lease on `key` at `epoch` for `lease_ms` from the database's now;
    /// `Ok(false)` when it is no longer `me`'s at that epoch, or has run out.
    pub async fn renew_lease(
        &self,
        key: &LeaseKey,
        me: &NodeId,
        epoch: Epoch,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let body = "LET $now = time::millis(time::now());
            LET $row = (SELECT * FROM ONLY type::record('cluster_lease', $key));
            IF $row = NONE OR $row.owner != $me OR $row.epoch != $epoch
                OR $row.expires_at_ms <= $now { THROW 'grace-lease lost'; };
            UPDATE type::record('cluster_lease', $key) SET expires_at_ms = $now + $lease_ms,
                renewed_at_ms = $now RETURN NONE;";
        let vars = json!({ "key": key, "me": me, "epoch": epoch, "lease_ms": lease_ms });
        self.lease_write(body, vars).await
    }

    /// Hands `me`'s lease on `key` at `epoch` back, free for the next node at once.
    pub async fn release_lease(
        &self,
        key: &LeaseKey,
        me: &NodeId,
        epoch: Epoch,
    ) -> StoreResult<bool> {
        let body = "LET $now = time::millis(time::now());
            LET $row = (SELECT * FROM ONLY type::record('cluster_lease', $key));
            IF $row = NONE OR $row.owner != $me OR $row.epoch != $epoch {
                THROW 'grace-lease not held'; };
            UPDATE type::record('cluster_lease', $key) SET owner = NULL, expires_at_ms = $now
                RETURN NONE;";
        let vars = json!({ "key": key, "me": me, "epoch": epoch });
        self.lease_write(body, vars).await
    }

    /// Writes `me`'s membership row, live for `lease_ms` from the database's now (or marked
    /// stopping).
    pub async fn heartbeat(
        &self,
        me: &NodeId,
        url: &str,
        lease_ms: i64,
        stopping: bool,
    ) -> StoreResult<()> {
        let body = "LET $now = time::millis(time::now());
            UPSERT type::record('cluster_node', $me) CONTENT { node_id: $me, url: $url,
                renewed_at_ms: $now, expires_at_ms: $now + $lease_ms, stopping: $stopping }
                RETURN NONE;";
        let vars = json!({ "me": me, "url": url, "lease_ms": lease_ms, "stopping": stopping });
        self.write_query(body, vars).await
    }

    /// A lease compare-and-set: `Ok(false)` when its condition did not hold.
    async fn lease_write(&self, body: &str, vars: Value) -> StoreResult<bool> {
        match self.0.unfenced().write_query(body, vars).await {
            Ok(()) => Ok(true),
            Err(StoreError::Stale(refused)) if refused.contains(LEASE_MARKER) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

impl StoreView {
    /// Every lease row, the membership rows and the database's time, in one read.
    pub async fn cluster_read(&self) -> StoreResult<ClusterRead> {
        let query = format!(
            "RETURN {{ leases: (SELECT * OMIT id FROM cluster_lease LIMIT {LEASE_ROWS_MAX}), \
             nodes: (SELECT * OMIT id FROM cluster_node LIMIT {NODE_ROWS_MAX}), \
             now_ms: time::millis(time::now()) }}"
        );
        let read: Option<Value> = self.one(&query, json!({})).await?;
        let read = read.unwrap_or_default();
        let leases: Vec<Lease> = serde_json::from_value(read["leases"].clone())?;
        Ok(ClusterRead {
            lease: leases
                .iter()
                .find(|lease| lease.key == LeaseKey::Engines)
                .cloned(),
            leases,
            nodes: serde_json::from_value(read["nodes"].clone())?,
            now_ms: read["now_ms"].as_i64().unwrap_or_default(),
        })
    }

    /// The node and epoch this store's writes are fenced with, as a step's record names them.
    pub fn ran_by(&self) -> Option<crate::model::RanBy> {
        self.fence.as_ref().map(|fence| crate::model::RanBy {
            node_id: fence.node.clone(),
            epoch: fence.epoch,
        })
    }

    /// Whether other nodes append to this store's log too ([`Store::shared`]).
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// This view without its fence: lease writes are what the fence is made of.
    pub(super) fn unfenced(&self) -> StoreView {
        let mut view = self.clone();
        view.fence = None;
        view
    }

    /// Runs `body` (statements, no `BEGIN`/`COMMIT`) as one transaction, fenced when this store
    /// is; when fenced or shared, tried again when it lost a conflict with another transaction
    /// (it wrote nothing), at most [`CONFLICT_TRIES_MAX`] times. A guard's or the fence's
    /// `THROW` comes back as `Stale` or `Fenced`.
    pub(super) async fn write_query(&self, body: &str, vars: Value) -> StoreResult<()> {
        self.transaction(body, vars).await.map(drop)
    }

    /// [`write_query`](Self::write_query), returning the last number a statement gave
    /// (`RETURN $n;` as the body's last statement), if any.
    pub(super) async fn transaction(&self, body: &str, vars: Value) -> StoreResult<Option<u64>> {
        let picked = self
            .transaction_picking(body, vars, |value| value.is_u64())
            .await?;
        Ok(picked.and_then(|value| value.as_u64()))
    }

    /// [`write_query`](Self::write_query), returning the last object a statement gave
    /// (`RETURN { … };` as the body's last statement: an object, because the SDK hands a
    /// statement's array back only element by element), or an empty object.
    pub(super) async fn transaction_object(&self, body: &str, vars: Value) -> StoreResult<Value> {
        let picked = self
            .transaction_picking(body, vars, Value::is_object)
            .await?;
        Ok(picked.unwrap_or_else(|| json!({})))
    }

    /// [`write_query`](Self::write_query), returning the last statement's result that `pick`
    /// takes, if any.
    async fn transaction_picking(
        &self,
        body: &str,
        vars: Value,
        pick: fn(&Value) -> bool,
    ) -> StoreResult<Option<Value>> {
        let mut vars = vars;
        let mut query = String::from("BEGIN TRANSACTION;\n");
        if let Some(fence) = &self.fence {
            query.push_str(&format!(
                "LET $fenced = (UPDATE cluster_lease:engines SET fenced_at_ms = time::millis(time::now()) \
                 WHERE owner = $fence_node AND epoch = $fence_epoch RETURN VALUE epoch);\n\
                 IF array::len($fenced) = 0 {{ THROW '{FENCED_MARKER}: this node no longer \
                 holds the engines lease at its epoch'; }};\n"
            ));
            vars["fence_node"] = json!(fence.node);
            vars["fence_epoch"] = json!(fence.epoch);
        }
        query.push_str(body);
        query.push_str("\nCOMMIT TRANSACTION;");
        // Only a fenced write is tried again, so only it keeps a copy of its values: one
        // node's commits (the hot path) hand theirs over whole.
        let tries_max = if self.fence.is_some() || self.shared {
            CONFLICT_TRIES_MAX
        } else {
            1
        };
        let mut tries = 1;
        loop {
            let this_try = if tries < tries_max {
                vars.clone()
            } else {
                std::mem::take(&mut vars)
            };
            match self.try_write(&query, this_try, pick).await {
                Err(StoreError::Fenced(refused)) => {
                    crate::metrics::CLUSTER.fenced_writes.inc();
                    return Err(StoreError::Fenced(refused));
                }
                Err(StoreError::Db(error)) if error.to_string().contains(CONFLICT_MARKER) => {
                    if tries >= tries_max {
                        return Err(match tries_max {
                            1 => StoreError::Db(error),
                            _ => StoreError::Contended(format!("{tries} tries: {error}")),
                        });
                    }
                    tokio::time::sleep(conflict_backoff(tries)).await;
                }
                other => return other,
            }
            tries += 1;
        }
    }

    async fn try_write(
        &self,
        query: &str,
        vars: Value,
        pick: fn(&Value) -> bool,
    ) -> StoreResult<Option<Value>> {
        let mut response = self.db.query(query, vars).await?;
        let errors = response.take_errors();
        // A THROW is not the last error (COMMIT's "aborted due to a prior error" is).
        for (marker, error) in [
            (
                super::STALE_MARKER,
                StoreError::Stale as fn(String) -> StoreError,
            ),
            (LEASE_MARKER, StoreError::Stale as fn(String) -> StoreError),
            (
                FENCED_MARKER,
                StoreError::Fenced as fn(String) -> StoreError,
            ),
        ] {
            if let Some(thrown) = errors.values().find(|e| e.to_string().contains(marker)) {
                return Err(error(thrown.to_string()));
            }
        }
        if let Some(error) = cause(errors) {
            return Err(error.into());
        }
        // The statements' results, BEGIN and COMMIT among them or not: the last one picked.
        let returned = (0..response.num_statements()).rev().find_map(|at| {
            let value: Option<Value> = response.take(at).ok()?;
            value.filter(pick)
        });
        Ok(returned)
    }
}

/// The wait before try `tries + 1` of a transaction that lost a conflict: `tries` ms and up to
/// as much again at random, so nodes that collided do not collide again in step.
fn conflict_backoff(tries: u32) -> std::time::Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let base_us = u64::from(tries) * 1_000;
    std::time::Duration::from_micros(base_us + u64::from(nanos) % (base_us + 1))
}

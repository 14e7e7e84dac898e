//! The rows of a cluster's spread monitors: their leases taken and renewed many to a
//! transaction (a node's round), and each monitor's view as its node stores it for the others.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Store, StoreResult, StoreView};
use crate::cluster::{Epoch, LeaseKey, NodeId};
use crate::model::MonitorControl;

/// Most monitors' views read at once: every monitor a config may have.
const STATUS_ROWS_MAX: usize = crate::cluster::LEASES_HELD_MAX * crate::cluster::NODES_MAX;

/// A monitor's view as stored for the other nodes of a cluster: what its owner's status board
/// says, and who owns it. The node that leads reads these for the monitors it does not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusRow {
    pub monitor_id: String,
    pub down: bool,
    pub refused: bool,
    pub consecutive_failures: u32,
    #[serde(default, with = "crate::time::micros_opt")]
    pub last_probe_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_latency_ms: Option<u64>,
    pub last_error: Option<String>,
    #[serde(default)]
    pub details: Value,
    /// The node that probes it, at the epoch of its lease.
    pub ran_by: crate::model::RanBy,
}

impl Store {
    /// Takes every lease of `acquires` (key, epoch as read, new epoch) for `me` that is still
    /// as read and free or `me`'s, in one transaction: the keys taken. One another node got
    /// first is not among them.
    pub async fn acquire_leases(
        &self,
        me: &NodeId,
        acquires: &[(LeaseKey, Option<Epoch>, Epoch)],
        lease_ms: i64,
    ) -> StoreResult<Vec<LeaseKey>> {
        if acquires.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<Value> = acquires
            .iter()
            .map(|(key, expected, epoch)| {
                json!({ "key": key, "expected": expected.map_or(0, |e| e.0), "epoch": epoch })
            })
            .collect();
        let body = "LET $now = time::millis(time::now());
            FOR $a IN $rows {
                LET $row = (SELECT * FROM ONLY type::record('cluster_lease', $a.key));
                IF ($row.epoch ?? 0) = $a.expected AND ($row = NONE
                    OR $row.expires_at_ms <= $now OR $row.owner = $me) {
                    UPSERT type::record('cluster_lease', $a.key) CONTENT { key: $a.key,
                        owner: $me, epoch: $a.epoch, expires_at_ms: $now + $lease_ms,
                        renewed_at_ms: $now } RETURN NONE; };
            };
            -- Taken: now this node's at the new epoch, renewed by this transaction.
            LET $wanted = array::map($rows, |$a| [$a.key, $a.epoch]);
            RETURN { taken: (SELECT VALUE key FROM cluster_lease WHERE owner = $me
                AND [key, epoch] INSIDE $wanted AND renewed_at_ms = $now) };";
        let vars = json!({ "me": me, "rows": rows, "lease_ms": lease_ms });
        let returned = self.0.unfenced().transaction_object(body, vars).await?;
        Ok(serde_json::from_value(returned["taken"].clone())?)
    }

    /// Renews every lease of `held` (`me`'s, each at its epoch) in one transaction: the keys
    /// renewed. One no longer `me`'s at its epoch, or run out, is not among them.
    pub async fn renew_leases(
        &self,
        me: &NodeId,
        held: &[(LeaseKey, Epoch)],
        lease_ms: i64,
    ) -> StoreResult<Vec<LeaseKey>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let body = "LET $now = time::millis(time::now());
            LET $renewed = (UPDATE cluster_lease SET expires_at_ms = $now + $lease_ms,
                renewed_at_ms = $now WHERE owner = $me AND expires_at_ms > $now
                AND [key, epoch] INSIDE $held RETURN VALUE key);
            RETURN { renewed: $renewed };";
        let vars = json!({ "me": me, "held": held, "lease_ms": lease_ms });
        let returned = self.0.unfenced().transaction_object(body, vars).await?;
        Ok(serde_json::from_value(returned["renewed"].clone())?)
    }

    /// Writes the views of the monitors `me` probes, each only while `me` holds its lease at
    /// the epoch its row names (a row of a monitor lost meanwhile is left to its new owner).
    pub async fn put_monitor_statuses(&self, me: &NodeId, rows: &[StatusRow]) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows: Vec<Value> = rows
            .iter()
            .map(|row| {
                let key = LeaseKey::Monitor(row.monitor_id.clone());
                Ok(json!({ "lease": key, "row": serde_json::to_value(row)? }))
            })
            .collect::<Result<_, serde_json::Error>>()?;
        let body = "LET $now = time::millis(time::now());
            FOR $s IN $rows {
                LET $lease = (SELECT * FROM ONLY type::record('cluster_lease', $s.lease));
                IF $lease.owner = $me AND $lease.epoch = $s.row.ran_by.epoch
                    AND $lease.expires_at_ms > $now {
                    UPSERT type::record('monitor_status', $s.row.monitor_id) CONTENT $s.row
                        RETURN NONE; };
            };";
        self.0
            .unfenced()
            .write_query(body, json!({ "me": me, "rows": rows }))
            .await
    }
}

impl StoreView {
    /// Every stored monitor view, with each monitor's control as people last set it (the
    /// control's own record, written with its announcement, is newer than a view).
    pub async fn monitor_statuses(&self) -> StoreResult<Vec<(StatusRow, MonitorControl)>> {
        let query = format!(
            "RETURN {{ rows: (SELECT * OMIT id FROM monitor_status LIMIT {STATUS_ROWS_MAX}), \
             controls: (SELECT * OMIT id FROM monitor_control LIMIT {STATUS_ROWS_MAX}) }}"
        );
        let read: Option<Value> = self.one(&query, json!({})).await?;
        let read = read.unwrap_or_default();
        let rows: Vec<StatusRow> = serde_json::from_value(read["rows"].clone())?;
        let controls: Vec<MonitorControl> = serde_json::from_value(read["controls"].clone())?;
        let mut controls: std::collections::HashMap<String, MonitorControl> = controls
            .into_iter()
            .map(|control| (control.monitor_id.clone(), control))
            .collect();
        Ok(rows
            .into_iter()
            .map(|row| {
                let control = controls
                    .remove(&row.monitor_id)
                    .unwrap_or_else(|| MonitorControl {
                        monitor_id: row.monitor_id.clone(),
                        ..MonitorControl::default()
                    });
                (row, control)
            })
            .collect())
    }
}

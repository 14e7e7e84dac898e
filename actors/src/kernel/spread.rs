//! A cluster's spread monitors on this node's tree: started and stopped as the node's lease
//! book says it holds them, their views handed to the node to store for the others, and the
//! others' views taken onto this tree's status board (the leader's incident manager decides
//! with them, and `/monitors` shows them).

use std::collections::BTreeMap;

use ractor_supervisor::DynamicSupervisor;

use super::supervision::monitor_child;
use super::Kernel;
use crate::cluster::Epoch;
use crate::model::MonitorControl;
use crate::store::StatusRow;

impl Kernel {
    /// Runs exactly the spread monitors of `held` (by id, at the epoch of each lease): stops
    /// those no longer held, and one held at another epoch (its commits carry the epoch it
    /// started under), before it returns; starts those newly held in the background, so a
    /// node taking many at once does not hold up its round (each start reads the store).
    /// Nothing on one node. Failures are logged; the next round tries again.
    pub async fn hold_monitors(&self, held: BTreeMap<String, Epoch>) {
        let Some(spread) = &self.ctx.spread else {
            return;
        };
        let one_at_a_time = self.reloading.clone().lock_owned().await;
        let before = spread.replace(held.clone());
        let Some(supervisor) = self.ctx.scope.monitors() else {
            // Restarting: it comes back with what `held` says.
            return;
        };
        let spec = self.ctx.spec();
        let mut starts = Vec::new();
        for monitor in spec.monitors.iter().filter(|m| m.kind.spreads()) {
            let id = &monitor.id;
            let (was, now) = (before.get(id), held.get(id));
            let running = self.ctx.scope.monitor(id).is_some();
            if running && was != now {
                if let Err(error) = self.stop_monitor(&supervisor, id, false).await {
                    tracing::warn!(monitor = %id, %error, "cannot stop a monitor whose lease moved");
                    continue;
                }
            }
            if now.is_some() && (was != now || !running) {
                starts.push(monitor_child(&self.ctx, monitor.clone()));
            }
        }
        // The lock goes with the starts: the next change waits for them.
        tokio::spawn(async move {
            let _one_at_a_time = one_at_a_time;
            for child in starts {
                if let Err(error) = DynamicSupervisor::spawn_child(supervisor.clone(), child).await
                {
                    tracing::warn!(%error, "cannot start a monitor this node holds");
                }
            }
        });
    }

    /// The views of the spread monitors this node runs, as stored for the other nodes.
    pub fn held_status_rows(&self) -> Vec<StatusRow> {
        let Some(spread) = &self.ctx.spread else {
            return Vec::new();
        };
        self.ctx
            .statuses()
            .into_iter()
            .filter_map(|status| {
                let epoch = spread.epoch_of(&status.id)?;
                Some(crate::spread::status_row(status, spread.ran_by(epoch)))
            })
            .collect()
    }

    /// Takes the stored views of the monitors other nodes run onto this tree's board.
    pub fn learn_statuses(&self, rows: Vec<(StatusRow, MonitorControl)>) {
        crate::hearing::learn_statuses(&self.ctx, rows);
    }
}

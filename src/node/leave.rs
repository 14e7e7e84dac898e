//! A node's clean stop (SIGTERM, SIGINT): its trees stopped, its leases handed back at once —
//! the engines' and its monitors' — so the others take them up at their next round instead of
//! a lease later, and its membership row marked stopping.

use std::time::Duration;

use super::Node;

impl Node {
    /// A clean stop: the tree stopped, the lease handed back (a standby takes it at its next
    /// round, not a lease later), the membership row marked stopping.
    pub(super) async fn leave(&mut self) {
        self.stopping = true;
        self.stop_serving().await;
        let epoch = self.term.as_ref().map(|term| term.epoch);
        let bound = Duration::from_millis(self.config.server.shutdown_timeout_ms);
        self.stop_leading("this node is stopping", bound).await;
        if let Some(epoch) = epoch {
            match self.store.release_engines(&self.me, epoch).await {
                Ok(_) => tracing::info!("the engines' lease handed back"),
                Err(error) => tracing::warn!(%error, "cannot hand the engines' lease back"),
            }
        }
        self.release_monitors().await;
        let _ = self
            .store
            .heartbeat(&self.me, &self.url, self.lease_ms, true)
            .await;
    }
}

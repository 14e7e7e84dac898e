//! The pager's start: the pages not yet done and the active incidents, read from the store,
//! so what a crash or a restart interrupted goes on from where its last commit left it.

use std::collections::HashMap;

use super::PagerState;
use crate::paging::{Facts, Page};
use crate::store::StoreError;

impl PagerState {
    /// Reads again everything to watch: open pages first, then every active incident.
    pub(super) async fn load(&mut self) -> Result<(), StoreError> {
        self.watched.clear();
        let ctx = self.ctx.clone();
        let store = &ctx.store;
        let pages = store.open_pages(super::WATCHED_MAX).await?;
        let mut by_incident: HashMap<u64, Vec<Page>> = HashMap::new();
        for page in pages {
            by_incident.entry(page.incident_id).or_default().push(page);
        }
        for incident in store.active_incidents().await? {
            let stored = by_incident.remove(&incident.id).unwrap_or_default();
            if let Some(facts) = facts_of(&incident) {
                self.learn(facts, &stored);
            }
        }
        // Pages of incidents that ended while the pager was away: told "resolved" now.
        for (id, stored) in by_incident {
            if let Some(facts) = store.incident(id).await?.as_ref().and_then(facts_of) {
                self.learn(facts, &stored);
            }
        }
        Ok(())
    }
}

fn facts_of(incident: &crate::model::Incident) -> Option<Facts> {
    let value = serde_json::to_value(incident).ok()?;
    serde_json::from_value(value).ok()
}

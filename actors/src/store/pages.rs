//! The pager's rows: what each incident's page on each route has told.

use serde_json::json;

use super::{StoreResult, StoreView};
use crate::paging::Page;

impl StoreView {
    /// Pages not done yet (indexed by `done`), at most `limit`.
    pub async fn open_pages(&self, limit: usize) -> StoreResult<Vec<Page>> {
        self.rows(
            "SELECT * OMIT id FROM page WHERE done = false LIMIT $limit",
            json!({ "limit": limit }),
        )
        .await
    }

    /// Every page of one incident.
    pub async fn pages_of(&self, incident_id: u64) -> StoreResult<Vec<Page>> {
        self.rows(
            "SELECT * OMIT id FROM page WHERE incident_id = $id",
            json!({ "id": incident_id }),
        )
        .await
    }
}

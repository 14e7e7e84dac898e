//! People's decisions about monitors, probes' positions, and component and playbook trust.

use super::*;

impl StoreView {
    pub async fn monitor_control(&self, monitor_id: &str) -> StoreResult<MonitorControl> {
        let control: Option<MonitorControl> = self
            .one(
                "SELECT * OMIT id FROM type::record('monitor_control', $id)",
                json!({ "id": monitor_id }),
            )
            .await?;
        Ok(control.unwrap_or_else(|| MonitorControl {
            monitor_id: monitor_id.to_owned(),
            ..MonitorControl::default()
        }))
    }

    /// Monitor `monitor_id`'s history buckets that start at or after `since`, in any order (at
    /// most `history.keep_ms / bucket_ms` rows: the ring's slots).
    pub async fn history(
        &self,
        monitor_id: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Vec<crate::history::HistoryBucket>> {
        let since = since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        self.rows(
            "SELECT * OMIT id FROM monitor_history WHERE monitor_id = $id AND start >= $since",
            json!({ "id": monitor_id, "since": since }),
        )
        .await
    }

    // ----- silences ----------------------------------------------------------------------------

    /// Every stored silence (at most `silence::SILENCES_MAX`).
    pub async fn silences(&self) -> StoreResult<Vec<crate::silence::Silence>> {
        self.rows("SELECT * OMIT id FROM silence", json!({})).await
    }

    // ----- trust -------------------------------------------------------------------------------

    pub async fn trust(&self, subject: &str) -> StoreResult<Option<TrustScore>> {
        self.one(
            "SELECT * OMIT id FROM type::record('trust', $id)",
            json!({ "id": subject }),
        )
        .await
    }

    /// The stored scores of `subjects`, in one query (those never scored are absent).
    pub async fn trusts(&self, subjects: &[String]) -> StoreResult<Vec<TrustScore>> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        self.rows(
            "SELECT * OMIT id FROM array::map($ids, |$id| type::record('trust', $id))",
            json!({ "ids": subjects }),
        )
        .await
    }
}

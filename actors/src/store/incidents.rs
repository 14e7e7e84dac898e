//! Incidents: one by id, pages newest first (id ranges, never a sort), the active ones.

use super::*;

impl StoreView {
    /// Where the incident manager stands. A store written before the next id was kept there
    /// finds it once by a scan.
    pub async fn incidents_progress(&self) -> StoreResult<IncidentsProgress> {
        #[derive(serde::Deserialize)]
        struct Stored {
            last_seq: Option<u64>,
            next_id: Option<u64>,
        }
        let mut stored: Option<Stored> = self
            .one::<Option<Stored>>("SELECT VALUE incidents FROM meta:event_log", json!({}))
            .await?
            .flatten();
        if stored.is_none() {
            // Where a store from before 2026-12-08 kept it.
            let before = "SELECT last_seq, next_id FROM meta:incidents";
            stored = self.one(before, json!({})).await?;
        }
        let (watermark, next_id) = stored.map_or((None, None), |s| (s.last_seq, s.next_id));
        let next_id = match next_id {
            Some(next_id) => next_id,
            None => self.max_incident_id().await? + 1,
        };
        Ok(IncidentsProgress {
            watermark: watermark.unwrap_or(0),
            next_id,
        })
    }

    pub async fn incident(&self, id: u64) -> StoreResult<Option<Incident>> {
        self.one(
            &format!("SELECT {INCIDENT_FIELDS} FROM type::record('incident', $id)"),
            json!({ "id": id }),
        )
        .await
    }

    /// Newest first; `before` is the cursor (the last id of the previous page).
    ///
    /// Read as ranges of ids walking down from the newest, each window twice the last: an
    /// ascending range read costs what it returns, where `ORDER BY id DESC` would sort the
    /// whole table (SurrealKV has no reverse scan).
    pub async fn incidents(&self, before: Option<u64>, limit: usize) -> StoreResult<Vec<Incident>> {
        self.resolved_or_any(before, limit, None).await
    }

    /// The resolved incidents, newest first, below `before`. `active` (ascending) are the
    /// ids of the incidents that are not resolved: the walk reads only the ranges between
    /// them, so a hundred thousand active incidents above the resolved ones cost nothing.
    pub async fn resolved_incidents(
        &self,
        before: Option<u64>,
        limit: usize,
        active: &[u64],
    ) -> StoreResult<Vec<Incident>> {
        self.resolved_or_any(before, limit, Some(active)).await
    }

    /// The walk of [`incidents`](Self::incidents), of every incident (`skip` = None) or of the
    /// resolved ones between the active ids in `skip`.
    async fn resolved_or_any(
        &self,
        before: Option<u64>,
        limit: usize,
        skip: Option<&[u64]>,
    ) -> StoreResult<Vec<Incident>> {
        // No id at or past `next_id` exists: a cursor beyond it starts there, so a made-up
        // cursor cannot make the walk below cover billions of empty ids.
        let next_id = self.incidents_progress().await?.next_id;
        let mut high = before.map_or(next_id, |before| before.min(next_id));
        let filter = match skip {
            Some(_) => "WHERE status = 'resolved'",
            None => "",
        };
        let mut window = (limit as u64).max(LIST_WINDOW_MIN);
        let mut page = Vec::with_capacity(limit);
        while high > 1 && page.len() < limit {
            let floor = high.saturating_sub(window).max(1);
            let (ranges, low) = gaps_between(skip.unwrap_or(&[]), floor, high);
            // Every bound is ours (u64), so formatting them into the query is safe.
            let from: Vec<String> = ranges
                .iter()
                .map(|(from, to)| format!("incident:{from}..{to}"))
                .collect();
            if !from.is_empty() {
                let query = format!("SELECT {INCIDENT_FIELDS} FROM {} {filter}", from.join(", "));
                let mut rows: Vec<Incident> = self.rows(&query, json!({})).await?;
                rows.sort_unstable_by_key(|incident| std::cmp::Reverse(incident.id));
                rows.truncate(limit - page.len());
                page.append(&mut rows);
            }
            high = low;
            window = window.saturating_mul(2).min(LIST_WINDOW_MAX);
        }
        Ok(page)
    }

    /// Every incident that is not resolved yet, oldest first: one indexed query per active
    /// status, never a scan of the resolved ones.
    pub async fn active_incidents(&self) -> StoreResult<Vec<Incident>> {
        let mut active: Vec<Incident> = Vec::new();
        for status in ACTIVE_STATUSES {
            active.extend(
                self.rows::<Incident>(
                    &format!("SELECT {INCIDENT_FIELDS} FROM incident WHERE status = $status"),
                    json!({ "status": status }),
                )
                .await?,
            );
        }
        active.sort_by_key(|incident| incident.id);
        Ok(active)
    }

    /// The active incidents of one source, oldest first (indexed by source).
    pub async fn active_incidents_of(&self, source: &str) -> StoreResult<Vec<Incident>> {
        let mut active: Vec<Incident> = self
            .rows(
                &format!(
                    "SELECT {INCIDENT_FIELDS} FROM incident
                     WHERE source = $source AND status != 'resolved'"
                ),
                json!({ "source": source }),
            )
            .await?;
        active.sort_by_key(|incident| incident.id);
        Ok(active)
    }

    /// Whether `source` has an incident of `family` (`db` for `db.connection_lost`) that is not
    /// resolved. A monitor asks once, at start (indexed by source).
    pub async fn has_active_incident(&self, source: &str, family: &str) -> StoreResult<bool> {
        Ok(self.active_incident_type(source, family).await?.is_some())
    }

    /// The type of `source`'s active incident of `family` (`db.auth_failed`), if it has one.
    pub async fn active_incident_type(
        &self,
        source: &str,
        family: &str,
    ) -> StoreResult<Option<String>> {
        let active = self.active_incidents_of(source).await?;
        Ok(active
            .into_iter()
            .map(|incident| incident.event_type)
            .find(|event_type| crate::event::family(event_type) == family))
    }

    /// The highest incident id: a scan, used only for a store from before the progress
    /// record kept the next id.
    pub(super) async fn max_incident_id(&self) -> StoreResult<u64> {
        let max: Option<Option<u64>> = self
            .one(
                "RETURN math::max((SELECT VALUE record::id(id) FROM incident))",
                json!({}),
            )
            .await?;
        Ok(max.flatten().unwrap_or(0))
    }
}

/// Ranges queried at most per read of [`Store::resolved_incidents`].
pub(super) const GAP_RANGES_MAX: usize = 256;

/// The ranges of ids `[from, to)` within `[floor, high)` that hold none of `skip` (ascending),
/// walking down from `high`; at most [`GAP_RANGES_MAX`] of them. Also where the walk stopped:
/// `floor`, or higher when the ranges ran out first.
pub(super) fn gaps_between(skip: &[u64], floor: u64, high: u64) -> (Vec<(u64, u64)>, u64) {
    let mut ranges = Vec::new();
    let mut top = high;
    let mut below = skip.partition_point(|id| *id < high);
    while top > floor && ranges.len() < GAP_RANGES_MAX {
        let next_skip = below
            .checked_sub(1)
            .map(|i| skip[i])
            .filter(|id| *id >= floor);
        let bottom = next_skip.map_or(floor, |id| id + 1);
        if bottom < top {
            ranges.push((bottom, top));
        }
        match next_skip {
            Some(id) => {
                top = id;
                below -= 1;
            }
            None => top = floor,
        }
    }
    (ranges, top)
}

#[cfg(test)]
impl Store {
    pub(super) async fn save_incident(&self, incident: &Incident) -> StoreResult<()> {
        let write = Write::Incident(Box::new(incident.clone()));
        self.commit(Vec::new(), &[write]).await.map(drop)
    }
}

//! What retention reads and removes: the oldest event kept, and compaction of records.

use super::*;

impl StoreView {
    /// The seq of the oldest event kept, if there is one.
    ///
    /// The kept log is `first..=last` without a gap (retention removes a prefix), so this is a
    /// binary search over point reads (about 20 for a million events), never a scan.
    pub async fn first_seq(&self) -> StoreResult<Option<u64>> {
        let last = self.last_seq().await?;
        if last == 0 || !self.has_event(last).await? {
            return Ok(None);
        }
        let (mut low, mut high) = (1, last); // event `high` exists
        while low < high {
            let mid = low + (high - low) / 2;
            match self.has_event(mid).await? {
                true => high = mid,
                false => low = mid + 1,
            }
        }
        Ok(Some(high))
    }

    async fn has_event(&self, seq: u64) -> StoreResult<bool> {
        Ok(self.chunk_of(seq).await?.is_some())
    }

    /// When event `seq` was committed (its chunk's newest event's time), if it is kept.
    pub async fn event_at(&self, seq: u64) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.chunk_of(seq).await?.map(|(_, _, at)| at))
    }

    /// Removes the events of `from..=to` that fill whole chunks (a chunk holding an event
    /// past `to` is kept whole), and returns how many went.
    pub(crate) async fn remove_events(&self, from: u64, to: u64) -> StoreResult<u64> {
        // Both numbers are ours (u64), so formatting them into the query is safe.
        let chunks = format!("log:{from}..={to} WHERE last <= {to}");
        let body = format!(
            "LET $gone = (SELECT VALUE last FROM {chunks});\n\
             DELETE {chunks} RETURN NONE;\n\
             RETURN math::max($gone) ?? 0;"
        );
        let last = self.transaction(&body, json!({})).await?.unwrap_or(0);
        // The chunks removed are the range's first ones: the log is contiguous.
        Ok(match last >= from {
            true => last - from + 1,
            false => 0,
        })
    }

    /// Removes up to `chunk` records of `kind` that `keep` lets go (see `retention.rs`): older
    /// than its age or beyond its count, never the newest `keep_min`, never one still in
    /// progress. Returns how many went.
    pub(crate) async fn compact(
        &self,
        kind: Compacted,
        keep: &crate::retention::Keep,
        now: DateTime<Utc>,
        chunk: usize,
    ) -> StoreResult<usize> {
        let (table, time, done) = kind.query_parts();
        // Ranks are counted from the oldest (ascending reads; see `newest`): with `done` rows
        // in all, the `keep_min`-th newest is at `done - keep_min` from the start.
        let counted: Option<Value> = self
            .one(
                &format!("SELECT count() AS n FROM {table} WHERE {done} GROUP ALL"),
                json!({}),
            )
            .await?;
        let finished = counted.and_then(|c| c["n"].as_u64()).unwrap_or(0);
        let Some(protected_from) = finished.checked_sub(keep.keep_min) else {
            return Ok(0); // fewer than keep_min: nothing may go
        };
        let fmt = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut cutoff = fmt(now - chrono::Duration::milliseconds(keep.max_age_ms as i64));
        if keep.keep_min > 0 {
            let query = format!(
                "SELECT VALUE {time} FROM {table} WHERE {done} ORDER BY {time} ASC \
                 START {protected_from} LIMIT 1"
            );
            let floor: Option<String> = self.one(&query, json!({})).await?;
            cutoff = floor.map_or(cutoff.clone(), |floor| cutoff.min(floor));
        }
        let mut ids: Vec<Value> = self
            .rows(
                &format!(
                    "SELECT VALUE record::id(id) FROM {table} WHERE {done} AND {time} < $cutoff \
                     LIMIT {chunk}"
                ),
                json!({ "cutoff": cutoff }),
            )
            .await?;
        let beyond = finished
            .saturating_sub(keep.max_count)
            .min((chunk - ids.len()) as u64);
        if beyond > 0 {
            let oldest = format!(
                "SELECT VALUE record::id(id) FROM {table} WHERE {done} ORDER BY {time} ASC \
                 LIMIT {beyond}"
            );
            ids.extend(self.rows::<Value>(&oldest, json!({})).await?);
        }
        ids.sort_by_key(|id| id.to_string());
        ids.dedup();
        if !ids.is_empty() {
            let body = "FOR $key IN $keys { DELETE type::record($table, $key) RETURN NONE; };";
            self.write_query(body, json!({ "keys": ids, "table": table }))
                .await?;
        }
        Ok(ids.len())
    }
}

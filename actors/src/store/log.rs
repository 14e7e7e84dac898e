//! The event log: appending, reading a page after a seq, and the events of an incident.

use super::*;

impl Store {
    /// Appends sequenced events in one transaction, with the log's high-water mark.
    pub async fn append_events(&self, events: &[Event]) -> StoreResult<()> {
        self.commit(events, &[]).await
    }

    /// Appends sequenced events and writes `writes`, all in one transaction: what is saved is
    /// always announced, and what is announced is always saved.
    pub async fn commit(&self, events: &[Event], writes: &[Write]) -> StoreResult<()> {
        let rows: Vec<Value> = events
            .iter()
            .map(|event| {
                let mut row = serde_json::to_value(event)?;
                row["id"] = json!(event.seq);
                Ok(row)
            })
            .collect::<Result<_, serde_json::Error>>()?;
        let parts = Parts::of(writes)?;
        let body = parts.query(!events.is_empty());
        let last = events.last().map(|event| event.seq);
        let vars = json!({
            "rows": rows,
            "last": last,
            "upserts": parts.upserts,
            "new_incidents": parts.new_incidents,
            "new_trust": parts.new_trust,
            "silences_removed": parts.silences_removed,
            "progress": parts.progress,
            "expects": parts.expects,
        });
        self.write_query(&body, vars).await
    }
}

/// A commit's writes, sorted by the statement that makes them.
#[derive(Default)]
struct Parts {
    upserts: Vec<Value>,
    new_incidents: Vec<Value>,
    new_trust: Vec<Value>,
    silences_removed: Vec<String>,
    progress: Option<Value>,
    /// Guards: `{table, key, status}` each record must still have.
    expects: Vec<Value>,
}

impl Parts {
    /// The transaction's statements (`write_query` makes them one transaction, fenced when
    /// the store is): the guards first (so a stale decision writes nothing; a guard's THROW
    /// fails the whole transaction), then one statement per kind of write.
    fn query(&self, events: bool) -> String {
        let mut query = String::new();
        if !self.expects.is_empty() {
            query.push_str(&format!(
                "FOR $e IN $expects {{ \
                     IF (SELECT VALUE status FROM type::record($e.table, $e.key))[0] != $e.status \
                     {{ THROW '{STALE_MARKER} ' + $e.table + ':' + <string> $e.key; }}; }};\n"
            ));
        }
        if events {
            query.push_str(
                "INSERT INTO event $rows RETURN NONE;\n\
                     UPSERT meta:event_log SET last_seq = $last RETURN NONE;\n",
            );
        }
        if !self.new_incidents.is_empty() {
            query.push_str("INSERT INTO incident $new_incidents RETURN NONE;\n");
        }
        if !self.new_trust.is_empty() {
            query.push_str("INSERT INTO trust $new_trust RETURN NONE;\n");
        }
        if !self.upserts.is_empty() {
            query.push_str(
                "FOR $row IN $upserts { \
                     UPSERT type::record($row.table, $row.key) CONTENT $row.data RETURN NONE; };\n",
            );
        }
        if !self.silences_removed.is_empty() {
            query.push_str(
                "FOR $id IN $silences_removed { DELETE type::record('silence', $id); };\n",
            );
        }
        if self.progress.is_some() {
            query.push_str("UPSERT meta:incidents CONTENT $progress RETURN NONE;\n");
        }
        query
    }

    fn of(writes: &[Write]) -> Result<Self, serde_json::Error> {
        let mut parts = Self::default();
        for write in writes {
            match write {
                Write::NewIncident(incident) => {
                    parts.new_incidents.push(serde_json::to_value(incident)?)
                }
                Write::NewTrust(score) => {
                    let mut row = serde_json::to_value(score)?;
                    row["id"] = json!(score.subject);
                    parts.new_trust.push(row);
                }
                Write::IncidentsProgress { watermark, next_id } => {
                    parts.progress = Some(json!({ "last_seq": watermark, "next_id": next_id }));
                }
                Write::SilenceRemoved(id) => parts.silences_removed.push(id.clone()),
                Write::Expect { table, key, status } => parts
                    .expects
                    .push(json!({ "table": table, "key": key, "status": status })),
                other => parts.upserts.extend(other.upsert()?),
            }
        }
        Ok(parts)
    }
}

impl StoreView {
    /// The seq of the newest persisted event (0 when the log is empty).
    pub async fn last_seq(&self) -> StoreResult<u64> {
        let last: Option<u64> = self
            .one("SELECT VALUE last_seq FROM meta:event_log", json!({}))
            .await?;
        Ok(last.unwrap_or(0))
    }

    /// Up to `limit` events with `seq > since`, in order: a bounded range of the log's keys.
    ///
    /// The log is contiguous (a seq is handed out only by a commit that succeeded; retention
    /// removes a prefix), so `limit` keys from `since + 1` hold the next `limit` events. The
    /// range is bounded on purpose: SurrealDB reads an open range (`event:N..`) to its end
    /// before applying LIMIT (4 s for a page from the start of 1,000,000 events, measured).
    pub async fn events_after(&self, since: u64, limit: usize) -> StoreResult<Vec<Event>> {
        let from = since.saturating_add(1);
        let to = from.saturating_add(limit as u64);
        // Both numbers are ours (u64), so formatting them into the query is safe.
        let query = format!("SELECT * OMIT id FROM event:{from}..{to}");
        self.rows(&query, json!({})).await
    }

    /// The events that concern an incident: those tagged with it and those it remembers.
    pub async fn incident_events(
        &self,
        incident: &Incident,
        limit: usize,
    ) -> StoreResult<Vec<Event>> {
        let mut events: Vec<Event> = self
            .rows(
                "SELECT * OMIT id FROM event WHERE incident_id = $id ORDER BY seq LIMIT $limit",
                json!({ "id": incident.id, "limit": limit }),
            )
            .await?;
        if !incident.event_seqs.is_empty() {
            let ids: Vec<String> = incident
                .event_seqs
                .iter()
                .map(|seq| format!("event:{seq}"))
                .collect();
            let query = format!("SELECT * OMIT id FROM {}", ids.join(", "));
            events.extend(self.rows::<Event>(&query, json!({})).await?);
        }
        events.sort_by_key(|event| event.seq);
        events.dedup_by_key(|event| event.seq);
        events.truncate(limit);
        Ok(events)
    }
}

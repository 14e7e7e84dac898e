//! The event log: appending, reading a page after a seq, and the events of an incident.

use super::*;

/// Events as the log took them.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    /// The log's head just before them: past the head their committer knew, other nodes'
    /// commits came in between.
    pub after: u64,
    /// With their seqs, `after + 1` on.
    pub events: Vec<Event>,
}

impl Store {
    /// Appends events at the log's head in one transaction (see [`Store::commit`]).
    pub async fn append_events(&self, drafts: Vec<EventDraft>) -> StoreResult<Appended> {
        self.commit(drafts, &[]).await
    }

    /// Appends events at the log's head and writes `writes`, all in one transaction: what is
    /// saved is always announced, and what is announced is always saved.
    ///
    /// Their seqs are given in the transaction, from the head it reads (or, on a store no other
    /// node writes, the head the last commit here left): whichever node's commit
    /// lands first takes the next seqs, and two that read the same head conflict (both write
    /// it), so one fails whole and is tried again (a [`shared`](Store::shared) store). The log
    /// stays one gap-free order however many nodes append to it.
    pub async fn commit(&self, drafts: Vec<EventDraft>, writes: &[Write]) -> StoreResult<Appended> {
        let at = crate::time::now();
        let mut events: Vec<Event> = drafts
            .into_iter()
            .map(|draft| draft.sequenced(0, at))
            .collect();
        let chunks = chunks::chunk_drafts(&events)?;
        let parts = Parts::of(writes)?;
        // One node's log: the head is known here once a commit has landed, so the transaction
        // need not read it (a read is ~0.1 ms of the store's work, measured). Held for the
        // commit, so appends stay one at a time; forgotten on any failure.
        let mut head = match (&self.head, events.is_empty()) {
            (Some(head), false) => Some(head.lock().await),
            _ => None,
        };
        // Taken, not copied: should this commit be dropped midway (its outcome unknown), the
        // next one reads the head again.
        let known = head.as_mut().and_then(|head| head.take());
        let body = parts.query(!events.is_empty(), known.is_some());
        let vars = json!({
            "head": known,
            "chunks": chunks,
            "count": events.len(),
            "upserts": parts.upserts,
            "new_incidents": parts.new_incidents,
            "new_trust": parts.new_trust,
            "silences_removed": parts.silences_removed,
            "progress": parts.progress,
            "expects": parts.expects,
            "leases": parts.leases,
        });
        let returned = self.transaction(&body, vars).await;
        if let Some(head) = head.as_mut() {
            let count = events.len() as u64;
            **head = returned
                .as_ref()
                .ok()
                .copied()
                .flatten()
                .map(|after| after + count);
        }
        let returned = returned?;
        if events.is_empty() {
            return Ok(Appended { after: 0, events });
        }
        let after = returned.ok_or_else(|| {
            StoreError::Unavailable("the log's head was not returned by its commit".to_owned())
        })?;
        for (event, seq) in events.iter_mut().zip(after + 1..) {
            event.seq = seq;
        }
        Ok(Appended { after, events })
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
    /// Guards: `{key, node, epoch}` leases that must still be held (see [`Write::LeaseHeld`]).
    leases: Vec<Value>,
}

impl Parts {
    /// The transaction's statements (`write_query` makes them one transaction, fenced when
    /// the store is): the guards first (so a stale decision writes nothing; a guard's THROW
    /// fails the whole transaction), then one statement per kind of write.
    fn query(&self, events: bool, head_known: bool) -> String {
        let mut query = String::new();
        if !self.leases.is_empty() {
            // Marked, not only read: a takeover writes the row too, so the two conflict.
            let fenced = cluster::FENCED_MARKER;
            query.push_str(&format!(
                "LET $now = time::millis(time::now());\n\
                 FOR $l IN $leases {{ \
                     LET $held = (UPDATE type::record('cluster_lease', $l.key) \
                         SET fenced_at_ms = $now WHERE owner = $l.node AND epoch = $l.epoch \
                         AND expires_at_ms > $now RETURN VALUE epoch); \
                     IF array::len($held) = 0 {{ THROW '{fenced}: the lease on ' + \
                         $l.key + ' is not held by this node at its epoch'; }}; }};\n"
            ));
        }
        if !self.expects.is_empty() {
            query.push_str(&format!(
                "FOR $e IN $expects {{ \
                     IF (SELECT VALUE status FROM type::record($e.table, $e.key))[0] != $e.status \
                     {{ THROW '{STALE_MARKER} ' + $e.table + ':' + <string> $e.key; }}; }};\n"
            ));
        }
        if events {
            // The head is read in the transaction, and written: a second commit that read it
            // too conflicts with this one.
            query.push_str(match head_known {
                true => "LET $after = $head;\n",
                false => "LET $after = (SELECT VALUE last_seq FROM meta:event_log)[0] ?? 0;\n",
            });
            query.push_str(chunks::INSERT_CHUNKS);
            // The incident manager's progress rides on the head's record when it has events:
            // one statement, not two.
            query.push_str(match self.progress.is_some() {
                true => {
                    "UPSERT meta:event_log SET last_seq = $after + $count, incidents = $progress \
                         RETURN NONE;\n"
                }
                false => "UPSERT meta:event_log SET last_seq = $after + $count RETURN NONE;\n",
            });
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
        if self.progress.is_some() && !events {
            query.push_str("UPSERT meta:event_log SET incidents = $progress RETURN NONE;\n");
        }
        if events {
            query.push_str("RETURN $after;\n");
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
                Write::LeaseHeld { by, key } => parts
                    .leases
                    .push(json!({ "key": key, "node": by.node_id, "epoch": by.epoch })),
                other => parts.upserts.extend(other.upsert()?),
            }
        }
        Ok(parts)
    }
}

impl StoreView {
    /// Yields each time the log's head moves — a commit of any node's — through a `LIVE
    /// SELECT` on its record: other nodes' events are followed as they land (5.9 ms from a
    /// POST on one node to a live notification on another, measured, against 50–100 ms for a
    /// look every 100 ms). Ends when the connection does.
    pub async fn head_moves(
        &self,
    ) -> StoreResult<std::pin::Pin<Box<dyn futures_util::Stream<Item = ()> + Send>>> {
        use futures_util::StreamExt;
        let live = "LIVE SELECT last_seq FROM meta WHERE id = meta:event_log";
        let mut response = self.db.query(live, serde_json::json!({})).await?;
        let stream = response.stream::<surrealdb::types::Value>(0)?;
        Ok(Box::pin(stream.map(|_| ())))
    }

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
    /// removes whole chunks from the front), so the chunks keyed up to `since + limit` hold the
    /// next `limit` events (see `chunks.rs`). The range is bounded on purpose: SurrealDB reads
    /// an open range (`log:N..`) to its end before applying LIMIT (4 s for a page from the
    /// start of 1,000,000 events, measured).
    pub async fn events_after(&self, since: u64, limit: usize) -> StoreResult<Vec<Event>> {
        let from = since.saturating_add(1);
        self.events_between(from, from.saturating_add(limit as u64))
            .await
    }

    /// The events that concern an incident: those tagged with it and those it remembers.
    pub async fn incident_events(
        &self,
        incident: &Incident,
        limit: usize,
    ) -> StoreResult<Vec<Event>> {
        let mut events = self.events_tagged(incident.id, limit).await?;
        let mut seqs = incident.event_seqs.clone();
        seqs.sort_unstable();
        seqs.dedup();
        events.extend(self.events_at(&seqs).await?);
        events.sort_by_key(|event| event.seq);
        events.dedup_by_key(|event| event.seq);
        events.truncate(limit);
        Ok(events)
    }
}

//! The event log's layout: one record per commit (`log:<first seq>`), a chunk of its events.
//!
//! Why chunks: SurrealDB's cost is per record and per index entry, not per byte. A 16-event
//! commit cost 48 µs an event as one row per event with its `incident_id` index, and 14 µs
//! an event as one record holding the events as one JSON text (release, in memory, measured
//! on 2026-12-08). So a commit writes one record: its events (without their seqs, which the
//! transaction gives as `first + position`), the newest event's time, the last seq, and the
//! incidents its events concern as an indexed array (`incidents.*`: one index entry per
//! incident, none for the problems intake takes) for an incident's timeline. A commit of more
//! than [`CHUNK_EVENTS_MAX`] events writes several chunks, so a reader that needs one event
//! reads at most that many.
//!
//! Finding the chunk that holds seq `s`: its key is in `s + 1 - CHUNK_EVENTS_MAX ..= s`, a
//! bounded range, and it is the one whose `last >= s`.

use super::*;

/// The most events one chunk holds.
pub(super) const CHUNK_EVENTS_MAX: usize = 256;

/// The fields a reader takes from a chunk.
const CHUNK_FIELDS: &str = "record::id(id) AS first, last, at, events";

/// A chunk to write: its place in the commit and its events' text.
#[derive(Debug, Serialize)]
pub(super) struct ChunkDraft {
    /// The first event's position in the commit (0-based); the transaction adds the head.
    offset: u64,
    /// How many events it holds.
    count: u64,
    at: DateTime<Utc>,
    incidents: Vec<u64>,
    events: String,
}

/// A chunk as read.
#[derive(Debug, Deserialize)]
struct ChunkRow {
    first: u64,
    last: u64,
    at: DateTime<Utc>,
    events: String,
}

impl ChunkRow {
    /// Its events, each given its seq back.
    fn events(&self) -> StoreResult<Vec<Event>> {
        let mut events: Vec<Event> = serde_json::from_str(&self.events)?;
        for (event, seq) in events.iter_mut().zip(self.first..) {
            event.seq = seq;
        }
        Ok(events)
    }
}

/// The chunks of a commit's events (already given their time), in order.
pub(super) fn chunk_drafts(events: &[Event]) -> StoreResult<Vec<ChunkDraft>> {
    let mut drafts = Vec::with_capacity(events.len().div_ceil(CHUNK_EVENTS_MAX));
    for (n, part) in events.chunks(CHUNK_EVENTS_MAX).enumerate() {
        let mut incidents: Vec<u64> = part.iter().filter_map(|e| e.incident_id).collect();
        incidents.sort_unstable();
        incidents.dedup();
        drafts.push(ChunkDraft {
            offset: (n * CHUNK_EVENTS_MAX) as u64,
            count: part.len() as u64,
            at: part
                .iter()
                .map(|e| e.at)
                .max()
                .unwrap_or_else(crate::time::now),
            incidents,
            events: serde_json::to_string(part)?,
        });
    }
    Ok(drafts)
}

/// The statement that writes `$chunks` after the head `$after`.
pub(super) const INSERT_CHUNKS: &str = "INSERT INTO log array::map($chunks, |$c| { \
     id: $after + $c.offset + 1, last: $after + $c.offset + $c.count, at: $c.at, \
     incidents: $c.incidents, events: $c.events }) RETURN NONE;\n";

/// The first key a chunk holding `seq` can have.
fn lowest_key(seq: u64) -> u64 {
    seq.saturating_sub(CHUNK_EVENTS_MAX as u64 - 1).max(1)
}

impl StoreView {
    /// The chunks holding any seq of `from..to`, in order. Both numbers are ours (u64), so
    /// formatting them into the query is safe.
    async fn chunks_over(&self, from: u64, to: u64) -> StoreResult<Vec<ChunkRow>> {
        let low = lowest_key(from);
        let query = format!("SELECT {CHUNK_FIELDS} FROM log:{low}..{to} WHERE last >= {from}");
        let mut rows: Vec<ChunkRow> = self.rows(&query, json!({})).await?;
        rows.sort_by_key(|row| row.first);
        Ok(rows)
    }

    /// The chunk holding `seq`, if it is kept: the first and last seq it holds, and its time.
    pub(super) async fn chunk_of(
        &self,
        seq: u64,
    ) -> StoreResult<Option<(u64, u64, DateTime<Utc>)>> {
        let query = format!(
            "SELECT record::id(id) AS first, last, at, '' AS events FROM log:{}..={seq} \
             WHERE last >= {seq}",
            lowest_key(seq)
        );
        let rows: Vec<ChunkRow> = self.rows(&query, json!({})).await?;
        Ok(rows.first().map(|row| (row.first, row.last, row.at)))
    }

    /// The events of `from..to` that are kept, in order.
    pub(super) async fn events_between(&self, from: u64, to: u64) -> StoreResult<Vec<Event>> {
        let mut events = Vec::new();
        for chunk in self.chunks_over(from, to).await? {
            let held = chunk.events()?;
            events.extend(held.into_iter().filter(|e| (from..to).contains(&e.seq)));
        }
        Ok(events)
    }

    /// The events tagged with incident `id`, from the first `chunks_max` chunks that hold any.
    pub(super) async fn events_tagged(
        &self,
        id: u64,
        chunks_max: usize,
    ) -> StoreResult<Vec<Event>> {
        let query =
            format!("SELECT {CHUNK_FIELDS} FROM log WHERE incidents CONTAINS $id LIMIT $limit");
        let rows: Vec<ChunkRow> = self
            .rows(&query, json!({ "id": id, "limit": chunks_max }))
            .await?;
        let mut events = Vec::new();
        for chunk in rows {
            let held = chunk.events()?;
            events.extend(held.into_iter().filter(|e| e.incident_id == Some(id)));
        }
        Ok(events)
    }

    /// The events of `seqs` (sorted) that are kept, each chunk read once.
    pub(super) async fn events_at(&self, seqs: &[u64]) -> StoreResult<Vec<Event>> {
        let mut events = Vec::new();
        let mut read_to = 0; // the last seq of the chunks read so far
        for &seq in seqs {
            if seq <= read_to {
                continue; // held by a chunk already read
            }
            for chunk in self.chunks_over(seq, seq + 1).await? {
                read_to = read_to.max(chunk.last);
                let held = chunk.events()?;
                events.extend(
                    held.into_iter()
                        .filter(|e| seqs.binary_search(&e.seq).is_ok()),
                );
            }
        }
        Ok(events)
    }
}

impl Store {
    /// Rewrites a log kept one record per event (`event:<seq>`, before chunks) as chunks, a
    /// page of [`CHUNK_EVENTS_MAX`] events a transaction, then removes that table: a store
    /// from an earlier Grace keeps its history. Nothing to do on a store that has none.
    pub(super) async fn migrate_event_rows(&self) -> StoreResult<()> {
        let tables: Vec<String> = self
            .rows("RETURN object::keys((INFO FOR DB).tables)", json!({}))
            .await?;
        if !tables.iter().any(|table| table == "event") {
            return Ok(());
        }
        let first: Option<u64> = self
            .one("SELECT VALUE record::id(id) FROM event LIMIT 1", json!({}))
            .await?;
        let Some(mut from) = first else {
            return self.write_query("REMOVE TABLE event;", json!({})).await;
        };
        loop {
            let to = from + CHUNK_EVENTS_MAX as u64;
            let query = format!("SELECT * OMIT id FROM event:{from}..{to}");
            let events: Vec<Event> = self.rows(&query, json!({})).await?;
            let Some(last) = events.last().map(|e| e.seq) else {
                break;
            };
            if last != from + events.len() as u64 - 1 {
                // A chunk gives seqs by position: a page with a gap would renumber events.
                return Err(StoreError::Unavailable(format!(
                    "the log kept before chunks has a gap in {from}..={last}; not moved"
                )));
            }
            let body = format!(
                "LET $after = {};\n{INSERT_CHUNKS}DELETE event:{from}..{to} RETURN NONE;",
                from - 1
            );
            let chunks = chunk_drafts(&events)?;
            self.write_query(&body, json!({ "chunks": chunks })).await?;
            tracing::info!(from, to = last, "moved the log's events into a chunk");
            from = last + 1;
        }
        self.write_query("REMOVE TABLE event;", json!({})).await
    }
}

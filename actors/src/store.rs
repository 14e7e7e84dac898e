//! Grace's state in embedded SurrealDB: the event log, incidents, executions, agents, work
//! orders and trust scores.
//!
//! [`Store`] is a cheap, cloneable handle. Each table has one writing actor (the store actor for
//! the event log, the incidents actor for incidents, the playbooks actor for runs, agents and
//! work orders), so writes need no cross-actor locking; anyone may read.
//!
//! Records are written as serde JSON. Tables keyed by a number (`event:42`, `incident:7`) are
//! read back with range scans or record lookups, never a full scan on a hot path.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use surrealdb::engine::local::{Db, Mem, SurrealKv};
use surrealdb::Surreal;

use crate::event::Event;
use crate::model::{
    Agent, Delivery, Execution, Incident, IncidentStatus, MonitorControl, PipelineRun, TrustScore,
    WorkOrder,
};

/// The error that failed a transaction: every statement of a failed transaction reports
/// one, most of them only "not executed due to a failed transaction"; the cause (a full disk,
/// a clash) is the one that says something else, usually the last (`COMMIT`).
fn cause(errors: std::collections::HashMap<usize, surrealdb::Error>) -> Option<surrealdb::Error> {
    let mut errors: Vec<(usize, surrealdb::Error)> = errors.into_iter().collect();
    errors.sort_by_key(|(at, _)| *at);
    let telling = errors
        .iter()
        .rposition(|(_, error)| !error.to_string().contains("not executed due to a failed"));
    let at = telling.unwrap_or(errors.len().checked_sub(1)?);
    Some(errors.swap_remove(at).1)
}

/// The kinds of records a compaction removes (see `Store::compact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compacted {
    ResolvedIncidents,
    Executions,
    Agents,
    Deliveries,
    PipelineRuns,
}

impl Compacted {
    pub const ALL: [Compacted; 5] = [
        Compacted::ResolvedIncidents,
        Compacted::Executions,
        Compacted::Agents,
        Compacted::Deliveries,
        Compacted::PipelineRuns,
    ];

    /// Table, the time field it ages by (indexed), and what makes a record done with.
    fn query_parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Compacted::ResolvedIncidents => ("incident", "resolved_at", "status = 'resolved'"),
            Compacted::Executions => ("execution", "started_at", "status != 'running'"),
            Compacted::Agents => ("agent", "started_at", "status != 'running'"),
            Compacted::Deliveries => ("delivery", "created_at", "status != 'pending'"),
            Compacted::PipelineRuns => (
                "pipeline_run",
                "started_at",
                "status NOT IN ['running', 'queued']",
            ),
        }
    }

    pub fn name(self) -> &'static str {
        self.query_parts().0
    }
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// Nothing survives the process; for tests and throwaway runs.
    Memory,
    /// A SurrealKV directory; every commit is fsynced.
    Path(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] surrealdb::Error),
    #[error("stored record does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("{0}")]
    Unavailable(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Handle on the embedded database.
#[derive(Clone)]
pub struct Store {
    db: Surreal<Db>,
    /// This event log's identity: made once when the store is created and kept with it, so a
    /// client can tell a restarted Grace on the same log from one on a new (in-memory) log.
    log_id: String,
}

/// The windows of time (seconds back from now) [`Store::newest`] looks in before the whole
/// table: an hour, a day, thirty days.
const NEWEST_WINDOWS_S: [i64; 3] = [3_600, 86_400, 2_592_000];

const SCHEMA: &str = "
    DEFINE TABLE IF NOT EXISTS event SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS event_incident ON event FIELDS incident_id;
    DEFINE TABLE IF NOT EXISTS incident SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS incident_status ON incident FIELDS status;
    DEFINE INDEX IF NOT EXISTS incident_source ON incident FIELDS source;
    DEFINE TABLE IF NOT EXISTS execution SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS execution_incident ON execution FIELDS incident_id;
    DEFINE INDEX IF NOT EXISTS execution_status ON execution FIELDS status;
    DEFINE INDEX IF NOT EXISTS execution_started ON execution FIELDS started_at;
    DEFINE TABLE IF NOT EXISTS agent SCHEMALESS;
    DEFINE TABLE IF NOT EXISTS work_order SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS work_order_created ON work_order FIELDS created_at;
    DEFINE TABLE IF NOT EXISTS delivery SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS delivery_status ON delivery FIELDS status;
    DEFINE INDEX IF NOT EXISTS delivery_created ON delivery FIELDS created_at;
    DEFINE INDEX IF NOT EXISTS agent_started ON agent FIELDS started_at;
    DEFINE INDEX IF NOT EXISTS pipeline_run_started ON pipeline_run FIELDS started_at;
    DEFINE TABLE IF NOT EXISTS trust SCHEMALESS;
    DEFINE TABLE IF NOT EXISTS monitor_control SCHEMALESS;
    DEFINE TABLE IF NOT EXISTS monitor_position SCHEMALESS;
    DEFINE TABLE IF NOT EXISTS pipeline_run SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS pipeline_run_pipeline ON pipeline_run FIELDS pipeline_id;
    DEFINE INDEX IF NOT EXISTS pipeline_run_status ON pipeline_run FIELDS status;
    DEFINE TABLE IF NOT EXISTS meta SCHEMALESS;
";

/// A record written in the same transaction as the events that announce it (see
/// [`Store::commit`]). Typed, so a caller cannot write a table it does not own by mistake.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Incident(Box<Incident>),
    Trust(TrustScore),
    /// Records that cannot exist yet (a new incident id, a component never scored): inserted
    /// in one bulk statement, far cheaper than one upsert each. A clash fails the commit.
    NewIncident(Box<Incident>),
    NewTrust(TrustScore),
    /// How far the incident manager got: every event up to `watermark` is applied, and the
    /// next incident gets `next_id`. Committed with the effects it covers, so a replay after a
    /// crash never applies an event twice.
    IncidentsProgress {
        watermark: u64,
        next_id: u64,
    },
    /// A playbook run's record, its sub-agent's, and a work order (playbook engine).
    Execution(Box<Execution>),
    Agent(Box<Agent>),
    WorkOrder(Box<WorkOrder>),
    /// A webhook delivery, pending or ended (notifier; pending ones with what they tell about).
    Delivery(Box<Delivery>),
    /// Where a monitor's probe stands in what it follows (see `Probe::position`).
    MonitorPosition {
        monitor_id: String,
        position: Value,
    },
}

impl Write {
    /// An upsert's table, key and content, for the writes that replace a whole record.
    fn upsert(&self) -> Result<Option<Value>, serde_json::Error> {
        let (table, key, mut data) = match self {
            Write::Incident(incident) => (
                "incident",
                json!(incident.id),
                serde_json::to_value(incident)?,
            ),
            Write::Trust(score) => ("trust", json!(score.subject), serde_json::to_value(score)?),
            Write::Execution(run) => ("execution", json!(run.run_id), serde_json::to_value(run)?),
            Write::Agent(agent) => ("agent", json!(agent.agent_id), serde_json::to_value(agent)?),
            Write::WorkOrder(order) => (
                "work_order",
                json!(order.work_order_id),
                serde_json::to_value(order)?,
            ),
            Write::Delivery(delivery) => (
                "delivery",
                json!(delivery.delivery_id),
                serde_json::to_value(delivery)?,
            ),
            Write::MonitorPosition {
                monitor_id,
                position,
            } => (
                "monitor_position",
                json!(monitor_id),
                json!({ "position": position }),
            ),
            Write::NewIncident(_) | Write::NewTrust(_) | Write::IncidentsProgress { .. } => {
                return Ok(None)
            }
        };
        if let Some(fields) = data.as_object_mut() {
            fields.remove("id");
        }
        Ok(Some(json!({ "table": table, "key": key, "data": data })))
    }
}

/// Where the incident manager stands (see [`Write::IncidentsProgress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IncidentsProgress {
    pub watermark: u64,
    pub next_id: u64,
}

/// Incidents are keyed by their number; `record::id` gives it back as a plain `id` field.
const INCIDENT_FIELDS: &str = "*, record::id(id) AS id";

/// The first and the largest window of ids one listing query reads (see `Store::incidents`).
const LIST_WINDOW_MIN: u64 = 64;
const LIST_WINDOW_MAX: u64 = 65_536;

/// Every status an active incident can have.
const ACTIVE_STATUSES: [IncidentStatus; 4] = [
    IncidentStatus::Open,
    IncidentStatus::Acknowledged,
    IncidentStatus::Mitigating,
    IncidentStatus::Escalated,
];

impl Store {
    pub async fn open(location: &StoreLocation) -> StoreResult<Self> {
        let db = match location {
            StoreLocation::Memory => Surreal::new::<Mem>(()).await?,
            StoreLocation::Path(path) => Surreal::new::<SurrealKv>(path.clone()).await?,
        };
        db.use_ns("grace").use_db("grace").await?;
        db.query(SCHEMA).await?.check()?;
        let mut store = Self {
            db,
            log_id: String::new(),
        };
        let known: Option<String> = store
            .one("SELECT VALUE log_id FROM meta:identity", json!({}))
            .await?;
        store.log_id = match known {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                store
                    .db
                    .query("UPSERT meta:identity SET log_id = $id RETURN NONE")
                    .bind(json!({ "id": id }))
                    .await?
                    .check()?;
                id
            }
        };
        Ok(store)
    }

    /// The event log's identity (see the field).
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    async fn rows<T: DeserializeOwned>(&self, query: &str, vars: Value) -> StoreResult<Vec<T>> {
        let mut response = self.db.query(query).bind(vars).await?.check()?;
        let rows: Vec<Value> = response.take(0)?;
        rows.into_iter()
            .map(|row| serde_json::from_value(row).map_err(StoreError::from))
            .collect()
    }

    /// The newest `limit` rows of `table` by the indexed time `field`, newest first.
    ///
    /// Read as ascending index ranges over windows of time walked back from now: SurrealKV has
    /// no reverse scan, and an `ORDER BY … DESC` that SurrealDB answers from an index walks
    /// past the other tables' index entries (0.17–0.6 s for an empty table with 500,000
    /// events stored, measured), where an ascending range costs what it returns.
    async fn newest<T: DeserializeOwned>(
        &self,
        table: &str,
        field: &str,
        limit: usize,
    ) -> StoreResult<Vec<T>> {
        self.newest_where(table, field, None, json!({}), limit)
            .await
    }

    /// [`newest`](Self::newest) of the rows that also meet `condition` (SurrealQL over
    /// `vars`, which must not bind `since`, `start` or `limit`).
    async fn newest_where<T: DeserializeOwned>(
        &self,
        table: &str,
        field: &str,
        condition: Option<&str>,
        mut vars: Value,
        limit: usize,
    ) -> StoreResult<Vec<T>> {
        let now = crate::time::now();
        let windows = NEWEST_WINDOWS_S.iter().map(|s| Some(*s)).chain([None]);
        for window_s in windows {
            let since = window_s.map(|s| {
                (now - chrono::Duration::seconds(s))
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            });
            let within = since.as_ref().map(|_| format!("{field} >= $since"));
            let conditions: Vec<&str> = within.as_deref().into_iter().chain(condition).collect();
            let filter = match conditions.is_empty() {
                true => String::new(),
                false => format!("WHERE {}", conditions.join(" AND ")),
            };
            vars["since"] = json!(since);
            let counted: Option<Value> = self
                .one(
                    &format!("SELECT count() AS n FROM {table} {filter} GROUP ALL"),
                    vars.clone(),
                )
                .await?;
            let count = counted.and_then(|c| c["n"].as_u64()).unwrap_or(0) as usize;
            if count < limit && window_s.is_some() {
                continue; // not enough in this window: look further back
            }
            let query = format!(
                "SELECT * OMIT id FROM {table} {filter} ORDER BY {field} ASC START $start LIMIT $limit"
            );
            vars["start"] = json!(count.saturating_sub(limit));
            vars["limit"] = json!(limit);
            let mut rows: Vec<T> = self.rows(&query, vars).await?;
            rows.reverse();
            return Ok(rows);
        }
        unreachable!("the last window has no bound")
    }

    async fn one<T: DeserializeOwned>(&self, query: &str, vars: Value) -> StoreResult<Option<T>> {
        Ok(self.rows(query, vars).await?.into_iter().next())
    }

    async fn upsert(&self, table: &str, key: Value, record: &impl Serialize) -> StoreResult<()> {
        self.db
            .query("UPSERT type::record($table, $key) CONTENT $data RETURN NONE")
            .bind(json!({ "table": table, "key": key, "data": record }))
            .await?
            .check()?;
        Ok(())
    }

    // ----- event log -------------------------------------------------------------------------

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
        let mut upserts = Vec::new();
        let (mut new_incidents, mut new_trust) = (Vec::new(), Vec::new());
        let mut progress = None;
        for write in writes {
            match write {
                Write::NewIncident(incident) => new_incidents.push(serde_json::to_value(incident)?),
                Write::NewTrust(score) => {
                    let mut row = serde_json::to_value(score)?;
                    row["id"] = json!(score.subject);
                    new_trust.push(row);
                }
                Write::IncidentsProgress { watermark, next_id } => {
                    progress = Some(json!({ "last_seq": watermark, "next_id": next_id }));
                }
                other => upserts.extend(other.upsert()?),
            }
        }
        let mut query = String::from("BEGIN TRANSACTION;\n");
        if !events.is_empty() {
            query.push_str(
                "INSERT INTO event $rows RETURN NONE;\n\
                 UPSERT meta:event_log SET last_seq = $last RETURN NONE;\n",
            );
        }
        if !new_incidents.is_empty() {
            query.push_str("INSERT INTO incident $new_incidents RETURN NONE;\n");
        }
        if !new_trust.is_empty() {
            query.push_str("INSERT INTO trust $new_trust RETURN NONE;\n");
        }
        if !upserts.is_empty() {
            query.push_str(
                "FOR $row IN $upserts { \
                 UPSERT type::record($row.table, $row.key) CONTENT $row.data RETURN NONE; };\n",
            );
        }
        if progress.is_some() {
            query.push_str("UPSERT meta:incidents CONTENT $progress RETURN NONE;\n");
        }
        query.push_str("COMMIT TRANSACTION;");
        let last = events.last().map(|event| event.seq);
        let mut response = self
            .db
            .query(query)
            .bind(json!({
                "rows": rows,
                "last": last,
                "upserts": upserts,
                "new_incidents": new_incidents,
                "new_trust": new_trust,
                "progress": progress,
            }))
            .await?;
        match cause(response.take_errors()) {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
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

    // ----- incidents -------------------------------------------------------------------------

    /// Where the incident manager stands. A store written before the next id was kept there
    /// finds it once by a scan.
    pub async fn incidents_progress(&self) -> StoreResult<IncidentsProgress> {
        #[derive(serde::Deserialize)]
        struct Stored {
            last_seq: Option<u64>,
            next_id: Option<u64>,
        }
        let stored: Option<Stored> = self
            .one("SELECT last_seq, next_id FROM meta:incidents", json!({}))
            .await?;
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

    #[cfg(test)]
    async fn save_incident(&self, incident: &Incident) -> StoreResult<()> {
        self.commit(&[], &[Write::Incident(Box::new(incident.clone()))])
            .await
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
        let active = self.active_incidents_of(source).await?;
        Ok(active
            .iter()
            .any(|incident| crate::event::family(&incident.event_type) == family))
    }

    /// The highest incident id: a scan, used only for a store from before the progress
    /// record kept the next id.
    async fn max_incident_id(&self) -> StoreResult<u64> {
        let max: Option<Option<u64>> = self
            .one(
                "RETURN math::max((SELECT VALUE record::id(id) FROM incident))",
                json!({}),
            )
            .await?;
        Ok(max.flatten().unwrap_or(0))
    }

    // ----- executions, agents, work orders ----------------------------------------------------

    pub async fn save_execution(&self, execution: &Execution) -> StoreResult<()> {
        self.upsert("execution", json!(execution.run_id), execution)
            .await
    }

    pub async fn execution(&self, run_id: &str) -> StoreResult<Option<Execution>> {
        self.one(
            "SELECT * OMIT id FROM type::record('execution', $id)",
            json!({ "id": run_id }),
        )
        .await
    }

    pub async fn executions(&self, limit: usize) -> StoreResult<Vec<Execution>> {
        self.newest("execution", "started_at", limit).await
    }

    /// A playbook's latest runs, newest first.
    pub async fn playbook_executions(
        &self,
        playbook_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<Execution>> {
        let playbook = json!({ "playbook": playbook_id });
        let condition = Some("playbook_id = $playbook");
        self.newest_where("execution", "started_at", condition, playbook, limit)
            .await
    }

    /// (playbook, component, start) of the runs started after `since`, oldest first, at most
    /// `limit` (the newest of them).
    pub async fn starts_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<(String, String, DateTime<Utc>)>> {
        #[derive(Deserialize)]
        struct Start {
            playbook_id: String,
            #[serde(default)]
            source: String,
            started_at: DateTime<Utc>,
        }
        let since = since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let after = json!({ "after": since });
        let condition = Some("started_at > $after");
        let mut starts: Vec<Start> = self
            .newest_where("execution", "started_at", condition, after, limit)
            .await?;
        starts.reverse();
        Ok(starts
            .into_iter()
            .filter(|s| !s.source.is_empty())
            .map(|s| (s.playbook_id, s.source, s.started_at))
            .collect())
    }

    /// Where monitor `monitor_id`'s probe stood at its last committed probe, if it follows
    /// something.
    pub async fn monitor_position(&self, monitor_id: &str) -> StoreResult<Option<Value>> {
        self.one(
            "SELECT VALUE position FROM type::record('monitor_position', $id)",
            json!({ "id": monitor_id }),
        )
        .await
    }

    /// Whether any playbook run was recorded on incident `incident_id`.
    pub async fn has_run(&self, incident_id: u64) -> StoreResult<bool> {
        let runs: Vec<String> = self
            .rows(
                "SELECT VALUE run_id FROM execution WHERE incident_id = $incident LIMIT 1",
                json!({ "incident": incident_id }),
            )
            .await?;
        Ok(!runs.is_empty())
    }

    /// Runs that never reached an end (Grace stopped while they ran).
    pub async fn running_executions(&self) -> StoreResult<Vec<Execution>> {
        self.rows(
            "SELECT * OMIT id FROM execution WHERE status = 'running'",
            json!({}),
        )
        .await
    }

    pub async fn save_agent(&self, agent: &Agent) -> StoreResult<()> {
        self.upsert("agent", json!(agent.agent_id), agent).await
    }

    pub async fn agent(&self, agent_id: &str) -> StoreResult<Option<Agent>> {
        self.one(
            "SELECT * OMIT id FROM type::record('agent', $id)",
            json!({ "id": agent_id }),
        )
        .await
    }

    pub async fn agents(&self, limit: usize) -> StoreResult<Vec<Agent>> {
        self.newest("agent", "started_at", limit).await
    }

    pub async fn save_work_order(&self, work_order: &WorkOrder) -> StoreResult<()> {
        self.upsert("work_order", json!(work_order.work_order_id), work_order)
            .await
    }

    pub async fn work_orders(&self, limit: usize) -> StoreResult<Vec<WorkOrder>> {
        self.newest("work_order", "created_at", limit).await
    }

    /// Deliveries newest first.
    pub async fn deliveries(&self, limit: usize) -> StoreResult<Vec<Delivery>> {
        self.newest("delivery", "created_at", limit).await
    }

    /// Deliveries still to be sent, oldest first (indexed by status).
    pub async fn pending_deliveries(&self, limit: usize) -> StoreResult<Vec<Delivery>> {
        self.rows(
            "SELECT * OMIT id FROM delivery WHERE status = 'pending'
             ORDER BY created_at LIMIT $limit",
            json!({ "limit": limit }),
        )
        .await
    }

    // ----- retention -------------------------------------------------------------------------

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
        // The seq is ours (u64), so formatting it into the query is safe.
        let found: Option<u64> = self
            .one(
                &format!("SELECT VALUE record::id(id) FROM event:{seq}"),
                json!({}),
            )
            .await?;
        Ok(found.is_some())
    }

    /// When event `seq` was committed, if it is kept.
    pub async fn event_at(&self, seq: u64) -> StoreResult<Option<DateTime<Utc>>> {
        // The seq is ours (u64), so formatting it into the query is safe.
        self.one(&format!("SELECT VALUE at FROM event:{seq}"), json!({}))
            .await
    }

    /// Removes events `from..=to`.
    pub async fn remove_events(&self, from: u64, to: u64) -> StoreResult<()> {
        let end = to.saturating_add(1);
        self.db
            .query(format!("DELETE event:{from}..{end} RETURN NONE"))
            .await?
            .check()?;
        Ok(())
    }

    /// Removes up to `chunk` records of `kind` that `keep` lets go (see `retention.rs`): older
    /// than its age or beyond its count, never the newest `keep_min`, never one still in
    /// progress. Returns how many went.
    pub async fn compact(
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
            self.db
                .query("FOR $key IN $keys { DELETE type::record($table, $key) RETURN NONE; }")
                .bind(json!({ "keys": ids, "table": table }))
                .await?
                .check()?;
        }
        Ok(ids.len())
    }

    // ----- pipelines ------------------------------------------------------------------------------

    pub async fn save_pipeline_run(&self, run: &PipelineRun) -> StoreResult<()> {
        self.upsert("pipeline_run", json!(run.run_id), run).await
    }

    pub async fn pipeline_run(&self, run_id: &str) -> StoreResult<Option<PipelineRun>> {
        self.one(
            "SELECT * OMIT id FROM type::record('pipeline_run', $id)",
            json!({ "id": run_id }),
        )
        .await
    }

    /// A pipeline's latest runs, newest first.
    pub async fn pipeline_runs(
        &self,
        pipeline_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<PipelineRun>> {
        let pipeline = json!({ "pipeline": pipeline_id });
        let condition = Some("pipeline_id = $pipeline");
        self.newest_where("pipeline_run", "started_at", condition, pipeline, limit)
            .await
    }

    /// Marks `failed` as rerun by `rerun` and records `rerun`, in one transaction.
    pub async fn queue_rerun(&self, failed: &PipelineRun, rerun: &PipelineRun) -> StoreResult<()> {
        self.db
            .query(
                "BEGIN TRANSACTION;
                 UPSERT type::record('pipeline_run', $failed_id) CONTENT $failed RETURN NONE;
                 UPSERT type::record('pipeline_run', $rerun_id) CONTENT $rerun RETURN NONE;
                 COMMIT TRANSACTION;",
            )
            .bind(json!({
                "failed_id": failed.run_id, "failed": failed,
                "rerun_id": rerun.run_id, "rerun": rerun,
            }))
            .await?
            .check()?;
        Ok(())
    }

    /// Failed runs of these pipelines, not rerun yet, that finished at or after `since`
    /// (RFC 3339, as stored), oldest first, at most `limit`.
    pub async fn failed_pipeline_runs_since(
        &self,
        pipeline_ids: &[String],
        since: &str,
        limit: usize,
    ) -> StoreResult<Vec<PipelineRun>> {
        self.rows(
            "SELECT * OMIT id FROM pipeline_run
             WHERE status = 'failed' AND pipeline_id IN $pipelines AND finished_at >= $since
               AND (rerun_by = NONE OR rerun_by = NULL)
             ORDER BY finished_at ASC LIMIT $limit",
            json!({ "pipelines": pipeline_ids, "since": since, "limit": limit }),
        )
        .await
    }

    /// Runs that never reached an end: going or queued when Grace stopped.
    pub async fn unfinished_pipeline_runs(&self) -> StoreResult<Vec<PipelineRun>> {
        self.rows(
            "SELECT * OMIT id FROM pipeline_run WHERE status IN ['running', 'queued']",
            json!({}),
        )
        .await
    }

    // ----- monitor control --------------------------------------------------------------------

    pub async fn save_monitor_control(&self, control: &MonitorControl) -> StoreResult<()> {
        self.upsert("monitor_control", json!(control.monitor_id), control)
            .await
    }

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

    // ----- trust -------------------------------------------------------------------------------

    pub async fn save_trust(&self, trust: &TrustScore) -> StoreResult<()> {
        self.upsert("trust", json!(trust.subject), trust).await
    }

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

/// Ranges queried at most per read of [`Store::resolved_incidents`].
const GAP_RANGES_MAX: usize = 256;

/// The ranges of ids `[from, to)` within `[floor, high)` that hold none of `skip` (ascending),
/// walking down from `high`; at most [`GAP_RANGES_MAX`] of them. Also where the walk stopped:
/// `floor`, or higher when the ranges ran out first.
fn gaps_between(skip: &[u64], floor: u64, high: u64) -> (Vec<(u64, u64)>, u64) {
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
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::event::EventDraft;
    use crate::model::Severity;

    fn incident(id: u64, status: IncidentStatus) -> Incident {
        Incident {
            id,
            event_type: "db.connection_lost".into(),
            severity: Severity::High,
            source: "orders-db".into(),
            title: "Database connection lost".into(),
            status,
            detected_at: Utc::now(),
            acknowledged_at: None,
            resolved_at: None,
            resolution_time_seconds: None,
            occurrences: 1,
            trust: 0.7,
            resolved_by: None,
            active_run_id: None,
            work_order_id: None,
            recovery_seen: false,
            silenced: false,
            event_seqs: vec![2],
            symptoms: Vec::new(),
            suggestions: Vec::new(),
        }
    }

    #[tokio::test]
    async fn event_log_appends_and_scans_in_seq_order() {
        let store = Store::open(&StoreLocation::Memory).await.unwrap();
        assert_eq!(store.last_seq().await.unwrap(), 0);
        let events: Vec<Event> = (1..=12)
            .map(|seq| {
                EventDraft::new("db.connection_lost", json!({ "n": seq }))
                    .sequenced(seq, crate::time::now())
            })
            .collect();
        store.append_events(&events[..3]).await.unwrap();
        store.append_events(&events[3..]).await.unwrap();
        assert_eq!(store.last_seq().await.unwrap(), 12);
        let after: Vec<u64> = store
            .events_after(9, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(after, vec![10, 11, 12]);
        let page = store.events_after(0, 5).await.unwrap();
        assert_eq!(page, events[..5].to_vec());
        // A seq can never be written twice.
        assert!(store.append_events(&events[..1]).await.is_err());
        // Retention removes a prefix: the oldest kept is found without a scan.
        assert_eq!(store.first_seq().await.unwrap(), Some(1));
        store.remove_events(1, 4).await.unwrap();
        assert_eq!(store.first_seq().await.unwrap(), Some(5));
        assert_eq!(store.events_after(0, 2).await.unwrap(), Vec::<Event>::new());
        assert_eq!(
            store.events_after(4, 2).await.unwrap(),
            events[4..6].to_vec()
        );
        store.remove_events(5, 12).await.unwrap();
        assert_eq!(store.first_seq().await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_newest_rows_come_newest_first_across_every_window() {
        use crate::model::{Agent, AgentStatus};
        let store = Store::open(&StoreLocation::Memory).await.unwrap();
        let now = crate::time::now();
        // Minutes, hours, days and months back: each of newest()'s windows has some.
        let ages_s = [60, 7_200, 200_000, 5_000_000, 30, 90_000];
        for (i, age_s) in ages_s.iter().enumerate() {
            let agent = Agent {
                agent_id: format!("a{i}"),
                agent_name: "x".into(),
                task: "x".into(),
                incident_id: 1,
                run_id: format!("r{i}"),
                trust_score: 0.5,
                status: AgentStatus::Succeeded,
                started_at: now - chrono::Duration::seconds(*age_s),
                finished_at: None,
            };
            store.save_agent(&agent).await.unwrap();
        }
        let ids = |agents: Vec<Agent>| agents.into_iter().map(|a| a.agent_id).collect::<Vec<_>>();
        assert_eq!(ids(store.agents(2).await.unwrap()), ["a4", "a0"]);
        assert_eq!(ids(store.agents(3).await.unwrap()), ["a4", "a0", "a1"]);
        assert_eq!(
            ids(store.agents(10).await.unwrap()),
            ["a4", "a0", "a1", "a5", "a2", "a3"]
        );
        assert!(store.deliveries(10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn compaction_keeps_the_newest_keep_min_and_what_runs_and_takes_the_oldest_first() {
        use crate::model::{Agent, AgentStatus};
        use crate::retention::Keep;
        let store = Store::open(&StoreLocation::Memory).await.unwrap();
        let now = crate::time::now();
        for (i, age_h) in [2, 3, 4, 5, 6].into_iter().enumerate() {
            let status = match i {
                4 => AgentStatus::Running,
                _ => AgentStatus::Succeeded,
            };
            let agent = Agent {
                agent_id: format!("a{i}"),
                agent_name: "x".into(),
                task: "x".into(),
                incident_id: 1,
                run_id: format!("r{i}"),
                trust_score: 0.5,
                status,
                started_at: now - chrono::Duration::hours(age_h),
                finished_at: None,
            };
            store.save_agent(&agent).await.unwrap();
        }
        let left = || async {
            let mut ids: Vec<String> = store
                .agents(10)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.agent_id)
                .collect();
            ids.sort();
            ids
        };
        let hour_ms = 3_600_000;
        let compact = |max_age_ms, max_count, keep_min| {
            let keep = Keep {
                max_age_ms,
                max_count,
                keep_min,
            };
            let store = &store;
            async move {
                store
                    .compact(Compacted::Agents, &keep, now, 100)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            compact(hour_ms, 10, 2).await,
            2,
            "by age, the newest 2 kept"
        );
        assert_eq!(left().await, ["a0", "a1", "a4"]);
        assert_eq!(compact(100 * 24 * hour_ms, 1, 0).await, 1, "by count");
        assert_eq!(left().await, ["a0", "a4"]);
        assert_eq!(compact(1, 1, 1).await, 0, "the newest kept");
    }

    #[test]
    fn the_gaps_between_active_ids_cover_the_rest_of_the_window() {
        assert_eq!(gaps_between(&[], 1, 10), (vec![(1, 10)], 1));
        assert_eq!(
            gaps_between(&[3, 4, 8, 12], 1, 10),
            (vec![(9, 10), (5, 8), (1, 3)], 1)
        );
        assert_eq!(gaps_between(&[9], 5, 10), (vec![(5, 9)], 5));
        assert_eq!(gaps_between(&[5, 6, 7, 8, 9], 5, 10), (vec![], 5));
        let every_other: Vec<u64> = (0..2_000).map(|n| n * 2).collect();
        let (ranges, stopped) = gaps_between(&every_other, 1, 4_000);
        assert_eq!(ranges.len(), GAP_RANGES_MAX);
        assert_eq!(ranges[0], (3_999, 4_000));
        assert_eq!(stopped, 4_000 - 2 * GAP_RANGES_MAX as u64);
    }

    #[tokio::test]
    async fn incidents_round_trip_and_page_newest_first() {
        let store = Store::open(&StoreLocation::Memory).await.unwrap();
        for id in 1..=5 {
            let status = if id % 2 == 0 {
                IncidentStatus::Resolved
            } else {
                IncidentStatus::Open
            };
            store.save_incident(&incident(id, status)).await.unwrap();
        }
        let got = store.incident(3).await.unwrap().unwrap();
        assert_eq!(
            got,
            incident(3, IncidentStatus::Open).with_detected_at(got.detected_at)
        );
        let ids: Vec<u64> = store
            .incidents(None, 2)
            .await
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, vec![5, 4]);
        let ids: Vec<u64> = store
            .incidents(Some(4), 10)
            .await
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, vec![3, 2, 1]);
        let resolved: Vec<u64> = store
            .resolved_incidents(None, 10, &[1, 3, 5])
            .await
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(resolved, vec![4, 2]);
        assert_eq!(store.active_incidents().await.unwrap().len(), 3);
        assert!(store.has_active_incident("orders-db", "db").await.unwrap());
        assert!(!store.has_active_incident("orders-db", "log").await.unwrap());
        assert!(!store.has_active_incident("other-db", "db").await.unwrap());
        assert_eq!(store.max_incident_id().await.unwrap(), 5);
        assert!(store.incident(99).await.unwrap().is_none());
    }

    impl Incident {
        fn with_detected_at(mut self, at: chrono::DateTime<Utc>) -> Incident {
            self.detected_at = at;
            self
        }
    }

    #[tokio::test]
    async fn a_commit_writes_all_of_it_or_nothing() {
        let store = Store::open(&StoreLocation::Memory).await.unwrap();
        let event = |seq| EventDraft::new("incident.opened", json!({})).sequenced(seq, Utc::now());
        let progress = |watermark| Write::IncidentsProgress {
            watermark,
            next_id: watermark + 1,
        };
        let mut trust = TrustScore::component("orders-db");
        trust.adjust(-0.3);
        let writes = [
            Write::NewIncident(Box::new(incident(1, IncidentStatus::Open))),
            Write::NewTrust(trust.clone()),
            progress(2),
        ];
        store.commit(&[event(1), event(2)], &writes).await.unwrap();
        assert_eq!(store.last_seq().await.unwrap(), 2);
        assert_eq!(
            store.incident(1).await.unwrap().map(|i| i.id),
            Some(1),
            "inserted under its id"
        );
        assert_eq!(
            store.trust(&trust.subject).await.unwrap(),
            Some(trust.clone())
        );
        let subjects = [trust.subject.clone(), "component:never-seen".to_owned()];
        assert_eq!(store.trusts(&subjects).await.unwrap(), vec![trust.clone()]);
        // Later changes replace them.
        trust.adjust(0.1);
        let mut acknowledged = incident(1, IncidentStatus::Acknowledged);
        acknowledged.occurrences = 2;
        let writes = [
            Write::Incident(Box::new(acknowledged.clone())),
            Write::Trust(trust.clone()),
        ];
        store.commit(&[], &writes).await.unwrap();
        assert_eq!(store.trust(&trust.subject).await.unwrap(), Some(trust));
        let stored = store.incident(1).await.unwrap().unwrap();
        assert_eq!(stored.status, IncidentStatus::Acknowledged);
        assert_eq!(stored.occurrences, 2);
        // A "new" record that exists fails the whole commit.
        let clash = [Write::NewIncident(Box::new(incident(
            1,
            IncidentStatus::Open,
        )))];
        assert!(store.commit(&[], &clash).await.is_err());
        assert_eq!(store.incident(1).await.unwrap().unwrap().occurrences, 2);
        let stored = store.incidents_progress().await.unwrap();
        assert_eq!((stored.watermark, stored.next_id), (2, 3));
        // seq 2 exists already: the whole commit fails, and nothing of it is written.
        let writes = [
            Write::NewIncident(Box::new(incident(2, IncidentStatus::Open))),
            progress(9),
        ];
        assert!(store.commit(&[event(3), event(2)], &writes).await.is_err());
        assert!(store.incident(2).await.unwrap().is_none());
        assert_eq!(store.last_seq().await.unwrap(), 2);
        assert_eq!(store.incidents_progress().await.unwrap().watermark, 2);
    }

    #[tokio::test]
    async fn data_survives_reopening_the_same_path() {
        let dir = tempfile::tempdir().unwrap();
        let location = StoreLocation::Path(dir.path().join("db"));
        {
            let store = Store::open(&location).await.unwrap();
            store
                .save_incident(&incident(1, IncidentStatus::Open))
                .await
                .unwrap();
            let event = EventDraft::new("incident.opened", json!({})).sequenced(1, Utc::now());
            store.append_events(&[event]).await.unwrap();
        }
        // The engine releases its lock asynchronously once the last handle is dropped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let store = loop {
            match Store::open(&location).await {
                Ok(store) => break store,
                Err(error) if std::time::Instant::now() < deadline => {
                    assert!(error.to_string().contains("locked"), "{error}");
                    tokio::task::yield_now().await;
                }
                Err(error) => panic!("store never reopened: {error}"),
            }
        };
        assert!(store.incident(1).await.unwrap().is_some());
        assert_eq!(store.last_seq().await.unwrap(), 1);
    }
}

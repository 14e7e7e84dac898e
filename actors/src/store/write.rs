//! [`Write`]: the records a commit writes beside its events, one variant per table, so a
//! caller cannot write a table it does not own by mistake; and how each becomes an upsert.

use serde_json::{json, Value};

use super::StatusRow;
use crate::model::{Agent, Delivery, Execution, Incident, MonitorControl, TrustScore, WorkOrder};

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
    /// A pipeline run, as it starts or ends (pipeline runner).
    PipelineRun(Box<crate::model::PipelineRun>),
    /// A monitor's pause or silence, as people set it (its monitor).
    MonitorControl(Box<MonitorControl>),
    /// Where a monitor's probe stands in what it follows (see `Probe::position`).
    MonitorPosition {
        monitor_id: String,
        position: Value,
    },
    /// A closed bucket of a monitor's history, into its ring slot (see `history.rs`).
    HistoryBucket {
        slot: u64,
        bucket: Box<crate::history::HistoryBucket>,
    },
    /// A person's silence, new or expired, and one removed to make room (store actor).
    Silence(Box<crate::silence::Silence>),
    SilenceRemoved(String),
    /// A guard, not a write: the whole commit goes through only while the record
    /// `table:key` exists with `status` still as given, else nothing of it is written and it
    /// fails with [`StoreError::Stale`]. A decision taken on what it read (a run still
    /// `running`) so cannot land over a change made since (that run ended by another commit).
    Expect {
        table: &'static str,
        key: Value,
        status: &'static str,
    },
    /// A guard, not a write (a cluster's monitors): the whole commit goes through only while
    /// the node of `by` holds the lease on `key` at its epoch, unexpired, else nothing of it is
    /// written and it fails [`StoreError::Fenced`]. It marks the lease row, so a takeover and
    /// this commit conflict: one of them waits, and the other is refused.
    LeaseHeld {
        by: crate::model::RanBy,
        key: crate::cluster::LeaseKey,
    },
    /// A monitor's view, for the other nodes of a cluster (written by its owner).
    MonitorStatus(Box<StatusRow>),
    /// What one incident's page on one route has told (the pager).
    Page(Box<crate::paging::Page>),
}

impl Write {
    /// The guard that run `run_id` is still `running` as the commit lands.
    pub fn expect_running(run_id: &crate::model::RunId) -> Self {
        Write::Expect {
            table: "execution",
            key: json!(run_id),
            status: "running",
        }
    }

    /// An upsert's table, key and content, for the writes that replace a whole record.
    pub(super) fn upsert(&self) -> Result<Option<Value>, serde_json::Error> {
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
            Write::PipelineRun(run) => (
                "pipeline_run",
                json!(run.run_id),
                serde_json::to_value(run)?,
            ),
            Write::MonitorControl(control) => (
                "monitor_control",
                json!(control.monitor_id),
                serde_json::to_value(control)?,
            ),
            Write::MonitorPosition {
                monitor_id,
                position,
            } => (
                "monitor_position",
                json!(monitor_id),
                json!({ "position": position }),
            ),
            Write::HistoryBucket { slot, bucket } => (
                "monitor_history",
                json!(format!("{}/{slot}", bucket.monitor_id)),
                serde_json::to_value(bucket)?,
            ),
            Write::Silence(silence) => {
                ("silence", json!(silence.id), serde_json::to_value(silence)?)
            }
            Write::MonitorStatus(row) => (
                "monitor_status",
                json!(row.monitor_id),
                serde_json::to_value(row)?,
            ),
            Write::Page(page) => ("page", json!(page.key()), serde_json::to_value(page)?),
            Write::NewIncident(_)
            | Write::NewTrust(_)
            | Write::IncidentsProgress { .. }
            | Write::SilenceRemoved(_)
            | Write::Expect { .. }
            | Write::LeaseHeld { .. } => return Ok(None),
        };
        if let Some(fields) = data.as_object_mut() {
            fields.remove("id");
        }
        Ok(Some(json!({ "table": table, "key": key, "data": data })))
    }
}

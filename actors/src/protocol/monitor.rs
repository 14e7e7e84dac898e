//! What a monitor takes (probe now, recheck, people's decisions) and the view it posts.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ractor::RpcReplyPort;

use crate::event::EventDraft;
use crate::model::{MonitorControl, Who};
use crate::payload::MonitorControlled;
use crate::store::{StoreError, Write};

/// What a monitor knows about its component right now.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorStatus {
    pub id: String,
    pub kind: &'static str,
    pub down: bool,
    /// Down because the server refused Grace (a login, a certificate): what depends on it is
    /// not taken to be down with it.
    pub refused: bool,
    pub consecutive_failures: u32,
    pub last_probe_at: Option<DateTime<Utc>>,
    pub last_latency_ms: Option<u64>,
    pub last_error: Option<String>,
    /// What the probe learned beyond up/down (a check plugin's exit code, summary, perfdata).
    pub details: serde_json::Value,
    /// Paused or silenced by people.
    pub control: MonitorControl,
    /// The bucket of its history being summed now (`history.rs`).
    pub history: Option<crate::history::HistoryBucket>,
}

impl MonitorStatus {
    /// The view of a monitor not probed yet (as far as this node knows).
    pub fn new(id: String, kind: &'static str, control: MonitorControl) -> Self {
        Self {
            id,
            kind,
            down: false,
            refused: false,
            consecutive_failures: 0,
            last_probe_at: None,
            last_latency_ms: None,
            last_error: None,
            details: serde_json::Value::Null,
            control,
            history: None,
        }
    }
}

pub enum MonitorMsg {
    /// Run one probe, then schedule the next.
    Probe,
    /// Run one extra probe now (news arrived, e.g. a heartbeat); the schedule is unchanged.
    ProbeNow,
    /// The component's incident of `family` (its own probe's, or `monitor` for flapping) was
    /// closed by a playbook or a person: forget that state and probe now, so a failure that
    /// persists (or comes back before the next probe) opens a new incident instead of going
    /// unannounced.
    Recheck { family: String },
    /// A person's decision taken on another node of a cluster (already stored there).
    Controlled(Box<MonitorControl>),
    /// Apply and persist a person's decision; replies with the new status.
    Control(
        ControlChange,
        Who,
        RpcReplyPort<Result<MonitorStatus, Arc<StoreError>>>,
    ),
}

/// What people can decide about a monitor.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlChange {
    Pause,
    Resume,
    /// Silence until this time (`None` lifts the silence).
    Silence(Option<DateTime<Utc>>),
}

impl ControlChange {
    /// `control` with this decision made.
    pub fn applied_to(self, mut control: MonitorControl) -> MonitorControl {
        match self {
            ControlChange::Pause => control.paused = true,
            ControlChange::Resume => control.paused = false,
            ControlChange::Silence(until) => control.silenced_until = until,
        }
        control
    }
}

/// A decision as it is committed, by `by`: its announcement and its record, saved in one
/// transaction so every dashboard and feed client sees it at once, and a crash leaves neither
/// without the other. Whichever node makes it (the monitor's own, or the leader for a monitor
/// another node runs).
pub fn control_commit(control: &MonitorControl, by: Who) -> (EventDraft, Write) {
    let id = &control.monitor_id;
    let announced = EventDraft::of(&MonitorControlled {
        monitor: id.clone(),
        paused: control.paused,
        silenced_until: control.silenced_until.map(|t| t.to_rfc3339()),
        by,
    })
    .source(id.clone());
    (announced, Write::MonitorControl(Box::new(control.clone())))
}

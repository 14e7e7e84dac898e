//! What other nodes' events, read from the shared log, tell this node's monitors (a cluster's
//! spread monitors, `spread.rs`), before the store actor routes them.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::context::{Ctx, Duties};
use crate::event::{classify, types, Event};
use crate::model::MonitorControl;
use crate::protocol::monitor::{MonitorMsg, MonitorStatus};
use crate::store::StatusRow;

/// What other nodes' events, read from the shared log, tell this node's monitors, before the
/// events are routed:
/// - on the leader, a problem or recovery of a spread monitor another node runs: the stored
///   views are read onto the board first (each was written with its transition), so the
///   incident manager decides with the view that went with the event;
/// - a person's decision on a monitor this node runs (`monitor.controlled`), taken on another
///   node: the monitor takes it;
/// - on a standby, an incident of a monitor this node runs closed without a recovery
///   (resolved by a playbook or a person, `incident.resolved`): the monitor looks again, as
///   the leader's own monitors are told by its incident manager.
pub(crate) async fn hear(ctx: &Ctx, events: &[Arc<Event>]) {
    if ctx.spread.is_none() {
        return;
    }
    let news = || {
        let spec = ctx.spec();
        let elsewhere: HashSet<&str> = spec
            .monitors
            .iter()
            .filter(|m| m.kind.spreads() && !ctx.runs_here(m))
            .map(|m| m.id.as_str())
            .collect();
        events.iter().any(|event| {
            event
                .source
                .as_deref()
                .is_some_and(|s| elsewhere.contains(s))
                && !classify(&event.event_type, &event.data).is_info()
        })
    };
    if ctx.duties == Duties::All && news() {
        match ctx.store.monitor_statuses().await {
            Ok(rows) => learn_statuses(ctx, rows),
            Err(error) => tracing::warn!(%error, "cannot read the other nodes' monitor views"),
        }
    }
    for event in events {
        let Some(monitor) = event.source.as_deref().and_then(|id| ctx.scope.monitor(id)) else {
            continue;
        };
        let msg = match event.event_type.as_str() {
            types::MONITOR_CONTROLLED => controlled(event).map(MonitorMsg::Controlled),
            types::INCIDENT_RESOLVED if ctx.duties == Duties::Serve => recheck(event),
            _ => None,
        };
        if let Some(msg) = msg {
            let _ = monitor.cast(msg);
        }
    }
}

/// The control a `monitor.controlled` event says was set.
fn controlled(event: &Event) -> Option<Box<MonitorControl>> {
    let data = &event.data;
    let silenced_until = match data["silenced_until"].as_str() {
        Some(until) => Some(
            DateTime::parse_from_rfc3339(until)
                .ok()?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    Some(Box::new(MonitorControl {
        monitor_id: event.source.clone()?,
        paused: data["paused"].as_bool()?,
        silenced_until,
    }))
}

/// The recheck an `incident.resolved` event asks of its monitor: when it was not resolved by
/// the monitor's own recovery.
fn recheck(event: &Event) -> Option<MonitorMsg> {
    let by_recovery = event.data["resolved_by"].as_str() == Some("recovery");
    let event_type = event.data["incident"]["event_type"].as_str()?;
    (!by_recovery).then(|| MonitorMsg::Recheck {
        family: crate::event::family(event_type).to_owned(),
    })
}

/// See [`Kernel::learn_statuses`]: a monitor this tree runs posts its own view.
pub(crate) fn learn_statuses(ctx: &crate::context::Ctx, rows: Vec<(StatusRow, MonitorControl)>) {
    let spec = ctx.spec();
    for (row, control) in rows {
        let Some(monitor) = spec.monitors.iter().find(|m| m.id == row.monitor_id) else {
            continue;
        };
        if ctx.runs_here(monitor) {
            continue;
        }
        ctx.post_status(MonitorStatus {
            id: row.monitor_id,
            kind: monitor.kind.name(),
            down: row.down,
            refused: row.refused,
            consecutive_failures: row.consecutive_failures,
            last_probe_at: row.last_probe_at,
            last_latency_ms: row.last_latency_ms,
            last_error: row.last_error,
            details: row.details,
            control,
            history: None,
        });
    }
}

//! A cluster's monitors spread over its nodes: the leases of the spread monitors (those that
//! probe a server over the network, `MonitorKind::spreads`) that this node holds, each at its
//! epoch, as the node's lease book last settled them. The node's round writes it
//! (`Kernel::hold_monitors`); the kernel starts and stops monitors by it; a monitor's every
//! commit carries its lease as a guard (`Write::LeaseHeld`), so once another node has taken
//! the lease nothing it finds lands.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::cluster::{Epoch, LeaseKey, NodeId};
use crate::context::{Ctx, Duties};
use crate::event::{classify, types, Event};
use crate::model::{MonitorControl, RanBy};
use crate::protocol::monitor::MonitorMsg;
use crate::store::Write;

/// The spread monitors one kernel runs, by monitor id, at the epoch of each lease.
pub struct Spread {
    pub me: NodeId,
    held: RwLock<BTreeMap<String, Epoch>>,
}

impl Spread {
    /// Node `me`'s, holding nothing yet.
    pub fn new(me: NodeId) -> Self {
        Self {
            me,
            held: RwLock::new(BTreeMap::new()),
        }
    }

    /// The epoch this node holds monitor `id`'s lease at, if it holds it.
    pub fn epoch_of(&self, id: &str) -> Option<Epoch> {
        self.held.read().expect("spread poisoned").get(id).copied()
    }

    /// Holds `held` from now; the set held before.
    pub(crate) fn replace(&self, held: BTreeMap<String, Epoch>) -> BTreeMap<String, Epoch> {
        std::mem::replace(&mut *self.held.write().expect("spread poisoned"), held)
    }

    /// The guard a commit of monitor `id` carries while it runs under `epoch`.
    pub fn guard(&self, id: &str, epoch: Epoch) -> Write {
        Write::LeaseHeld {
            by: self.ran_by(epoch),
            key: LeaseKey::Monitor(id.to_owned()),
        }
    }

    pub fn ran_by(&self, epoch: Epoch) -> RanBy {
        RanBy {
            node_id: self.me.clone(),
            epoch,
        }
    }
}

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
    let spec = ctx.spec();
    let elsewhere = |source: &str| {
        spec.monitors
            .iter()
            .any(|m| m.id == source && m.kind.spreads() && !ctx.runs_here(m))
    };
    let news = events.iter().any(|event| {
        event.source.as_deref().is_some_and(elsewhere)
            && !classify(&event.event_type, &event.data).is_info()
    });
    if ctx.duties == Duties::All && news {
        match ctx.store.monitor_statuses().await {
            Ok(rows) => crate::kernel::learn_statuses(ctx, rows),
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

//! What an Alertmanager alert's event says, apart from the book: its fingerprint and labels,
//! whether an event type is an alert's, whether an incident still waits for its alerts, and
//! which monitor incidents an alert can be a second witness of. A leaf: the book and its
//! alert and dependency rules all read it.

use std::collections::BTreeMap;

use crate::event::Event;
use crate::model::{Incident, ALERTS_FIRING_MAX};
use crate::spec::ALERT_FAMILY_PREFIX;

/// What an alert's event says about it, for its incident.
#[derive(Debug, Clone, Default)]
pub struct AlertFacts {
    pub fingerprint: String,
    pub labels: BTreeMap<String, String>,
}

impl AlertFacts {
    /// The alert an event is, if it is one of Alertmanager's.
    pub fn of(event: &Event) -> Option<Self> {
        if !is_alert(&event.event_type) {
            return None;
        }
        let fingerprint = event.data.get("fingerprint")?.as_str()?.to_owned();
        let labels = event
            .data
            .get("labels")
            .and_then(|labels| serde_json::from_value(labels.clone()).ok())
            .unwrap_or_default();
        Some(Self {
            fingerprint,
            labels,
        })
    }

    /// Records on `incident` that this alert fires into it.
    pub fn fire(self, incident: &mut Incident) {
        let known = incident.alerts_firing.contains(&self.fingerprint);
        if !known && incident.alerts_firing.len() < ALERTS_FIRING_MAX {
            incident.alerts_firing.push(self.fingerprint);
        }
        if incident.labels.is_empty() {
            incident.labels = self.labels;
        }
    }

    /// Records that this alert resolved; whether others still fire into `incident`.
    pub fn others_still_fire(&self, incident: &mut Incident) -> bool {
        incident.alerts_firing.retain(|f| *f != self.fingerprint);
        !incident.alerts_firing.is_empty()
    }
}

pub fn is_alert(event_type: &str) -> bool {
    event_type.starts_with(ALERT_FAMILY_PREFIX)
}

/// Whether a monitor's incident of `event_type` says its component is down: not an alert's,
/// and not the server refusing Grace (a login, a certificate) or a component flapping, which
/// an alert saying "down" is not a second witness of.
pub fn is_outage(event_type: &str) -> bool {
    !is_alert(event_type)
        && !crate::event::refuses_grace(event_type)
        && event_type != crate::event::types::MONITOR_FLAPPING
}

/// Whether alerts still fire into `incident` with no recovery seen: a run that "healed" it
/// has not been confirmed by them yet.
/// Only an alert's own incident waits: where a monitor leads, its probe has the last word.
pub fn still_firing(incident: &Incident) -> bool {
    is_alert(&incident.event_type) && !incident.alerts_firing.is_empty() && !incident.recovery_seen
}

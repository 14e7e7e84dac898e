//! Alertmanager's alerts in the incident book. Several alerts of one name can fire on one
//! component (one per instance, say): they are one incident, which resolves only when the last
//! of them does. And a component only alerts speak of can be what a monitor `depends_on`: it
//! counts as down while an alert incident is open on it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::book::IncidentBook;
use super::changes::{Changes, Rules};
use crate::event::{family, types, Event};
use crate::model::{Incident, ALERTS_FIRING_MAX};
use crate::spec::ALERT_FAMILY_PREFIX;

use super::changes::Why;

/// What an alert's event says about it, for its incident.
#[derive(Debug, Clone, Default)]
pub(super) struct AlertFacts {
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

pub(super) fn is_alert(event_type: &str) -> bool {
    event_type.starts_with(ALERT_FAMILY_PREFIX)
}

impl IncidentBook {
    /// An alert of `event`'s family on its source resolved: where it was attached as a symptom
    /// to what its component depends on, the symptom has ended, so it is not reopened on its
    /// own when that incident resolves.
    pub(super) fn end_alert_symptoms(&mut self, event: &Event, rules: &Rules, out: &mut Changes) {
        let Some(source) = event.source.as_deref() else {
            return;
        };
        let Some(alert) = AlertFacts::of(event) else {
            return;
        };
        let recovered = family(&event.event_type);
        // Attached to a parent's incident, or a grandparent's that took the parent's in.
        let ancestors = super::dependencies::ancestors(rules, source);
        let ids: Vec<u64> = ancestors.iter().flat_map(|p| self.of_source(p)).collect();
        for id in ids {
            let incident = self.active.get_mut(&id).expect("listed above");
            let ended = end_symptoms(incident, source, recovered, &alert, event.at);
            if ended {
                let incident = incident.clone();
                out.announce(
                    &incident,
                    types::INCIDENT_UPDATED,
                    Why::reason("symptom ended"),
                );
            }
        }
    }

    /// The active alert incident on `component`, a component no monitor watches.
    pub(super) fn alert_incident_of(&self, component: &str) -> Option<u64> {
        self.of_source(component)
            .into_iter()
            .find(|id| is_alert(&self.active[id].event_type))
    }
}

/// Takes `alert` off the symptoms of `source` in `family`, and marks ended those no alert
/// fires into any more; whether any changed.
fn end_symptoms(
    incident: &mut Incident,
    source: &str,
    family_: &str,
    alert: &AlertFacts,
    at: DateTime<Utc>,
) -> bool {
    let mut changed = false;
    for symptom in &mut incident.symptoms {
        let matches = symptom.source == source && family(&symptom.event_type) == family_;
        if !matches || symptom.ended_at.is_some() {
            continue;
        }
        let before = symptom.alerts_firing.len();
        symptom.alerts_firing.retain(|f| *f != alert.fingerprint);
        changed |= symptom.alerts_firing.len() < before;
        if symptom.alerts_firing.is_empty() {
            symptom.ended_at = Some(at);
            changed = true;
        }
    }
    changed
}

//! Alertmanager's alerts in the incident book. Several alerts of one name can fire on one
//! component (one per instance, say): they are one incident, which resolves only when the last
//! of them does. And a component only alerts speak of can be what a monitor `depends_on`: it
//! counts as down while an alert incident is open on it.

use chrono::{DateTime, Utc};

use super::alert_facts::{is_alert, is_outage, AlertFacts};
use super::book::IncidentBook;
use super::changes::{Changes, Rules, Why};
use crate::event::{family, types, Event};
use crate::model::Incident;

impl IncidentBook {
    /// An alert of `event`'s family on its source resolved: where it was attached as a symptom
    /// to what its component depends on, the symptom has ended, so it is not reopened on its
    /// own when that incident resolves.
    pub fn end_alert_symptoms(&mut self, event: &Event, rules: &Rules, out: &mut Changes) {
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
            let end = |incident: &mut Incident| {
                let ended = end_symptoms(incident, source, recovered, &alert, event.at);
                ended.then(|| incident.clone())
            };
            if let Some(incident) = self.active.edit(id, end).expect("listed above") {
                let why = Why::reason("symptom ended");
                out.announce(&incident, types::INCIDENT_UPDATED, why);
            }
        }
    }

    /// The monitor's active incident an alert of `event_type` on `source` is a second witness
    /// of: a monitor and an alert saying one component is down are one outage, so the alert
    /// folds into it instead of opening an incident (and dropping trust) of its own.
    pub fn monitor_incident_for(
        &self,
        source: &str,
        event_type: &str,
        rules: &Rules,
    ) -> Option<u64> {
        if !is_alert(event_type) || !rules.monitors.contains(source) {
            return None;
        }
        self.of_source(source)
            .into_iter()
            .find(|id| is_outage(&self.active[*id].event_type))
    }

    /// A monitor's incident `root` just opened: the alert incidents already open on its
    /// component are the same outage. They end as superseded by it (their runs stopped), their
    /// alerts fire into it from now on, and the trust they took is given back, so the outage
    /// costs one drop. The monitor's incident leads: its playbooks probe the component itself.
    pub fn take_in_alerts(&mut self, root: u64, rules: &Rules, out: &mut Changes) {
        let source = self.active[root].source.clone();
        if is_alert(&self.active[root].event_type) || !rules.monitors.contains(&source) {
            return;
        }
        let ids: Vec<u64> = self
            .of_source(&source)
            .into_iter()
            .filter(|id| *id != root)
            .collect();
        for id in ids {
            if !is_alert(&self.active[id].event_type) {
                continue;
            }
            let folded = self.active.take(id).expect("listed above");
            let at = self.active[root].detected_at.max(folded.detected_at);
            let why = format!("superseded by #{root}: its monitor sees the same outage");
            super::dependencies::end_as_superseded(folded.clone(), root, at, &why, out);
            let trust = self.adjust_trust(&source, rules.drop_on_incident, out);
            let fold_in = |incident: &mut Incident| {
                for fingerprint in folded.alerts_firing {
                    let alert = AlertFacts {
                        fingerprint,
                        labels: folded.labels.clone(),
                    };
                    alert.fire(incident);
                }
                incident.occurrences = incident.occurrences.saturating_add(folded.occurrences);
                incident.trust = trust;
                incident.clone()
            };
            let incident = self.active.edit(root, fold_in).expect("the root is active");
            out.announce(
                &incident,
                types::INCIDENT_UPDATED,
                Why::reason("its alert folded in"),
            );
        }
    }

    /// An alert folded into an incident of another family (a monitor's) resolved: it no
    /// longer fires there, and an incident whose run waited only for it is healed.
    #[allow(clippy::too_many_arguments)]
    pub fn alert_resolved_elsewhere(
        &mut self,
        source: &str,
        alert_family: &str,
        alert: &AlertFacts,
        event: &Event,
        rules: &Rules,
        facts: &super::changes::Facts,
        out: &mut Changes,
    ) {
        for id in self.of_source(source) {
            let incident = &self.active[id];
            let folded = family(&incident.event_type) != alert_family
                && incident.alerts_firing.contains(&alert.fingerprint);
            if !folded {
                continue;
            }
            let mut incident = self.active.take(id).expect("listed above");
            incident.alerts_firing.retain(|f| *f != alert.fingerprint);
            super::book::remember(&mut incident, event.seq, rules.events_max);
            if incident.awaiting_alert && incident.alerts_firing.is_empty() {
                let by = crate::model::ResolvedBy::Playbook;
                self.resolve(incident, by, None, event.at, rules, facts, out);
            } else {
                self.update(incident, "its alert resolved", out);
            }
        }
    }

    /// The active alert incident on `component`, a component no monitor watches.
    pub fn alert_incident_of(&self, component: &str) -> Option<u64> {
        self.of_source(component)
            .into_iter()
            .find(|id| is_alert(&self.active[*id].event_type))
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

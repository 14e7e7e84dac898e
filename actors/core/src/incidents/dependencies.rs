//! `depends_on` in the incident book: one outage, one incident, whatever order its failures
//! are seen in and however many levels they pass through.
//!
//! - A failure of a component whose parent (or grandparent, …) is down attaches to that
//!   outage's incident as a symptom (`down_dependency`, `attach`).
//! - An outage of a parent seen after its dependents' failures takes them in: their incidents
//!   end as `superseded` (their waiting or running playbooks stopped) and become symptoms of
//!   the parent's (`fold_dependents`).
//!
//! "Down" is what a parent's own monitor says; a component no monitor watches is down while
//! an alert incident is open on it. An incident on a parent from a log rule or a pushed event
//! hides nothing.

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, Utc};

use super::book::IncidentBook;
use super::changes::{Changes, Effect, Facts, Rules, Why};
use crate::event::types;
use crate::model::{Incident, IncidentStatus, ResolvedBy, Symptom, ALERTS_FIRING_MAX};

/// Most components one walk up or down the dependencies visits: `depends_on` is acyclic and
/// bounded per monitor, this bounds a walk over all of them.
const WALK_MAX: usize = 1_024;

impl IncidentBook {
    /// The incident of the outage `source`'s failure belongs to: the nearest down ancestor's,
    /// walking up through down ancestors that have no incident of their own (their failure is
    /// itself attached higher up).
    pub fn down_dependency(&self, source: &str, rules: &Rules, facts: &Facts) -> Option<u64> {
        let mut frontier: VecDeque<&str> = parents(rules, source).collect();
        let mut seen = HashSet::new();
        while let Some(parent) = frontier.pop_front() {
            if !seen.insert(parent) || seen.len() > WALK_MAX {
                continue;
            }
            if !rules.monitors.contains(parent) {
                if let Some(id) = self.alert_incident_of(parent) {
                    return Some(id);
                }
            } else if facts.down.contains(parent) {
                match self.of_source(parent).first() {
                    Some(id) => return Some(*id),
                    None => frontier.extend(parents(rules, parent)),
                }
            }
        }
        None
    }

    /// Attaches a dependent's failure to the incident of what it depends on.
    pub fn attach(&mut self, parent_id: u64, symptom: Symptom, rules: &Rules, out: &mut Changes) {
        let add = |parent: &mut Incident| {
            add_symptom(parent, symptom, rules.events_max).then(|| parent.clone())
        };
        if let Some(parent) = self.active.edit(parent_id, add).expect("found active") {
            out.announce(&parent, types::INCIDENT_UPDATED, Why::reason("symptom"));
        }
    }

    /// `root` just opened: if its component is down, the active incidents of everything that
    /// depends on it, at any depth, end as superseded by it and become its symptoms.
    pub fn fold_dependents(&mut self, root: u64, rules: &Rules, facts: &Facts, out: &mut Changes) {
        let incident = &self.active[root];
        let down = if rules.monitors.contains(&incident.source) {
            facts.down.contains(&incident.source)
        } else {
            super::alert_facts::is_alert(&incident.event_type)
        };
        if !down {
            return;
        }
        let at = incident.reopened_at.unwrap_or(incident.detected_at);
        let folded: Vec<u64> = dependents(rules, &incident.source)
            .iter()
            .flat_map(|component| self.of_source(component))
            .filter(|id| *id != root)
            .collect();
        for id in folded {
            self.supersede(id, root, at, rules, out);
        }
    }

    /// Ends incident `id` as superseded by `root`, moving it and its symptoms onto `root`.
    fn supersede(
        &mut self,
        id: u64,
        root: u64,
        at: DateTime<Utc>,
        rules: &Rules,
        out: &mut Changes,
    ) {
        let Some(folded) = self.active.take(id) else {
            return;
        };
        let why = format!("superseded by #{root}: what it depends on is down");
        let folded = end_as_superseded(folded, root, at, &why, out);
        let add = |parent: &mut Incident| {
            let mut changed = add_symptom(parent, symptom_of(&folded), rules.events_max);
            for symptom in &folded.symptoms {
                changed |= add_symptom(parent, symptom.clone(), rules.events_max);
            }
            changed.then(|| parent.clone())
        };
        if let Some(parent) = self.active.edit(root, add).expect("the root is active") {
            out.announce(&parent, types::INCIDENT_UPDATED, Why::reason("symptom"));
        }
    }
}

/// What `source` depends on, as configured.
fn parents<'a>(rules: &'a Rules, source: &str) -> impl Iterator<Item = &'a str> {
    rules
        .depends_on
        .get(source)
        .into_iter()
        .flatten()
        .map(String::as_str)
}

/// Every component that depends on `source`, directly or through others.
fn dependents(rules: &Rules, source: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut frontier = vec![source.to_owned()];
    while let Some(parent) = frontier.pop() {
        for (child, its_parents) in &rules.depends_on {
            let new = its_parents.contains(&parent) && !found.contains(child);
            if new && found.len() < WALK_MAX {
                found.push(child.clone());
                frontier.push(child.clone());
            }
        }
    }
    found
}

/// Ends `folded` as superseded by `root` at `at` (`why` in words), and stops whatever healing
/// was meant for it: the outage is `root`'s. Returns it as ended.
pub fn end_as_superseded(
    mut folded: Incident,
    root: u64,
    at: DateTime<Utc>,
    why: &str,
    out: &mut Changes,
) -> Incident {
    let id = folded.id;
    folded.status = IncidentStatus::Resolved;
    folded.resolved_at = Some(at.max(folded.detected_at));
    folded.resolved_by = Some(ResolvedBy::Superseded);
    folded.superseded_by = Some(root);
    folded.active_run_id = None;
    let why = Why {
        resolved_by: Some(ResolvedBy::Superseded),
        ..Why::reason(why)
    };
    out.announce(&folded, types::INCIDENT_RESOLVED, why);
    out.effects
        .retain(|effect| !matches!(effect, Effect::Trigger(i) if i.id == id));
    out.effects.push(Effect::Supersede {
        incident_id: id,
        by: root,
    });
    folded
}

/// A superseded incident, as the symptom it now is.
fn symptom_of(incident: &Incident) -> Symptom {
    Symptom {
        source: incident.source.clone(),
        event_type: incident.event_type.clone(),
        severity: incident.severity,
        title: incident
            .title
            .strip_suffix(&format!(": {}", incident.source))
            .unwrap_or(&incident.title)
            .to_owned(),
        at: incident.detected_at,
        seq: incident.event_seqs.first().copied().unwrap_or_default(),
        ended_at: None,
        labels: incident.labels.clone(),
        alerts_firing: incident.alerts_firing.clone(),
    }
}

/// Adds `symptom`, or, when `incident` has it already, what is new of it (an alert firing
/// again, another instance of it); whether anything changed.
fn add_symptom(incident: &mut Incident, symptom: Symptom, events_max: usize) -> bool {
    let known = incident
        .symptoms
        .iter_mut()
        .find(|s| s.source == symptom.source && s.event_type == symptom.event_type);
    if let Some(known) = known {
        let revived = known.ended_at.take().is_some();
        let before = known.alerts_firing.len();
        for fingerprint in symptom.alerts_firing {
            if !known.alerts_firing.contains(&fingerprint)
                && known.alerts_firing.len() < ALERTS_FIRING_MAX
            {
                known.alerts_firing.push(fingerprint);
            }
        }
        return revived || known.alerts_firing.len() > before;
    }
    if incident.symptoms.len() >= events_max {
        return false;
    }
    incident.symptoms.push(symptom);
    true
}

/// Everything `source` depends on, directly or through others (bounded like the walks).
pub fn ancestors(rules: &Rules, source: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut frontier: Vec<&str> = parents(rules, source).collect();
    while let Some(parent) = frontier.pop() {
        if found.iter().any(|f| f == parent) || found.len() >= WALK_MAX {
            continue;
        }
        found.push(parent.to_owned());
        frontier.extend(parents(rules, parent));
    }
    found
}

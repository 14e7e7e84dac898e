//! The incident book: every active incident (its [`ActiveSet`], indexed by `(source,
//! event_type)` so that a repeat or a recovery finds its incident without a scan), and the
//! rules by which a persisted event opens, bumps, attaches to or resolves one. Without I/O: everything it needs from
//! outside (the rules from the config, which monitors are down, which sources are silenced,
//! component trust) is handed to it, and each decision writes what it changed into a
//! [`Changes`], so every rule has a unit test (`tests/`).
//!
//! The commands people and the playbook engine send are in `lifecycle.rs`, component trust in
//! `trust.rs` (over the book's [`TrustBook`]), relapses in `relapses.rs` (over its
//! [`RecentlyHealed`]).

use chrono::{DateTime, Utc};

use super::active_set::ActiveSet;
use super::alert_facts::{is_alert, AlertFacts};
use super::changes::{Changes, Effect, Facts, Rules, Why};
use super::recently_healed::RecentlyHealed;
use super::trust_book::TrustBook;
use crate::event::{classify, family, types, Event, EventClass};
use crate::model::{Incident, IncidentStatus, ResolvedBy, Symptom, Who};

/// The active incidents, the incidents healed lately and component trust, each a type that
/// keeps its own invariants; the rules that change them are this type's methods, in `book`,
/// `lifecycle`, `trust`, `relapses`, `dependencies` and `alerts`.
#[derive(Debug, Default)]
pub struct IncidentBook {
    /// The active incidents, indexed by key (`active_set.rs`).
    pub(super) active: ActiveSet,
    /// Incidents healed lately, for relapses (`recently_healed.rs`, `relapses.rs`).
    pub(super) healed: RecentlyHealed,
    /// Component trust known so far (`trust_book.rs`, `trust.rs`).
    pub(super) trust: TrustBook,
}

impl IncidentBook {
    /// A book over the active incidents loaded from the store.
    pub fn new(active: Vec<Incident>, next_id: u64) -> Self {
        Self {
            active: ActiveSet::new(active, next_id),
            ..Self::default()
        }
    }

    pub fn next_id(&self) -> u64 {
        self.active.next_id()
    }

    pub fn get(&self, id: u64) -> Option<&Incident> {
        self.active.get(id)
    }

    pub fn active(&self) -> impl Iterator<Item = &Incident> {
        self.active.iter()
    }

    pub fn len(&self) -> usize {
        self.active.len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// Up to `limit` active incidents with ids below `before` (all when `None`) and, when
    /// `status` is given, in that status; newest first. Also how many match in all.
    pub fn newest_active(
        &self,
        before: Option<u64>,
        limit: usize,
        status: Option<IncidentStatus>,
    ) -> (Vec<Incident>, usize) {
        self.active.newest(before, limit, status)
    }

    /// The ids of the active incidents below `below`, ascending: what a walk over the stored
    /// resolved incidents may skip.
    pub fn active_ids_below(&self, below: u64) -> Vec<u64> {
        self.active.ids_below(below)
    }

    /// How many active incidents have each status.
    pub fn count_by_status(&self) -> Vec<(IncidentStatus, usize)> {
        self.active.count_by_status()
    }

    /// Active incidents of `source`, in id order.
    pub fn of_source(&self, source: &str) -> Vec<u64> {
        self.active.of_source(source)
    }

    // ----- events ----------------------------------------------------------------------------

    /// Applies one persisted problem or recovery event.
    pub fn apply(&mut self, event: &Event, rules: &Rules, facts: &Facts, out: &mut Changes) {
        let source = source_of(event);
        match classify(&event.event_type, &event.data) {
            EventClass::Problem { severity, title } => {
                // A rate-limited source (a log rule) reports how many times it happened.
                let count = event
                    .data
                    .get("count")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(1)
                    .max(1);
                let key = (source.clone(), event.event_type.clone());
                let alert = AlertFacts::of(event);
                // A monitor and an alert saying one component is down are one outage.
                let same = self.active.id_of(&key);
                let id = same.or_else(|| self.monitor_incident_for(&key.0, &key.1, rules));
                if let Some(id) = id {
                    let repeat = |incident: &mut Incident| {
                        incident.occurrences = incident.occurrences.saturating_add(count);
                        incident.recovery_seen = false;
                        if let Some(alert) = alert {
                            alert.fire(incident);
                        }
                        remember(incident, event.seq, rules.events_max);
                        incident.clone()
                    };
                    let incident = self.active.edit(id, repeat).expect("indexed incident");
                    out.repeated(&incident, count);
                    return;
                }
                let symptom = Symptom {
                    source,
                    event_type: event.event_type.clone(),
                    severity,
                    title,
                    at: event.at,
                    seq: event.seq,
                    ended_at: None,
                    labels: alert.as_ref().map(|a| a.labels.clone()).unwrap_or_default(),
                    alerts_firing: alert.iter().map(|a| a.fingerprint.clone()).collect(),
                };
                if let Some(parent) = self.down_dependency(&symptom.source, rules, facts) {
                    self.attach(parent, symptom, rules, out);
                } else if let Some(healed) = self.relapse_of(&key, event.at, rules) {
                    self.reopen(healed, symptom, count, alert, rules, facts, out);
                } else {
                    self.open(symptom, count, alert, rules, facts, out);
                }
            }
            EventClass::Recovery => self.recover(event, &source, rules, facts, out),
            EventClass::Info => {}
        }
    }

    /// A recovery resolves the source's incidents of its family, unless other alerts still
    /// fire into one; while a playbook heals one, it only notes the recovery.
    fn recover(
        &mut self,
        event: &Event,
        source: &str,
        rules: &Rules,
        facts: &Facts,
        out: &mut Changes,
    ) {
        let recovered_family = family(&event.event_type);
        let alert = AlertFacts::of(event);
        for id in self.of_source(source) {
            if family(&self.active[id].event_type) != recovered_family {
                continue;
            }
            if let Some(alert) = &alert {
                // Other alerts fire into it still: it stays, this one's end noted.
                let resolve_one = |incident: &mut Incident| {
                    let firing_before = incident.alerts_firing.len();
                    let others = alert.others_still_fire(incident);
                    let ended = others && incident.alerts_firing.len() < firing_before;
                    if ended {
                        remember(incident, event.seq, rules.events_max);
                    }
                    (others, ended.then(|| incident.clone()))
                };
                let (others, ended) = self.active.edit(id, resolve_one).expect("listed above");
                if let Some(incident) = ended {
                    self.update(incident, "one of its alerts resolved", out);
                }
                if others {
                    continue;
                }
            }
            let mut incident = self.active.take(id).expect("listed above");
            remember(&mut incident, event.seq, rules.events_max);
            if incident.active_run_id.is_some() {
                // The healing playbook verifies and resolves; don't race it. If the run
                // fails, the recovery seen here still resolves the incident.
                incident.recovery_seen = true;
                self.update(incident, "recovery observed", out);
            } else {
                // A run that healed it waited for this: the heal is the playbook's.
                let by = match incident.awaiting_alert {
                    true => ResolvedBy::Playbook,
                    false => ResolvedBy::Recovery,
                };
                self.resolve(incident, by, None, event.at, rules, facts, out);
            }
        }
        if let Some(alert) = &alert {
            self.alert_resolved_elsewhere(
                source,
                recovered_family,
                alert,
                event,
                rules,
                facts,
                out,
            );
            self.end_alert_symptoms(event, rules, out);
        }
    }

    pub fn open(
        &mut self,
        problem: Symptom,
        count: u64,
        alert: Option<AlertFacts>,
        rules: &Rules,
        facts: &Facts,
        out: &mut Changes,
    ) {
        let Symptom {
            source,
            event_type,
            severity,
            title,
            at,
            seq,
            ended_at: _,
            labels,
            alerts_firing,
        } = problem;
        let trust = self.adjust_trust(&source, -rules.drop_on_incident, out);
        let id = self.active.new_id();
        let silenced = facts.silenced.contains(&source);
        let title = crate::event::incident_title(&event_type, &title, &source);
        let mut incident = Incident {
            id,
            event_type,
            severity,
            title,
            source,
            status: IncidentStatus::Open,
            detected_at: at,
            acknowledged_at: None,
            resolved_at: None,
            resolution_time_seconds: None,
            occurrences: count,
            trust,
            resolved_by: None,
            active_run_id: None,
            work_order_id: None,
            recovery_seen: false,
            awaiting_alert: false,
            silenced,
            event_seqs: vec![seq],
            symptoms: Vec::new(),
            suggestions: Vec::new(),
            labels,
            alerts_firing,
            superseded_by: None,
            relapses: 0,
            reopened_at: None,
            maintenance: None,
        };
        if let Some(alert) = alert {
            alert.fire(&mut incident);
        }
        in_maintenance(&mut incident, facts);
        out.announce(&incident, types::INCIDENT_OPENED, Why::default());
        out.opened.insert(id);
        // A silenced monitor's incidents are recorded, but nothing is run for them; nor for
        // an incident in maintenance.
        if !incident.silenced {
            out.effects
                .push(Effect::Trigger(Box::new(incident.clone())));
        }
        self.active.insert(incident);
        self.take_in_alerts(id, rules, out);
        self.fold_dependents(id, rules, facts, out);
    }

    /// Keeps an active incident and announces its change.
    pub fn update(&mut self, incident: Incident, reason: &str, out: &mut Changes) {
        out.announce(&incident, types::INCIDENT_UPDATED, Why::reason(reason));
        self.active.insert(incident);
    }

    /// [`update`](Self::update) for a person's command: the event names who (`by`).
    pub fn update_by(&mut self, incident: Incident, reason: &str, by: &Who, out: &mut Changes) {
        out.announce(&incident, types::INCIDENT_UPDATED, Why::by(reason, by));
        self.active.insert(incident);
    }

    /// Ends an incident already taken out of the active set.
    #[allow(clippy::too_many_arguments)]
    pub fn resolve(
        &mut self,
        mut incident: Incident,
        by: ResolvedBy,
        person: Option<&Who>,
        now: DateTime<Utc>,
        rules: &Rules,
        facts: &Facts,
        out: &mut Changes,
    ) -> Incident {
        incident.status = IncidentStatus::Resolved;
        incident.resolved_at = Some(now);
        // A relapse's round is timed from when it came back, not from the first round.
        let since = incident.reopened_at.unwrap_or(incident.detected_at);
        incident.resolution_time_seconds =
            Some((now - since).num_milliseconds().max(0) as f64 / 1000.0);
        incident.resolved_by = Some(by);
        incident.active_run_id = None;
        let why = Why {
            by: person.cloned(),
            resolved_by: Some(by),
            ..Why::default()
        };
        out.announce(&incident, types::INCIDENT_RESOLVED, why);
        if by != ResolvedBy::Recovery {
            // Closed without the monitor seeing a recovery: have it look again, so a failure
            // that goes on is announced anew.
            out.effects.push(Effect::Recheck {
                source: incident.source.clone(),
                family: family(&incident.event_type).to_owned(),
            });
        }
        self.reopen_symptoms(&incident, now, rules, facts, out);
        self.remember_healed(&incident, rules.reopen_window_ms);
        incident
    }

    /// After `resolved` ends, its symptoms whose monitors still say down, and its alerts not
    /// seen to resolve, get incidents of their own: they were hidden behind it, and they are
    /// not over.
    pub fn reopen_symptoms(
        &mut self,
        resolved: &Incident,
        now: DateTime<Utc>,
        rules: &Rules,
        facts: &Facts,
        out: &mut Changes,
    ) {
        for symptom in &resolved.symptoms {
            let key = (symptom.source.clone(), symptom.event_type.clone());
            let going_on = facts.down.contains(&symptom.source)
                || (is_alert(&symptom.event_type) && symptom.ended_at.is_none());
            if going_on && !self.active.holds_key(&key) {
                let mut symptom = symptom.clone();
                symptom.at = now;
                match self.down_dependency(&symptom.source, rules, facts) {
                    Some(parent) => self.attach(parent, symptom, rules, out),
                    None => self.open(symptom, 1, None, rules, facts, out),
                }
            }
        }
    }
}

/// Marks `incident` in maintenance (and silenced) when a window or silence in force covers it.
pub fn in_maintenance(incident: &mut Incident, facts: &Facts) {
    let quiet = facts.quiet_for(&incident.source, &incident.event_type, &incident.labels);
    incident.maintenance = quiet.map(str::to_owned);
    incident.silenced |= incident.maintenance.is_some();
}

/// The component an event is about.
pub fn source_of(event: &Event) -> String {
    event.source.clone().unwrap_or_else(|| "unknown".to_owned())
}

pub fn remember(incident: &mut Incident, seq: u64, events_max: usize) {
    if incident.event_seqs.len() < events_max {
        incident.event_seqs.push(seq);
    }
}

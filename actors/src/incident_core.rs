//! The incident manager's decisions, without I/O: which event opens, bumps, attaches to or
//! resolves which incident, and what that changes.
//!
//! [`IncidentCore`] holds every active incident, indexed by `(source, event_type)` so that a
//! repeat or a recovery finds its incident without a scan, whatever the number of incidents.
//! Each decision writes what it changed into a [`Changes`]: the incidents and trust scores to
//! persist, the events that announce them and the effects to run once they are durable. The
//! incidents actor commits one `Changes` per page of the log (or per command) in a single
//! transaction, so the state and its announcements are never out of step.
//!
//! Everything the core needs from outside (the rules from the config, which monitors are down,
//! which sources are silenced, component trust) is handed to it, so every rule here has a unit
//! test.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::event::{classify, family, types, Event, EventClass, EventDraft};
use crate::model::{
    component_subject, Incident, IncidentStatus, ResolvedBy, Suggestion, SuggestionStatus, Symptom,
    TrustScore, Who,
};
use crate::protocol::incidents::{IncidentError, RunOutcome};
use crate::spec::TreeSpec;

/// Suggestions one incident may carry: each is a decision waiting for a person.
const SUGGESTIONS_MAX: usize = 16;

/// The config's rules for incidents, taken once per page or command.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub drop_on_incident: f64,
    pub restore_on_recovery: f64,
    /// Event seqs and symptoms one incident remembers.
    pub events_max: usize,
    /// Each monitor's `depends_on`, by monitor id.
    pub depends_on: HashMap<String, Vec<String>>,
}

impl Rules {
    pub fn from_spec(spec: &TreeSpec) -> Self {
        Self {
            drop_on_incident: spec.trust.drop_on_incident,
            restore_on_recovery: spec.trust.restore_on_recovery,
            events_max: spec.limits.incident_events_max,
            depends_on: spec
                .monitors
                .iter()
                .filter(|m| !m.depends_on.is_empty())
                .map(|m| (m.id.clone(), m.depends_on.clone()))
                .collect(),
        }
    }
}

/// What the monitors and controls say right now.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Monitors whose own probes call them down.
    pub down: HashSet<String>,
    /// Sources whose monitor is silenced: their incidents are recorded, nothing is run.
    pub silenced: HashSet<String>,
}

/// What to do once the changes are durable.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Offer a new incident to the playbook engine.
    Trigger(Box<Incident>),
    /// Have a monitor look again (its incident was closed without it seeing a recovery).
    Recheck(String),
}

/// Everything one page of events or one command changed.
#[derive(Debug, Default)]
pub struct Changes {
    /// The latest state of every incident changed, resolved ones included.
    pub incidents: BTreeMap<u64, Incident>,
    /// The latest score of every component whose trust moved, by subject.
    pub trust: BTreeMap<String, TrustScore>,
    /// Incidents opened here and trust subjects scored for the first time: not in the store
    /// yet, so they can be inserted rather than upserted.
    pub opened: BTreeSet<u64>,
    pub new_trust: BTreeSet<String>,
    /// The events announcing the changes, in order.
    pub drafts: Vec<EventDraft>,
    pub effects: Vec<Effect>,
    /// Repeats not yet announced, by incident: occurrences added. A page announces each
    /// incident's repeats once, as a small delta, not once per event with the whole incident.
    repeats: BTreeMap<u64, u64>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.incidents.is_empty()
            && self.trust.is_empty()
            && self.drafts.is_empty()
            && self.repeats.is_empty()
    }

    /// Records a repeat of `incident` (its new state), announced later by `finish` — or
    /// before anything else is announced about it, so announcements stay in order.
    fn repeated(&mut self, incident: &Incident, added: u64) {
        *self.repeats.entry(incident.id).or_default() += added;
        self.incidents.insert(incident.id, incident.clone());
    }

    /// Announces every repeat still pending; call once the page is applied.
    pub fn finish(&mut self) {
        let pending: Vec<u64> = self.repeats.keys().copied().collect();
        for id in pending {
            self.announce_repeats(id);
        }
    }

    /// `incident.updated` with `reason: repeat`: only what repeats change.
    fn announce_repeats(&mut self, id: u64) {
        let (Some(added), Some(incident)) = (self.repeats.remove(&id), self.incidents.get(&id))
        else {
            return;
        };
        let delta = json!({
            "id": incident.id,
            "source": incident.source,
            "event_type": incident.event_type,
            "status": incident.status,
            "occurrences": incident.occurrences,
        });
        let draft = EventDraft::new(
            types::INCIDENT_UPDATED,
            json!({ "incident": delta, "reason": "repeat", "repeats": added }),
        )
        .source(incident.source.clone())
        .incident(id);
        self.drafts.push(draft);
    }

    fn announce(&mut self, incident: &Incident, event_type: &str, extra: serde_json::Value) {
        self.announce_repeats(incident.id);
        let mut data = json!({ "incident": incident });
        if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
            data.extend(extra.clone());
        }
        self.drafts.push(
            EventDraft::new(event_type, data)
                .source(incident.source.clone())
                .incident(incident.id),
        );
        self.incidents.insert(incident.id, incident.clone());
    }
}

/// The active incidents and component trust, and every rule that changes them.
#[derive(Debug, Default)]
pub struct IncidentCore {
    /// Active incidents by id; a BTreeMap so the newest are a range (the dashboard's page).
    active: BTreeMap<u64, Incident>,
    /// Active incidents by (source, event_type); a BTreeMap so a source's incidents are a range.
    by_key: BTreeMap<(String, String), u64>,
    next_id: u64,
    /// Component trust known so far, by component id. The actor fills in what a page needs.
    trust: HashMap<String, TrustScore>,
    /// Components in `trust` that have no stored score yet.
    unstored_trust: HashSet<String>,
}

impl IncidentCore {
    /// A core over the active incidents loaded from the store.
    pub fn new(active: Vec<Incident>, next_id: u64) -> Self {
        let mut core = Self {
            next_id,
            ..Self::default()
        };
        for incident in active {
            core.next_id = core.next_id.max(incident.id + 1);
            core.insert(incident);
        }
        core
    }

    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    pub fn get(&self, id: u64) -> Option<&Incident> {
        self.active.get(&id)
    }

    pub fn active(&self) -> impl Iterator<Item = &Incident> {
        self.active.values()
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
        let matches = |incident: &&Incident| status.is_none_or(|s| incident.status == s);
        let total = match status {
            None => self.active.len(),
            Some(_) => self.active.values().filter(matches).count(),
        };
        let page = self
            .active
            .range(..before.unwrap_or(u64::MAX))
            .rev()
            .map(|(_, incident)| incident)
            .filter(matches)
            .take(limit)
            .cloned()
            .collect();
        (page, total)
    }

    /// The ids of the active incidents below `below`, ascending: what a walk over the stored
    /// resolved incidents may skip.
    pub fn active_ids_below(&self, below: u64) -> Vec<u64> {
        self.active.range(..below).map(|(id, _)| *id).collect()
    }

    /// Whether the trust of `component` is known (else the actor loads it first).
    pub fn knows_trust(&self, component: &str) -> bool {
        self.trust.contains_key(component)
    }

    /// Hands the core a component's stored trust (or none: fully trusted).
    pub fn learn_trust(&mut self, component: &str, stored: Option<TrustScore>) {
        let trust = stored.unwrap_or_else(|| {
            self.unstored_trust.insert(component.to_owned());
            TrustScore::component(component)
        });
        self.trust.insert(component.to_owned(), trust);
    }

    /// Forgets cached trust when the cache grows past `max` entries (reloaded on demand).
    pub fn bound_trust_cache(&mut self, max: usize) {
        if self.trust.len() > max {
            self.trust.clear();
            self.unstored_trust.clear();
        }
    }

    /// The component a problem event would need the trust of: it opens a new incident.
    pub fn trust_needed(&self, event: &Event) -> Option<String> {
        let source = source_of(event);
        let is_problem = matches!(
            classify(&event.event_type, &event.data),
            EventClass::Problem { .. }
        );
        let new = !self
            .by_key
            .contains_key(&(source.clone(), event.event_type.clone()));
        (is_problem && new && !self.knows_trust(&source)).then_some(source)
    }

    fn insert(&mut self, incident: Incident) {
        let key = (incident.source.clone(), incident.event_type.clone());
        self.by_key.insert(key, incident.id);
        self.active.insert(incident.id, incident);
    }

    fn take(&mut self, id: u64) -> Option<Incident> {
        let incident = self.active.remove(&id)?;
        self.by_key
            .remove(&(incident.source.clone(), incident.event_type.clone()));
        Some(incident)
    }

    /// Active incidents of `source`, in id order.
    fn of_source(&self, source: &str) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .by_key
            .range((source.to_owned(), String::new())..)
            .take_while(|((s, _), _)| s == source)
            .map(|(_, id)| *id)
            .collect();
        ids.sort_unstable();
        ids
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
                if let Some(id) = self.by_key.get(&key).copied() {
                    let incident = self.active.get_mut(&id).expect("indexed incident");
                    incident.occurrences = incident.occurrences.saturating_add(count);
                    incident.recovery_seen = false;
                    remember(incident, event.seq, rules.events_max);
                    let incident = incident.clone();
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
                };
                match self.down_dependency(&symptom.source, rules, facts) {
                    Some(parent) => self.attach(parent, symptom, rules, out),
                    None => self.open(symptom, count, rules, facts, out),
                }
            }
            EventClass::Recovery => {
                let recovered_family = family(&event.event_type);
                for id in self.of_source(&source) {
                    if family(&self.active[&id].event_type) != recovered_family {
                        continue;
                    }
                    let mut incident = self.take(id).expect("listed above");
                    remember(&mut incident, event.seq, rules.events_max);
                    if incident.active_run_id.is_some() {
                        // The healing playbook verifies and resolves; don't race it. If the run
                        // fails, the recovery seen here still resolves the incident.
                        incident.recovery_seen = true;
                        self.update(incident, "recovery observed", out);
                    } else {
                        self.resolve(
                            incident,
                            ResolvedBy::Recovery,
                            None,
                            event.at,
                            rules,
                            facts,
                            out,
                        );
                    }
                }
            }
            EventClass::Info => {}
        }
    }

    /// The active incident of a monitor `source` depends on, if one of them is down. Only a
    /// parent its own monitor calls down hides its dependents' failures: an incident on it
    /// from a log rule or a pushed event does not.
    fn down_dependency(&self, source: &str, rules: &Rules, facts: &Facts) -> Option<u64> {
        rules
            .depends_on
            .get(source)?
            .iter()
            .filter(|parent| facts.down.contains(*parent))
            .find_map(|parent| self.of_source(parent).first().copied())
    }

    /// Attaches a dependent's failure to the incident of what it depends on.
    fn attach(&mut self, parent_id: u64, symptom: Symptom, rules: &Rules, out: &mut Changes) {
        let parent = self.active.get_mut(&parent_id).expect("found active");
        let known = parent
            .symptoms
            .iter()
            .any(|s| s.source == symptom.source && s.event_type == symptom.event_type);
        if known || parent.symptoms.len() >= rules.events_max {
            return;
        }
        parent.symptoms.push(symptom);
        let parent = parent.clone();
        out.announce(
            &parent,
            types::INCIDENT_UPDATED,
            json!({ "reason": "symptom" }),
        );
    }

    fn open(
        &mut self,
        problem: Symptom,
        count: u64,
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
        } = problem;
        let trust = self.adjust_trust(&source, -rules.drop_on_incident, out);
        let id = self.next_id;
        self.next_id += 1;
        let silenced = facts.silenced.contains(&source);
        let incident = Incident {
            id,
            event_type,
            severity,
            title: format!("{title}: {source}"),
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
            silenced,
            event_seqs: vec![seq],
            symptoms: Vec::new(),
            suggestions: Vec::new(),
        };
        out.announce(&incident, types::INCIDENT_OPENED, json!({}));
        out.opened.insert(id);
        // A silenced monitor's incidents are recorded, but nothing is run for them.
        if !silenced {
            out.effects
                .push(Effect::Trigger(Box::new(incident.clone())));
        }
        self.insert(incident);
    }

    /// Keeps an active incident and announces its change.
    fn update(&mut self, incident: Incident, reason: &str, out: &mut Changes) {
        out.announce(
            &incident,
            types::INCIDENT_UPDATED,
            json!({ "reason": reason }),
        );
        self.insert(incident);
    }

    /// [`update`](Self::update) for a person's command: the event names who (`by`).
    fn update_by(&mut self, incident: Incident, reason: &str, by: &Who, out: &mut Changes) {
        out.announce(
            &incident,
            types::INCIDENT_UPDATED,
            json!({ "reason": reason, "by": by }),
        );
        self.insert(incident);
    }

    /// Ends an incident already taken out of the active set.
    #[allow(clippy::too_many_arguments)]
    fn resolve(
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
        incident.resolution_time_seconds =
            Some((now - incident.detected_at).num_milliseconds().max(0) as f64 / 1000.0);
        incident.resolved_by = Some(by);
        incident.active_run_id = None;
        let mut data = json!({ "resolved_by": by });
        if let Some(person) = person {
            data["by"] = json!(person);
        }
        out.announce(&incident, types::INCIDENT_RESOLVED, data);
        if by != ResolvedBy::Recovery {
            // Closed without the monitor seeing a recovery: have it look again, so a failure
            // that goes on is announced anew.
            out.effects.push(Effect::Recheck(incident.source.clone()));
        }
        self.reopen_symptoms(&incident, now, rules, facts, out);
        incident
    }

    /// After `resolved` ends, its symptoms whose monitors still say down get incidents of
    /// their own: they were hidden behind it, and they are not over.
    fn reopen_symptoms(
        &mut self,
        resolved: &Incident,
        now: DateTime<Utc>,
        rules: &Rules,
        facts: &Facts,
        out: &mut Changes,
    ) {
        for symptom in &resolved.symptoms {
            let key = (symptom.source.clone(), symptom.event_type.clone());
            if facts.down.contains(&symptom.source) && !self.by_key.contains_key(&key) {
                let mut symptom = symptom.clone();
                symptom.at = now;
                self.open(symptom, 1, rules, facts, out);
            }
        }
    }

    // ----- commands --------------------------------------------------------------------------

    pub fn acknowledge(
        &mut self,
        id: u64,
        by: &Who,
        now: DateTime<Utc>,
        out: &mut Changes,
    ) -> Result<Incident, IncidentError> {
        let incident = self.active.get(&id).ok_or(IncidentError::NotFound(id))?;
        if incident.acknowledged_at.is_some() {
            return Err(IncidentError::Conflict {
                id,
                status: "acknowledged already",
                action: "acknowledged again",
            });
        }
        let mut incident = self.take(id).expect("checked above");
        incident.acknowledged_at = Some(now);
        if incident.status == IncidentStatus::Open {
            incident.status = IncidentStatus::Acknowledged;
        }
        self.update_by(incident.clone(), "acknowledged", by, out);
        Ok(incident)
    }

    /// A person resolves an incident.
    pub fn resolve_by_hand(
        &mut self,
        id: u64,
        by: &Who,
        now: DateTime<Utc>,
        rules: &Rules,
        facts: &Facts,
        out: &mut Changes,
    ) -> Result<Incident, IncidentError> {
        let incident = self.take(id).ok_or(IncidentError::NotFound(id))?;
        Ok(self.resolve(
            incident,
            ResolvedBy::Manual,
            Some(by),
            now,
            rules,
            facts,
            out,
        ))
    }

    pub fn run_started(&mut self, id: u64, run_id: String, out: &mut Changes) {
        if let Some(mut incident) = self.take(id) {
            incident.status = IncidentStatus::Mitigating;
            incident.active_run_id = Some(run_id);
            self.update(incident, "playbook started", out);
        }
    }

    /// How many active incidents have each status, in the order of `IncidentStatus`.
    pub fn count_by_status(&self) -> Vec<(IncidentStatus, usize)> {
        let mut counts: Vec<(IncidentStatus, usize)> = Vec::new();
        for incident in self.active() {
            match counts
                .iter_mut()
                .find(|(status, _)| *status == incident.status)
            {
                Some((_, count)) => *count += 1,
                None => counts.push((incident.status, 1)),
            }
        }
        counts
    }

    /// Whether `run_id` is the run healing incident `id` (else its end changes nothing).
    /// Whether `run_id` is the run healing incident `id`: its recorded run, or a run whose
    /// start a crash kept from being recorded on an incident nothing else is handling.
    pub fn is_healing(&self, id: u64, run_id: &str) -> bool {
        self.active
            .get(&id)
            .is_some_and(|i| match i.active_run_id.as_deref() {
                Some(active) => active == run_id,
                None => {
                    i.work_order_id.is_none()
                        && matches!(
                            i.status,
                            IncidentStatus::Open | IncidentStatus::Acknowledged
                        )
                }
            })
    }

    /// A run healing incident `id` ended; `resolves` says whether its playbook resolves the
    /// incident when it succeeds.
    #[allow(clippy::too_many_arguments)]
    pub fn run_finished(
        &mut self,
        id: u64,
        run_id: &str,
        outcome: RunOutcome,
        resolves: bool,
        now: DateTime<Utc>,
        rules: &Rules,
        facts: &Facts,
        out: &mut Changes,
    ) {
        if !self.is_healing(id, run_id) {
            return; // resolved meanwhile, or another run's end
        }
        let mut incident = self.take(id).expect("checked above");
        match outcome {
            RunOutcome::Succeeded if !resolves => {
                // A triage playbook: its work is done, the incident stays for people.
                incident.active_run_id = None;
                incident.status = if incident.work_order_id.is_some() {
                    IncidentStatus::Escalated // overdue meanwhile: it stays with people
                } else if incident.acknowledged_at.is_some() {
                    IncidentStatus::Acknowledged
                } else {
                    IncidentStatus::Open
                };
                self.update(incident, "playbook done; left for people", out);
            }
            RunOutcome::Succeeded => {
                self.resolve(incident, ResolvedBy::Playbook, None, now, rules, facts, out);
            }
            RunOutcome::Failed { work_order_id } => {
                self.escalate_taken(incident, work_order_id, false, now, rules, facts, out);
            }
        }
    }

    /// Offers a playbook on an incident, once: a dismissal stands, even after a restart.
    pub fn suggest(&mut self, id: u64, suggestion: Suggestion, out: &mut Changes) {
        let Some(incident) = self.active.get_mut(&id) else {
            return;
        };
        let offered = incident
            .suggestions
            .iter()
            .any(|s| s.playbook_id == suggestion.playbook_id);
        if offered || incident.suggestions.len() >= SUGGESTIONS_MAX {
            return;
        }
        let mut suggestion = suggestion;
        suggestion.suggestion_id = format!("s{}", incident.suggestions.len() + 1);
        incident.suggestions.push(suggestion);
        let incident = incident.clone();
        out.announce(
            &incident,
            types::INCIDENT_UPDATED,
            json!({ "reason": "suggestion" }),
        );
    }

    /// Records a person's decision on a pending suggestion.
    pub fn decide(
        &mut self,
        id: u64,
        suggestion_id: &str,
        approve: bool,
        by: &Who,
        now: DateTime<Utc>,
        out: &mut Changes,
    ) -> Result<Suggestion, IncidentError> {
        let action = if approve { "approved" } else { "dismissed" };
        let incident = self
            .active
            .get_mut(&id)
            .ok_or(IncidentError::NotFound(id))?;
        let Some(suggestion) = incident
            .suggestions
            .iter_mut()
            .find(|s| s.suggestion_id == suggestion_id)
        else {
            return Err(IncidentError::NoSuchSuggestion {
                incident_id: id,
                suggestion_id: suggestion_id.to_owned(),
            });
        };
        if suggestion.status != SuggestionStatus::Pending {
            return Err(IncidentError::Conflict {
                id,
                status: "decided already on this suggestion",
                action,
            });
        }
        suggestion.status = match approve {
            true => SuggestionStatus::Approved,
            false => SuggestionStatus::Dismissed,
        };
        suggestion.decided_at = Some(now);
        let decided = suggestion.clone();
        let incident = incident.clone();
        let reason = format!("suggestion {action}");
        out.announce(
            &incident,
            types::INCIDENT_UPDATED,
            json!({ "reason": reason, "by": by }),
        );
        Ok(decided)
    }

    /// Escalates an active incident to a work order. `overdue`: an incident past its
    /// `escalate_after_ms`, which keeps the run healing it, if any.
    #[allow(clippy::too_many_arguments)]
    pub fn escalate(
        &mut self,
        id: u64,
        work_order_id: String,
        overdue: bool,
        now: DateTime<Utc>,
        rules: &Rules,
        facts: &Facts,
        out: &mut Changes,
    ) {
        let Some(incident) = self.active.get(&id) else {
            return;
        };
        if overdue && incident.work_order_id.is_some() {
            return; // a failed run escalated it while the overdue work order was on its way
        }
        let incident = self.take(id).expect("checked above");
        self.escalate_taken(incident, work_order_id, overdue, now, rules, facts, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn escalate_taken(
        &mut self,
        mut incident: Incident,
        work_order_id: String,
        keep_run: bool,
        now: DateTime<Utc>,
        rules: &Rules,
        facts: &Facts,
        out: &mut Changes,
    ) {
        let keep_run = keep_run && incident.active_run_id.is_some();
        if !keep_run {
            incident.status = IncidentStatus::Escalated;
            incident.active_run_id = None;
        }
        incident.work_order_id = Some(work_order_id.clone());
        out.announce(
            &incident,
            types::INCIDENT_ESCALATED,
            json!({ "work_order_id": work_order_id }),
        );
        if incident.recovery_seen && !keep_run {
            // The playbook failed, but the component came back meanwhile: the work order
            // stays on record, the incident itself is over.
            self.resolve(incident, ResolvedBy::Recovery, None, now, rules, facts, out);
        } else {
            self.insert(incident);
        }
    }

    /// Moves a component's trust by `delta` (its trust must be known) and returns the score.
    pub fn adjust_trust(&mut self, component: &str, delta: f64, out: &mut Changes) -> f64 {
        if !self.trust.contains_key(component) {
            self.learn_trust(component, None);
        }
        if self.unstored_trust.remove(component) {
            out.new_trust.insert(component_subject(component));
        }
        let trust = self.trust.get_mut(component).expect("learnt above");
        let before = trust.score;
        trust.adjust(delta);
        out.drafts.push(
            EventDraft::new(
                types::TRUST_CHANGED,
                json!({ "subject": trust.subject, "from": before, "to": trust.score }),
            )
            .source(component.to_owned()),
        );
        out.trust.insert(trust.subject.clone(), trust.clone());
        trust.score
    }

    /// The component's trust (fully trusted when unknown).
    pub fn trust_of(&self, component: &str) -> f64 {
        self.trust.get(component).map_or(1.0, |t| t.score)
    }

    /// Incidents past their component's `escalate_after_ms` that have no work order yet and
    /// are not silenced.
    pub fn overdue<'a>(
        &'a self,
        escalate_after_ms: &'a HashMap<String, u64>,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = &'a Incident> + 'a {
        self.active.values().filter(move |incident| {
            let Some(after_ms) = escalate_after_ms.get(&incident.source) else {
                return false;
            };
            let overdue =
                now - incident.detected_at >= chrono::Duration::milliseconds(*after_ms as i64);
            // A silenced incident is kept from people on purpose.
            overdue && !incident.silenced && incident.work_order_id.is_none()
        })
    }
}

/// The component an event is about.
fn source_of(event: &Event) -> String {
    event.source.clone().unwrap_or_else(|| "unknown".to_owned())
}

fn remember(incident: &mut Incident, seq: u64, events_max: usize) {
    if incident.event_seqs.len() < events_max {
        incident.event_seqs.push(seq);
    }
}

#[cfg(test)]
#[path = "incident_core_tests.rs"]
mod tests;

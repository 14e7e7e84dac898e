//! The run book: the playbook engine's memory — the runs in flight, the queue in front of the
//! sub-agent slots, the cooldown and breaker gate, the relapsing incidents waiting out their
//! backoff, playbook trust — and the rules by which an incident gets a playbook. Without I/O:
//! what it needs from outside (the config, an incident as stored, a playbook's stored trust) is
//! handed to it, and each decision writes what it changed into a [`Changes`], which the actor
//! commits once. Every rule has a unit test (`tests/`).
//!
//! A run's life (start, steps, end, supersede, restart) is in `runs.rs`, escalations (overdue,
//! relapsing, a held run) in `escalation.rs`.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};

use super::changes::{Changes, Effect};
use super::gate::{RunGate, RUN_HISTORY_PAIRS_MAX};
use super::records::{Run, Started};
use crate::model::TrustScore;
use crate::model::{Incident, IncidentStatus, RunError, RunId, Suggestion, SuggestionStatus};
use crate::spec::{OnAck, PlaybookSpec, TreeSpec, TriggerSource};

/// Playbook trust scores the book keeps; past it, it forgets them (reloaded on demand).
pub const TRUST_CACHE_MAX: usize = 1_024;

/// What waits for a free sub-agent slot.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// This incident (as it was queued: heal it if the store says it still needs it).
    Incident(Box<Incident>),
    /// The full queue turned incidents away: search the store for them.
    SearchStore,
    /// Nothing, or no free slot.
    Nothing,
}

/// The engine's memory, and every rule that changes it.
#[derive(Debug)]
pub struct RunBook {
    /// Runs in progress, by run id; at most `limits.agents_max`.
    pub runs: HashMap<RunId, Run>,
    /// Incidents waiting for a free sub-agent slot; at most `limits.agents_queue_max`.
    pub waiting: VecDeque<Incident>,
    /// Cooldowns and circuit breakers.
    pub gate: RunGate,
    /// An incident was turned away by a full queue since the store was last searched.
    pub overflowed: bool,
    /// Relapsing incidents waiting out their backoff; at most `limits.agents_queue_max` (past
    /// it, one waits in the store like a full queue's).
    pub backing_off: HashSet<u64>,
    /// Playbook trust learnt from the store, by playbook id (the engine is its one writer).
    pub trust: HashMap<String, TrustScore>,
}

impl Default for RunBook {
    fn default() -> Self {
        Self {
            runs: HashMap::new(),
            waiting: VecDeque::new(),
            gate: RunGate::new(RUN_HISTORY_PAIRS_MAX),
            overflowed: false,
            backing_off: HashSet::new(),
            trust: HashMap::new(),
        }
    }
}

/// The first playbook whose trigger matches: an event-type pattern, and the monitor selector
/// when it has one.
pub fn playbook_for<'a>(incident: &Incident, spec: &'a TreeSpec) -> Option<&'a PlaybookSpec> {
    let origin = TriggerSource::of(&incident.source, &incident.event_type, &spec.monitors);
    spec.playbooks
        .iter()
        .find(|playbook| playbook.mismatch(incident, origin).is_none())
}

impl RunBook {
    pub fn run(&self, run_id: &RunId) -> Option<&Run> {
        self.runs.get(run_id)
    }

    /// Forgets run `run_id` without a record: its decision was not committed (a resume found
    /// the run ended meanwhile), so the book holds no slot for it.
    pub fn forget(&mut self, run_id: &RunId) {
        self.runs.remove(run_id);
    }

    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether the book knows the trust of playbook `playbook_id` (else the actor loads it).
    pub fn knows_trust(&self, playbook_id: &str) -> bool {
        self.trust.contains_key(playbook_id)
    }

    /// Hands the book a playbook's stored trust (or none: a new playbook's).
    pub fn learn_trust(&mut self, playbook_id: &str, stored: Option<TrustScore>) {
        if self.trust.len() >= TRUST_CACHE_MAX {
            self.trust.clear();
        }
        let trust = stored.unwrap_or_else(|| TrustScore::playbook(playbook_id));
        self.trust.insert(playbook_id.to_owned(), trust);
    }

    /// The playbook's trust as learnt (a new playbook's when not).
    pub fn trust_of(&self, playbook_id: &str) -> TrustScore {
        let known = self.trust.get(playbook_id).cloned();
        known.unwrap_or_else(|| TrustScore::playbook(playbook_id))
    }

    /// The run on `incident_id` in progress or waiting for a sub-agent, if any.
    pub fn run_on(&self, incident_id: u64) -> Option<String> {
        self.runs
            .values()
            .find(|run| run.execution.incident_id == incident_id)
            .map(|run| run.execution.run_id.to_string())
            .or_else(|| {
                self.waiting
                    .iter()
                    .any(|waiting| waiting.id == incident_id)
                    .then(|| "waiting for a sub-agent".to_owned())
            })
    }

    /// A new incident (or one found again): run its playbook, unless a run is on it, it waits
    /// out a relapse's backoff, a person took it over, the gate holds the playbook, the
    /// playbook is not trusted enough to act alone (people are asked), or every slot is taken
    /// (it waits).
    pub fn trigger(
        &mut self,
        incident: Incident,
        spec: &TreeSpec,
        now: DateTime<Utc>,
        out: &mut Changes,
    ) {
        if self.run_on(incident.id).is_some() || self.backing_off.contains(&incident.id) {
            return; // at most one active run per incident
        }
        let Some(playbook) = playbook_for(&incident, spec).cloned() else {
            return;
        };
        if incident.acknowledged_at.is_some() && playbook.on_ack == OnAck::Stop {
            return; // a person took it over
        }
        // Past `relapses_max` the relapse backoff paces the runs, in place of the cooldown and
        // the breaker: a service that keeps falling over keeps being restarted.
        let paced = incident.relapses > spec.incidents.relapses_max;
        let hold = self.gate.hold(&playbook, &incident.source, now);
        if let Some(hold) = hold.filter(|_| !paced) {
            return self.act_on_hold(&playbook, &incident, hold, now, out);
        }
        let trust = self.trust_of(&playbook.id).score;
        if playbook.auto_run_min_trust > 0.0 && trust < playbook.auto_run_min_trust {
            // Trust-gated autonomy: not trusted enough to act alone, so ask a person.
            return suggest(&playbook, incident.id, trust, now, out);
        }
        if self.runs.len() >= spec.limits.agents_max {
            return self.wait_for_a_slot(incident, &playbook, spec, out);
        }
        self.start(playbook, incident, Started::Automatically, now, out);
    }

    /// A person's run: the same trigger, cooldown and breaker checks as an automatic run,
    /// unless forced. `incident` is `asked.incident_id` as stored.
    pub fn run_now(
        &mut self,
        asked: RunNow,
        incident: Option<Incident>,
        spec: &TreeSpec,
        now: DateTime<Utc>,
        out: &mut Changes,
    ) -> Result<RunId, RunError> {
        let RunNow {
            playbook_id,
            incident_id,
            started,
        } = asked;
        let playbook = spec.playbooks.iter().find(|p| p.id == playbook_id).cloned();
        let playbook = playbook.ok_or(RunError::NoSuchPlaybook(playbook_id))?;
        let incident = incident.ok_or(RunError::NoSuchIncident(incident_id))?;
        if !incident.status.is_active() {
            return Err(RunError::Resolved(incident_id));
        }
        if let Some(run) = self.run_on(incident_id) {
            return Err(RunError::Busy { incident_id, run });
        }
        if self.runs.len() >= spec.limits.agents_max {
            return Err(RunError::Full(spec.limits.agents_max));
        }
        if !matches!(started, Started::ByHand { forced: true, .. }) {
            let origin = TriggerSource::of(&incident.source, &incident.event_type, &spec.monitors);
            if let Some(why) = playbook.mismatch(&incident, origin) {
                return Err(RunError::NotTriggered(why));
            }
            if let Some(hold) = self.gate.hold(&playbook, &incident.source, now) {
                return Err(RunError::Held(hold.detail(&playbook, &incident.source)));
            }
        }
        let run_id = self.start(playbook, incident, started, now, out);
        // A person's run takes the place of the one waiting out a relapse's backoff.
        self.backing_off.remove(&incident_id);
        Ok(run_id)
    }

    /// Every sub-agent slot is taken: the incident waits in the bounded queue, or, when that is
    /// full too, in the store (it stays open with no run; once the queue has drained, the
    /// store is searched for such incidents again: [`Next::SearchStore`]).
    fn wait_for_a_slot(
        &mut self,
        incident: Incident,
        playbook: &PlaybookSpec,
        spec: &TreeSpec,
        out: &mut Changes,
    ) {
        if self.waiting.len() < spec.limits.agents_queue_max {
            self.waiting.push_back(incident);
            return;
        }
        self.overflowed = true;
        out.effects.push(Effect::Overflowed {
            incident_id: incident.id,
            playbook_id: playbook.id.clone(),
        });
    }

    /// A slot is free: what should have it — the oldest waiting incident, else the store's
    /// when the full queue turned some away.
    pub fn next_waiting(&mut self, spec: &TreeSpec) -> Next {
        if self.runs.len() >= spec.limits.agents_max {
            return Next::Nothing;
        }
        match self.waiting.pop_front() {
            Some(incident) => Next::Incident(Box::new(incident)),
            None if std::mem::take(&mut self.overflowed) => Next::SearchStore,
            None => Next::Nothing,
        }
    }

    /// Heals relapsing incident `incident_id` again once `delay_ms` has passed. Past the bound
    /// on waiting incidents it waits in the store, found again when the queue drains.
    pub fn heal_after(
        &mut self,
        incident_id: u64,
        delay_ms: u64,
        spec: &TreeSpec,
        out: &mut Changes,
    ) {
        if self.backing_off.len() >= spec.limits.agents_queue_max {
            self.overflowed = true;
            return;
        }
        if self.backing_off.insert(incident_id) {
            out.effects.push(Effect::HealAfter {
                incident_id,
                delay_ms,
            });
        }
    }

    /// A relapse's backoff has passed: whether the incident is still to be healed (no
    /// person's run took its place meanwhile). The actor then triggers it as stored.
    pub fn relapse_due(&mut self, incident_id: u64) -> bool {
        self.backing_off.remove(&incident_id)
    }
}

/// A person's request to run a playbook on an incident.
#[derive(Debug, Clone)]
pub struct RunNow {
    pub playbook_id: String,
    pub incident_id: u64,
    pub started: Started,
}

/// Offers `playbook` on the incident for a person to approve.
fn suggest(
    playbook: &PlaybookSpec,
    incident_id: u64,
    trust: f64,
    now: DateTime<Utc>,
    out: &mut Changes,
) {
    let suggestion = Suggestion {
        suggestion_id: String::new(), // numbered by the incident manager
        playbook_id: playbook.id.clone(),
        playbook_name: playbook.display_name().to_owned(),
        trust,
        auto_run_min_trust: playbook.auto_run_min_trust,
        status: SuggestionStatus::Pending,
        created_at: now,
        decided_at: None,
    };
    out.effects.push(Effect::Suggest {
        incident_id,
        suggestion: Box::new(suggestion),
    });
}

/// Whether an active incident was left with nothing healing it (its trigger lost in a restart,
/// or it waited for a sub-agent when Grace stopped), given whether it ever had a run: one that
/// had is not — a triage playbook left it for people on purpose, and the end of a run a crash
/// interrupted is on its way to it.
pub fn unattended(incident: &Incident, had_a_run: bool) -> bool {
    matches!(
        incident.status,
        IncidentStatus::Open | IncidentStatus::Acknowledged
    ) && incident.active_run_id.is_none()
        && incident.work_order_id.is_none()
        && !incident.silenced
        && !had_a_run
}

/// Whether a relapsing incident was left between runs (its backoff was in memory): no run now,
/// none since it relapsed (`newest_run_at`: when its newest run started), not silenced.
pub fn relapse_unattended(incident: &Incident, newest_run_at: Option<DateTime<Utc>>) -> bool {
    if incident.silenced || incident.active_run_id.is_some() {
        return false;
    }
    let round_began = incident.reopened_at.unwrap_or(incident.detected_at);
    newest_run_at.is_none_or(|at| at < round_began)
}

//! Relapses: an outage that comes back soon after it was healed is the same incident, reopened,
//! not a new one. Each round is on its timeline (`incident.reopened`), `relapses` counts them,
//! and past `incidents.relapses_max` the playbook engine is told (`Effect::Relapsing`): people
//! hear of it once and the playbook keeps healing with backoff, or, with `on_relapse =
//! "people"`, it is theirs alone (`playbooks/relapse.rs` decides).
//!
//! The book remembers the incidents healed lately (by a playbook or by themselves; a person's
//! resolve is final) in its [`RecentlyHealed`], at most [`RECENT_MAX`], and the actor reloads
//! them from the store with the active set, so a restart forgets none that are still in their
//! window.
//!
//! [`RecentlyHealed`]: super::recently_healed::RecentlyHealed
//! [`RECENT_MAX`]: super::recently_healed::RECENT_MAX

use chrono::{DateTime, Duration, Utc};

use super::active_set::IncidentKey;
use super::alert_facts::AlertFacts;
use super::book::{remember, IncidentBook};
use super::changes::{Changes, Effect, Facts, Rules, Why};
use crate::event::types;
use crate::model::{Incident, IncidentStatus, ResolvedBy, SuggestionStatus, Symptom};

impl IncidentBook {
    /// Remembers `incident`, just resolved, in case it relapses within `window_ms`.
    pub fn remember_healed(&mut self, incident: &Incident, window_ms: u64) {
        let healed = matches!(
            incident.resolved_by,
            Some(ResolvedBy::Playbook | ResolvedBy::Recovery)
        );
        if window_ms > 0 && healed {
            self.healed.remember(incident);
        }
    }

    /// Remembers the incidents resolved lately (any order) as of `now`: after a restart.
    pub fn remember_resolved(
        &mut self,
        mut resolved: Vec<Incident>,
        now: DateTime<Utc>,
        window_ms: u64,
    ) {
        resolved.sort_by_key(|incident| incident.resolved_at);
        let window = Duration::milliseconds(window_ms as i64);
        for incident in resolved {
            if incident.resolved_at.is_some_and(|at| now - at <= window) {
                self.remember_healed(&incident, window_ms);
            }
        }
    }

    /// The healed incident a failure of `key` at `at` is a relapse of, taken out of memory.
    pub fn relapse_of(
        &mut self,
        key: &IncidentKey,
        at: DateTime<Utc>,
        rules: &Rules,
    ) -> Option<Incident> {
        let resolved_at = self.healed.get(key)?.resolved_at?;
        let window = Duration::milliseconds(rules.reopen_window_ms as i64);
        // Out of its window it is forgotten too: a later failure is a new incident.
        let healed = self.healed.take(key);
        healed.filter(|_| at - resolved_at <= window)
    }

    /// Reopens `incident` for `problem`: healed again, or, past `relapses_max`, handed to the
    /// engine's relapse rules.
    #[allow(clippy::too_many_arguments)]
    pub fn reopen(
        &mut self,
        mut incident: Incident,
        problem: Symptom,
        count: u64,
        alert: Option<AlertFacts>,
        rules: &Rules,
        facts: &Facts,
        out: &mut Changes,
    ) {
        let healed_at = incident.resolved_at.unwrap_or(problem.at);
        incident.trust = self.adjust_trust(&incident.source, -rules.drop_on_incident, out);
        // Acknowledged in a round already past the limit, it stays acknowledged: the person
        // is on it, and with `on_ack = "stop"` automation stays off from one round to the next.
        let ack_carries = incident.relapses > rules.relapses_max;
        incident.relapses = incident.relapses.saturating_add(1);
        reset_for_a_new_round(&mut incident, ack_carries);
        incident.silenced = facts.silenced.contains(&incident.source);
        incident.reopened_at = Some(problem.at);
        incident.occurrences = incident.occurrences.saturating_add(count);
        remember(&mut incident, problem.seq, rules.events_max);
        if let Some(alert) = alert {
            alert.fire(&mut incident);
        }
        super::book::in_maintenance(&mut incident, facts);
        let gap_s = (problem.at - healed_at).num_seconds().max(0);
        let why = format!(
            "relapse {}: failing again {gap_s} s after it was healed",
            incident.relapses
        );
        out.announce(&incident, types::INCIDENT_REOPENED, Why::reason(&why));
        // Silenced or in maintenance: nothing is run, and nobody is paged either.
        let effect = match (incident.silenced, incident.relapses > rules.relapses_max) {
            (true, _) => None,
            (false, true) => Some(Effect::Relapsing(Box::new(incident.clone()))),
            (false, false) => Some(Effect::Trigger(Box::new(incident.clone()))),
        };
        out.effects.extend(effect);
        let id = incident.id;
        self.active.insert(incident);
        self.take_in_alerts(id, rules, out);
        self.fold_dependents(id, rules, facts, out);
    }
}

/// Clears what belonged to the round that ended: its resolution, run, work order, the
/// acknowledgement of it (unless `keep_ack`) and suggestions nobody decided (the new round
/// makes its own). History (timeline, symptoms, decided suggestions) stays.
fn reset_for_a_new_round(incident: &mut Incident, keep_ack: bool) {
    incident
        .suggestions
        .retain(|suggestion| suggestion.status != SuggestionStatus::Pending);
    if !keep_ack {
        incident.acknowledged_at = None;
    }
    incident.status = match incident.acknowledged_at {
        Some(_) => IncidentStatus::Acknowledged,
        None => IncidentStatus::Open,
    };
    incident.resolved_at = None;
    incident.resolution_time_seconds = None;
    incident.resolved_by = None;
    incident.active_run_id = None;
    incident.work_order_id = None;
    incident.recovery_seen = false;
    incident.awaiting_alert = false;
    // The alerts of the last round resolved (or were not heard to): this round waits for its own.
    incident.alerts_firing.clear();
}

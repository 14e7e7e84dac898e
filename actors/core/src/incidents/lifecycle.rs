//! The incident book's commands: what people (acknowledge, resolve, decide a suggestion) and
//! the playbook engine (a run started or finished, a suggestion, an escalation) change on an
//! active incident, and which incidents are overdue.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::book::IncidentBook;
use super::changes::{Changes, Facts, Refused, Rules, RunOutcome, Why, SUGGESTIONS_MAX};
use crate::event::types;
use crate::model::{Incident, IncidentStatus, ResolvedBy, Suggestion, SuggestionStatus, Who};
use crate::model::{RunId, WorkOrderId};

impl IncidentBook {
    pub fn acknowledge(
        &mut self,
        id: u64,
        by: &Who,
        now: DateTime<Utc>,
        out: &mut Changes,
    ) -> Result<Incident, Refused> {
        let incident = self.active.get(id).ok_or(Refused::NotFound(id))?;
        if incident.acknowledged_at.is_some() {
            return Err(Refused::Conflict {
                id,
                status: "acknowledged already",
                action: "acknowledged again",
            });
        }
        let mut incident = self.active.take(id).expect("checked above");
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
    ) -> Result<Incident, Refused> {
        let incident = self.active.take(id).ok_or(Refused::NotFound(id))?;
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

    pub fn run_started(&mut self, id: u64, run_id: RunId, out: &mut Changes) {
        if let Some(mut incident) = self.active.take(id) {
            incident.status = IncidentStatus::Mitigating;
            incident.active_run_id = Some(run_id);
            self.update(incident, "playbook started", out);
        }
    }

    /// Whether `run_id` is the run healing incident `id` (else its end changes nothing): its
    /// recorded run, or a run whose start a crash kept from being recorded on an incident
    /// nothing else is handling.
    pub fn is_healing(&self, id: u64, run_id: &RunId) -> bool {
        self.active.get(id).is_some_and(|i| match &i.active_run_id {
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
        run_id: &RunId,
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
        let mut incident = self.active.take(id).expect("checked above");
        match outcome {
            RunOutcome::Succeeded if !resolves => {
                // A triage playbook: its work is done, the incident stays for people.
                incident.active_run_id = None;
                incident.status = status_between_runs(&incident);
                self.update(incident, "playbook done; left for people", out);
            }
            RunOutcome::Succeeded if super::alert_facts::still_firing(&incident) => {
                // Its alert has the last word: the heal counts once the alert resolves.
                incident.active_run_id = None;
                incident.awaiting_alert = true;
                incident.status = status_between_runs(&incident);
                self.update(
                    incident,
                    "playbook done; waiting for its alert to resolve",
                    out,
                );
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
        let offer = |incident: &mut Incident| offer(incident, suggestion);
        if let Some(Some(incident)) = self.active.edit(id, offer) {
            let why = Why::reason("suggestion");
            out.announce(&incident, types::INCIDENT_UPDATED, why);
        }
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
    ) -> Result<Suggestion, Refused> {
        let action = if approve { "approved" } else { "dismissed" };
        let decide = |incident: &mut Incident| {
            let decided = decide_on(incident, suggestion_id, approve, action, now)?;
            Ok((decided, incident.clone()))
        };
        let (decided, incident) = self
            .active
            .edit(id, decide)
            .ok_or(Refused::NotFound(id))??;
        let reason = format!("suggestion {action}");
        out.announce(&incident, types::INCIDENT_UPDATED, Why::by(&reason, by));
        Ok(decided)
    }

    /// Escalates an active incident to a work order. `overdue`: an incident past its
    /// `escalate_after_ms`, which keeps the run healing it, if any.
    #[allow(clippy::too_many_arguments)]
    pub fn escalate(
        &mut self,
        id: u64,
        work_order_id: WorkOrderId,
        overdue: bool,
        now: DateTime<Utc>,
        rules: &Rules,
        facts: &Facts,
        out: &mut Changes,
    ) {
        let Some(incident) = self.active.get(id) else {
            return;
        };
        if overdue && incident.work_order_id.is_some() {
            return; // a failed run escalated it while the overdue work order was on its way
        }
        let incident = self.active.take(id).expect("checked above");
        self.escalate_taken(incident, work_order_id, overdue, now, rules, facts, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn escalate_taken(
        &mut self,
        mut incident: Incident,
        work_order_id: WorkOrderId,
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
            Why {
                work_order_id: Some(work_order_id),
                ..Why::default()
            },
        );
        if incident.recovery_seen && !keep_run {
            // The playbook failed, but the component came back meanwhile: the work order
            // stays on record, the incident itself is over.
            self.resolve(incident, ResolvedBy::Recovery, None, now, rules, facts, out);
        } else {
            self.active.insert(incident);
        }
    }

    /// Incidents past their component's `escalate_after_ms` that have no work order yet and
    /// are not silenced.
    pub fn overdue<'a>(
        &'a self,
        escalate_after_ms: &'a HashMap<String, u64>,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = &'a Incident> + 'a {
        self.active.iter().filter(move |incident| {
            let Some(after_ms) = escalate_after_ms.get(&incident.source) else {
                return false;
            };
            // A relapse is a new round: its time counts from when it came back.
            let since = incident.reopened_at.unwrap_or(incident.detected_at);
            let overdue = now - since >= chrono::Duration::milliseconds(*after_ms as i64);
            // A silenced incident is kept from people on purpose.
            overdue && !incident.silenced && incident.work_order_id.is_none()
        })
    }
}

/// The status of an active incident no run is healing: with people when it has a work order
/// (overdue or relapsing meanwhile), acknowledged when a person said so, else open.
fn status_between_runs(incident: &Incident) -> IncidentStatus {
    if incident.work_order_id.is_some() {
        IncidentStatus::Escalated
    } else if incident.acknowledged_at.is_some() {
        IncidentStatus::Acknowledged
    } else {
        IncidentStatus::Open
    }
}

/// Adds `suggestion` to `incident` unless its playbook was offered this round or the
/// suggestions are full; the incident as changed, if it was.
fn offer(incident: &mut Incident, mut suggestion: Suggestion) -> Option<Incident> {
    // Once per playbook per round: a relapse is a new round, and may be asked about again.
    let round_began = incident.reopened_at.unwrap_or(incident.detected_at);
    let offered = incident
        .suggestions
        .iter()
        .any(|s| s.playbook_id == suggestion.playbook_id && s.created_at >= round_began);
    if offered || incident.suggestions.len() >= SUGGESTIONS_MAX {
        return None;
    }
    // One more than the highest id so far: a relapse drops undecided suggestions, so the
    // count would repeat an id.
    let highest = incident
        .suggestions
        .iter()
        .filter_map(|s| s.suggestion_id.strip_prefix('s')?.parse::<u64>().ok())
        .max();
    suggestion.suggestion_id = format!("s{}", highest.unwrap_or(0) + 1);
    incident.suggestions.push(suggestion);
    Some(incident.clone())
}

/// Decides suggestion `suggestion_id` on `incident` (`action`: how the refusal words it).
fn decide_on(
    incident: &mut Incident,
    suggestion_id: &str,
    approve: bool,
    action: &'static str,
    now: DateTime<Utc>,
) -> Result<Suggestion, Refused> {
    let id = incident.id;
    let Some(suggestion) = incident
        .suggestions
        .iter_mut()
        .find(|s| s.suggestion_id == suggestion_id)
    else {
        return Err(Refused::NoSuchSuggestion {
            incident_id: id,
            suggestion_id: suggestion_id.to_owned(),
        });
    };
    if suggestion.status != SuggestionStatus::Pending {
        return Err(Refused::Conflict {
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
    Ok(suggestion.clone())
}

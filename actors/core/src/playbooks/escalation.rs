//! Escalations in the run book: what goes to people when automation cannot heal an incident —
//! it is overdue, its heals do not hold (relapsing), or a circuit breaker holds its playbook.
//! Each is a work order handed to the incident manager, which commits it (and, as the
//! work order is committed, one pending delivery per webhook: an outbox) with
//! `incident.escalated` in one transaction. Pure.

use chrono::{DateTime, Utc};

use super::book::{playbook_for, RunBook};
use super::changes::{Changes, Handover};
use super::gate::Hold;
use super::records::work_order;
use super::relapse::{self, RelapsePlan};
use crate::event::EventDraft;
use crate::model::{Incident, WorkOrder, WorkOrderReason};
use crate::payload::PlaybookHeld;
use crate::spec::{PlaybookSpec, TreeSpec};

impl RunBook {
    /// An incident has been active longer than its `escalate_after_ms`: a work order (naming
    /// the run healing it, if one is) goes to people, whatever automation is doing. `current`
    /// is the incident as stored: it may have been escalated or resolved since.
    pub fn overdue(&self, current: Option<Incident>, now: DateTime<Utc>, out: &mut Changes) {
        let Some(incident) = current.filter(|i| i.status.is_active() && i.work_order_id.is_none())
        else {
            return;
        };
        let run = self
            .runs
            .values()
            .map(|run| &run.execution)
            .find(|execution| execution.incident_id == incident.id);
        let since = incident.reopened_at.unwrap_or(incident.detected_at);
        let age_s = (now - since).num_seconds();
        let still = run.map_or_else(String::new, |run| {
            format!("; {} is still running", run.playbook_name)
        });
        let output = format!(
            "incident #{} ({}) on {} still active after {age_s} s{still}",
            incident.id, incident.title, incident.source,
        );
        let playbook_id = run.map_or("", |run| run.playbook_id.as_str());
        let order = WorkOrder {
            run_id: run.map(|run| run.run_id.clone()),
            ..work_order(
                incident.id,
                WorkOrderReason::Overdue,
                playbook_id,
                output,
                now,
            )
        };
        escalate(order, true, out);
    }

    /// An incident relapsed past `incidents.relapses_max`: as [`relapse::plan`] says, people
    /// get a work order (once, while the playbook keeps healing), and the next run waits its
    /// backoff. `current` is the incident as stored.
    pub fn relapsing(
        &mut self,
        incident: &Incident,
        current: Option<Incident>,
        spec: &TreeSpec,
        now: DateTime<Utc>,
        out: &mut Changes,
    ) {
        let Some(current) = current.filter(|i| i.status.is_active()) else {
            return;
        };
        let playbook = playbook_for(incident, spec);
        match relapse::plan(incident.relapses, &spec.incidents, playbook) {
            RelapsePlan::People => tell_relapsing(&current, None, spec, now, out),
            RelapsePlan::HealAfter { delay_ms, tell } => {
                if tell {
                    tell_relapsing(&current, Some(delay_ms), spec, now, out);
                }
                self.heal_after(incident.id, delay_ms, spec, out);
            }
        }
    }

    /// An automatic run that was held says so; an open circuit breaker also escalates the
    /// incident to a work order.
    pub fn act_on_hold(
        &mut self,
        playbook: &PlaybookSpec,
        incident: &Incident,
        hold: Hold,
        now: DateTime<Utc>,
        out: &mut Changes,
    ) {
        let detail = hold.detail(playbook, &incident.source);
        let held = PlaybookHeld {
            playbook_id: playbook.id.clone(),
            reason: hold.reason(),
            detail: detail.clone(),
        };
        let draft = EventDraft::of(&held)
            .source(incident.source.clone())
            .incident(incident.id);
        out.drafts.push(draft);
        if let Hold::BreakerOpen { .. } = hold {
            let reason = WorkOrderReason::CircuitBreaker;
            escalate(
                work_order(incident.id, reason, &playbook.id, detail, now),
                false,
                out,
            );
        }
    }
}

/// A work order saying an incident's heals do not hold, and whether Grace keeps healing it (the
/// first wait, `healing_in_ms`) or leaves it to people. `incident` is as stored.
fn tell_relapsing(
    incident: &Incident,
    healing_in_ms: Option<u64>,
    spec: &TreeSpec,
    now: DateTime<Utc>,
    out: &mut Changes,
) {
    if incident.work_order_id.is_some() {
        return; // told already this round
    }
    let next = match healing_in_ms {
        Some(ms) => format!(
            "; Grace keeps healing it, each run further apart (next in {ms} ms, then at most \
             every {} ms) until it holds or a person resolves it",
            spec.incidents.relapse_backoff_max_ms
        ),
        None => "; no playbook runs on it again until a person acts".to_owned(),
    };
    let output = format!(
        "incident #{} ({}) on {} came back {} times soon after it was healed: its heals do not \
         hold{next}",
        incident.id, incident.title, incident.source, incident.relapses,
    );
    let order = work_order(incident.id, WorkOrderReason::Relapsing, "", output, now);
    escalate(order, false, out);
}

/// Hands `order` to the incident manager to escalate its incident with, in one commit.
fn escalate(order: WorkOrder, overdue: bool, out: &mut Changes) {
    out.handover = Some(Handover::Escalate {
        incident_id: order.incident_id,
        overdue,
    });
    out.work_order = Some(order);
    out.point = Some("playbooks.escalate");
}

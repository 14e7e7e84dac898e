//! Work orders: what the engine hands to people when automation cannot heal an incident (a run
//! failed, a circuit breaker opened, or the incident is overdue), recorded with one pending
//! delivery per webhook in the same transaction (an outbox).

use super::actor::PlaybooksState;
use super::gate::Hold;
use super::relapse::{self, RelapsePlan};
use crate::event::EventDraft;
use crate::model::WorkOrderId;
use crate::model::{Incident, WorkOrder, WorkOrderReason, WorkOrderStatus};
use crate::payload::PlaybookHeld;
use crate::protocol::bus::publish;
use crate::protocol::incidents::IncidentsMsg;
use crate::protocol::notifier::NotifierMsg;
use crate::protocol::{Incidents, Notifier};
use crate::spec::PlaybookSpec;
use crate::store::{StoreError, Write};

/// A new open work order, naming no run and no step.
pub(super) fn work_order(
    incident_id: u64,
    reason: WorkOrderReason,
    playbook_id: &str,
    output: String,
) -> WorkOrder {
    WorkOrder {
        work_order_id: WorkOrderId::new(),
        incident_id,
        reason,
        run_id: None,
        playbook_id: playbook_id.to_owned(),
        failing_step: None,
        output,
        created_at: crate::time::now(),
        status: WorkOrderStatus::Open,
    }
}

impl PlaybooksState {
    /// Escalates an incident that has been active longer than its `escalate_after_ms`: a work
    /// order (naming the run healing it, if one is) goes to people and the webhooks.
    pub(super) async fn overdue(&mut self, incident: Incident) -> Result<(), StoreError> {
        // It may have been escalated or resolved since it was found overdue.
        let current = self.ctx.store.incident(incident.id).await?;
        if current.is_none_or(|i| !i.status.is_active() || i.work_order_id.is_some()) {
            return Ok(());
        }
        let run = self
            .runs
            .values()
            .map(|run| &run.execution)
            .find(|execution| execution.incident_id == incident.id);
        let since = incident.reopened_at.unwrap_or(incident.detected_at);
        let age_s = (crate::time::now() - since).num_seconds();
        let still = run.map_or_else(String::new, |run| {
            format!("; {} is still running", run.playbook_name)
        });
        let output = format!(
            "incident #{} ({}) on {} still active after {age_s} s{still}",
            incident.id, incident.title, incident.source,
        );
        let playbook_id = run.map_or("", |run| run.playbook_id.as_str());
        let work_order = WorkOrder {
            run_id: run.map(|run| run.run_id.clone()),
            ..work_order(incident.id, WorkOrderReason::Overdue, playbook_id, output)
        };
        self.commit(vec![], vec![], Some(&work_order)).await?;
        self.escalate(incident.id, work_order, true);
        Ok(())
    }

    /// An incident relapsed past `incidents.relapses_max`: as [`relapse::plan`] says, people
    /// get a work order (once, while the playbook keeps healing), and the next run waits its
    /// backoff.
    pub(super) async fn relapsing(&mut self, incident: Incident) -> Result<(), StoreError> {
        let Some(current) = self.ctx.store.incident(incident.id).await? else {
            return Ok(());
        };
        if !current.status.is_active() {
            return Ok(());
        }
        let playbook = self.playbook_for(&incident);
        let rules = self.ctx.spec().incidents.clone();
        match relapse::plan(incident.relapses, &rules, playbook.as_ref()) {
            RelapsePlan::People => self.tell_relapsing(&current, None).await,
            RelapsePlan::HealAfter { delay_ms, tell } => {
                if tell {
                    self.tell_relapsing(&current, Some(delay_ms)).await?;
                }
                self.heal_after(incident.id, delay_ms);
                Ok(())
            }
        }
    }

    /// A work order saying an incident's heals do not hold, and whether Grace keeps healing
    /// it (the first wait, `healing_in_ms`) or leaves it to people. `incident` is as stored.
    async fn tell_relapsing(
        &mut self,
        incident: &Incident,
        healing_in_ms: Option<u64>,
    ) -> Result<(), StoreError> {
        if incident.work_order_id.is_some() {
            return Ok(()); // told already this round
        }
        let rules = &self.ctx.spec().incidents;
        let next = match healing_in_ms {
            Some(ms) => format!(
                "; Grace keeps healing it, each run further apart (next in {ms} ms, then at \
                 most every {} ms) until it holds or a person resolves it",
                rules.relapse_backoff_max_ms
            ),
            None => "; no playbook runs on it again until a person acts".to_owned(),
        };
        let output = format!(
            "incident #{} ({}) on {} came back {} times soon after it was healed: its heals \
             do not hold{next}",
            incident.id, incident.title, incident.source, incident.relapses,
        );
        let work_order = work_order(incident.id, WorkOrderReason::Relapsing, "", output);
        self.commit(vec![], vec![], Some(&work_order)).await?;
        self.escalate(incident.id, work_order, false);
        Ok(())
    }

    /// An automatic run that was held: a cooldown leaves the incident for people; an open
    /// circuit breaker records a work order and escalates it.
    pub(super) async fn act_on_hold(
        &mut self,
        playbook: &PlaybookSpec,
        incident: &Incident,
        hold: Hold,
    ) -> Result<(), StoreError> {
        let detail = hold.detail(playbook, &incident.source);
        let held = PlaybookHeld {
            playbook_id: playbook.id.clone(),
            reason: hold.reason(),
            detail: detail.clone(),
        };
        let draft = EventDraft::of(&held)
            .source(incident.source.clone())
            .incident(incident.id);
        publish(&self.ctx.scope, draft);
        if let Hold::BreakerOpen { .. } = hold {
            let reason = WorkOrderReason::CircuitBreaker;
            let work_order = work_order(incident.id, reason, &playbook.id, detail);
            self.commit(vec![], vec![], Some(&work_order)).await?;
            self.escalate(incident.id, work_order, false);
        }
        Ok(())
    }

    /// Tells the incident manager that `work_order`, recorded, escalates the incident.
    fn escalate(&self, incident_id: u64, work_order: WorkOrder, overdue: bool) {
        let _ = self.ctx.scope.tell::<Incidents>(IncidentsMsg::Escalate {
            incident_id,
            work_order_id: work_order.work_order_id,
            overdue,
        });
    }

    /// Commits `drafts` and `writes` in one transaction, in order with what was published
    /// before; with `work_order`, also the work order and one pending delivery of it per
    /// webhook (an outbox), which the notifier is then told to send.
    pub(super) async fn commit(
        &self,
        drafts: Vec<EventDraft>,
        mut writes: Vec<Write>,
        work_order: Option<&WorkOrder>,
    ) -> Result<(), StoreError> {
        let mut deliveries = Vec::new();
        if let Some(work_order) = work_order {
            if let Some(incident) = self.ctx.store.incident(work_order.incident_id).await? {
                let webhooks = &self.ctx.spec().webhooks;
                deliveries = crate::delivery::for_work_order(webhooks, work_order, &incident);
            }
            writes.push(Write::WorkOrder(Box::new(work_order.clone())));
            writes.extend(
                deliveries
                    .iter()
                    .cloned()
                    .map(|d| Write::Delivery(Box::new(d))),
            );
        }
        crate::protocol::bus::commit_in_order(&self.ctx.scope, drafts, writes)
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        if deliveries.is_empty() {
            return Ok(());
        }
        if let Err(error) = self
            .ctx
            .scope
            .tell::<Notifier>(NotifierMsg::Send(deliveries))
        {
            // Pending in the store: the notifier sends them when it is back.
            tracing::warn!(%error, "deliveries wait in the store");
        }
        Ok(())
    }
}

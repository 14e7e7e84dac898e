//! Where a decision's one transaction lands: through the bus, or handed to the incident
//! manager with the incident change it needs. A manager away or slow does not fail the engine
//! (which would kill every sub-agent in flight): a run's end is handed over again a bounded
//! number of times — safe, since it is guarded on the run still `running` — then committed
//! through the bus alone, the manager told to reconcile it from the store; an escalation it
//! could not take is left to be decided again.

use std::time::Duration;

use super::actor::PlaybooksState;
use super::changes::Handover;
use crate::model::{RunId, RunOutcome, WorkOrderId};
use crate::protocol::incidents::{Handed, IncidentError, IncidentsMsg};
use crate::protocol::Incidents;
use crate::store::StoreError;

/// How many times a run's end is handed to the incident manager before it is committed
/// without it; and how long the engine waits between two tries (the manager restarts after
/// 250 ms at the soonest).
const HANDOVER_TRIES_MAX: u32 = 3;
const HANDOVER_PAUSE_MS: u64 = 500;

/// What became of a decision's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Landed {
    /// Committed through the bus by the engine, which has the notifier send its deliveries.
    ByBus,
    /// Committed by the incident manager with its change; it told the notifier.
    HandedOver,
    /// Not committed, rightly: the incident no longer needs the escalation, or the manager
    /// could not take it (it is decided again: an overdue incident is asked about again after
    /// `OVERDUE_RETRY_MS`, a held playbook at its next trigger).
    Declined,
    /// Not committed: a run it ends or resumes had ended meanwhile (`Write::Expect`).
    Stale,
}

impl PlaybooksState {
    /// Lands `handed` as `handover` says (`work_order_id`: an escalation's work order).
    pub(super) async fn land(
        &self,
        handed: Handed,
        handover: Option<Handover>,
        work_order_id: Option<WorkOrderId>,
    ) -> Result<Landed, StoreError> {
        match handover {
            None => self.by_bus(handed).await,
            Some(Handover::RunFinished {
                incident_id,
                run_id,
                outcome,
            }) => {
                self.hand_over_end(incident_id, run_id, outcome, handed)
                    .await
            }
            Some(Handover::Escalate {
                incident_id,
                overdue,
            }) => {
                let work_order_id = work_order_id.expect("an escalation has its work order");
                let escalation = (incident_id, work_order_id, overdue);
                Ok(self.hand_over_escalation(escalation, handed).await)
            }
        }
    }

    /// Commits through the bus, after everything published before.
    async fn by_bus(&self, handed: Handed) -> Result<Landed, StoreError> {
        let scope = &self.ctx.scope;
        match crate::protocol::bus::commit_in_order(scope, handed.drafts, handed.writes).await {
            Ok(_) => Ok(Landed::ByBus),
            Err(error) if error.is_stale() => Ok(Landed::Stale),
            Err(error) => Err(StoreError::Unavailable(error.to_string())),
        }
    }

    /// A run's end, committed by the incident manager with what it does to the incident; asked
    /// again while the manager is away or slow, then committed without it.
    async fn hand_over_end(
        &self,
        incident_id: u64,
        run_id: RunId,
        outcome: RunOutcome,
        handed: Handed,
    ) -> Result<Landed, StoreError> {
        let scope = &self.ctx.scope;
        for attempt in 1..=HANDOVER_TRIES_MAX {
            let ask = |reply| IncidentsMsg::RunFinished {
                incident_id,
                run_id: run_id.clone(),
                outcome: outcome.clone(),
                handed: handed.clone(),
                reply,
            };
            match scope.ask::<Incidents, _>(ask).await {
                Ok(Ok(())) => return Ok(Landed::HandedOver),
                Ok(Err(IncidentError::Store(error))) if error.is_stale() => {
                    return Ok(Landed::Stale)
                }
                Ok(Err(error)) => tracing::warn!(%error, %run_id, attempt, "run's end not taken"),
                Err(error) => tracing::warn!(%error, %run_id, attempt, "run's end not taken"),
            }
            if attempt < HANDOVER_TRIES_MAX {
                tokio::time::sleep(Duration::from_millis(HANDOVER_PAUSE_MS)).await;
            }
        }
        // The manager derives the incident's change from the stored run: at once when told,
        // or at its start (`reconcile_runs`).
        let landed = self.by_bus(handed).await?;
        if landed == Landed::ByBus {
            let _ = scope.tell::<Incidents>(IncidentsMsg::Reconcile);
        }
        Ok(landed)
    }

    /// An escalation, committed by the incident manager with the incident's change, or not at
    /// all. Asked again only while the manager is away: one that timed out may still be
    /// committed, and an escalation is not guarded. A circuit breaker's `playbook.held` is
    /// published whatever becomes of it.
    async fn hand_over_escalation(
        &self,
        (incident_id, work_order_id, overdue): (u64, WorkOrderId, bool),
        handed: Handed,
    ) -> Landed {
        let scope = &self.ctx.scope;
        for attempt in 1..=HANDOVER_TRIES_MAX {
            let ask = |reply| IncidentsMsg::Escalate {
                incident_id,
                work_order_id: work_order_id.clone(),
                overdue,
                handed: handed.clone(),
                reply,
            };
            let away = scope.find::<Incidents>().is_err();
            match scope.ask::<Incidents, _>(ask).await {
                Ok(Ok(true)) => return Landed::HandedOver,
                Ok(Ok(false)) => break,
                Ok(Err(error)) => tracing::warn!(%error, incident_id, "escalation not taken"),
                Err(error) => tracing::warn!(%error, incident_id, "escalation not taken"),
            }
            if !away {
                break;
            }
            if attempt < HANDOVER_TRIES_MAX {
                tokio::time::sleep(Duration::from_millis(HANDOVER_PAUSE_MS)).await;
            }
        }
        for draft in handed.drafts {
            crate::protocol::bus::publish(scope, draft);
        }
        Landed::Declined
    }
}

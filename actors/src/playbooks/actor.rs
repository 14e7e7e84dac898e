//! The playbook engine: picks the playbook for a new incident, spawns one supervised sub-agent
//! per run, records every step, and turns the outcome into trust, a resolution or a work order.
//!
//! The decisions are [`RunBook`]'s; this actor feeds it what it needs from the store and
//! commits each decision's changes once (`commit.rs`). It is the one decider of executions,
//! agents, work orders and playbook trust. Sub-agents are temporary children: one that crashes
//! is not restarted; its run fails and escalates.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use super::book::RunBook;
use super::records::Started;
use crate::context::Ctx;
use crate::protocol::playbooks::{PlaybooksMsg, RunReport};
use crate::protocol::roles;

pub struct PlaybooksActor;

pub struct PlaybooksState {
    pub(super) ctx: Arc<Ctx>,
    pub(super) myself: ActorRef<PlaybooksMsg>,
    pub(super) book: RunBook,
}

impl Actor for PlaybooksActor {
    type Msg = PlaybooksMsg;
    type State = PlaybooksState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(PlaybooksState {
            ctx,
            myself,
            book: RunBook::default(),
        })
    }

    /// Runs interrupted by a stop and incidents left unattended are taken up once the tree is
    /// up: starting never waits on them.
    async fn post_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.remember_recent_starts().await?;
        state.close_interrupted_runs().await?;
        state.heal_unattended().await?;
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PlaybooksMsg::Trigger(incident) => state.trigger(*incident).await?,
            PlaybooksMsg::RunNow {
                playbook_id,
                incident_id,
                by,
                force,
                reply,
            } => {
                let started = Started::ByHand { by, forced: force };
                let (answer, failed) = state.run_now(playbook_id, incident_id, started).await;
                let _ = reply.send(answer);
                if let Some(error) = failed {
                    return Err(format!("a person's run was not committed: {error}").into());
                }
            }
            PlaybooksMsg::StepUpdate {
                run_id,
                index,
                record,
                announced,
                reply,
            } => {
                state.step_update(&run_id, index, record, announced).await?;
                let _ = reply.send(());
            }
            PlaybooksMsg::Finished { run_id, report } => state.finish(&run_id, report).await?,
            PlaybooksMsg::Overdue(incident) => state.overdue(*incident).await?,
            PlaybooksMsg::Relapsing(incident) => state.relapsing(*incident).await?,
            PlaybooksMsg::RelapseDue { incident_id } => state.relapse_due(incident_id).await?,
            PlaybooksMsg::Supersede { incident_id, by } => state.supersede(incident_id, by).await?,
            PlaybooksMsg::ChangeWorkOrder {
                work_order_id,
                action,
                request,
                by,
                reply,
            } => {
                let changed = state
                    .change_work_order(&work_order_id, action, &request, by)
                    .await;
                let _ = reply.send(changed);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if state
            .ctx
            .stopping
            .load(std::sync::atomic::Ordering::Acquire)
        {
            // A clean stop ends sub-agents mid-step: their runs stay `running` for the
            // restart rules (`decide_resume`) to resume or end, as after any stop.
            return Ok(());
        }
        let (cell, why) = match event {
            SupervisionEvent::ActorFailed(cell, error) => {
                (cell, format!("sub-agent crashed: {error}"))
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => (
                cell,
                format!(
                    "sub-agent stopped before finishing{}",
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                ),
            ),
            _ => return Ok(()),
        };
        let Some(name) = cell.get_name() else {
            return Ok(());
        };
        let role = state.ctx.scope.role(&name).to_owned();
        let run_id = state
            .book
            .runs
            .iter()
            .find(|(_, run)| roles::agent(&run.agent.agent_id) == role)
            .map(|(run_id, _)| run_id.clone());
        if let Some(run_id) = run_id {
            state.finish(&run_id, RunReport::failed(why)).await?;
        }
        Ok(())
    }
}

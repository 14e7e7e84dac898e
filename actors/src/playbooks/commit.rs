//! The engine's one commit path: a decision's [`Changes`] become one transaction — committed
//! through the bus, or, when they change an incident too, handed to the incident manager, which
//! commits them with its change (`handover.rs`) — and then its effects are carried out.

use ractor::Actor;

use super::actor::PlaybooksState;
use super::changes::{Changes, Effect, Spawn};
use super::handover::Landed;
use super::sub_agent::{SubAgentActor, SubAgentArgs};
use crate::model::{AgentId, Delivery, Execution, ExecutionStatus, RunId, RunReport, WorkOrder};
use crate::protocol::incidents::{Handed, IncidentsMsg};
use crate::protocol::playbooks::PlaybooksMsg;
use crate::protocol::{roles, Incidents};
use crate::store::{StoreError, Write};

impl PlaybooksState {
    /// Commits one decision's changes in one transaction, in order with what was published
    /// before — with a work order, also one pending delivery of it per webhook (an outbox),
    /// which the notifier is then told to send — and carries out its effects. A decision whose
    /// run had ended meanwhile (`Stale`) lands nothing and is let go: the run is ended already.
    pub(super) async fn commit(&mut self, changes: Changes) -> Result<(), StoreError> {
        let empty = changes.is_empty();
        let Changes {
            runs,
            expect_running,
            agents,
            trust,
            work_order,
            drafts,
            handover,
            effects,
            point,
        } = changes;
        // A superseded run's sub-agent is killed first, so nothing it does follows its end;
        // a crash between leaves the run `running` on a resolved incident: closed at restart.
        let (kills, effects): (Vec<Effect>, Vec<Effect>) = effects
            .into_iter()
            .partition(|effect| matches!(effect, Effect::KillAgent(_)));
        for kill in kills {
            Box::pin(self.carry_out(kill)).await?;
        }
        let mut writes: Vec<Write> = expect_running.iter().map(Write::expect_running).collect();
        writes.extend(runs.into_iter().map(|r| Write::Execution(Box::new(r))));
        writes.extend(agents.into_iter().map(|a| Write::Agent(Box::new(a))));
        writes.extend(trust.map(Write::Trust));
        let deliveries = self.outbox(work_order.as_ref()).await?;
        let work_order_id = work_order.as_ref().map(|w| w.work_order_id.clone());
        writes.extend(work_order.map(|w| Write::WorkOrder(Box::new(w))));
        writes.extend(
            deliveries
                .iter()
                .cloned()
                .map(|d| Write::Delivery(Box::new(d))),
        );
        let point = point.unwrap_or("playbooks.commit");
        let mut landed = Landed::ByBus;
        if !empty {
            if crate::failpoints::refused(&format!("{point}.refused")) {
                return Err(StoreError::Unavailable(format!("{point}.refused")));
            }
            crate::failpoints::crash_point(&format!("{point}.before_commit"));
            let handed = Handed { drafts, writes };
            landed = self.land(handed, handover, work_order_id).await?;
            crate::failpoints::crash_point(&format!("{point}.after_commit"));
        }
        let effects = match landed {
            Landed::ByBus => {
                self.send(deliveries);
                effects
            }
            Landed::HandedOver | Landed::Declined => effects,
            Landed::Stale => self.let_go(&expect_running, effects),
        };
        for effect in effects {
            Box::pin(self.carry_out(effect)).await?;
        }
        let waiting = self.book.waiting_len();
        self.ctx.metrics.queue("playbook_runs", waiting);
        Ok(())
    }

    /// A decision on runs that had ended meanwhile (a hand-over that landed late, or taken up
    /// twice): nothing of it was written. The book forgets the runs it kept (a resume), and of
    /// its effects only those that free what the run held remain.
    fn let_go(&mut self, runs: &[RunId], effects: Vec<Effect>) -> Vec<Effect> {
        tracing::info!(?runs, "the run had ended already; nothing written");
        for run_id in runs {
            self.book.forget(run_id);
        }
        effects
            .into_iter()
            .filter(|effect| matches!(effect, Effect::StopAgent(_) | Effect::SlotFree))
            .collect()
    }

    /// One pending delivery of `work_order` per webhook.
    async fn outbox(&self, work_order: Option<&WorkOrder>) -> Result<Vec<Delivery>, StoreError> {
        let Some(work_order) = work_order else {
            return Ok(Vec::new());
        };
        let Some(incident) = self.ctx.store.incident(work_order.incident_id).await? else {
            return Ok(Vec::new());
        };
        let webhooks = &self.ctx.spec().webhooks;
        Ok(crate::delivery::for_work_order(
            webhooks, work_order, &incident,
        ))
    }

    fn send(&self, deliveries: Vec<Delivery>) {
        crate::protocol::notifier::send(&self.ctx.scope, deliveries);
    }

    async fn carry_out(&mut self, effect: Effect) -> Result<(), StoreError> {
        let scope = &self.ctx.scope;
        match effect {
            Effect::Spawn(spawn) => return self.spawn_agent(*spawn).await,
            Effect::StopAgent(agent_id) => self.stop_agent(&agent_id),
            Effect::KillAgent(agent_id) => self.kill_agent(&agent_id),
            Effect::RunStarted {
                incident_id,
                run_id,
            } => {
                let _ = scope.tell::<Incidents>(IncidentsMsg::RunStarted {
                    incident_id,
                    run_id,
                });
            }
            Effect::Suggest {
                incident_id,
                suggestion,
            } => {
                let suggestion = *suggestion;
                let suggest = IncidentsMsg::Suggest {
                    incident_id,
                    suggestion,
                };
                let _ = scope.tell::<Incidents>(suggest);
            }
            Effect::HealAfter {
                incident_id,
                delay_ms,
            } => {
                let delay = std::time::Duration::from_millis(delay_ms);
                let due = move || PlaybooksMsg::RelapseDue { incident_id };
                self.myself.send_after(delay, due);
            }
            Effect::CountRun(execution) => self.count_run(&execution),
            Effect::Overflowed {
                incident_id,
                playbook_id,
            } => tracing::warn!(
                incident_id,
                playbook = %playbook_id,
                "sub-agent queue full; the incident waits in the store"
            ),
            Effect::SlotFree => return self.start_waiting().await,
        }
        Ok(())
    }

    /// Spawns the sub-agent of a recorded run; one that cannot start ends its run.
    async fn spawn_agent(&mut self, spawn: Spawn) -> Result<(), StoreError> {
        let Spawn {
            run_id,
            agent_id,
            playbook,
            incident,
            first_step,
        } = spawn;
        let role = roles::agent(&agent_id);
        self.ctx.spawns.record(&role, "agent");
        let args = SubAgentArgs {
            ctx: self.ctx.clone(),
            run_id: run_id.clone(),
            playbook,
            incident,
            first_step,
        };
        let name = Some(self.ctx.scope.name(&role));
        let spawned = Actor::spawn_linked(name, SubAgentActor, args, self.myself.get_cell()).await;
        if let Err(error) = spawned {
            let why = format!("sub-agent could not start: {error}");
            self.finish(&run_id, RunReport::failed(why)).await?;
        }
        Ok(())
    }

    /// The agent's work is done: stop it (after its report, so its exit is not a crash).
    fn stop_agent(&self, agent_id: &AgentId) {
        let role = roles::agent(agent_id);
        if let Some(agent) = self.ctx.scope.agent(agent_id) {
            agent.stop(Some("run finished".to_owned()));
        }
        self.ctx.spawns.forget(&role);
    }

    /// Kills a run's sub-agent in the middle of whatever it is doing: its task is dropped, and
    /// the process group of a program it was running with it. The book has already forgotten
    /// the run, so the sub-agent's end is not mistaken for a crash.
    fn kill_agent(&self, agent_id: &AgentId) {
        let role = roles::agent(agent_id);
        if let Some(agent) = self.ctx.scope.agent(agent_id) {
            agent.kill();
        }
        self.ctx.spawns.forget(&role);
    }

    /// Counts an ended run for `GET /metrics`.
    fn count_run(&self, execution: &Execution) {
        use crate::metrics::{PlaybookLabel, RunLabels};
        let outcome = match execution.status {
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Interrupted => "interrupted",
            ExecutionStatus::Superseded => "superseded",
            _ => "failed",
        };
        let playbook = execution.playbook_id.clone();
        let metrics = &self.ctx.metrics;
        let run = RunLabels {
            playbook: playbook.clone(),
            outcome,
        };
        metrics.runs.get_or_create(&run).inc();
        let seconds = execution.duration_seconds.unwrap_or(0.0);
        metrics
            .run_seconds
            .get_or_create(&PlaybookLabel { playbook })
            .observe(seconds);
    }
}

//! The playbook engine: picks the playbook for a new incident, spawns one supervised sub-agent
//! per run, records every step, and turns the outcome into trust, a resolution or a work order.
//!
//! It is the one writer of executions, agents, work orders and playbook trust. Sub-agents are
//! temporary children: one that crashes is not restarted; its run fails and escalates.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use super::gate::{RunGate, RUN_HISTORY_PAIRS_MAX};
use crate::context::Ctx;
use crate::model::RunId;
use crate::model::{Agent, Execution, Incident, Suggestion, SuggestionStatus, Who};
use crate::protocol::incidents::IncidentsMsg;
use crate::protocol::playbooks::{PlaybooksMsg, RunError, RunReport};
use crate::protocol::{roles, Incidents};
use crate::spec::{OnAck, PlaybookSpec, TriggerSource};
use crate::store::StoreError;

pub struct PlaybooksActor;

/// A run in progress: its record and its sub-agent's.
pub(super) struct Run {
    pub(super) execution: Execution,
    pub(super) agent: Agent,
}

pub struct PlaybooksState {
    pub(super) ctx: Arc<Ctx>,
    pub(super) myself: ActorRef<PlaybooksMsg>,
    /// Runs in progress, by run id; at most `limits.agents_max`.
    pub(super) runs: HashMap<RunId, Run>,
    /// Incidents waiting for a free sub-agent slot; at most `limits.agents_queue_max`.
    pub(super) waiting: VecDeque<Incident>,
    /// Cooldowns and circuit breakers.
    pub(super) gate: RunGate,
    /// An incident was turned away by a full `waiting` queue since the store was last searched.
    pub(super) overflowed: bool,
    /// Relapsing incidents waiting out their backoff before the next run; at most
    /// `limits.agents_queue_max` (past it, one waits in the store like a full queue's).
    pub(super) backing_off: HashSet<u64>,
}

/// Who started a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Started {
    /// An incident's trigger matched.
    Automatically,
    /// A person: `POST /playbooks/{id}/run`, or approving a suggestion. `forced`: an admin
    /// ran it past its trigger, cooldown and circuit breaker.
    ByHand { by: Who, forced: bool },
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
            runs: HashMap::new(),
            waiting: VecDeque::new(),
            gate: RunGate::new(RUN_HISTORY_PAIRS_MAX),
            overflowed: false,
            backing_off: HashSet::new(),
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
                let result = state.run_now(&playbook_id, incident_id, started).await;
                let _ = reply.send(result);
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
            .runs
            .iter()
            .find(|(_, run)| roles::agent(&run.agent.agent_id) == role)
            .map(|(run_id, _)| run_id.clone());
        if let Some(run_id) = run_id {
            let report = RunReport {
                interrupted: false,
                succeeded: false,
                failing_step: None,
                output: why,
            };
            state.finish(&run_id, report).await?;
        }
        Ok(())
    }
}

impl PlaybooksState {
    /// The first playbook whose trigger matches: an event-type pattern, and the monitor
    /// selector when it has one.
    pub(super) fn playbook_for(&self, incident: &Incident) -> Option<PlaybookSpec> {
        let spec = self.ctx.spec();
        let origin = TriggerSource::of(&incident.source, &incident.event_type, &spec.monitors);
        spec.playbooks
            .iter()
            .find(|playbook| playbook.mismatch(incident, origin).is_none())
            .cloned()
    }

    /// The run on `incident_id` in progress or waiting for a sub-agent, if any.
    fn run_on(&self, incident_id: u64) -> Option<String> {
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

    /// A person's run: the same trigger, cooldown and breaker checks as an automatic run,
    /// unless forced.
    async fn run_now(
        &mut self,
        playbook_id: &str,
        incident_id: u64,
        started: Started,
    ) -> Result<RunId, RunError> {
        let playbook = self
            .ctx
            .spec()
            .playbooks
            .iter()
            .find(|p| p.id == playbook_id)
            .cloned()
            .ok_or_else(|| RunError::NoSuchPlaybook(playbook_id.to_owned()))?;
        let incident = self
            .ctx
            .store
            .incident(incident_id)
            .await
            .map_err(|error| RunError::Store(error.to_string()))?
            .ok_or(RunError::NoSuchIncident(incident_id))?;
        if !incident.status.is_active() {
            return Err(RunError::Resolved(incident_id));
        }
        if let Some(run) = self.run_on(incident_id) {
            return Err(RunError::Busy { incident_id, run });
        }
        let agents_max = self.ctx.spec().limits.agents_max;
        if self.runs.len() >= agents_max {
            return Err(RunError::Full(agents_max));
        }
        if !matches!(started, Started::ByHand { forced: true, .. }) {
            let origin = TriggerSource::of(
                &incident.source,
                &incident.event_type,
                &self.ctx.spec().monitors,
            );
            if let Some(why) = playbook.mismatch(&incident, origin) {
                return Err(RunError::NotTriggered(why));
            }
            let now = crate::time::now();
            if let Some(hold) = self.gate.hold(&playbook, &incident.source, now) {
                return Err(RunError::Held(hold.detail(&playbook, &incident.source)));
            }
        }
        let run_id = self
            .start(playbook, incident, started)
            .await
            .map_err(|error| RunError::Store(error.to_string()))?;
        // A person's run takes the place of the one waiting out a relapse's backoff.
        self.backing_off.remove(&incident_id);
        Ok(run_id)
    }

    pub(super) async fn trigger(&mut self, incident: Incident) -> Result<(), StoreError> {
        if self.run_on(incident.id).is_some() || self.backing_off.contains(&incident.id) {
            return Ok(()); // at most one active run per incident
        }
        let Some(playbook) = self.playbook_for(&incident) else {
            return Ok(());
        };
        if incident.acknowledged_at.is_some() && playbook.on_ack == OnAck::Stop {
            return Ok(()); // a person took it over
        }
        // Past `relapses_max` the relapse backoff paces the runs, in place of the cooldown and
        // the breaker: a service that keeps falling over keeps being restarted.
        let paced = incident.relapses > self.ctx.spec().incidents.relapses_max;
        let hold = self
            .gate
            .hold(&playbook, &incident.source, crate::time::now());
        if let Some(hold) = hold.filter(|_| !paced) {
            return self.act_on_hold(&playbook, &incident, hold).await;
        }
        if playbook.auto_run_min_trust > 0.0 {
            // Trust-gated autonomy: not trusted enough to act alone, so ask a person.
            let trust = self.playbook_trust(&playbook.id).await?.score;
            if trust < playbook.auto_run_min_trust {
                self.suggest(&playbook, incident.id, trust);
                return Ok(());
            }
        }
        if self.runs.len() >= self.ctx.spec().limits.agents_max {
            self.wait_for_a_slot(incident, &playbook);
            return Ok(());
        }
        self.start(playbook, incident, Started::Automatically)
            .await
            .map(|_| ())
    }

    /// Offers `playbook` on the incident for a person to approve.
    fn suggest(&self, playbook: &PlaybookSpec, incident_id: u64, trust: f64) {
        let suggestion = Suggestion {
            suggestion_id: String::new(), // numbered by the incident manager
            playbook_id: playbook.id.clone(),
            playbook_name: playbook.display_name().to_owned(),
            trust,
            auto_run_min_trust: playbook.auto_run_min_trust,
            status: SuggestionStatus::Pending,
            created_at: crate::time::now(),
            decided_at: None,
        };
        let suggest = IncidentsMsg::Suggest {
            incident_id,
            suggestion,
        };
        let _ = self.ctx.scope.tell::<Incidents>(suggest);
    }

    /// Every sub-agent slot is taken: the incident waits in the bounded queue, or, when that is
    /// full too, in the store (it stays open with no run; once the queue has drained, the
    /// store is searched for such incidents again in `start_waiting`).
    fn wait_for_a_slot(&mut self, incident: Incident, playbook: &PlaybookSpec) {
        if self.waiting.len() < self.ctx.spec().limits.agents_queue_max {
            self.waiting.push_back(incident);
        } else {
            tracing::warn!(
                incident_id = incident.id,
                playbook = %playbook.id,
                "sub-agent queue full; the incident waits in the store"
            );
            self.overflowed = true;
        }
        self.ctx.metrics.queue("playbook_runs", self.waiting.len());
    }

    /// A slot is free: start the oldest waiting incident that still needs healing.
    pub(super) async fn start_waiting(&mut self) -> Result<(), StoreError> {
        while self.runs.len() < self.ctx.spec().limits.agents_max {
            let Some(incident) = self.waiting.pop_front() else {
                if std::mem::take(&mut self.overflowed) {
                    // Incidents the full queue turned away: find them in the store.
                    return Box::pin(self.heal_unattended()).await;
                }
                break;
            };
            self.ctx.metrics.queue("playbook_runs", self.waiting.len());
            if let Some(current) = self.ctx.store.incident(incident.id).await? {
                if current.status.is_active() && current.active_run_id.is_none() {
                    Box::pin(self.trigger(current)).await?;
                }
            }
        }
        Ok(())
    }
}

impl PlaybooksState {
    /// Heals relapsing incident `incident_id` again once `delay_ms` has passed. Past the bound
    /// on waiting incidents it waits in the store, found again when the queue drains.
    pub(super) fn heal_after(&mut self, incident_id: u64, delay_ms: u64) {
        if self.backing_off.len() >= self.ctx.spec().limits.agents_queue_max {
            self.overflowed = true;
            return;
        }
        if self.backing_off.insert(incident_id) {
            let delay = std::time::Duration::from_millis(delay_ms);
            self.myself
                .send_after(delay, move || PlaybooksMsg::RelapseDue { incident_id });
        }
    }

    /// A relapse's backoff has passed: heal the incident if it still needs it (not resolved, no
    /// run meanwhile, no person's run having taken its place).
    pub(super) async fn relapse_due(&mut self, incident_id: u64) -> Result<(), StoreError> {
        if !self.backing_off.remove(&incident_id) {
            return Ok(());
        }
        match self.ctx.store.incident(incident_id).await? {
            Some(current) if current.status.is_active() && current.active_run_id.is_none() => {
                self.trigger(current).await
            }
            _ => Ok(()),
        }
    }
}

//! The playbook engine: picks the playbook for a new incident, spawns one supervised sub-agent
//! per run, records every step, and turns the outcome into trust, a resolution or a work order.
//!
//! It is the one writer of executions, agents, work orders and playbook trust. Sub-agents are
//! temporary children: one that crashes is not restarted; its run fails and escalates.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use serde_json::json;
use uuid::Uuid;

use crate::context::Ctx;
use crate::event::{types, EventDraft};
use crate::model::{
    playbook_subject, Agent, AgentStatus, Execution, ExecutionStatus, Incident, IncidentStatus,
    StepRecord, StepStatus, Suggestion, SuggestionStatus, TrustScore, Who, WorkOrder,
    WorkOrderReason,
};
use crate::protocol::bus::publish;
use crate::protocol::incidents::{IncidentsMsg, RunOutcome};
use crate::protocol::notifier::NotifierMsg;
use crate::protocol::playbooks::{PlaybooksMsg, RunError, RunReport};
use crate::protocol::{roles, Incidents, Notifier};
use crate::spec::{OnInterrupt, PlaybookSpec, TriggerSource};
use crate::store::{StoreError, Write};
use crate::sub_agent_actor::{SubAgentActor, SubAgentArgs};

pub struct PlaybooksActor;

struct Run {
    execution: Execution,
    agent: Agent,
}

pub struct PlaybooksState {
    ctx: Arc<Ctx>,
    myself: ActorRef<PlaybooksMsg>,
    /// Runs in progress, by run id; at most `limits.agents_max`.
    runs: HashMap<String, Run>,
    /// Incidents waiting for a free sub-agent slot; at most `limits.agents_queue_max`.
    waiting: VecDeque<Incident>,
    /// When each playbook last started on each component, newest last, for cooldowns and
    /// circuit breakers: at most `breaker_runs_max` times per pair, at most
    /// RUN_HISTORY_PAIRS_MAX pairs. Kept in memory: a restart of Grace closes every breaker.
    started: HashMap<(String, String), VecDeque<DateTime<Utc>>>,
    /// An incident was turned away by a full `waiting` queue since the store was last searched.
    overflowed: bool,
}

/// Most (playbook, component) pairs whose run times are remembered. Components come from
/// monitors and from pushed events, so this bounds what a flood of new sources can cost; past
/// it, the oldest memories are dropped.
const RUN_HISTORY_PAIRS_MAX: usize = 10_000;

/// Who started a run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Started {
    /// An incident's trigger matched.
    Automatically,
    /// A person: `POST /playbooks/{id}/run`, or approving a suggestion. `forced`: an admin
    /// ran it past its trigger, cooldown and circuit breaker.
    ByHand { by: Who, forced: bool },
}

/// Why an automatic run did not start.
enum Hold {
    Cooldown { left_ms: i64 },
    BreakerOpen { runs: usize },
}

/// Why a hold keeps `playbook` from running on `source`, in words.
fn hold_detail(playbook: &PlaybookSpec, source: &str, hold: &Hold) -> String {
    let name = playbook.display_name();
    match hold {
        Hold::Cooldown { left_ms } => format!(
            "{name} ran on {source} less than {} ms ago; next run possible in {left_ms} ms",
            playbook.cooldown_ms
        ),
        Hold::BreakerOpen { runs } => format!(
            "circuit breaker open: {name} ran {runs} times on {source} within {} ms; \
             automation stopped there until the window passes",
            playbook.breaker_window_ms
        ),
    }
}

/// The data of `playbook.started`: the run, its steps, and who started it when a person did.
fn started_data(
    run_id: &str,
    playbook: &PlaybookSpec,
    execution: &Execution,
    started: &Started,
) -> serde_json::Value {
    let mut data = json!({
        "run_id": run_id,
        "playbook_id": playbook.id,
        "playbook_name": playbook.display_name(),
        "steps": execution.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
    });
    if let Started::ByHand { by, forced } = started {
        data["by"] = json!(by);
        data["forced"] = json!(forced);
    }
    data
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
            started: HashMap::new(),
            overflowed: false,
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
            PlaybooksMsg::Trigger(incident) => state.trigger(incident).await?,
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
            } => state.step_update(&run_id, index, record).await?,
            PlaybooksMsg::Finished { run_id, report } => state.finish(&run_id, report).await?,
            PlaybooksMsg::Overdue(incident) => state.overdue(*incident).await?,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
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
    fn playbook_for(&self, incident: &Incident) -> Option<PlaybookSpec> {
        let spec = self.ctx.spec();
        let origin = TriggerSource::of(&incident.source, &spec.monitors);
        spec.playbooks
            .iter()
            .find(|playbook| {
                playbook
                    .mismatch(&incident.event_type, &incident.source, origin)
                    .is_none()
            })
            .cloned()
    }

    /// Escalates an incident that has been active longer than its `escalate_after_ms`: a work
    /// order (naming the run healing it, if one is) goes to people and the webhooks.
    async fn overdue(&mut self, incident: Incident) -> Result<(), StoreError> {
        // It may have been escalated or resolved since it was found overdue.
        let current = self.ctx.store.incident(incident.id).await?;
        if current.is_none_or(|i| !i.status.is_active() || i.work_order_id.is_some()) {
            return Ok(());
        }
        let run = self
            .runs
            .values()
            .find(|run| run.execution.incident_id == incident.id);
        let age_s = (crate::time::now() - incident.detected_at).num_seconds();
        let work_order = WorkOrder {
            work_order_id: format!("WO-{}", short_id()),
            incident_id: incident.id,
            reason: WorkOrderReason::Overdue,
            run_id: run.map(|run| run.execution.run_id.clone()),
            playbook_id: run.map_or_else(String::new, |run| run.execution.playbook_id.clone()),
            failing_step: None,
            output: format!(
                "incident #{} ({}) on {} still active after {age_s} s{}",
                incident.id,
                incident.title,
                incident.source,
                run.map_or_else(String::new, |run| format!(
                    "; {} is still running",
                    run.execution.playbook_name
                ))
            ),
            created_at: crate::time::now(),
            status: "open".to_owned(),
        };
        self.commit(vec![], vec![], Some(&work_order)).await?;
        let _ = self.ctx.scope.tell::<Incidents>(IncidentsMsg::Escalate {
            incident_id: incident.id,
            work_order_id: work_order.work_order_id,
            overdue: true,
        });
        Ok(())
    }

    /// The run on `incident_id` in progress or waiting for a sub-agent, if any.
    fn run_on(&self, incident_id: u64) -> Option<String> {
        self.runs
            .values()
            .find(|run| run.execution.incident_id == incident_id)
            .map(|run| run.execution.run_id.clone())
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
    ) -> Result<String, RunError> {
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
            let origin = TriggerSource::of(&incident.source, &self.ctx.spec().monitors);
            if let Some(why) = playbook.mismatch(&incident.event_type, &incident.source, origin) {
                return Err(RunError::NotTriggered(why));
            }
            if let Some(hold) = self.hold(&playbook, &incident.source) {
                return Err(RunError::Held(hold_detail(
                    &playbook,
                    &incident.source,
                    &hold,
                )));
            }
        }
        self.start(playbook, incident, started)
            .await
            .map_err(|error| RunError::Store(error.to_string()))
    }

    async fn trigger(&mut self, incident: Incident) -> Result<(), StoreError> {
        if self.run_on(incident.id).is_some() {
            return Ok(()); // at most one active run per incident
        }
        let Some(playbook) = self.playbook_for(&incident) else {
            return Ok(());
        };
        if let Some(hold) = self.hold(&playbook, &incident.source) {
            return self.held(&playbook, &incident, hold).await;
        }
        if playbook.auto_run_min_trust > 0.0 {
            // Trust-gated autonomy: not trusted enough to act alone, so ask a person.
            let trust = self.playbook_trust(&playbook.id).await?;
            if trust.score < playbook.auto_run_min_trust {
                if let Ok(incidents) = self.ctx.scope.find::<Incidents>() {
                    let suggestion = Suggestion {
                        suggestion_id: String::new(), // numbered by the incident manager
                        playbook_id: playbook.id.clone(),
                        playbook_name: playbook.display_name().to_owned(),
                        trust: trust.score,
                        auto_run_min_trust: playbook.auto_run_min_trust,
                        status: SuggestionStatus::Pending,
                        created_at: crate::time::now(),
                        decided_at: None,
                    };
                    let _ = incidents.cast(IncidentsMsg::Suggest {
                        incident_id: incident.id,
                        suggestion,
                    });
                }
                return Ok(());
            }
        }
        let limits = &self.ctx.spec().limits;
        if self.runs.len() >= limits.agents_max {
            if self.waiting.len() < limits.agents_queue_max {
                self.waiting.push_back(incident);
            } else {
                // It stays open with no run in the store; once the queue has drained, the
                // store is searched for such incidents again (`start_waiting`).
                tracing::warn!(
                    incident_id = incident.id,
                    playbook = %playbook.id,
                    "sub-agent queue full; the incident waits in the store"
                );
                self.overflowed = true;
            }
            self.ctx.metrics.queue("playbook_runs", self.waiting.len());
            return Ok(());
        }
        self.start(playbook, incident, Started::Automatically)
            .await
            .map(|_| ())
    }

    /// Whether the cooldown or the circuit breaker keeps `playbook` from running by itself on
    /// `source` now.
    fn hold(&mut self, playbook: &PlaybookSpec, source: &str) -> Option<Hold> {
        let now = crate::time::now();
        let key = (playbook.id.clone(), source.to_owned());
        let started = self.started.get_mut(&key)?;
        let window = chrono::Duration::milliseconds(playbook.breaker_window_ms as i64);
        // The cooldown may be longer than the breaker's window: take the last start first.
        let last = started.back().copied();
        started.retain(|at| now - *at < window);
        if started.len() >= playbook.breaker_runs_max as usize {
            return Some(Hold::BreakerOpen {
                runs: started.len(),
            });
        }
        let cooldown = chrono::Duration::milliseconds(playbook.cooldown_ms as i64);
        let left = last.map(|last| (last + cooldown - now).num_milliseconds())?;
        (left > 0).then_some(Hold::Cooldown { left_ms: left })
    }

    /// Rebuilds the cooldown and circuit-breaker memory from the runs started within the
    /// longest window any playbook looks back, so a restart opens no breaker and ends no
    /// cooldown.
    async fn remember_recent_starts(&mut self) -> Result<(), StoreError> {
        let spec = self.ctx.spec();
        let Some(window_ms) = spec
            .playbooks
            .iter()
            .map(|p| p.breaker_window_ms.max(p.cooldown_ms))
            .max()
        else {
            return Ok(());
        };
        let since = crate::time::now() - chrono::Duration::milliseconds(window_ms as i64);
        let starts = self
            .ctx
            .store
            .starts_since(since, RUN_HISTORY_PAIRS_MAX)
            .await?;
        for (playbook_id, source, started_at) in starts {
            let Some(playbook) = spec.playbooks.iter().find(|p| p.id == playbook_id) else {
                continue; // no longer configured
            };
            self.remember_start_at(playbook, &source, started_at);
        }
        Ok(())
    }

    /// Remembers that `playbook` started on `source` (bounded; see `started`).
    fn remember_start(&mut self, playbook: &PlaybookSpec, source: &str) {
        self.remember_start_at(playbook, source, crate::time::now());
    }

    fn remember_start_at(&mut self, playbook: &PlaybookSpec, source: &str, at: DateTime<Utc>) {
        if self.started.len() >= RUN_HISTORY_PAIRS_MAX {
            let now = crate::time::now();
            self.started.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now - *last < chrono::Duration::hours(1))
            });
            // Still full of recent pairs (a flood of pushed sources): forget the pair started
            // longest ago, never all of them, so a real component's breaker stays as it is.
            let oldest = self
                .started
                .iter()
                .min_by_key(|(_, times)| times.back().copied())
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest.filter(|_| self.started.len() >= RUN_HISTORY_PAIRS_MAX) {
                self.started.remove(&oldest);
            }
        }
        let times = self
            .started
            .entry((playbook.id.clone(), source.to_owned()))
            .or_default();
        times.push_back(at);
        while times.len() > playbook.breaker_runs_max as usize {
            times.pop_front();
        }
    }

    /// An automatic run that was held: a cooldown leaves the incident for people; an open
    /// circuit breaker records a work order and escalates it.
    async fn held(
        &mut self,
        playbook: &PlaybookSpec,
        incident: &Incident,
        hold: Hold,
    ) -> Result<(), StoreError> {
        let reason = match hold {
            Hold::Cooldown { .. } => "cooldown",
            Hold::BreakerOpen { .. } => "circuit_breaker",
        };
        let detail = hold_detail(playbook, &incident.source, &hold);
        publish(
            &self.ctx.scope,
            EventDraft::new(
                types::PLAYBOOK_HELD,
                json!({ "playbook_id": playbook.id, "reason": reason, "detail": detail }),
            )
            .source(incident.source.clone())
            .incident(incident.id),
        );
        if reason == "circuit_breaker" {
            let work_order = WorkOrder {
                work_order_id: format!("WO-{}", short_id()),
                incident_id: incident.id,
                reason: WorkOrderReason::CircuitBreaker,
                run_id: None,
                playbook_id: playbook.id.clone(),
                failing_step: None,
                output: detail,
                created_at: crate::time::now(),
                status: "open".to_owned(),
            };
            self.commit(vec![], vec![], Some(&work_order)).await?;
            let _ = self.ctx.scope.tell::<Incidents>(IncidentsMsg::Escalate {
                incident_id: incident.id,
                work_order_id: work_order.work_order_id,
                overdue: false,
            });
        }
        Ok(())
    }

    /// Counts an ended run for `GET /metrics`.
    fn count_run(&self, execution: &Execution) {
        use crate::metrics::{PlaybookLabel, RunLabels};
        let outcome = match execution.status {
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Interrupted => "interrupted",
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

    /// Commits `drafts` and `writes` in one transaction, in order with what was published
    /// before; with `work_order`, also the work order and one pending delivery of it per
    /// webhook (an outbox), which the notifier is then told to send.
    async fn commit(
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

    /// Records a run of `playbook` on `incident` and spawns its sub-agent; returns the run id.
    async fn start(
        &mut self,
        playbook: PlaybookSpec,
        incident: Incident,
        started: Started,
    ) -> Result<String, StoreError> {
        self.remember_start(&playbook, &incident.source);
        let now = crate::time::now();
        let run_id = format!("run-{}", short_id());
        let agent_id = format!("agent-{}", short_id());
        let trust = self.playbook_trust(&playbook.id).await?;
        let execution = Execution {
            run_id: run_id.clone(),
            playbook_id: playbook.id.clone(),
            playbook_name: playbook.display_name().to_owned(),
            incident_id: incident.id,
            source: incident.source.clone(),
            by_hand: matches!(started, Started::ByHand { .. }),
            started_by: match &started {
                Started::ByHand { by, .. } => Some(by.clone()),
                Started::Automatically => None,
            },
            agent_id: agent_id.clone(),
            status: ExecutionStatus::Running,
            steps_completed: 0,
            steps: playbook
                .steps
                .iter()
                .map(|step| StepRecord {
                    name: step.name().to_owned(),
                    status: StepStatus::Pending,
                    attempts: 0,
                    started_at: None,
                    finished_at: None,
                    output: String::new(),
                })
                .collect(),
            started_at: now,
            finished_at: None,
            duration_seconds: None,
            work_order_id: None,
        };
        let agent = Agent {
            agent_id: agent_id.clone(),
            agent_name: format!("{} agent", playbook.display_name()),
            task: format!("{} for incident #{}", playbook.display_name(), incident.id),
            incident_id: incident.id,
            run_id: run_id.clone(),
            trust_score: trust.score,
            status: AgentStatus::Running,
            started_at: now,
            finished_at: None,
        };
        self.ctx.store.save_execution(&execution).await?;
        self.ctx.store.save_agent(&agent).await?;
        publish(
            &self.ctx.scope,
            EventDraft::new(
                types::PLAYBOOK_STARTED,
                started_data(&run_id, &playbook, &execution, &started),
            )
            .source(incident.source.clone())
            .incident(incident.id),
        );
        publish(
            &self.ctx.scope,
            EventDraft::new(types::AGENT_SPAWNED, json!({ "agent": agent }))
                .source(incident.source.clone())
                .incident(incident.id),
        );
        let _ = self.ctx.scope.tell::<Incidents>(IncidentsMsg::RunStarted {
            incident_id: incident.id,
            run_id: run_id.clone(),
        });
        self.runs.insert(run_id.clone(), Run { execution, agent });

        self.spawn_agent(&run_id, &agent_id, playbook, incident, 0)
            .await?;
        Ok(run_id)
    }

    /// Spawns the sub-agent of a recorded run, starting at `first_step`.
    async fn spawn_agent(
        &mut self,
        run_id: &str,
        agent_id: &str,
        playbook: PlaybookSpec,
        incident: Incident,
        first_step: usize,
    ) -> Result<(), StoreError> {
        let role = roles::agent(agent_id);
        self.ctx.spawns.record(&role, "agent");
        let args = SubAgentArgs {
            ctx: self.ctx.clone(),
            run_id: run_id.to_owned(),
            playbook,
            incident,
            first_step,
        };
        let spawned = Actor::spawn_linked(
            Some(self.ctx.scope.name(&role)),
            SubAgentActor,
            args,
            self.myself.get_cell(),
        )
        .await;
        if let Err(error) = spawned {
            let report = RunReport {
                interrupted: false,
                succeeded: false,
                failing_step: None,
                output: format!("sub-agent could not start: {error}"),
            };
            self.finish(run_id, report).await?;
        }
        Ok(())
    }

    async fn step_update(
        &mut self,
        run_id: &str,
        index: usize,
        record: StepRecord,
    ) -> Result<(), StoreError> {
        let Some(run) = self.runs.get_mut(run_id) else {
            return Ok(());
        };
        let execution = &mut run.execution;
        let Some(slot) = execution.steps.get_mut(index) else {
            return Ok(());
        };
        *slot = record.clone();
        execution.steps_completed = execution
            .steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped))
            .count() as u32;
        self.ctx.store.save_execution(execution).await?;
        publish(
            &self.ctx.scope,
            EventDraft::new(
                types::PLAYBOOK_STEP,
                json!({
                    "run_id": run_id,
                    "playbook_id": execution.playbook_id,
                    "index": index,
                    "step": record,
                }),
            )
            .incident(execution.incident_id),
        );
        Ok(())
    }

    async fn finish(&mut self, run_id: &str, report: RunReport) -> Result<(), StoreError> {
        let Some(Run {
            mut execution,
            mut agent,
        }) = self.runs.remove(run_id)
        else {
            return Ok(());
        };
        let now = crate::time::now();
        let mut trust = self.playbook_trust(&execution.playbook_id).await?;
        let before = trust.score;
        // Only runs on components Grace watches itself, or that a person started, move a
        // playbook's trust: pushed events come from whoever can reach the port.
        let watched = self
            .ctx
            .spec()
            .monitors
            .iter()
            .any(|m| m.id == execution.source);
        let scored = watched || execution.by_hand;
        match scored {
            true => trust.record_run(report.succeeded),
            false => trust.record_unscored_run(report.succeeded),
        }
        close_run(&mut execution, &mut agent, &report, trust.score, now);
        let work_order = (!report.succeeded).then(|| WorkOrder {
            work_order_id: format!("WO-{}", short_id()),
            incident_id: execution.incident_id,
            reason: WorkOrderReason::RunFailed,
            run_id: Some(execution.run_id.clone()),
            playbook_id: execution.playbook_id.clone(),
            failing_step: report.failing_step.clone(),
            output: report.output.clone(),
            created_at: now,
            status: "open".to_owned(),
        });
        execution.work_order_id = work_order.as_ref().map(|w| w.work_order_id.clone());
        let outcome = match &work_order {
            None => RunOutcome::Succeeded,
            Some(work_order) => RunOutcome::Failed {
                work_order_id: work_order.work_order_id.clone(),
            },
        };
        let incident_id = execution.incident_id;
        let trust_changed = EventDraft::new(
            types::TRUST_CHANGED,
            json!({ "subject": trust.subject, "from": before, "to": trust.score }),
        );
        let mut drafts: Vec<EventDraft> = scored.then_some(trust_changed).into_iter().collect();
        drafts.extend([
            EventDraft::new(
                types::PLAYBOOK_FINISHED,
                json!({
                    "run_id": execution.run_id,
                    "playbook_id": execution.playbook_id,
                    "status": execution.status,
                    "duration_seconds": execution.duration_seconds,
                    "failing_step": report.failing_step,
                    "output": report.output,
                    "work_order_id": execution.work_order_id,
                }),
            )
            .incident(incident_id),
            EventDraft::new(types::AGENT_FINISHED, json!({ "agent": agent })).incident(incident_id),
        ]);
        let writes = vec![
            Write::Trust(trust),
            Write::Execution(Box::new(execution.clone())),
            Write::Agent(Box::new(agent.clone())),
        ];
        // Trust, execution, agent, work order, its deliveries and their announcements: one
        // transaction, so a crash can neither count a run twice nor lose its work order.
        crate::failpoints::crash_point("playbooks.finish.before_commit");
        self.commit(drafts, writes, work_order.as_ref()).await?;
        crate::failpoints::crash_point("playbooks.finish.after_commit");
        self.count_run(&execution);
        let _ = self.ctx.scope.tell::<Incidents>(IncidentsMsg::RunFinished {
            incident_id,
            run_id: execution.run_id.clone(),
            outcome,
        });
        // The agent's work is done; stop it (after its report, so its exit is not a crash).
        let role = roles::agent(&agent.agent_id);
        if let Some(cell) = ractor::registry::where_is(self.ctx.scope.name(&role)) {
            cell.stop(Some("run finished".to_owned()));
        }
        self.ctx.spawns.forget(&role);
        self.start_waiting().await
    }

    /// A slot is free: start the oldest waiting incident that still needs healing.
    async fn start_waiting(&mut self) -> Result<(), StoreError> {
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

    async fn playbook_trust(&self, playbook_id: &str) -> Result<TrustScore, StoreError> {
        Ok(self
            .ctx
            .store
            .trust(&playbook_subject(playbook_id))
            .await?
            .unwrap_or_else(|| TrustScore::playbook(playbook_id)))
    }

    /// Runs left `running` by a Grace that stopped mid-run end as failed and escalate, so no run
    /// stays `running` forever.
    async fn close_interrupted_runs(&mut self) -> Result<(), StoreError> {
        for execution in self.ctx.store.running_executions().await? {
            let run_id = execution.run_id.clone();
            let agent = match self.ctx.store.agent(&execution.agent_id).await? {
                Some(agent) => agent,
                // Stopped between saving the run and its agent: stand one in, so the run ends.
                None => Agent {
                    agent_id: execution.agent_id.clone(),
                    agent_name: format!("{} agent", execution.playbook_name),
                    task: format!(
                        "{} for incident #{}",
                        execution.playbook_name, execution.incident_id
                    ),
                    incident_id: execution.incident_id,
                    run_id: run_id.clone(),
                    trust_score: self.playbook_trust(&execution.playbook_id).await?.score,
                    status: AgentStatus::Running,
                    started_at: execution.started_at,
                    finished_at: None,
                },
            };
            let agent_id = agent.agent_id.clone();
            // Where it stopped: the first step that neither succeeded nor was skipped.
            let at = execution.steps.iter().position(|step| {
                !matches!(step.status, StepStatus::Succeeded | StepStatus::Skipped)
            });
            // The same playbook, step for step; one that changed meanwhile cannot be resumed.
            let playbook = self
                .ctx
                .spec()
                .playbooks
                .iter()
                .find(|p| p.id == execution.playbook_id)
                .cloned()
                .filter(|p| {
                    p.steps.len() == execution.steps.len()
                        && p.steps
                            .iter()
                            .zip(&execution.steps)
                            .all(|(spec, record)| spec.name() == record.name)
                });
            let incident = self
                .ctx
                .store
                .incident(execution.incident_id)
                .await?
                .filter(|incident| incident.status.is_active());
            self.runs.insert(run_id.clone(), Run { execution, agent });
            let Some(at) = at else {
                // Every step had ended well: only the report of its end was lost.
                let report = RunReport {
                    succeeded: true,
                    interrupted: false,
                    failing_step: None,
                    output: String::new(),
                };
                self.finish(&run_id, report).await?;
                continue;
            };
            let resumable = playbook.as_ref().is_some_and(|playbook| {
                playbook.steps[at].idempotent() || playbook.on_interrupt == OnInterrupt::Retry
            });
            match (playbook, incident) {
                (Some(playbook), Some(incident)) if resumable => {
                    let run = self.runs.get_mut(&run_id).expect("inserted above");
                    let step = &mut run.execution.steps[at];
                    step.status = StepStatus::Pending;
                    step.output = format!(
                        "Grace stopped during this step{}; resumed here after the restart",
                        if step.output.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", step.output)
                        }
                    );
                    self.ctx.store.save_execution(&run.execution).await?;
                    publish(
                        &self.ctx.scope,
                        EventDraft::new(
                            types::PLAYBOOK_RESUMED,
                            json!({ "run_id": run_id, "playbook_id": playbook.id, "from_step": at }),
                        )
                        .source(incident.source.clone())
                        .incident(incident.id),
                    );
                    // The incident may never have heard of this run (stopped before it did).
                    let _ = self.ctx.scope.tell::<Incidents>(IncidentsMsg::RunStarted {
                        incident_id: incident.id,
                        run_id: run_id.clone(),
                    });
                    self.spawn_agent(&run_id, &agent_id, playbook, incident, at)
                        .await?;
                }
                (_, None) => {
                    // The incident ended meanwhile: nothing to escalate, nothing to learn.
                    let mut run = self.runs.remove(&run_id).expect("inserted above");
                    let now = crate::time::now();
                    run.execution.status = ExecutionStatus::Interrupted;
                    run.execution.finished_at = Some(now);
                    run.execution.duration_seconds = Some(
                        (now - run.execution.started_at).num_milliseconds().max(0) as f64 / 1000.0,
                    );
                    run.agent.status = AgentStatus::Failed;
                    run.agent.finished_at = Some(now);
                    self.ctx.store.save_execution(&run.execution).await?;
                    self.ctx.store.save_agent(&run.agent).await?;
                }
                _ => {
                    let step = self.runs[&run_id].execution.steps[at].name.clone();
                    let report = RunReport {
                        succeeded: false,
                        interrupted: true,
                        failing_step: Some(step),
                        output: "interrupted: Grace stopped while the run was in a step that is \
                                 not safe to do again (not idempotent, on_interrupt = \"escalate\"), \
                                 or its playbook changed"
                            .to_owned(),
                    };
                    self.finish(&run_id, report).await?;
                }
            }
        }
        Ok(())
    }
}

impl PlaybooksState {
    /// Incidents left open with no run (their trigger was lost in a restart, or they were
    /// waiting for a sub-agent when Grace stopped) get their playbook now.
    async fn heal_unattended(&mut self) -> Result<(), StoreError> {
        if self.ctx.spec().playbooks.is_empty() {
            return Ok(()); // nothing could heal them: no need to load every active incident
        }
        for incident in self.ctx.store.active_incidents().await? {
            if self.playbook_for(&incident).is_none() {
                continue; // most pushed incidents: nothing to run, nothing to ask the store
            }
            let unattended = matches!(
                incident.status,
                IncidentStatus::Open | IncidentStatus::Acknowledged
            ) && incident.active_run_id.is_none()
                && incident.work_order_id.is_none()
                && !incident.silenced;
            // One that had a run is not unattended: a triage playbook left it for people on
            // purpose, and the end of a run a crash interrupted is on its way to it.
            if unattended && !self.ctx.store.has_run(incident.id).await? {
                self.trigger(incident).await?;
            }
        }
        Ok(())
    }
}

/// Twelve hex digits of a random UUID: unique enough for run, agent and work-order ids, short
/// enough to read out loud.
fn short_id() -> String {
    Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// Marks a run and its sub-agent ended as `report` says, at `now`.
fn close_run(
    execution: &mut Execution,
    agent: &mut Agent,
    report: &RunReport,
    trust_score: f64,
    now: DateTime<Utc>,
) {
    execution.status = if report.succeeded {
        ExecutionStatus::Succeeded
    } else if report.interrupted {
        ExecutionStatus::Interrupted
    } else {
        ExecutionStatus::Failed
    };
    execution.finished_at = Some(now);
    execution.duration_seconds =
        Some((now - execution.started_at).num_milliseconds().max(0) as f64 / 1000.0);
    // Steps a crashed or interrupted agent never finished are marked failed, not left running.
    for step in &mut execution.steps {
        if step.status == StepStatus::Running {
            step.status = StepStatus::Failed;
            step.finished_at = Some(now);
        }
    }
    agent.status = if report.succeeded {
        AgentStatus::Succeeded
    } else {
        AgentStatus::Failed
    };
    agent.finished_at = Some(now);
    agent.trust_score = trust_score;
}

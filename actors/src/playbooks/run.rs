//! A run's life in the engine: recorded and its sub-agent spawned (`start`), each step
//! recorded as the sub-agent reports it, and its end turned into trust, a resolution or a work
//! order (`finish`) in one transaction.

use chrono::{DateTime, Utc};
use ractor::Actor;

use super::actor::{PlaybooksState, Run, Started};
use super::sub_agent::{SubAgentActor, SubAgentArgs};
use super::work_orders::work_order;
use crate::event::EventDraft;
use crate::model::{
    playbook_subject, Agent, AgentStatus, Execution, ExecutionStatus, Incident, StepRecord,
    StepStatus, TrustScore, WorkOrderReason,
};
use crate::model::{AgentId, RunId};
use crate::payload::{
    AgentFinished, AgentSpawned, PlaybookFinished, PlaybookStarted, PlaybookStep, TrustChanged,
};
use crate::protocol::incidents::{IncidentsMsg, RunOutcome};
use crate::protocol::playbooks::RunReport;
use crate::protocol::{roles, Incidents};
use crate::spec::PlaybookSpec;
use crate::store::{StoreError, Write};

/// The records of a new run of `playbook` on `incident` and of its sub-agent.
pub(super) fn new_run(
    playbook: &PlaybookSpec,
    incident: &Incident,
    started: &Started,
    trust_score: f64,
    now: DateTime<Utc>,
) -> Run {
    let run_id = RunId::new();
    let agent_id = AgentId::new();
    let steps = playbook.steps.iter().map(|step| StepRecord {
        name: step.name().to_owned(),
        status: StepStatus::Pending,
        attempts: 0,
        started_at: None,
        finished_at: None,
        output: String::new(),
    });
    let execution = Execution {
        run_id: run_id.clone(),
        playbook_id: playbook.id.clone(),
        playbook_name: playbook.display_name().to_owned(),
        incident_id: incident.id,
        source: incident.source.clone(),
        by_hand: matches!(started, Started::ByHand { .. }),
        started_by: match started {
            Started::ByHand { by, .. } => Some(by.clone()),
            Started::Automatically => None,
        },
        agent_id,
        status: ExecutionStatus::Running,
        steps_completed: 0,
        steps: steps.collect(),
        started_at: now,
        finished_at: None,
        duration_seconds: None,
        work_order_id: None,
    };
    let agent = agent_of(&execution, trust_score);
    Run { execution, agent }
}

/// The sub-agent record of a run, as it is when the run starts.
pub(super) fn agent_of(execution: &Execution, trust_score: f64) -> Agent {
    let name = &execution.playbook_name;
    Agent {
        agent_id: execution.agent_id.clone(),
        agent_name: format!("{name} agent"),
        task: format!("{name} for incident #{}", execution.incident_id),
        incident_id: execution.incident_id,
        run_id: execution.run_id.clone(),
        trust_score,
        status: AgentStatus::Running,
        started_at: execution.started_at,
        finished_at: None,
    }
}

/// The data of `playbook.started`: the run, its steps, and who started it when a person did.
fn started_payload(execution: &Execution, started: &Started) -> PlaybookStarted {
    let (by, forced) = match started {
        Started::ByHand { by, forced } => (Some(by.clone()), Some(*forced)),
        Started::Automatically => (None, None),
    };
    PlaybookStarted {
        run_id: execution.run_id.clone(),
        playbook_id: execution.playbook_id.clone(),
        playbook_name: execution.playbook_name.clone(),
        steps: execution.steps.iter().map(|s| s.name.clone()).collect(),
        by,
        forced,
    }
}

/// The data of `playbook.finished`.
pub(super) fn finished_payload(execution: &Execution, report: &RunReport) -> PlaybookFinished {
    PlaybookFinished {
        run_id: execution.run_id.clone(),
        playbook_id: execution.playbook_id.clone(),
        status: execution.status,
        duration_seconds: execution.duration_seconds,
        failing_step: report.failing_step.clone(),
        output: report.output.clone(),
        work_order_id: execution.work_order_id.clone(),
    }
}

impl PlaybooksState {
    /// Records a run of `playbook` on `incident` and spawns its sub-agent; returns the run id.
    pub(super) async fn start(
        &mut self,
        playbook: PlaybookSpec,
        incident: Incident,
        started: Started,
    ) -> Result<RunId, StoreError> {
        let now = crate::time::now();
        self.gate.remember(&playbook, &incident.source, now, now);
        let trust = self.playbook_trust(&playbook.id).await?;
        let run = new_run(&playbook, &incident, &started, trust.score, now);
        let run_id = run.execution.run_id.clone();
        let agent_id = run.agent.agent_id.clone();
        let started = EventDraft::of(&started_payload(&run.execution, &started));
        let agent = run.agent.clone();
        let spawned = EventDraft::of(&AgentSpawned { agent });
        let drafts = [started, spawned]
            .map(|draft| draft.source(incident.source.clone()).incident(incident.id));
        // The run, its sub-agent and their announcements in one transaction: a crash leaves
        // all of them or none.
        let writes = vec![
            Write::Execution(Box::new(run.execution.clone())),
            Write::Agent(Box::new(run.agent.clone())),
        ];
        crate::failpoints::crash_point("playbooks.start.before_commit");
        self.commit(drafts.into(), writes, None).await?;
        crate::failpoints::crash_point("playbooks.start.after_commit");
        let _ = self.ctx.scope.tell::<Incidents>(IncidentsMsg::RunStarted {
            incident_id: incident.id,
            run_id: run_id.clone(),
        });
        self.runs.insert(run_id.clone(), run);
        self.spawn_agent(&run_id, &agent_id, playbook, incident, 0)
            .await?;
        Ok(run_id)
    }

    /// Spawns the sub-agent of a recorded run, starting at `first_step`.
    pub(super) async fn spawn_agent(
        &mut self,
        run_id: &RunId,
        agent_id: &AgentId,
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

    /// Records a step as the sub-agent reports it, and announces it unless that is done
    /// (`announced`: a trust step's end, committed with its trust change).
    pub(super) async fn step_update(
        &mut self,
        run_id: &RunId,
        index: usize,
        record: StepRecord,
        announced: bool,
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
        let write = vec![Write::Execution(Box::new(execution.clone()))];
        // The step's record and its announcement in one transaction (a trust step's was
        // announced with its trust change).
        let drafts = match announced {
            true => vec![],
            false => vec![EventDraft::of(&PlaybookStep {
                run_id: run_id.clone(),
                playbook_id: execution.playbook_id.clone(),
                index,
                step: record,
            })
            .incident(execution.incident_id)],
        };
        self.commit(drafts, write, None).await
    }

    /// Ends a run as `report` says: trust, the run and agent records, the work order of a
    /// failed run, its deliveries and their announcements in one transaction, so a crash can
    /// neither count a run twice nor lose its work order; then tells the incident manager.
    pub(super) async fn finish(
        &mut self,
        run_id: &RunId,
        report: RunReport,
    ) -> Result<(), StoreError> {
        let Some(Run {
            mut execution,
            mut agent,
        }) = self.runs.remove(run_id)
        else {
            return Ok(());
        };
        let now = crate::time::now();
        let (trust, trust_changed) = self.score(&execution, report.succeeded).await?;
        close_run(&mut execution, &mut agent, &report, trust.score, now);
        let work_order = (!report.succeeded).then(|| crate::model::WorkOrder {
            run_id: Some(execution.run_id.clone()),
            failing_step: report.failing_step.clone(),
            ..work_order(
                execution.incident_id,
                WorkOrderReason::RunFailed,
                &execution.playbook_id,
                report.output.clone(),
            )
        });
        execution.work_order_id = work_order.as_ref().map(|w| w.work_order_id.clone());
        let incident_id = execution.incident_id;
        let mut drafts: Vec<EventDraft> = trust_changed.into_iter().collect();
        drafts.extend(
            [
                EventDraft::of(&finished_payload(&execution, &report)),
                EventDraft::of(&AgentFinished {
                    agent: agent.clone(),
                }),
            ]
            .map(|draft| draft.incident(incident_id)),
        );
        let writes = vec![
            Write::Trust(trust),
            Write::Execution(Box::new(execution.clone())),
            Write::Agent(Box::new(agent.clone())),
        ];
        crate::failpoints::crash_point("playbooks.finish.before_commit");
        self.commit(drafts, writes, work_order.as_ref()).await?;
        crate::failpoints::crash_point("playbooks.finish.after_commit");
        self.count_run(&execution);
        let outcome = match execution.work_order_id.clone() {
            None => RunOutcome::Succeeded,
            Some(work_order_id) => RunOutcome::Failed { work_order_id },
        };
        let _ = self.ctx.scope.tell::<Incidents>(IncidentsMsg::RunFinished {
            incident_id,
            run_id: execution.run_id.clone(),
            outcome,
        });
        self.stop_agent(&agent.agent_id);
        self.start_waiting().await
    }

    /// The playbook's trust after this run, and the `trust.changed` to announce when it moved.
    /// Only runs on components Grace watches itself, or that a person started, move it: pushed
    /// events come from whoever can reach the port.
    async fn score(
        &self,
        execution: &Execution,
        succeeded: bool,
    ) -> Result<(TrustScore, Option<EventDraft>), StoreError> {
        let mut trust = self.playbook_trust(&execution.playbook_id).await?;
        let before = trust.score;
        let spec = self.ctx.spec();
        let watched = spec.monitors.iter().any(|m| m.id == execution.source);
        if !(watched || execution.by_hand) {
            trust.record_unscored_run(succeeded);
            return Ok((trust, None));
        }
        trust.record_run(succeeded);
        let changed = EventDraft::of(&TrustChanged {
            subject: trust.subject.clone(),
            from: before,
            to: trust.score,
        });
        Ok((trust, Some(changed)))
    }

    /// The agent's work is done: stop it (after its report, so its exit is not a crash).
    pub(super) fn stop_agent(&self, agent_id: &AgentId) {
        let role = roles::agent(agent_id);
        if let Some(agent) = self.ctx.scope.agent(agent_id) {
            agent.stop(Some("run finished".to_owned()));
        }
        self.ctx.spawns.forget(&role);
    }

    /// Counts an ended run for `GET /metrics`.
    pub(super) fn count_run(&self, execution: &Execution) {
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

    pub(super) async fn playbook_trust(&self, playbook_id: &str) -> Result<TrustScore, StoreError> {
        Ok(self
            .ctx
            .store
            .trust(&playbook_subject(playbook_id))
            .await?
            .unwrap_or_else(|| TrustScore::playbook(playbook_id)))
    }
}

/// Marks a run and its sub-agent ended as `report` says, at `now`.
fn close_run(
    execution: &mut Execution,
    agent: &mut Agent,
    report: &RunReport,
    trust_score: f64,
    now: DateTime<Utc>,
) {
    let status = if report.succeeded {
        ExecutionStatus::Succeeded
    } else if report.interrupted {
        ExecutionStatus::Interrupted
    } else {
        ExecutionStatus::Failed
    };
    close_execution(execution, status, now);
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

/// Kills a run's sub-agent in the middle of whatever it is doing: its task is dropped, and the
/// process group of a program it was running with it. The engine has already forgotten the run,
/// so the sub-agent's end is not mistaken for a crash.
pub(super) fn kill_agent(ctx: &crate::context::Ctx, agent_id: &AgentId) {
    let role = roles::agent(agent_id);
    if let Some(agent) = ctx.scope.agent(agent_id) {
        agent.kill();
    }
    ctx.spawns.forget(&role);
}

/// Marks `execution` ended with `status` at `now`.
pub(super) fn close_execution(
    execution: &mut Execution,
    status: ExecutionStatus,
    now: chrono::DateTime<chrono::Utc>,
) {
    execution.status = status;
    execution.finished_at = Some(now);
    let ms = (now - execution.started_at).num_milliseconds().max(0);
    execution.duration_seconds = Some(ms as f64 / 1000.0);
}

//! What the engine does when it starts: it remembers recent starts for cooldowns and breakers,
//! ends or resumes the runs a stopped Grace left `running` (as [`decide_resume`] says), and
//! heals incidents left open with no run.

use super::actor::{PlaybooksState, Run};
use super::gate::RUN_HISTORY_PAIRS_MAX;
use super::resume::{decide_resume, unchanged_playbook, Resume};
use super::run::{agent_of, close_execution};
use crate::event::EventDraft;
use crate::model::RunId;
use crate::model::{AgentStatus, ExecutionStatus, Incident, IncidentStatus, StepStatus};
use crate::payload::PlaybookResumed;
use crate::protocol::incidents::IncidentsMsg;
use crate::protocol::playbooks::RunReport;
use crate::protocol::Incidents;
use crate::spec::PlaybookSpec;
use crate::store::{StoreError, Write};

impl PlaybooksState {
    /// Rebuilds the cooldown and circuit-breaker memory from the runs started within the
    /// longest window any playbook looks back, so a restart opens no breaker and ends no
    /// cooldown.
    pub(super) async fn remember_recent_starts(&mut self) -> Result<(), StoreError> {
        let spec = self.ctx.spec();
        let Some(window_ms) = spec
            .playbooks
            .iter()
            .map(|p| p.breaker_window_ms.max(p.cooldown_ms))
            .max()
        else {
            return Ok(());
        };
        let now = crate::time::now();
        let since = now - chrono::Duration::milliseconds(window_ms as i64);
        let starts = self
            .ctx
            .store
            .starts_since(since, RUN_HISTORY_PAIRS_MAX)
            .await?;
        for (playbook_id, source, started_at) in starts {
            let Some(playbook) = spec.playbooks.iter().find(|p| p.id == playbook_id) else {
                continue; // no longer configured
            };
            self.gate.remember(playbook, &source, started_at, now);
        }
        Ok(())
    }

    /// Runs left `running` by a Grace that stopped mid-run resume, or end and escalate, so no
    /// run stays `running` forever.
    pub(super) async fn close_interrupted_runs(&mut self) -> Result<(), StoreError> {
        for execution in self.ctx.store.running_executions().await? {
            let run_id = execution.run_id.clone();
            let agent = match self.ctx.store.agent(execution.agent_id.as_str()).await? {
                Some(agent) => agent,
                // Only a store written before a run and its agent were committed together can
                // hold a run without its agent: stand one in, so the run ends.
                None => {
                    let trust = self.playbook_trust(&execution.playbook_id).await?;
                    agent_of(&execution, trust.score)
                }
            };
            let spec = self.ctx.spec();
            let playbook = unchanged_playbook(&execution, &spec.playbooks).cloned();
            let incident = self
                .ctx
                .store
                .incident(execution.incident_id)
                .await?
                .filter(|incident| incident.status.is_active());
            let resume = decide_resume(&execution, playbook.as_ref(), incident.is_some());
            self.runs.insert(run_id.clone(), Run { execution, agent });
            match (resume, playbook, incident) {
                (Resume::Finish, _, _) => self.finish(&run_id, finished_report()).await?,
                (Resume::Continue { at }, Some(playbook), Some(incident)) => {
                    self.resume(&run_id, playbook, incident, at).await?
                }
                (Resume::Close, _, _) => self.close_quietly(&run_id).await?,
                (Resume::Escalate { at } | Resume::Continue { at }, _, _) => {
                    let step = self.runs[&run_id].execution.steps[at].name.clone();
                    self.finish(&run_id, interrupted_report(step)).await?
                }
            }
        }
        Ok(())
    }

    /// Starts the run's sub-agent again at step `at`, and says so.
    async fn resume(
        &mut self,
        run_id: &RunId,
        playbook: PlaybookSpec,
        incident: Incident,
        at: usize,
    ) -> Result<(), StoreError> {
        let run = self.runs.get_mut(run_id).expect("inserted by the caller");
        let step = &mut run.execution.steps[at];
        step.status = StepStatus::Pending;
        let before = match step.output.as_str() {
            "" => String::new(),
            output => format!(" ({output})"),
        };
        step.output =
            format!("Grace stopped during this step{before}; resumed here after the restart");
        let agent_id = run.agent.agent_id.clone();
        let resumed = PlaybookResumed {
            run_id: run_id.clone(),
            playbook_id: playbook.id.clone(),
            from_step: at,
        };
        let draft = EventDraft::of(&resumed)
            .source(incident.source.clone())
            .incident(incident.id);
        // The run as resumed and its announcement, in one transaction.
        let write = Write::Execution(Box::new(run.execution.clone()));
        self.commit(vec![draft], vec![write], None).await?;
        // The incident may never have heard of this run (stopped before it did).
        let _ = self.ctx.scope.tell::<Incidents>(IncidentsMsg::RunStarted {
            incident_id: incident.id,
            run_id: run_id.to_owned(),
        });
        self.spawn_agent(run_id, &agent_id, playbook, incident, at)
            .await
    }

    /// The run's incident ended meanwhile: the run closes as interrupted, with nothing to
    /// escalate and nothing to learn.
    async fn close_quietly(&mut self, run_id: &RunId) -> Result<(), StoreError> {
        let mut run = self.runs.remove(run_id).expect("inserted by the caller");
        let now = crate::time::now();
        close_execution(&mut run.execution, ExecutionStatus::Interrupted, now);
        run.agent.status = AgentStatus::Failed;
        run.agent.finished_at = Some(now);
        let writes = vec![
            Write::Execution(Box::new(run.execution)),
            Write::Agent(Box::new(run.agent)),
        ];
        self.commit(vec![], writes, None).await
    }

    /// Incidents left open with no run (their trigger was lost in a restart, or they were
    /// waiting for a sub-agent when Grace stopped) get their playbook now.
    pub(super) async fn heal_unattended(&mut self) -> Result<(), StoreError> {
        if self.ctx.spec().playbooks.is_empty() {
            return Ok(()); // nothing could heal them: no need to load every active incident
        }
        let relapses_max = self.ctx.spec().incidents.relapses_max;
        for incident in self.ctx.store.active_incidents().await? {
            if self.playbook_for(&incident).is_none() {
                continue; // most pushed incidents: nothing to run, nothing to ask the store
            }
            if incident.relapses > relapses_max {
                if self.relapse_unattended(&incident).await? {
                    self.relapsing(incident).await?;
                }
                continue;
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

impl PlaybooksState {
    /// Whether a relapsing incident was left between runs (its backoff was in memory): no run
    /// now, none since it relapsed, not silenced. One whose round's run failed stays with
    /// people.
    async fn relapse_unattended(&self, incident: &Incident) -> Result<bool, StoreError> {
        if incident.silenced || incident.active_run_id.is_some() {
            return Ok(false);
        }
        let round_began = incident.reopened_at.unwrap_or(incident.detected_at);
        let newest = self.ctx.store.incident_executions(incident.id, 1).await?;
        Ok(newest
            .first()
            .is_none_or(|run| run.started_at < round_began))
    }
}

/// The report of a run whose steps had all ended well.
fn finished_report() -> RunReport {
    RunReport {
        succeeded: true,
        interrupted: false,
        failing_step: None,
        output: String::new(),
    }
}

/// The report of a run that cannot go on from `step`.
fn interrupted_report(step: String) -> RunReport {
    RunReport {
        succeeded: false,
        interrupted: true,
        failing_step: Some(step),
        output: "interrupted: Grace stopped while the run was in a step that is not safe to do \
                 again (not idempotent, on_interrupt = \"escalate\"), or its playbook changed"
            .to_owned(),
    }
}

//! A run whose incident was superseded: what the incident's component depends on turned out
//! to be down, so the incident became a symptom of that outage and healing it here is beside
//! the point (restarting an API while its database is down heals nothing). Its sub-agent is
//! killed at once — a step's programs go with it, their process groups killed — and the run
//! ends `superseded`: no work order, and the playbook's trust does not move.

use super::actor::{PlaybooksState, Run};
use super::run::close_execution;
use super::run::{finished_payload, kill_agent};
use crate::event::EventDraft;
use crate::model::{AgentStatus, ExecutionStatus, StepStatus};
use crate::payload::AgentFinished;
use crate::protocol::playbooks::RunReport;
use crate::store::{StoreError, Write};

impl PlaybooksState {
    /// Stops the run on `incident_id`, waiting or running, because incident `by` took it in.
    pub(super) async fn supersede(&mut self, incident_id: u64, by: u64) -> Result<(), StoreError> {
        self.waiting.retain(|waiting| waiting.id != incident_id);
        let run_id = self
            .runs
            .iter()
            .find(|(_, run)| run.execution.incident_id == incident_id)
            .map(|(run_id, _)| run_id.clone());
        let Some(Run {
            mut execution,
            mut agent,
        }) = run_id.and_then(|run_id| self.runs.remove(&run_id))
        else {
            return Ok(());
        };
        kill_agent(&self.ctx, &agent.agent_id);
        let now = crate::time::now();
        close_execution(&mut execution, ExecutionStatus::Superseded, now);
        for step in &mut execution.steps {
            if matches!(step.status, StepStatus::Running | StepStatus::Pending) {
                step.status = StepStatus::Skipped;
                step.finished_at = Some(now);
            }
        }
        agent.status = AgentStatus::Stopped;
        agent.finished_at = Some(now);
        let report = RunReport {
            succeeded: false,
            interrupted: false,
            failing_step: None,
            output: format!("superseded by incident #{by}: what it depends on is down"),
        };
        let drafts = [
            EventDraft::of(&finished_payload(&execution, &report)),
            EventDraft::of(&AgentFinished {
                agent: agent.clone(),
            }),
        ]
        .map(|draft| draft.incident(incident_id));
        let writes = vec![
            Write::Execution(Box::new(execution.clone())),
            Write::Agent(Box::new(agent)),
        ];
        self.commit(drafts.into(), writes, None).await?;
        self.count_run(&execution);
        self.start_waiting().await
    }
}

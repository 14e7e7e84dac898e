//! What the engine does when it starts: it remembers recent starts for cooldowns and breakers,
//! takes up the runs a stopped Grace left `running` (resumed, ended or closed, as
//! [`decide_resume`](super::resume::decide_resume) says, each in one commit), and heals
//! incidents left open with no run.
//!
//! A run and its sub-agent are committed together at its start, so a run left `running` has its
//! agent's record; should one not (a store edited by hand), a stand-in takes its place, so the
//! run still ends as the restart rules say instead of staying `running`.
//!
//! Before it reads the runs left `running`, the engine waits for what an engine before it set
//! going to land (a barrier: the incident manager and the bus each answer once everything
//! before it is handled), so a hand-over that landed late is read as the end it is. Should one
//! land later still, the guard on each end (`Write::Expect`) keeps the run from ending twice.

use super::actor::PlaybooksState;
use super::book::{playbook_for, relapse_unattended, unattended};
use super::gate::RUN_HISTORY_PAIRS_MAX;
use super::records::agent_of;
use super::runs::LeftRunning;
use crate::model::Execution;
use crate::protocol::incidents::IncidentsMsg;
use crate::protocol::Incidents;
use crate::store::StoreError;

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
            self.book.gate.remember(playbook, &source, started_at, now);
        }
        Ok(())
    }

    /// Runs left `running` by a Grace that stopped mid-run resume, or end and escalate, so no
    /// run stays `running` forever.
    pub(super) async fn close_interrupted_runs(&mut self) -> Result<(), StoreError> {
        self.barrier().await;
        for execution in self.ctx.store.running_executions().await? {
            self.learn_trust(&execution.playbook_id).await?;
            let left = self.left_running(execution).await?;
            let now = crate::time::now();
            self.decide(|book, spec, out| book.take_up(left, spec, now, out))
                .await?;
        }
        Ok(())
    }

    /// Waits until what was handed to the incident manager and the bus before this start has
    /// landed (each answers once everything before it is handled; both await their commits in
    /// their handlers). Best effort: one that does not answer is logged, and the guards keep a
    /// late commit from ending a run twice.
    async fn barrier(&self) {
        let scope = &self.ctx.scope;
        if let Err(error) = scope.ask::<Incidents, _>(IncidentsMsg::Barrier).await {
            tracing::warn!(%error, "no barrier through the incident manager");
        }
        let flushed = crate::protocol::bus::commit_in_order(scope, Vec::new(), Vec::new()).await;
        if let Err(error) = flushed {
            tracing::warn!(%error, "no barrier through the bus");
        }
    }

    /// A run left `running`, with its agent (or a stand-in) and its incident if still active.
    async fn left_running(&self, execution: Execution) -> Result<LeftRunning, StoreError> {
        let agent = match self.ctx.store.agent(execution.agent_id.as_str()).await? {
            Some(agent) => agent,
            None => {
                // A run and its agent are committed in one transaction, so only a store
                // changed by other hands gets here: the run still ends as the rules say.
                tracing::error!(run_id = %execution.run_id, "a run without its sub-agent's record");
                agent_of(&execution, self.book.trust_of(&execution.playbook_id).score)
            }
        };
        let incident = self.ctx.store.incident(execution.incident_id).await?;
        let incident = incident.filter(|incident| incident.status.is_active());
        Ok(LeftRunning {
            execution,
            agent,
            incident,
        })
    }

    /// Incidents left open with no run (their trigger was lost in a restart, or they were
    /// waiting for a sub-agent when Grace stopped) get their playbook now.
    pub(super) async fn heal_unattended(&mut self) -> Result<(), StoreError> {
        let spec = self.ctx.spec();
        if spec.playbooks.is_empty() {
            return Ok(()); // nothing could heal them: no need to load every active incident
        }
        for incident in self.ctx.store.active_incidents().await? {
            if playbook_for(&incident, &spec).is_none() {
                continue; // most pushed incidents: nothing to run, nothing to ask the store
            }
            if incident.relapses > spec.incidents.relapses_max {
                let newest = self.ctx.store.incident_executions(incident.id, 1).await?;
                let newest_at = newest.first().map(|run| run.started_at);
                if relapse_unattended(&incident, newest_at) {
                    self.relapsing(incident).await?;
                }
                continue;
            }
            if unattended(&incident, false) && !self.ctx.store.has_run(incident.id).await? {
                Box::pin(self.trigger(incident)).await?;
            }
        }
        Ok(())
    }
}

//! The engine's commands: each reads from the store what its decision needs (an incident as
//! stored, a playbook's trust), has the run book decide, and commits what it changed once
//! (`commit.rs`).

use super::actor::PlaybooksState;
use super::book::{playbook_for, Next, RunBook, RunNow};
use super::changes::Changes;
use super::records::Started;
use crate::model::{playbook_subject, Incident, RunError, RunId, RunReport, StepRecord};
use crate::spec::TreeSpec;
use crate::store::StoreError;

impl PlaybooksState {
    /// Has the book decide, then commits what it changed.
    pub(super) async fn decide<T>(
        &mut self,
        decide: impl FnOnce(&mut RunBook, &TreeSpec, &mut Changes) -> T,
    ) -> Result<T, StoreError> {
        let spec = self.ctx.spec();
        let mut changes = Changes::default();
        let result = decide(&mut self.book, &spec, &mut changes);
        self.commit(changes).await?;
        Ok(result)
    }

    /// Has the book learn the stored trust of playbook `playbook_id`, unless it knows it.
    pub(super) async fn learn_trust(&mut self, playbook_id: &str) -> Result<(), StoreError> {
        if !self.book.knows_trust(playbook_id) {
            let stored = self.ctx.store.trust(&playbook_subject(playbook_id)).await?;
            self.book.learn_trust(playbook_id, stored);
        }
        Ok(())
    }

    /// A new incident, or one found again: its playbook runs, waits, is held or suggested.
    pub(super) async fn trigger(&mut self, incident: Incident) -> Result<(), StoreError> {
        let playbook_id = playbook_for(&incident, &self.ctx.spec()).map(|p| p.id.clone());
        let Some(playbook_id) = playbook_id else {
            return Ok(()); // most pushed incidents: nothing to run
        };
        self.learn_trust(&playbook_id).await?;
        let now = crate::time::now();
        self.decide(|book, spec, out| book.trigger(incident, spec, now, out))
            .await
    }

    /// A person's run: the answer, and the error that must fail the engine once the person has
    /// it. The book takes a run in as it decides (the run, its slot, the gate's start, the end of
    /// a relapse's backoff); a commit that fails after that (or a sub-agent that cannot start
    /// and whose end cannot be committed) leaves the book ahead of the store, so the engine
    /// restarts from the store instead of keeping a run that is not there (a slot taken and the
    /// incident `Busy` for good).
    pub(super) async fn run_now(
        &mut self,
        playbook_id: String,
        incident_id: u64,
        started: Started,
    ) -> (Result<RunId, RunError>, Option<StoreError>) {
        let store = |error: &StoreError| RunError::Store(error.to_string());
        let incident = match self.ctx.store.incident(incident_id).await {
            Ok(incident) => incident,
            Err(error) => return (Err(store(&error)), None),
        };
        if let Err(error) = self.learn_trust(&playbook_id).await {
            return (Err(store(&error)), None);
        }
        let asked = RunNow {
            playbook_id,
            incident_id,
            started,
        };
        let now = crate::time::now();
        let decided = self
            .decide(|book, spec, out| book.run_now(asked, incident, spec, now, out))
            .await;
        match decided {
            Ok(answer) => (answer, None),
            Err(error) => (Err(store(&error)), Some(error)),
        }
    }

    /// Records a step as the sub-agent reports it.
    pub(super) async fn step_update(
        &mut self,
        run_id: &RunId,
        index: usize,
        record: StepRecord,
        announced: bool,
    ) -> Result<(), StoreError> {
        self.decide(|book, _, out| book.step(run_id, index, record, announced, out))
            .await
    }

    /// Ends a run as `report` says.
    pub(super) async fn finish(
        &mut self,
        run_id: &RunId,
        report: RunReport,
    ) -> Result<(), StoreError> {
        let Some(playbook_id) = self
            .book
            .run(run_id)
            .map(|r| r.execution.playbook_id.clone())
        else {
            return Ok(());
        };
        self.learn_trust(&playbook_id).await?;
        let now = crate::time::now();
        self.decide(|book, spec, out| book.finish(run_id, report, spec, now, out))
            .await
    }

    /// Stops the run on `incident_id`, waiting or running: incident `by` took it in.
    pub(super) async fn supersede(&mut self, incident_id: u64, by: u64) -> Result<(), StoreError> {
        let now = crate::time::now();
        self.decide(|book, _, out| book.supersede(incident_id, by, now, out))
            .await
    }

    /// An incident past its `escalate_after_ms`: a work order goes to people.
    pub(super) async fn overdue(&mut self, incident: Incident) -> Result<(), StoreError> {
        let current = self.ctx.store.incident(incident.id).await?;
        let now = crate::time::now();
        self.decide(|book, _, out| book.overdue(current, now, out))
            .await
    }

    /// An incident relapsed past `incidents.relapses_max`.
    pub(super) async fn relapsing(&mut self, incident: Incident) -> Result<(), StoreError> {
        let current = self.ctx.store.incident(incident.id).await?;
        let now = crate::time::now();
        self.decide(|book, spec, out| book.relapsing(&incident, current, spec, now, out))
            .await
    }

    /// A relapse's backoff has passed: heal the incident if it still needs it (not resolved,
    /// no run meanwhile, no person's run having taken its place).
    pub(super) async fn relapse_due(&mut self, incident_id: u64) -> Result<(), StoreError> {
        if !self.book.relapse_due(incident_id) {
            return Ok(());
        }
        self.trigger_if_still_needed(incident_id).await
    }

    /// Triggers incident `incident_id` as stored, if it is active with no run.
    async fn trigger_if_still_needed(&mut self, incident_id: u64) -> Result<(), StoreError> {
        match self.ctx.store.incident(incident_id).await? {
            Some(current) if current.status.is_active() && current.active_run_id.is_none() => {
                self.trigger(current).await
            }
            _ => Ok(()),
        }
    }

    /// A slot is free: start the oldest waiting incident that still needs healing, or search
    /// the store for those a full queue turned away.
    pub(super) async fn start_waiting(&mut self) -> Result<(), StoreError> {
        loop {
            let spec = self.ctx.spec();
            match self.book.next_waiting(&spec) {
                Next::Incident(incident) => self.trigger_if_still_needed(incident.id).await?,
                Next::SearchStore => return self.heal_unattended().await,
                Next::Nothing => return Ok(()),
            }
        }
    }
}

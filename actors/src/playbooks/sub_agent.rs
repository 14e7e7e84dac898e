//! A sub-agent: the short-lived actor that carries out one playbook run, step by step, and
//! reports every step to the playbook engine as it starts and ends.
//!
//! It talks to the incident's component through its own probe (built from the monitor's spec),
//! runs remediation commands as argv from config (never through a shell), and never writes to
//! the store itself.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::steps;
use crate::model::{StepRecord, StepStatus};
use crate::probe::Probe;
use crate::program;
use crate::protocol::incidents::TrustChange;
use crate::protocol::playbooks::{PlaybooksMsg, RunReport};
use crate::protocol::sub_agent::SubAgentMsg;
use crate::protocol::Playbooks;
use crate::spec::StepSpec;

pub use super::runner::SubAgentArgs;
use super::runner::{Runner, StepResult};

/// The sub-agent's actor; its state is the run it carries out.
pub struct SubAgentActor;

impl Actor for SubAgentActor {
    type Msg = SubAgentMsg;
    type State = SubAgentArgs;
    type Arguments = SubAgentArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SubAgentArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.cast(SubAgentMsg::Run)?;
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        SubAgentMsg::Run: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let report = Runner::new(state).run().await;
        let engine = state
            .ctx
            .scope
            .find::<Playbooks>()
            .ok()
            .ok_or("playbook engine unavailable")?;
        engine.cast(PlaybooksMsg::Finished {
            run_id: state.run_id.clone(),
            report,
        })?;
        Ok(())
    }
}

impl<'a> Runner<'a> {
    /// The monitor of the incident's component gives the probe; a component only alerts speak
    /// of is probed through its alerts (healthy once they resolve).
    fn new(args: &'a SubAgentArgs) -> Self {
        let incident = &args.incident;
        let monitor = args
            .ctx
            .spec()
            .monitors
            .iter()
            .find(|monitor| monitor.id == incident.source)
            .map(|monitor| args.ctx.probes.build(monitor));
        let alert = || -> Box<dyn Probe> {
            let store = (*args.ctx.store).clone();
            Box::new(crate::probe::AlertProbe::new(store, incident.id))
        };
        let is_alert = incident
            .event_type
            .starts_with(crate::spec::ALERT_FAMILY_PREFIX);
        let probe = monitor.or_else(|| is_alert.then(alert));
        Self { args, probe }
    }

    async fn run(mut self) -> RunReport {
        // Set when `check` finds the target answering: steps up to the next `verify` are skipped.
        let mut skipping = false;
        let first = self.args.first_step;
        for (index, step) in self.args.playbook.steps.iter().enumerate().skip(first) {
            let mut record = StepRecord {
                name: step.name().to_owned(),
                status: StepStatus::Running,
                attempts: 0,
                started_at: Some(crate::time::now()),
                finished_at: None,
                output: String::new(),
                ran_by: self.args.ctx.store.ran_by(),
            };
            if skipping && !matches!(step, StepSpec::Verify { .. }) {
                record.status = StepStatus::Skipped;
                record.finished_at = record.started_at;
                record.output = "target answered at check; not needed".to_owned();
                self.report(index, &record, false).await;
                continue;
            }
            self.report(index, &record, false).await;
            let mut result = self.execute_with_retries(step, index, &record).await;
            let (record, announced) = match result.announced.take() {
                Some(announced) => (announced, true),
                None => (self.ended(record, &result), false),
            };
            self.report(index, &record, announced).await;
            skipping = result.skip_to_verify;
            if !result.ok {
                return RunReport {
                    interrupted: false,
                    succeeded: false,
                    failing_step: Some(record.name),
                    output: record.output,
                };
            }
        }
        RunReport {
            interrupted: false,
            succeeded: true,
            failing_step: None,
            output: String::new(),
        }
    }

    /// `record` of a step that ended with `result`.
    fn ended(&self, mut record: StepRecord, result: &StepResult) -> StepRecord {
        let tail_bytes = self.args.ctx.spec().limits.output_tail_bytes;
        record.attempts = result.attempts;
        record.output = program::tail(&result.output, tail_bytes);
        record.finished_at = Some(crate::time::now());
        record.status = if result.ok {
            StepStatus::Succeeded
        } else {
            StepStatus::Failed
        };
        record
    }

    /// Runs a step (step `index`, started as `started`), and again after each backoff wait
    /// while it fails and retries are left.
    async fn execute_with_retries(
        &mut self,
        step: &StepSpec,
        index: usize,
        started: &StepRecord,
    ) -> StepResult {
        let (retries, backoff_ms) = step.retry_policy();
        let mut result = self.execute(step, index, started).await;
        let mut attempts = result.attempts;
        let mut log = result.output.clone();
        for retry in 0..retries as usize {
            if result.ok {
                break;
            }
            let wait_ms = backoff_ms
                .get(retry)
                .or(backoff_ms.last())
                .copied()
                .unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
            result = self.execute(step, index, started).await;
            attempts += result.attempts;
            log = format!(
                "{log}\n--- retry {} after {wait_ms} ms ---\n{}",
                retry + 1,
                result.output
            );
        }
        StepResult {
            attempts,
            output: log,
            ..result
        }
    }

    /// Reports a step's progress and waits until the engine has recorded and announced it,
    /// so that what the step does next is logged after it. An engine that is restarting
    /// misses it (as a report it never heard of); the run goes on.
    async fn report(&self, index: usize, record: &StepRecord, announced: bool) {
        let update = |reply| PlaybooksMsg::StepUpdate {
            run_id: self.args.run_id.clone(),
            index,
            record: record.clone(),
            announced,
            reply,
        };
        let _ = self.args.ctx.scope.ask::<Playbooks, _>(update).await;
    }

    /// Carries out one try of `step` (see `steps/`, one file per kind), step `index` of the
    /// run, started as `started`.
    async fn execute(&mut self, step: &StepSpec, index: usize, started: &StepRecord) -> StepResult {
        match step {
            StepSpec::Check { timeout_ms } => self.check(*timeout_ms).await,
            StepSpec::Command {
                argv,
                timeout_ms,
                allowed_values,
                env,
                ..
            } => self.command(argv, allowed_values, env, *timeout_ms).await,
            StepSpec::RerunPipelines {
                timeout_ms,
                runs_max,
                ..
            } => self.rerun_pipelines(*timeout_ms, *runs_max).await,
            StepSpec::Notify { message, webhooks } => self.notify(message, webhooks).await,
            StepSpec::Reconnect {
                backoff_ms,
                timeout_ms,
            } => self.reconnect(backoff_ms, *timeout_ms).await,
            StepSpec::Verify { timeout_ms, .. } => self.verify(*timeout_ms).await,
            StepSpec::RestoreTrust {} => {
                let change = TrustChange::Restore;
                self.trust_step(change, index, started).await
            }
            StepSpec::SetTrust { value } => {
                let change = TrustChange::Set(*value);
                self.trust_step(change, index, started).await
            }
            StepSpec::Escalate { reason } => steps::escalate::escalate(reason.as_deref()),
            StepSpec::Http {
                url,
                method,
                body,
                expect_status,
                timeout_ms,
                ..
            } => {
                self.http(url, method, body.as_ref(), expect_status, *timeout_ms)
                    .await
            }
            StepSpec::Restart { timeout_ms, .. } => self.restart(*timeout_ms).await,
            StepSpec::Wait(wait) => self.wait(wait.until, wait.timeout_ms).await,
        }
    }

    pub(super) async fn probe_once(&mut self, timeout_ms: u64) -> Result<String, String> {
        match self.probe.as_mut() {
            Some(probe) => probe
                .probe(Duration::from_millis(timeout_ms))
                .await
                .map_err(|failure| failure.error),
            None => Err(self.no_target()),
        }
    }

    pub(super) fn no_target(&self) -> String {
        format!(
            "no monitor named {:?} and no alert to check, reconnect to or verify",
            self.args.incident.source
        )
    }
}

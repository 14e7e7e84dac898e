//! A sub-agent: the short-lived actor that carries out one playbook run, step by step, and
//! reports every step to the playbook engine as it starts and ends.
//!
//! It talks to the incident's component through its own probe (built from the monitor's spec),
//! runs remediation commands as argv from config (never through a shell), and never writes to
//! the store itself.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::context::Ctx;
use crate::delivery::Notification;
use crate::event::{types, EventDraft};
use crate::model::{Incident, PipelineRunStatus, StepRecord, StepStatus};
use crate::probe::Probe;
use crate::process;
use crate::protocol::incidents::IncidentsMsg;
use crate::protocol::notifier::NotifierMsg;
use crate::protocol::pipelines::{PipelinesMsg, Rerun};
use crate::protocol::playbooks::{PlaybooksMsg, RunReport};
use crate::protocol::sub_agent::SubAgentMsg;
use crate::protocol::{Incidents, Notifier, Pipelines, Playbooks, RPC_TIMEOUT_MS};
use crate::spec::{PlaybookSpec, StepSpec, WaitUntil};
use crate::store::Write;

/// How often a `wait` step for a healthy target probes it, and how long each probe may take.
const WAIT_POLL: Duration = Duration::from_millis(1_000);
const WAIT_PROBE_TIMEOUT: Duration = Duration::from_millis(5_000);
/// How far before an incident on a component with no monitor `rerun_pipelines` looks for
/// failed runs.
const RERUN_LOOKBACK_DEFAULT_MS: u64 = 60_000;

pub struct SubAgentActor;

pub struct SubAgentArgs {
    pub ctx: Arc<Ctx>,
    pub run_id: String,
    pub playbook: PlaybookSpec,
    pub incident: Incident,
    /// The step to start at: 0, or where a run interrupted by a restart resumes.
    pub first_step: usize,
}

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

/// The outcome of one step.
struct StepResult {
    ok: bool,
    attempts: u32,
    output: String,
    /// `check` found the target answering: skip to the next `verify`.
    skip_to_verify: bool,
}

impl StepResult {
    fn new(ok: bool, attempts: u32, output: String) -> Self {
        Self {
            ok,
            attempts,
            output,
            skip_to_verify: false,
        }
    }
}

struct Runner<'a> {
    args: &'a SubAgentArgs,
    probe: Option<Box<dyn Probe>>,
}

impl<'a> Runner<'a> {
    fn new(args: &'a SubAgentArgs) -> Self {
        let probe = args
            .ctx
            .spec()
            .monitors
            .iter()
            .find(|monitor| monitor.id == args.incident.source)
            .map(|monitor| args.ctx.probes.build(monitor));
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
            };
            if skipping && !matches!(step, StepSpec::Verify { .. }) {
                record.status = StepStatus::Skipped;
                record.finished_at = record.started_at;
                record.output = "target answered at check; not needed".to_owned();
                self.report(index, &record);
                continue;
            }
            self.report(index, &record);
            let result = self.execute_with_retries(step).await;
            record.attempts = result.attempts;
            record.output = process::tail(
                &result.output,
                self.args.ctx.spec().limits.output_tail_bytes,
            );
            record.finished_at = Some(crate::time::now());
            record.status = if result.ok {
                StepStatus::Succeeded
            } else {
                StepStatus::Failed
            };
            self.report(index, &record);
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

    /// Runs a step, and again after each backoff wait while it fails and retries are left.
    async fn execute_with_retries(&mut self, step: &StepSpec) -> StepResult {
        let (retries, backoff_ms) = step.retry_policy();
        let mut result = self.execute(step).await;
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
            result = self.execute(step).await;
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

    /// The value of a whitelisted field (see `spec::ARG_FIELDS`) for this run.
    fn field(&self, name: &str) -> String {
        let incident = &self.args.incident;
        match name {
            "incident.id" => incident.id.to_string(),
            "incident.source" => incident.source.clone(),
            "incident.event_type" => incident.event_type.clone(),
            "incident.severity" => serde_json::to_value(incident.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            "incident.title" => incident.title.clone(),
            "monitor.path" => self
                .args
                .ctx
                .spec()
                .monitors
                .iter()
                .find(|m| m.id == incident.source)
                .and_then(|m| match &m.kind {
                    crate::spec::MonitorKind::Log(log) => Some(log.path.clone()),
                    _ => None,
                })
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// `argv` with its placeholders filled in. Values that come from incidents must look like
    /// identifiers (see [`plain_identifier`]); `monitor.path` comes from config. When the
    /// incident is not a configured monitor's, whoever pushed its event chose its source, type
    /// and title: those run only when `allowed_values` lists them.
    fn command_argv(
        &self,
        argv: &[String],
        allowed_values: &[String],
    ) -> Result<Vec<String>, String> {
        let spec = self.args.ctx.spec();
        let origin = crate::spec::TriggerSource::of(&self.args.incident.source, &spec.monitors);
        let mut out = Vec::with_capacity(argv.len());
        for arg in argv {
            for name in crate::spec::placeholders(arg) {
                let value = self.field(name);
                let chosen_outside = matches!(
                    name,
                    "incident.source" | "incident.event_type" | "incident.title"
                );
                if chosen_outside
                    && origin != crate::spec::TriggerSource::Monitors
                    && !allowed_values.contains(&value)
                {
                    return Err(format!(
                        "refused to run: {{{name}}} is {value:?}, which came from {} and is not \
                         in this step's allowed_values",
                        origin.as_str()
                    ));
                }
                let from_config = name == "monitor.path";
                if !from_config && !plain_identifier(&value) {
                    return Err(format!(
                        "refused to run: {{{name}}} is {value:?}, which is not a plain identifier"
                    ));
                }
                if value.is_empty() {
                    return Err(format!("refused to run: {{{name}}} has no value here"));
                }
            }
            out.push(crate::spec::substitute(arg, |name| self.field(name)));
        }
        Ok(out)
    }

    fn report(&self, index: usize, record: &StepRecord) {
        let _ = self
            .args
            .ctx
            .scope
            .tell::<Playbooks>(PlaybooksMsg::StepUpdate {
                run_id: self.args.run_id.clone(),
                index,
                record: record.clone(),
            });
    }

    async fn execute(&mut self, step: &StepSpec) -> StepResult {
        match step {
            StepSpec::Check { timeout_ms } => {
                // `check` records the answer and never fails the run by itself.
                match self.probe_once(*timeout_ms).await {
                    Ok(note) => StepResult {
                        skip_to_verify: true,
                        ..StepResult::new(true, 1, format!("target answers: {note}"))
                    },
                    Err(error) => {
                        StepResult::new(true, 1, format!("target does not answer: {error}"))
                    }
                }
            }
            StepSpec::Command {
                argv,
                timeout_ms,
                allowed_values,
                env,
                ..
            } => match self.command_argv(argv, allowed_values) {
                Ok(argv) => run_command(&argv, env, *timeout_ms).await,
                Err(refused) => StepResult::new(false, 1, refused),
            },
            StepSpec::RerunPipelines {
                timeout_ms,
                runs_max,
                ..
            } => self.rerun_pipelines(*timeout_ms, *runs_max).await,
            StepSpec::Notify { message, webhooks } => self.notify(message, webhooks).await,
            StepSpec::Reconnect {
                backoff_ms,
                timeout_ms,
            } => {
                let mut log = Vec::new();
                for (attempt, delay_ms) in backoff_ms.iter().enumerate() {
                    tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
                    match self.probe_once(*timeout_ms).await {
                        Ok(note) => {
                            log.push(format!(
                                "try {} after {delay_ms} ms: connected ({note})",
                                attempt + 1
                            ));
                            return StepResult::new(true, attempt as u32 + 1, log.join("\n"));
                        }
                        Err(error) => {
                            log.push(format!("try {} after {delay_ms} ms: {error}", attempt + 1))
                        }
                    }
                }
                StepResult::new(false, backoff_ms.len() as u32, log.join("\n"))
            }
            StepSpec::Verify { timeout_ms, .. } => {
                let outcome = match self.probe.as_mut() {
                    Some(probe) => probe
                        .verify(Duration::from_millis(*timeout_ms))
                        .await
                        .map_err(|failure| failure.error),
                    None => Err(self.no_target()),
                };
                StepResult::new(
                    outcome.is_ok(),
                    1,
                    outcome.unwrap_or_else(|error| format!("verification failed: {error}")),
                )
            }
            StepSpec::RestoreTrust {} => self.restore_trust().await,
            StepSpec::SetTrust { value } => self.set_trust(*value).await,
            StepSpec::Escalate { reason } => StepResult::new(
                false,
                1,
                format!(
                    "escalated by the playbook: {}",
                    reason.as_deref().unwrap_or("handed to people")
                ),
            ),
            StepSpec::Http {
                url,
                method,
                body,
                expect_status,
                timeout_ms,
                ..
            } => {
                let incident = &self.args.incident;
                let body = body.clone().unwrap_or_else(|| {
                    serde_json::json!({
                        "incident": {
                            "id": incident.id,
                            "source": incident.source,
                            "event_type": incident.event_type,
                            "title": incident.title,
                            "severity": incident.severity,
                        }
                    })
                });
                call_http(url, method, &body, expect_status, *timeout_ms).await
            }
            StepSpec::Restart { timeout_ms, .. } => {
                let outcome = match self.probe.as_mut() {
                    Some(probe) => probe.restart(Duration::from_millis(*timeout_ms)).await,
                    None => Err(self.no_target()),
                };
                let ok = outcome.is_ok();
                StepResult::new(ok, 1, outcome.unwrap_or_else(|error| error))
            }
            StepSpec::Wait {
                ms,
                until,
                timeout_ms,
            } => {
                let limit = Duration::from_millis(*timeout_ms);
                match (ms, until) {
                    (Some(ms), _) => {
                        let wait = Duration::from_millis(*ms).min(limit);
                        tokio::time::sleep(wait).await;
                        StepResult::new(true, 1, format!("waited {} ms", wait.as_millis()))
                    }
                    (None, Some(WaitUntil::RetryAfter)) => match self.retry_window().await {
                        Some(left) => {
                            let wait = left.min(limit);
                            tokio::time::sleep(wait).await;
                            StepResult::new(
                                true,
                                1,
                                format!(
                                    "waited out the Retry-After window: {} ms",
                                    wait.as_millis()
                                ),
                            )
                        }
                        // Nothing said how long: wait for the target itself.
                        None => {
                            self.wait_healthy(limit, "no Retry-After on the incident; ")
                                .await
                        }
                    },
                    (None, Some(WaitUntil::Healthy)) | (None, None) => {
                        self.wait_healthy(limit, "").await
                    }
                }
            }
        }
    }

    /// What is left of the `Retry-After` window the incident's first event announced.
    async fn retry_window(&self) -> Option<Duration> {
        let first = *self.args.incident.event_seqs.first()?;
        let events = self
            .args
            .ctx
            .store
            .events_after(first.saturating_sub(1), 1)
            .await
            .ok()?;
        let event = events.into_iter().find(|event| event.seq == first)?;
        let data = &event.data;
        let seconds = [
            "/details/retry_after_seconds",
            "/retry_after_seconds",
            "/payload/retry_after_seconds",
        ]
        .iter()
        .find_map(|pointer| data.pointer(pointer).and_then(serde_json::Value::as_f64))?;
        // A pushed event may carry any number: only a finite, sane window counts.
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        let window_ms = (seconds * 1000.0).min(crate::spec::bounds::DURATION_MS_MAX as f64);
        let window_ends = event.at + chrono::Duration::milliseconds(window_ms as i64);
        let left = (window_ends - crate::time::now()).num_milliseconds().max(0);
        Some(Duration::from_millis(left as u64))
    }

    /// Probes until the target answers or `limit` has passed.
    async fn wait_healthy(&mut self, limit: Duration, note: &str) -> StepResult {
        let started = std::time::Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            let left = limit.saturating_sub(started.elapsed());
            let probe_timeout = left.clamp(Duration::from_millis(1), WAIT_PROBE_TIMEOUT);
            match self.probe_once(probe_timeout.as_millis() as u64).await {
                Ok(answer) => {
                    return StepResult::new(
                        true,
                        tries,
                        format!(
                            "{note}target answers after {} ms: {answer}",
                            started.elapsed().as_millis()
                        ),
                    )
                }
                Err(error) if started.elapsed() >= limit => {
                    return StepResult::new(
                        false,
                        tries,
                        format!("{note}still not answering after {limit:?}: {error}"),
                    )
                }
                Err(_) => {
                    let pause = WAIT_POLL.min(limit.saturating_sub(started.elapsed()));
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    async fn probe_once(&mut self, timeout_ms: u64) -> Result<String, String> {
        match self.probe.as_mut() {
            Some(probe) => probe
                .probe(Duration::from_millis(timeout_ms))
                .await
                .map_err(|failure| failure.error),
            None => Err(self.no_target()),
        }
    }

    fn no_target(&self) -> String {
        format!(
            "no monitor named {:?} to check, reconnect to or verify",
            self.args.incident.source
        )
    }

    /// Has the pipeline runs that failed while this component was down rerun, and waits for
    /// them. "While down" starts before the incident opened: a monitor declares a component
    /// down only after `failures_before_down` probes, and jobs fail from the first moment.
    async fn rerun_pipelines(&self, timeout_ms: u64, runs_max: usize) -> StepResult {
        let incident = &self.args.incident;
        let lookback_ms = self
            .args
            .ctx
            .spec()
            .monitors
            .iter()
            .find(|m| m.id == incident.source)
            .map_or(RERUN_LOOKBACK_DEFAULT_MS, |m| {
                m.interval_ms * (u64::from(m.failures_before_down) + 1) + m.timeout_ms
            });
        let since = incident.detected_at - chrono::Duration::milliseconds(lookback_ms as i64);
        let pipelines = match self.args.ctx.scope.find::<Pipelines>() {
            Ok(pipelines) => pipelines,
            Err(error) => return StepResult::new(false, 1, error.to_string()),
        };
        let deadline = std::time::Instant::now() + Duration::from_millis(timeout_ms);
        let reruns = match ractor::call_t!(
            pipelines,
            |reply| PipelinesMsg::RerunFailed {
                component: incident.source.clone(),
                since,
                runs_max,
                reply,
            },
            RPC_TIMEOUT_MS
        ) {
            Ok(Ok(reruns)) => reruns,
            Ok(Err(error)) => return StepResult::new(false, 1, error.to_string()),
            Err(error) => return StepResult::new(false, 1, error.to_string()),
        };
        if reruns.is_empty() {
            return StepResult::new(
                true,
                1,
                format!("no failed pipeline runs to rerun for {}", incident.source),
            );
        }
        let mut ok = true;
        let mut lines = Vec::new();
        for Rerun {
            failed_run_id,
            rerun,
        } in reruns
        {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ended = ractor::call_t!(
                pipelines,
                |reply| PipelinesMsg::AwaitRun {
                    run_id: rerun.run_id.clone(),
                    reply,
                },
                left.as_millis().max(1) as u64
            );
            let line = match ended {
                Ok(Some(run)) if run.status == PipelineRunStatus::Succeeded => format!(
                    "{}: run {} failed → rerun {} succeeded in {} ms",
                    run.pipeline_id,
                    failed_run_id,
                    run.run_id,
                    run.duration_ms.unwrap_or(0)
                ),
                Ok(Some(run)) => {
                    ok = false;
                    format!(
                        "{}: run {} failed → rerun {} {:?}: {}",
                        run.pipeline_id,
                        failed_run_id,
                        run.run_id,
                        run.status,
                        run.output.lines().next().unwrap_or_default()
                    )
                }
                Ok(None) | Err(_) => {
                    ok = false;
                    format!(
                        "{}: rerun {} did not end within the step's {timeout_ms} ms",
                        rerun.pipeline_id, rerun.run_id
                    )
                }
            };
            lines.push(line);
        }
        StepResult::new(ok, 1, lines.join("\n"))
    }

    /// Records a message for people, one pending delivery per webhook, with its
    /// `notification.sent` event, and hands the deliveries to the notifier; never waits for
    /// the delivery itself.
    async fn notify(&self, message: &str, webhooks: &[String]) -> StepResult {
        let ctx = &self.args.ctx;
        let text = crate::spec::substitute(message, |name| self.field(name));
        let notification_id = format!("NT-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let notification = Notification {
            notification_id: notification_id.clone(),
            incident: self.args.incident.clone(),
            message: text.clone(),
            webhooks: webhooks.to_vec(),
        };
        let deliveries = crate::delivery::for_notification(&ctx.spec().webhooks, &notification);
        let sent = EventDraft::new(
            types::NOTIFICATION_SENT,
            serde_json::json!({ "notification_id": notification_id, "message": text }),
        )
        .source(self.args.incident.source.clone())
        .incident(self.args.incident.id);
        let writes = deliveries
            .iter()
            .cloned()
            .map(|d| Write::Delivery(Box::new(d)))
            .collect();
        if let Err(error) =
            crate::protocol::bus::commit_in_order(&ctx.scope, vec![sent], writes).await
        {
            return StepResult::new(
                false,
                1,
                format!("the notification was not recorded: {error}"),
            );
        }
        let _ = ctx.scope.tell::<Notifier>(NotifierMsg::Send(deliveries));
        StepResult::new(true, 1, format!("{notification_id} queued: {text}"))
    }

    async fn set_trust(&self, value: f64) -> StepResult {
        let component = self.args.incident.source.clone();
        let ask = |reply| IncidentsMsg::SetTrust(component.clone(), value, reply);
        let result = match self.args.ctx.scope.ask::<Incidents, _>(ask).await {
            Ok(Ok(score)) => Ok(format!("trust in {component} set to {score:.2}")),
            Ok(Err(error)) => Err(error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        let ok = result.is_ok();
        StepResult::new(
            ok,
            1,
            result.unwrap_or_else(|e| format!("could not set trust: {e}")),
        )
    }

    async fn restore_trust(&self) -> StepResult {
        let component = self.args.incident.source.clone();
        let ask = |reply| IncidentsMsg::RestoreTrust(component.clone(), reply);
        let result = match self.args.ctx.scope.ask::<Incidents, _>(ask).await {
            Ok(Ok(score)) => Ok(format!("trust in {component} restored to {score:.2}")),
            Ok(Err(error)) => Err(error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        StepResult::new(
            result.is_ok(),
            1,
            result.unwrap_or_else(|error| format!("could not restore trust: {error}")),
        )
    }
}

/// Calls an API or webhook; the step succeeds on an expected status (any 2xx by default).
async fn call_http(
    url: &str,
    method: &str,
    body: &serde_json::Value,
    expect_status: &[u16],
    timeout_ms: u64,
) -> StepResult {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let sent = reqwest::Client::new()
        .request(method.clone(), url)
        .timeout(Duration::from_millis(timeout_ms))
        .json(body)
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let ok = if expect_status.is_empty() {
                response.status().is_success()
            } else {
                expect_status.contains(&status)
            };
            StepResult::new(ok, 1, format!("{method} {url} answered {status}"))
        }
        Err(error) => StepResult::new(false, 1, format!("{method} {url} failed: {error}")),
    }
}

/// Whether a value from an incident may go into a command argument: letters, digits and
/// `._:-` only, not starting with `-` (an option) or `.`, and no `..`. No `/` (a path that could
/// climb out of where the config put it), no `@` (response files, `curl -d @file`), no spaces
/// or shell characters (harmless without a shell, but never needed in an identifier).
fn plain_identifier(value: &str) -> bool {
    !value.is_empty()
        && !value.starts_with('-')
        && !value.starts_with('.')
        && !value.contains("..")
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c))
}

/// Runs a remediation program; the step succeeds when it exits 0.
async fn run_command(
    argv: &[String],
    env: &std::collections::BTreeMap<String, String>,
    timeout_ms: u64,
) -> StepResult {
    let timeout = Duration::from_millis(timeout_ms);
    let outcome = process::run(argv, env, timeout).await;
    let program = argv.first().map_or("command", String::as_str);
    StepResult::new(outcome.success(), 1, outcome.describe(program, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_reach_a_command() {
        for ok in ["orders-db", "db.connection_lost", "42", "host:5432", "a_b"] {
            assert!(plain_identifier(ok), "{ok}");
        }
        for refused in [
            "", "-rf", "--all", "../etc", "a/b", "@file", ".hidden", "a b", "x;y", "$(x)", "é",
        ] {
            assert!(!plain_identifier(refused), "{refused}");
        }
    }
}

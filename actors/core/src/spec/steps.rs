//! A playbook's steps: one variant per step kind, and the checks on each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::checks::*;
use super::*;

/// One step of a playbook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepSpec {
    /// Is the target reachable right now? Records the answer; never fails the run. When the
    /// target answers, the steps up to the next `verify` are skipped.
    Check {
        #[serde(default = "defaults::step_timeout_ms")]
        timeout_ms: u64,
    },
    /// Run a remediation program. `argv[0]` is executed directly, never through a shell.
    ///
    /// An argument may name whitelisted fields that are filled in when the step runs:
    /// `{incident.id}`, `{incident.source}`, `{incident.event_type}`, `{incident.severity}`
    /// and `{monitor.path}` (a log monitor's file). Nothing else an event carried can reach a
    /// command, and a value that could pass for an option (a leading `-`), climb a path (`/`,
    /// `..`), name a response file (`@`) or hold anything but letters, digits and `._:-` is
    /// refused.
    Command {
        argv: Vec<String>,
        #[serde(default = "defaults::command_timeout_ms")]
        timeout_ms: u64,
        /// Safe to run again if Grace stopped while it ran (a run resumes at it after a
        /// restart). Commands are not, unless said so.
        #[serde(default)]
        idempotent: bool,
        #[serde(default)]
        retries: u32,
        #[serde(default = "defaults::retry_backoff_ms")]
        backoff_ms: Vec<u64>,
        /// Values `{incident.source}`, `{incident.event_type}` and `{incident.title}` may
        /// take when the incident is not a configured monitor's (a pushed event or an alert
        /// chose them): any other value fails the step, recorded, and runs nothing.
        #[serde(default)]
        allowed_values: Vec<String>,
        /// Environment variables it gets besides `PATH` and `LANG` (nothing else of Grace's).
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    /// Try the target again after each delay; fails the run when the last try fails.
    Reconnect {
        #[serde(default = "defaults::backoff_ms")]
        backoff_ms: Vec<u64>,
        #[serde(default = "defaults::step_timeout_ms")]
        timeout_ms: u64,
    },
    /// Run a real query against the target; fails the run when it does not succeed.
    Verify {
        #[serde(default = "defaults::step_timeout_ms")]
        timeout_ms: u64,
        #[serde(default)]
        retries: u32,
        #[serde(default = "defaults::retry_backoff_ms")]
        backoff_ms: Vec<u64>,
    },
    /// Give the component back the trust its incident took away (after verified recovery).
    RestoreTrust {},
    /// Start the target again and wait until it answers. Only for targets Grace runs itself (a
    /// `process` monitor with `argv`); anything else is restarted by a `command` step.
    Restart {
        #[serde(default = "defaults::command_timeout_ms")]
        timeout_ms: u64,
        #[serde(default)]
        retries: u32,
        #[serde(default = "defaults::retry_backoff_ms")]
        backoff_ms: Vec<u64>,
    },
    /// Wait: a fixed time (`ms`), out the window a rate-limited API asked for
    /// (`until = "retry_after"`, from the incident's `Retry-After`), or until the target answers
    /// again (`until = "healthy"`). Never longer than `timeout_ms`; only `healthy` fails the run
    /// when the time runs out.
    Wait(WaitSpec),
    /// Call an API or webhook: the step succeeds on an expected status. The body is `body`
    /// from config, or else the incident's id, source, event type, title and severity —
    /// never anything else an event carried.
    Http {
        url: String,
        #[serde(default = "defaults::http_step_method")]
        method: String,
        #[serde(default)]
        body: Option<serde_json::Value>,
        /// Accepted statuses, one (`200`) or a list (`[200, 204]`); empty (the default)
        /// accepts any 2xx.
        #[serde(default, deserialize_with = "statuses::one_or_many")]
        expect_status: Vec<u16>,
        #[serde(default = "defaults::step_timeout_ms")]
        timeout_ms: u64,
        #[serde(default)]
        retries: u32,
        #[serde(default = "defaults::retry_backoff_ms")]
        backoff_ms: Vec<u64>,
    },
    /// Rerun the pipeline runs that failed while this incident's component was down: runs of
    /// pipelines that `depends_on` it, failed since shortly before the incident opened and not
    /// rerun yet, oldest first, at most `runs_max`. Put it after `verify`. Succeeds when every
    /// rerun succeeds within `timeout_ms` (and when there is nothing to rerun).
    RerunPipelines {
        #[serde(default = "defaults::rerun_timeout_ms")]
        timeout_ms: u64,
        #[serde(default = "defaults::rerun_runs_max")]
        runs_max: usize,
        #[serde(default)]
        retries: u32,
        #[serde(default = "defaults::retry_backoff_ms")]
        backoff_ms: Vec<u64>,
    },
    /// Tell people without escalating: `message` (with the same whitelisted fields as a
    /// command, plus `{incident.title}`) goes to the webhooks named in `webhooks`, or to all.
    /// Delivery is the notifier's job (with its retries); the step succeeds once it is queued.
    Notify {
        message: String,
        #[serde(default)]
        webhooks: Vec<String>,
    },
    /// Set the component's trust to `value` (in [0, 1]), e.g. to mark it suspect.
    SetTrust { value: f64 },
    /// Hand the incident to people now: the run ends as failed with `reason`, which becomes a
    /// work order (and goes to the webhooks).
    Escalate {
        #[serde(default)]
        reason: Option<String>,
    },
}

/// What a `wait` step waits for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WaitUntil {
    /// The `Retry-After` of the event that opened the incident.
    RetryAfter,
    /// A probe of the target succeeds.
    Healthy,
}

/// A `wait` step as written: exactly one of `ms` and `until`, which turning it into a
/// [`WaitSpec`] checks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WaitInput {
    #[serde(default)]
    pub ms: Option<u64>,
    #[serde(default)]
    pub until: Option<WaitUntil>,
    #[serde(default = "defaults::wait_timeout_ms")]
    pub timeout_ms: u64,
}

/// A `wait` step: what it waits for, never longer than `timeout_ms`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(try_from = "WaitInput", into = "WaitInput")]
pub struct WaitSpec {
    pub until: WaitFor,
    pub timeout_ms: u64,
}

/// What a `wait` step waits for: a time, or something to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    Time { ms: u64 },
    Event(WaitUntil),
}

impl TryFrom<WaitInput> for WaitSpec {
    type Error = SpecProblems;

    fn try_from(input: WaitInput) -> Result<Self, SpecProblems> {
        let until = match (input.ms, input.until) {
            (Some(ms), None) => WaitFor::Time { ms },
            (None, Some(until)) => WaitFor::Event(until),
            _ => {
                return Err(SpecProblems(vec![SpecProblem::new(
                    "ms",
                    "give exactly one of `ms` or `until` (\"retry_after\" or \"healthy\")",
                )]))
            }
        };
        Ok(WaitSpec {
            until,
            timeout_ms: input.timeout_ms,
        })
    }
}

impl From<WaitSpec> for WaitInput {
    fn from(spec: WaitSpec) -> Self {
        let (ms, until) = match spec.until {
            WaitFor::Time { ms } => (Some(ms), None),
            WaitFor::Event(until) => (None, Some(until)),
        };
        WaitInput {
            ms,
            until,
            timeout_ms: spec.timeout_ms,
        }
    }
}

impl StepSpec {
    /// Whether doing the step again after an interruption is safe: probing, waiting and
    /// (re)starting converge on the same state; a command only when its config says so, and
    /// restore_trust would give trust twice.
    pub fn idempotent(&self) -> bool {
        match self {
            StepSpec::Check { .. }
            | StepSpec::Reconnect { .. }
            | StepSpec::Verify { .. }
            | StepSpec::Wait(_)
            | StepSpec::Restart { .. } => true,
            StepSpec::Command { idempotent, .. } => *idempotent,
            // A rerun is itself recorded: a resumed step reruns only what is still not rerun.
            StepSpec::RerunPipelines { .. } => true,
            StepSpec::RestoreTrust {}
            | StepSpec::Notify { .. }
            | StepSpec::Http { .. }
            | StepSpec::SetTrust { .. }
            | StepSpec::Escalate { .. } => false,
        }
    }

    /// The step's kind as written in config; also its name in execution records.
    pub fn name(&self) -> &'static str {
        match self {
            StepSpec::Check { .. } => "check",
            StepSpec::Command { .. } => "command",
            StepSpec::Reconnect { .. } => "reconnect",
            StepSpec::Verify { .. } => "verify",
            StepSpec::RestoreTrust {} => "restore_trust",
            StepSpec::Http { .. } => "http",
            StepSpec::SetTrust { .. } => "set_trust",
            StepSpec::Escalate { .. } => "escalate",
            StepSpec::Restart { .. } => "restart",
            StepSpec::Wait(_) => "wait",
            StepSpec::RerunPipelines { .. } => "rerun_pipelines",
            StepSpec::Notify { .. } => "notify",
        }
    }

    /// How often a failed step is tried again, and the waits before those tries (the last
    /// wait repeats when there are more retries than waits).
    pub fn retry_policy(&self) -> (u32, &[u64]) {
        match self {
            StepSpec::Command {
                retries,
                backoff_ms,
                ..
            }
            | StepSpec::Verify {
                retries,
                backoff_ms,
                ..
            }
            | StepSpec::Restart {
                retries,
                backoff_ms,
                ..
            }
            | StepSpec::Http {
                retries,
                backoff_ms,
                ..
            }
            | StepSpec::RerunPipelines {
                retries,
                backoff_ms,
                ..
            } => (*retries, backoff_ms),
            _ => (0, &[]),
        }
    }
}

impl StepSpec {
    /// Everything wrong with this step, all at once.
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = self.kind_problems();
        problems.extend(self.retry_problems());
        problems
    }

    /// What is wrong with the settings of this kind of step.
    fn kind_problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        match self {
            StepSpec::Check { timeout_ms } | StepSpec::Verify { timeout_ms, .. } => {
                check_duration(&mut problems, "timeout_ms", *timeout_ms)
            }
            StepSpec::Command {
                argv, timeout_ms, ..
            } => {
                check_duration(&mut problems, "timeout_ms", *timeout_ms);
                check_argv(&mut problems, argv);
                for (index, arg) in argv.iter().enumerate() {
                    check_fields(&mut problems, &format!("argv[{index}]"), arg, &ARG_FIELDS);
                }
            }
            StepSpec::RerunPipelines {
                timeout_ms,
                runs_max,
                ..
            } => {
                check_duration(&mut problems, "timeout_ms", *timeout_ms);
                if *runs_max == 0 || *runs_max > bounds::RERUN_RUNS_MAX {
                    let range = format!("must be 1 to {}", bounds::RERUN_RUNS_MAX);
                    problems.push(SpecProblem::new("runs_max", range));
                }
            }
            StepSpec::Notify { message, .. } => {
                if message.trim().is_empty() || message.len() > bounds::MESSAGE_LEN_MAX {
                    let bytes = format!("must be 1 to {} bytes", bounds::MESSAGE_LEN_MAX);
                    problems.push(SpecProblem::new("message", bytes));
                }
                check_fields(&mut problems, "message", message, &MESSAGE_FIELDS);
            }
            StepSpec::Reconnect {
                backoff_ms,
                timeout_ms,
            } => {
                check_duration(&mut problems, "timeout_ms", *timeout_ms);
                check_backoff(&mut problems, backoff_ms);
            }
            StepSpec::RestoreTrust {} | StepSpec::Escalate { .. } => {}
            StepSpec::Http {
                url,
                method,
                expect_status,
                timeout_ms,
                ..
            } => {
                check_duration(&mut problems, "timeout_ms", *timeout_ms);
                check_url(&mut problems, "url", url);
                check_method_and_statuses(&mut problems, method, expect_status);
            }
            StepSpec::SetTrust { value } if !(0.0..=1.0).contains(value) => {
                problems.push(SpecProblem::new("value", "must be within [0, 1]"));
            }
            StepSpec::SetTrust { .. } => {}
            StepSpec::Restart { timeout_ms, .. } => {
                check_duration(&mut problems, "timeout_ms", *timeout_ms)
            }
            StepSpec::Wait(wait) => {
                check_duration(&mut problems, "timeout_ms", wait.timeout_ms);
                if let WaitFor::Time { ms } = wait.until {
                    check_duration(&mut problems, "ms", ms);
                }
            }
        }
        problems
    }

    /// What is wrong with the retries of a step that takes them.
    fn retry_problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        let (retries, backoff_ms) = self.retry_policy();
        if retries > bounds::RETRIES_MAX {
            let most = format!("at most {}", bounds::RETRIES_MAX);
            problems.push(SpecProblem::new("retries", most));
        }
        if retries > 0
            && (backoff_ms.is_empty()
                || backoff_ms.len() > bounds::BACKOFF_TRIES_MAX
                || backoff_ms.iter().any(|ms| *ms > bounds::DURATION_MS_MAX))
        {
            problems.push(SpecProblem::new(
                "backoff_ms",
                format!(
                    "must list 1 to {} waits of at most {} ms",
                    bounds::BACKOFF_TRIES_MAX,
                    bounds::DURATION_MS_MAX
                ),
            ));
        }
        problems
    }
}

/// A `reconnect` step's delays: 1 to BACKOFF_TRIES_MAX, none too long.
fn check_backoff(problems: &mut Vec<SpecProblem>, backoff_ms: &[u64]) {
    if backoff_ms.is_empty() || backoff_ms.len() > bounds::BACKOFF_TRIES_MAX {
        let count = format!("must list 1 to {} delays", bounds::BACKOFF_TRIES_MAX);
        problems.push(SpecProblem::new("backoff_ms", count));
    }
    if backoff_ms.iter().any(|ms| *ms > bounds::DURATION_MS_MAX) {
        let each = format!("each delay must be at most {} ms", bounds::DURATION_MS_MAX);
        problems.push(SpecProblem::new("backoff_ms", each));
    }
}

/// Every placeholder in `text` must be one of `allowed`.
pub(super) fn check_fields(
    problems: &mut Vec<SpecProblem>,
    field: &str,
    text: &str,
    allowed: &[&str],
) {
    for name in placeholders(text) {
        if !allowed.contains(&name) {
            problems.push(SpecProblem::new(
                field,
                format!(
                    "{{{name}}} cannot be filled in; allowed: {}",
                    allowed
                        .iter()
                        .map(|f| format!("{{{f}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
}

//! Typed specifications of what the supervision tree runs: monitors, playbooks and the limits
//! that bound every queue, retry and buffer.
//!
//! These are the shapes the actors consume. Reading them from a file, filling defaults and
//! reporting every validation error at once is the binary's job (`src/config.rs`); the actors
//! only ever see a spec that has already been checked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::Pattern;

pub use crate::problem::SpecProblem;

/// One dependency Grace watches. `kind` selects the probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
// No `deny_unknown_fields` here: serde cannot combine it with `flatten`. The config loader
// finds unknown keys by comparing the input with the spec serialised back.
pub struct MonitorSpec {
    /// Unique name of the monitored component; incidents and trust are keyed by it.
    pub id: String,
    /// What to probe and how.
    #[serde(flatten)]
    pub kind: MonitorKind,
    /// Time between two probes.
    #[serde(default = "defaults::interval_ms")]
    pub interval_ms: u64,
    /// A probe that has not answered within this time counts as failed.
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    /// Flap damping: consecutive failed probes before the component is declared down.
    #[serde(default = "defaults::failures_before_down")]
    pub failures_before_down: u32,
    /// Flap damping: consecutive good probes before a down component is declared up again.
    #[serde(default = "defaults::successes_before_up")]
    pub successes_before_up: u32,
    /// Monitors this component needs. While one of them has an active incident, this
    /// monitor's failures attach to that incident as symptoms instead of opening their own.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// An incident on this component still active after this long becomes a work order for
    /// people (and goes to the webhooks), whatever automation is doing. None: never by time.
    #[serde(default)]
    pub escalate_after_ms: Option<u64>,
}

/// The probe a monitor runs, with its kind-specific settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MonitorKind {
    /// A PostgreSQL server: connect and run `SELECT 1`.
    Postgres {
        /// libpq-style URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
        url: String,
    },
    /// A TCP service: connect, optionally send a line and expect a reply containing a string.
    Tcp {
        /// `host:port`.
        address: String,
        /// Written after connecting (e.g. `"PING\r\n"`).
        #[serde(default)]
        send: Option<String>,
        /// The reply must contain this; read until it appears or `timeout_ms` passes.
        #[serde(default)]
        expect: Option<String>,
    },
    /// An HTTP API: one request per probe, judged by status, body and latency; 429-aware.
    Http(HttpSpec),
    /// A Redis server: `PING` over a real connection.
    Redis {
        /// `redis://[user:password@]host[:port][/db]`, or `rediss://…` for TLS.
        url: String,
        /// For `rediss://`: the CA file (PEM) the server's certificate must lead to; the
        /// system's CAs when absent.
        #[serde(default)]
        tls_ca_path: Option<String>,
    },
    /// A check program with the Nagios plugin convention (exit 0 OK, 1 WARNING, 2 CRITICAL,
    /// 3 UNKNOWN), run as argv — never through a shell.
    Command {
        argv: Vec<String>,
        /// Environment variables it gets besides `PATH` and `LANG` (nothing else of Grace's).
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    /// A dead-man switch: the app calls `POST /heartbeats/{id}`; silence longer than
    /// `grace_ms` is a problem, and the next beat ends it.
    Heartbeat {
        /// Longest silence tolerated.
        grace_ms: u64,
    },
    /// A log file, followed like `tail -F`; lines matching a rule become events.
    Log(LogSpec),
    /// A process: one Grace starts from `argv`, or one found through a `pidfile`. Its exit is
    /// noticed when it happens, not at the next probe.
    Process(ProcessSpec),
}

/// What a `log` monitor follows and what it looks for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogSpec {
    /// The file. It may not exist yet; it may be rotated (renamed and recreated) or truncated.
    pub path: String,
    /// Read the lines already in the file at start; by default only new lines count.
    #[serde(default)]
    pub from_start: bool,
    /// Checked in order; a line raises an event for every rule it matches.
    pub rules: Vec<LogRule>,
}

/// One pattern of a `log` monitor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogRule {
    /// A regular expression (Rust `regex` syntax) matched against each line.
    pub regex: String,
    /// The problem event a match raises, e.g. `log.error_detected`.
    pub event: String,
    #[serde(default = "defaults::log_severity")]
    pub severity: crate::model::Severity,
    /// What the incident is called; the event type when absent.
    #[serde(default)]
    pub title: Option<String>,
    /// At most one event per rule per this many ms. Matches in between are counted and
    /// reported with the next event, whose `count` adds to the incident's occurrences: a burst
    /// of 10,000 lines is one incident counting 10,000, carried by a handful of events.
    #[serde(default = "defaults::log_rate_limit_ms")]
    pub rate_limit_ms: u64,
}

/// What a `process` monitor watches. Exactly one of `argv` and `pidfile`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessSpec {
    /// Grace starts the process itself (never through a shell) and is its parent, so it sees
    /// the exit at once; a `restart` step can start it again.
    #[serde(default)]
    pub argv: Option<Vec<String>>,
    /// Or: the process is started by someone else and writes its pid here. Grace watches the
    /// pid with a pidfd, so the exit is still seen at once; restarting is a `command` step.
    #[serde(default)]
    pub pidfile: Option<String>,
    /// Optional: the process must also accept TCP connections at this `host:port`.
    #[serde(default)]
    pub ready_tcp: Option<String>,
    /// Optional: the process must also answer this URL with a 2xx.
    #[serde(default)]
    pub ready_http: Option<String>,
}

impl MonitorKind {
    /// Short name of the kind, as written in config (`postgres`).
    pub fn name(&self) -> &'static str {
        match self {
            MonitorKind::Postgres { .. } => "postgres",
            MonitorKind::Tcp { .. } => "tcp",
            MonitorKind::Http(_) => "http",
            MonitorKind::Redis { .. } => "redis",
            MonitorKind::Command { .. } => "command",
            MonitorKind::Heartbeat { .. } => "heartbeat",
            MonitorKind::Log(_) => "log",
            MonitorKind::Process(_) => "process",
        }
    }
}

/// What an `http` monitor requests and how it judges the answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HttpSpec {
    pub url: String,
    #[serde(default = "defaults::http_method")]
    pub method: String,
    /// Sent with every request.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Accepted statuses; empty (the default) accepts any 2xx or 3xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// The body must contain this.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// The body must be JSON with a value at this JSON pointer (`/status`) …
    #[serde(default)]
    pub json_pointer: Option<String>,
    /// … equal to this, when given.
    #[serde(default)]
    pub json_equals: Option<serde_json::Value>,
    /// Answers slower than this are `api.degraded`.
    #[serde(default)]
    pub degraded_ms: Option<u64>,
}

/// A remediation recipe: which events start it and the steps it runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlaybookSpec {
    /// Unique id, e.g. `db_reconnect`.
    pub id: String,
    /// Human name shown to people, e.g. "Reconnect DB".
    #[serde(default)]
    pub name: Option<String>,
    /// Event-type patterns that trigger it (`db.connection_lost`, `db.*`).
    pub on: Vec<String>,
    /// Optional monitor selector: only incidents on these monitors trigger it. Empty (the
    /// default): any source.
    #[serde(default)]
    pub monitors: Vec<String>,
    /// Steps, run in order by one sub-agent.
    pub steps: Vec<StepSpec>,
    /// After a run on a component, no automatic run of this playbook on the same component
    /// for this long; an incident meanwhile stays for people. 0: no cooldown.
    #[serde(default)]
    pub cooldown_ms: u64,
    /// Circuit breaker: when this playbook has already run `breaker_runs_max` times on one
    /// component within `breaker_window_ms`, it stops running there by itself and the
    /// incident escalates to a work order. A playbook that keeps "healing" the same thing is
    /// not healing it.
    #[serde(default = "defaults::breaker_runs_max")]
    pub breaker_runs_max: u32,
    #[serde(default = "defaults::breaker_window_ms")]
    pub breaker_window_ms: u64,
    /// What happens to a run Grace stopped in the middle of (even by SIGKILL) when the step it
    /// was in is not idempotent: `escalate` (the run is `interrupted`, with a work order) or
    /// `retry` (it resumes at that step anyway). Idempotent steps always resume.
    #[serde(default)]
    pub on_interrupt: OnInterrupt,
    /// Trust-gated autonomy: below this trust (its success history) the playbook does not run
    /// by itself; it becomes a suggestion on the incident that a person approves or dismisses.
    /// 0 (the default) always runs.
    #[serde(default)]
    pub auto_run_min_trust: f64,
    /// Whether a successful run resolves the incident (healing playbooks). A triage playbook
    /// that only gathers evidence and tells people sets it to false: the incident stays open.
    #[serde(default = "defaults::resolve_on_success")]
    pub resolve_on_success: bool,
    /// Whose incidents may start it: `monitors` (the default: Grace's own probes), `pushed`
    /// (`POST /events`) and/or `alertmanager`. Anyone who can push an event chooses its
    /// source and type, so a playbook runs for pushed events only when it says so.
    #[serde(default = "defaults::sources")]
    pub sources: Vec<TriggerSource>,
}

impl PlaybookSpec {
    /// The name people see; the id when no name is configured.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// Why this playbook is not for an incident of `event_type` on `source` (whose origin is
    /// `origin`), or None when its trigger matches.
    pub fn mismatch(
        &self,
        event_type: &str,
        source: &str,
        origin: TriggerSource,
    ) -> Option<String> {
        let name = self.display_name();
        if !self.sources.contains(&origin) {
            return Some(format!(
                "{name} runs only for incidents from {:?}; {source} is {}",
                self.sources,
                origin.as_str()
            ));
        }
        if !self.monitors.is_empty() && !self.monitors.iter().any(|m| m == source) {
            return Some(format!("{name} is only for monitors {:?}", self.monitors));
        }
        if !self
            .on
            .iter()
            .any(|p| Pattern::new(p.as_str()).matches(event_type))
        {
            return Some(format!(
                "{name} is not for {event_type} (it is for {:?})",
                self.on
            ));
        }
        None
    }
}

/// Where an incident's events come from (see [`PlaybookSpec::sources`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TriggerSource {
    /// A configured monitor: Grace's own probes, whose sources pushed events may not use.
    Monitors,
    /// `POST /events`.
    Pushed,
    /// `POST /integrations/alertmanager` (sources `alertmanager/<fingerprint>`).
    Alertmanager,
}

/// What every Alertmanager alert's source starts with; pushed events may not use it.
pub const ALERTMANAGER_SOURCE_PREFIX: &str = "alertmanager/";

impl TriggerSource {
    /// The origin of an incident on `source`, given the monitors configured now.
    pub fn of(source: &str, monitors: &[MonitorSpec]) -> Self {
        if monitors.iter().any(|m| m.id == source) {
            TriggerSource::Monitors
        } else if source.starts_with(ALERTMANAGER_SOURCE_PREFIX) {
            TriggerSource::Alertmanager
        } else {
            TriggerSource::Pushed
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TriggerSource::Monitors => "a monitor",
            TriggerSource::Pushed => "pushed",
            TriggerSource::Alertmanager => "from alertmanager",
        }
    }
}

/// See [`PlaybookSpec::on_interrupt`].
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnInterrupt {
    #[default]
    Escalate,
    Retry,
}

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
    Wait {
        #[serde(default)]
        ms: Option<u64>,
        #[serde(default)]
        until: Option<WaitUntil>,
        #[serde(default = "defaults::wait_timeout_ms")]
        timeout_ms: u64,
    },
    /// Call an API or webhook: the step succeeds on an expected status. The body is `body`
    /// from config, or else the incident's id, source, event type, title and severity —
    /// never anything else an event carried.
    Http {
        url: String,
        #[serde(default = "defaults::http_step_method")]
        method: String,
        #[serde(default)]
        body: Option<serde_json::Value>,
        /// Accepted statuses; empty (the default) accepts any 2xx.
        #[serde(default)]
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

impl StepSpec {
    /// Whether doing the step again after an interruption is safe: probing, waiting and
    /// (re)starting converge on the same state; a command only when its config says so, and
    /// restore_trust would give trust twice.
    pub fn idempotent(&self) -> bool {
        match self {
            StepSpec::Check { .. }
            | StepSpec::Reconnect { .. }
            | StepSpec::Verify { .. }
            | StepSpec::Wait { .. }
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
            StepSpec::Wait { .. } => "wait",
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

/// The fields a `command` argument or a `notify` message may name, and nothing else: each
/// comes from Grace's own records or from config, never from free text an event carried.
pub const ARG_FIELDS: [&str; 5] = [
    "incident.id",
    "incident.source",
    "incident.event_type",
    "incident.severity",
    "monitor.path",
];
/// `notify` messages are text for people, so they may also carry the incident's title.
pub const MESSAGE_FIELDS: [&str; 6] = [
    "incident.id",
    "incident.source",
    "incident.event_type",
    "incident.severity",
    "monitor.path",
    "incident.title",
];

/// The `{a.b}` placeholders in `text` (lowercase names with one dot); other braces are text.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else { break };
        let name = &rest[..close];
        let is_field = name.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && !b.contains('.')
                && name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c == b'_' || c == b'.')
        });
        if is_field {
            found.push(name);
            rest = &rest[close + 1..];
        }
    }
    found
}

/// Fills the placeholders of `text` from `value` (which answers for every allowed name).
pub fn substitute(text: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = text.to_owned();
    for name in placeholders(text) {
        out = out.replace(&format!("{{{name}}}"), &value(name));
    }
    out
}

/// A job Grace runs and records: a program (argv, never a shell) or an HTTP call, on a
/// schedule and/or by hand. A run that fails while a component it `depends_on` is down is
/// rerun by the healing playbook's `rerun_pipelines` step once the component is verified back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// Unique id, e.g. `orders-export`.
    pub id: String,
    /// Human name; the id when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The program to run; it succeeds when it exits 0. Exactly one of `argv` and `url`.
    #[serde(default)]
    pub argv: Option<Vec<String>>,
    /// Or: the URL to call; it succeeds on an expected status (any 2xx by default).
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default = "defaults::http_step_method")]
    pub method: String,
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// Monitors (components) the job needs.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Run it every this many ms (the first run one period after Grace starts). None: only by
    /// hand or as a rerun.
    #[serde(default)]
    pub every_ms: Option<u64>,
    /// A run still going after this long is killed and counts as failed.
    #[serde(default = "defaults::pipeline_timeout_ms")]
    pub timeout_ms: u64,
    /// Environment variables an `argv` job gets besides `PATH` and `LANG`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl PipelineSpec {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// Everything wrong with this pipeline, all at once (its `depends_on` names are checked
    /// against the monitors by the config loader).
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if self.id.trim().is_empty() {
            problems.push(SpecProblem::new("id", "must not be empty"));
        }
        match (&self.argv, &self.url) {
            (Some(argv), None) => check_argv(&mut problems, argv),
            (None, Some(url)) => check_url(&mut problems, "url", url),
            _ => problems.push(SpecProblem::new(
                "argv",
                "give exactly one of `argv` (a program) or `url` (an HTTP call)",
            )),
        }
        check_method_and_statuses(&mut problems, &self.method, &self.expect_status);
        if let Some(every_ms) = self.every_ms {
            if !(bounds::PIPELINE_EVERY_MS_MIN..=bounds::DURATION_MS_MAX * 24).contains(&every_ms) {
                problems.push(SpecProblem::new(
                    "every_ms",
                    format!(
                        "must be between {} and {} ms",
                        bounds::PIPELINE_EVERY_MS_MIN,
                        bounds::DURATION_MS_MAX * 24
                    ),
                ));
            }
        }
        check_duration(&mut problems, "timeout_ms", self.timeout_ms);
        if self.depends_on.len() > bounds::DEPENDS_ON_MAX {
            problems.push(SpecProblem::new(
                "depends_on",
                format!("at most {} monitors", bounds::DEPENDS_ON_MAX),
            ));
        }
        problems
    }
}

/// How trust scores move.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrustSpec {
    /// Subtracted from a component's trust when an incident opens on it.
    #[serde(default = "defaults::trust_drop")]
    pub drop_on_incident: f64,
    /// Added back (capped at 1) by a `restore_trust` step after verified recovery. Smaller than
    /// the drop on purpose: a component that keeps failing ends up trusted less.
    #[serde(default = "defaults::trust_restore")]
    pub restore_on_recovery: f64,
}

impl Default for TrustSpec {
    fn default() -> Self {
        Self {
            drop_on_incident: defaults::trust_drop(),
            restore_on_recovery: defaults::trust_restore(),
        }
    }
}

/// Supervision policy: OTP-style restart intensity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SupervisionSpec {
    /// More restarts than this within `period_ms` and a supervisor gives up and escalates.
    #[serde(default = "defaults::max_restarts")]
    pub max_restarts: usize,
    /// The window restart intensity is counted in.
    #[serde(default = "defaults::period_ms")]
    pub period_ms: u64,
}

impl Default for SupervisionSpec {
    fn default() -> Self {
        Self {
            max_restarts: defaults::max_restarts(),
            period_ms: defaults::period_ms(),
        }
    }
}

/// Bounds on buffers and concurrency inside the tree.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Events a live-feed subscriber may fall behind before it is cut off (it can resume with
    /// `since`). Keeps one slow client from holding memory or stalling the hub.
    #[serde(default = "defaults::ws_buffer_max")]
    pub ws_buffer_max: usize,
    /// Playbook runs allowed at once; further triggers wait in a queue.
    #[serde(default = "defaults::agents_max")]
    pub agents_max: usize,
    /// Incidents that may wait for a free sub-agent; beyond it they stay open for people.
    #[serde(default = "defaults::agents_queue_max")]
    pub agents_queue_max: usize,
    /// Bytes of a command's output kept in the step record (the tail).
    #[serde(default = "defaults::output_tail_bytes")]
    pub output_tail_bytes: usize,
    /// Event seqs remembered on one incident for its timeline; later repeats only count.
    #[serde(default = "defaults::incident_events_max")]
    pub incident_events_max: usize,
    /// Events the incident manager may fall behind the log before intake answers 503 with
    /// `Retry-After`: "acknowledged" must not mean "handled an hour later", and Grace's own
    /// monitors never wait behind more than this.
    #[serde(default = "defaults::incidents_lag_max")]
    pub incidents_lag_max: usize,
    /// Live-feed (`/ws`) clients served at once; past it an upgrade gets 503.
    #[serde(default = "defaults::ws_clients_max")]
    pub ws_clients_max: usize,
}

impl Default for LimitsSpec {
    fn default() -> Self {
        Self {
            ws_buffer_max: defaults::ws_buffer_max(),
            agents_max: defaults::agents_max(),
            agents_queue_max: defaults::agents_queue_max(),
            output_tail_bytes: defaults::output_tail_bytes(),
            incident_events_max: defaults::incident_events_max(),
            incidents_lag_max: defaults::incidents_lag_max(),
            ws_clients_max: defaults::ws_clients_max(),
        }
    }
}

/// Where escalations are sent: every work order is posted to every webhook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// Unique name; deliveries are recorded under it.
    pub id: String,
    pub url: String,
    /// `json` (Grace's own body) or `slack` (a Slack-compatible `{"text": …}` body, for an
    /// incoming-webhook URL).
    #[serde(default)]
    pub format: WebhookFormat,
    /// Each try must be answered (2xx) within this time.
    #[serde(default = "defaults::webhook_timeout_ms")]
    pub timeout_ms: u64,
    /// Waits before the retries after a failed try; its length is the number of retries.
    #[serde(default = "defaults::webhook_backoff_ms")]
    pub backoff_ms: Vec<u64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
}

impl WebhookSpec {
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if self.id.trim().is_empty() {
            problems.push(SpecProblem::new("id", "must not be empty"));
        }
        check_url(&mut problems, "url", &self.url);
        check_duration(&mut problems, "timeout_ms", self.timeout_ms);
        if self.backoff_ms.len() > bounds::BACKOFF_TRIES_MAX
            || self
                .backoff_ms
                .iter()
                .any(|ms| *ms > bounds::DURATION_MS_MAX)
        {
            problems.push(SpecProblem::new(
                "backoff_ms",
                format!(
                    "at most {} delays of at most {} ms",
                    bounds::BACKOFF_TRIES_MAX,
                    bounds::DURATION_MS_MAX
                ),
            ));
        }
        problems
    }
}

/// Everything the kernel needs to build the tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeSpec {
    pub monitors: Vec<MonitorSpec>,
    pub playbooks: Vec<PlaybookSpec>,
    pub pipelines: Vec<PipelineSpec>,
    pub webhooks: Vec<WebhookSpec>,
    pub trust: TrustSpec,
    pub supervision: SupervisionSpec,
    pub limits: LimitsSpec,
    pub retention: crate::retention::RetentionSpec,
}

/// Defaults, named so config docs and code agree.
pub mod defaults {
    pub fn http_method() -> String {
        "GET".to_owned()
    }
    pub fn interval_ms() -> u64 {
        5_000
    }
    pub fn timeout_ms() -> u64 {
        2_000
    }
    pub fn failures_before_down() -> u32 {
        2
    }
    pub fn successes_before_up() -> u32 {
        1
    }
    pub fn step_timeout_ms() -> u64 {
        5_000
    }
    pub fn command_timeout_ms() -> u64 {
        30_000
    }
    pub fn backoff_ms() -> Vec<u64> {
        vec![2_000, 4_000, 8_000]
    }
    pub fn trust_drop() -> f64 {
        0.3
    }
    pub fn trust_restore() -> f64 {
        0.25
    }
    pub fn max_restarts() -> usize {
        5
    }
    pub fn period_ms() -> u64 {
        10_000
    }
    pub fn ws_buffer_max() -> usize {
        1_024
    }
    pub fn agents_max() -> usize {
        16
    }
    pub fn agents_queue_max() -> usize {
        1_024
    }
    pub fn output_tail_bytes() -> usize {
        4_096
    }
    pub fn incident_events_max() -> usize {
        200
    }
    pub fn incidents_lag_max() -> usize {
        4_096
    }
    pub fn ws_clients_max() -> usize {
        1_024
    }
    pub fn log_severity() -> crate::model::Severity {
        crate::model::Severity::Medium
    }
    pub fn log_rate_limit_ms() -> u64 {
        60_000
    }
    pub fn wait_timeout_ms() -> u64 {
        300_000
    }
    pub fn webhook_timeout_ms() -> u64 {
        5_000
    }
    pub fn webhook_backoff_ms() -> Vec<u64> {
        vec![1_000, 5_000, 30_000]
    }
    pub fn http_step_method() -> String {
        "POST".to_owned()
    }
    pub fn breaker_runs_max() -> u32 {
        5
    }
    pub fn breaker_window_ms() -> u64 {
        600_000
    }
    pub fn resolve_on_success() -> bool {
        true
    }
    pub fn sources() -> Vec<super::TriggerSource> {
        vec![super::TriggerSource::Monitors]
    }
    pub fn retry_backoff_ms() -> Vec<u64> {
        vec![1_000]
    }
    pub fn rerun_timeout_ms() -> u64 {
        300_000
    }
    pub fn rerun_runs_max() -> usize {
        20
    }
    pub fn pipeline_timeout_ms() -> u64 {
        600_000
    }
}

/// Upper bounds config may not exceed, so a typo cannot park an actor for days.
pub mod bounds {
    /// Longest probe interval, probe timeout or step timeout: one hour.
    pub const DURATION_MS_MAX: u64 = 3_600_000;
    /// Most tries a `reconnect` step may list.
    pub const BACKOFF_TRIES_MAX: usize = 20;
    /// Most steps in one playbook.
    pub const STEPS_MAX: usize = 50;
    /// Most rules in one `log` monitor: every line is matched against each.
    pub const LOG_RULES_MAX: usize = 64;
    /// Most monitors one monitor may depend on.
    pub const DEPENDS_ON_MAX: usize = 16;
    /// Largest circuit-breaker run count: the run times kept per component are bounded by it.
    pub const BREAKER_RUNS_MAX: u32 = 1_000;
    /// Most retries of one step.
    pub const RETRIES_MAX: u32 = 20;
    /// Most pipeline runs one `rerun_pipelines` step reruns.
    pub const RERUN_RUNS_MAX: usize = 1_000;
    /// Shortest pipeline schedule: the scheduler looks every 250 ms.
    pub const PIPELINE_EVERY_MS_MIN: u64 = 1_000;
    /// Longest `notify` message.
    pub const MESSAGE_LEN_MAX: usize = 2_000;
}

fn check_duration(problems: &mut Vec<SpecProblem>, field: &str, ms: u64) {
    if ms == 0 || ms > bounds::DURATION_MS_MAX {
        problems.push(SpecProblem::new(
            field,
            format!(
                "must be between 1 and {} ms, got {ms}",
                bounds::DURATION_MS_MAX
            ),
        ));
    }
}

/// `argv` must name a program.
fn check_argv(problems: &mut Vec<SpecProblem>, argv: &[String]) {
    if argv.first().is_none_or(|program| program.trim().is_empty()) {
        problems.push(SpecProblem::new("argv", "must name a program to run"));
    }
}

/// `url` must be an http(s) URL.
fn check_url(problems: &mut Vec<SpecProblem>, field: &str, url: &str) {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        problems.push(SpecProblem::new(
            field,
            "must start with http:// or https://",
        ));
    }
}

/// An HTTP method and the statuses expected of the answer.
fn check_method_and_statuses(problems: &mut Vec<SpecProblem>, method: &str, expect_status: &[u16]) {
    if reqwest::Method::from_bytes(method.as_bytes()).is_err() {
        problems.push(SpecProblem::new(
            "method",
            format!("not an HTTP method: {method:?}"),
        ));
    }
    if expect_status
        .iter()
        .any(|status| !(100..=599).contains(status))
    {
        problems.push(SpecProblem::new("expect_status", "statuses are 100 to 599"));
    }
}

impl MonitorSpec {
    /// Everything wrong with this monitor, all at once.
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if self.id.trim().is_empty() {
            problems.push(SpecProblem::new("id", "must not be empty"));
        }
        check_duration(&mut problems, "interval_ms", self.interval_ms);
        if let Some(ms) = self.escalate_after_ms {
            check_duration(&mut problems, "escalate_after_ms", ms);
        }
        check_duration(&mut problems, "timeout_ms", self.timeout_ms);
        if self.failures_before_down == 0 {
            problems.push(SpecProblem::new(
                "failures_before_down",
                "must be at least 1",
            ));
        }
        if self.successes_before_up == 0 {
            problems.push(SpecProblem::new(
                "successes_before_up",
                "must be at least 1",
            ));
        }
        match &self.kind {
            MonitorKind::Postgres { url } => {
                if let Err(error) = crate::target::PgTarget::parse(url) {
                    problems.push(SpecProblem::new("url", error));
                }
            }
            MonitorKind::Tcp { address, .. } => {
                if !is_host_port(address) {
                    problems.push(SpecProblem::new(
                        "address",
                        format!("must be host:port, got {address:?}"),
                    ));
                }
            }
            MonitorKind::Http(http) => {
                check_url(&mut problems, "url", &http.url);
                check_method_and_statuses(&mut problems, &http.method, &http.expect_status);
                if http.json_equals.is_some() && http.json_pointer.is_none() {
                    problems.push(SpecProblem::new("json_equals", "needs json_pointer"));
                }
                if let Some(degraded_ms) = http.degraded_ms {
                    check_duration(&mut problems, "degraded_ms", degraded_ms);
                }
            }
            MonitorKind::Redis { url, tls_ca_path } => {
                match crate::target::RedisTarget::parse(url) {
                    Err(error) => {
                        problems.push(SpecProblem::new("url", format!("not a Redis URL: {error}")));
                    }
                    Ok(target) if tls_ca_path.is_some() && !target.tls => problems.push(
                        SpecProblem::new("tls_ca_path", "only for rediss:// (TLS) URLs"),
                    ),
                    Ok(_) => {}
                }
            }
            MonitorKind::Command { argv, .. } => check_argv(&mut problems, argv),
            MonitorKind::Heartbeat { grace_ms } => {
                check_duration(&mut problems, "grace_ms", *grace_ms)
            }
            MonitorKind::Log(log) => log_problems(&mut problems, log),
            MonitorKind::Process(process) => process_problems(&mut problems, process),
        }
        if self.depends_on.len() > bounds::DEPENDS_ON_MAX {
            problems.push(SpecProblem::new(
                "depends_on",
                format!("at most {} monitors", bounds::DEPENDS_ON_MAX),
            ));
        }
        if self.depends_on.contains(&self.id) {
            problems.push(SpecProblem::new(
                "depends_on",
                "a monitor cannot depend on itself",
            ));
        }
        problems
    }
}

fn log_problems(problems: &mut Vec<SpecProblem>, log: &LogSpec) {
    if log.path.trim().is_empty() {
        problems.push(SpecProblem::new("path", "must name a file"));
    }
    if log.rules.is_empty() || log.rules.len() > bounds::LOG_RULES_MAX {
        problems.push(SpecProblem::new(
            "rules",
            format!("must have 1 to {} rules", bounds::LOG_RULES_MAX),
        ));
    }
    for (index, rule) in log.rules.iter().enumerate() {
        if let Err(error) = regex::Regex::new(&rule.regex) {
            let first_line = error.to_string();
            let reason = first_line
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_owned();
            problems.push(SpecProblem::new(
                format!("rules[{index}].regex"),
                format!("not a valid regex: {reason}"),
            ));
        }
        let valid_event = rule.event.contains('.')
            && rule.event.split('.').all(|segment| {
                !segment.is_empty()
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        if !valid_event {
            problems.push(SpecProblem::new(
                format!("rules[{index}].event"),
                "must be a dotted lowercase type like \"log.error_detected\"",
            ));
        }
        check_duration(
            problems,
            &format!("rules[{index}].rate_limit_ms"),
            rule.rate_limit_ms,
        );
    }
}

fn process_problems(problems: &mut Vec<SpecProblem>, process: &ProcessSpec) {
    match (&process.argv, &process.pidfile) {
        (Some(argv), None) => check_argv(problems, argv),
        (None, Some(pidfile)) => {
            if pidfile.trim().is_empty() {
                problems.push(SpecProblem::new("pidfile", "must name a file"));
            }
        }
        _ => problems.push(SpecProblem::new(
            "argv",
            "give exactly one of `argv` (Grace starts it) or `pidfile` (someone else does)",
        )),
    }
    if let Some(address) = &process.ready_tcp {
        if !is_host_port(address) {
            problems.push(SpecProblem::new(
                "ready_tcp",
                format!("must be host:port, got {address:?}"),
            ));
        }
    }
    if let Some(url) = &process.ready_http {
        check_url(problems, "ready_http", url);
    }
}

fn is_host_port(address: &str) -> bool {
    address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0))
}

impl StepSpec {
    /// Everything wrong with this step, all at once.
    pub fn problems(&self) -> Vec<SpecProblem> {
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
                    problems.push(SpecProblem::new(
                        "runs_max",
                        format!("must be 1 to {}", bounds::RERUN_RUNS_MAX),
                    ));
                }
            }
            StepSpec::Notify { message, .. } => {
                if message.trim().is_empty() || message.len() > bounds::MESSAGE_LEN_MAX {
                    problems.push(SpecProblem::new(
                        "message",
                        format!("must be 1 to {} bytes", bounds::MESSAGE_LEN_MAX),
                    ));
                }
                check_fields(&mut problems, "message", message, &MESSAGE_FIELDS);
            }
            StepSpec::Reconnect {
                backoff_ms,
                timeout_ms,
            } => {
                check_duration(&mut problems, "timeout_ms", *timeout_ms);
                if backoff_ms.is_empty() || backoff_ms.len() > bounds::BACKOFF_TRIES_MAX {
                    problems.push(SpecProblem::new(
                        "backoff_ms",
                        format!("must list 1 to {} delays", bounds::BACKOFF_TRIES_MAX),
                    ));
                }
                if backoff_ms.iter().any(|ms| *ms > bounds::DURATION_MS_MAX) {
                    problems.push(SpecProblem::new(
                        "backoff_ms",
                        format!("each delay must be at most {} ms", bounds::DURATION_MS_MAX),
                    ));
                }
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
            StepSpec::SetTrust { value } => {
                if !(0.0..=1.0).contains(value) {
                    problems.push(SpecProblem::new("value", "must be within [0, 1]"));
                }
            }
            StepSpec::Restart { timeout_ms, .. } => {
                check_duration(&mut problems, "timeout_ms", *timeout_ms)
            }
            StepSpec::Wait {
                ms,
                until,
                timeout_ms,
            } => {
                check_duration(&mut problems, "timeout_ms", *timeout_ms);
                match (ms, until) {
                    (Some(ms), None) => check_duration(&mut problems, "ms", *ms),
                    (None, Some(_)) => {}
                    _ => problems.push(SpecProblem::new(
                        "ms",
                        "give exactly one of `ms` or `until` (\"retry_after\" or \"healthy\")",
                    )),
                }
            }
        }
        let (retries, backoff_ms) = self.retry_policy();
        if retries > bounds::RETRIES_MAX {
            problems.push(SpecProblem::new(
                "retries",
                format!("at most {}", bounds::RETRIES_MAX),
            ));
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

/// Every placeholder in `text` must be one of `allowed`.
fn check_fields(problems: &mut Vec<SpecProblem>, field: &str, text: &str, allowed: &[&str]) {
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

impl PlaybookSpec {
    /// Problems with the playbook's own fields (its steps are checked one by one).
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if self.id.trim().is_empty() {
            problems.push(SpecProblem::new("id", "must not be empty"));
        }
        if self.sources.is_empty() {
            problems.push(SpecProblem::new(
                "sources",
                "must list at least one of \"monitors\", \"pushed\", \"alertmanager\"",
            ));
        }
        if self.on.is_empty() || self.on.iter().any(|pattern| pattern.trim().is_empty()) {
            problems.push(SpecProblem::new(
                "on",
                "must list at least one event-type pattern, none empty",
            ));
        }
        for (index, step) in self.steps.iter().enumerate() {
            let verified_later = self.steps[index + 1..]
                .iter()
                .any(|later| matches!(later, StepSpec::Verify { .. }));
            if matches!(step, StepSpec::Check { .. }) && !verified_later {
                problems.push(SpecProblem::new(
                    format!("steps[{index}]"),
                    "a check needs a verify after it: when the target answers, the run skips to the next verify",
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.auto_run_min_trust) {
            problems.push(SpecProblem::new(
                "auto_run_min_trust",
                "must be within [0, 1]",
            ));
        }
        if self.cooldown_ms > bounds::DURATION_MS_MAX {
            problems.push(SpecProblem::new(
                "cooldown_ms",
                format!("at most {} ms", bounds::DURATION_MS_MAX),
            ));
        }
        if self.breaker_runs_max == 0 || self.breaker_runs_max > bounds::BREAKER_RUNS_MAX {
            problems.push(SpecProblem::new(
                "breaker_runs_max",
                format!("must be 1 to {}", bounds::BREAKER_RUNS_MAX),
            ));
        }
        check_duration(&mut problems, "breaker_window_ms", self.breaker_window_ms);
        if self.steps.is_empty() || self.steps.len() > bounds::STEPS_MAX {
            problems.push(SpecProblem::new(
                "steps",
                format!("must have 1 to {} steps", bounds::STEPS_MAX),
            ));
        }
        problems
    }
}

impl TrustSpec {
    pub fn problems(&self) -> Vec<SpecProblem> {
        [
            ("drop_on_incident", self.drop_on_incident),
            ("restore_on_recovery", self.restore_on_recovery),
        ]
        .into_iter()
        .filter(|(_, value)| !(0.0..=1.0).contains(value))
        .map(|(field, value)| {
            SpecProblem::new(field, format!("must be within [0, 1], got {value}"))
        })
        .collect()
    }
}

impl SupervisionSpec {
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        check_duration(&mut problems, "period_ms", self.period_ms);
        problems
    }
}

impl LimitsSpec {
    pub fn problems(&self) -> Vec<SpecProblem> {
        [
            ("ws_buffer_max", self.ws_buffer_max),
            ("agents_max", self.agents_max),
            ("agents_queue_max", self.agents_queue_max),
            ("output_tail_bytes", self.output_tail_bytes),
            ("incident_events_max", self.incident_events_max),
            ("incidents_lag_max", self.incidents_lag_max),
            ("ws_clients_max", self.ws_clients_max),
        ]
        .into_iter()
        .filter(|(_, value)| *value == 0)
        .map(|(field, _)| SpecProblem::new(field, "must be at least 1"))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_dotted_lowercase_names_and_other_braces_are_text() {
        assert_eq!(
            placeholders("x={incident.id}-{monitor.path} awk '{print $1}' {a.b.c} {}"),
            ["incident.id", "monitor.path"]
        );
        let filled = substitute("#{incident.id} on {incident.source} {x}", |name| {
            name.replace('.', "_")
        });
        assert_eq!(filled, "#incident_id on incident_source {x}");
    }
}

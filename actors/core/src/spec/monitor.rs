//! `[[monitors]]`: what each monitor watches (one variant per kind) and the checks on it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::checks::*;
use super::*;

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
    /// Flapping: over the last `flap_window` probes, `flap_threshold` swings between a good
    /// and a failed probe make the component *flapping*: one incident says so, and no down or
    /// up is announced per swing, until the swings fall to half the threshold. On by default
    /// (20 and 8: a single blip is 2 swings); either 0 turns it off.
    #[serde(default = "defaults::flap_window")]
    pub flap_window: u32,
    #[serde(default = "defaults::flap_threshold")]
    pub flap_threshold: u32,
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
        /// libpq's password file (`hostname:port:database:username:password` lines), read
        /// when no other place gives a password; `PGPASSFILE`, then `~/.pgpass`, when absent.
        #[serde(default)]
        passfile: Option<String>,
        #[serde(flatten)]
        password: PasswordSpec,
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
        #[serde(flatten)]
        password: PasswordSpec,
    },
    /// A MySQL or MariaDB server: a real login and `COM_PING`.
    Mysql {
        /// `mysql://user[:password]@host[:port][/database]` (no TLS).
        url: String,
        #[serde(flatten)]
        password: PasswordSpec,
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

/// A `process` monitor as written: exactly one of `argv` and `pidfile`, which turning it into
/// a [`ProcessSpec`] checks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessInput {
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

/// What a `process` monitor watches: a process Grace starts, or one it finds by its pidfile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(try_from = "ProcessInput", into = "ProcessInput")]
pub struct ProcessSpec {
    pub source: ProcessSource,
    pub ready_tcp: Option<String>,
    pub ready_http: Option<String>,
}

/// Where a watched process comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessSource {
    /// Grace starts it from `argv` and can start it again.
    Argv(Vec<String>),
    /// Someone else starts it and writes its pid to this file.
    Pidfile(String),
}

impl TryFrom<ProcessInput> for ProcessSpec {
    type Error = SpecProblems;

    fn try_from(input: ProcessInput) -> Result<Self, SpecProblems> {
        let source = match (input.argv, input.pidfile) {
            (Some(argv), None) => ProcessSource::Argv(argv),
            (None, Some(pidfile)) => ProcessSource::Pidfile(pidfile),
            _ => {
                return Err(SpecProblems(vec![SpecProblem::new(
                    "argv",
                    "give exactly one of `argv` (Grace starts it) or `pidfile` (someone else does)",
                )]))
            }
        };
        Ok(ProcessSpec {
            source,
            ready_tcp: input.ready_tcp,
            ready_http: input.ready_http,
        })
    }
}

impl From<ProcessSpec> for ProcessInput {
    fn from(spec: ProcessSpec) -> Self {
        let (argv, pidfile) = match spec.source {
            ProcessSource::Argv(argv) => (Some(argv), None),
            ProcessSource::Pidfile(pidfile) => (None, Some(pidfile)),
        };
        ProcessInput {
            argv,
            pidfile,
            ready_tcp: spec.ready_tcp,
            ready_http: spec.ready_http,
        }
    }
}

impl MonitorKind {
    /// Short name of the kind, as written in config (`postgres`).
    pub fn name(&self) -> &'static str {
        match self {
            MonitorKind::Postgres { .. } => "postgres",
            MonitorKind::Tcp { .. } => "tcp",
            MonitorKind::Http(_) => "http",
            MonitorKind::Redis { .. } => "redis",
            MonitorKind::Mysql { .. } => "mysql",
            MonitorKind::Command { .. } => "command",
            MonitorKind::Heartbeat { .. } => "heartbeat",
            MonitorKind::Log(_) => "log",
            MonitorKind::Process(_) => "process",
        }
    }

    /// Whether a cluster spreads monitors of this kind over its nodes: what they probe is a
    /// server reached over the network, the same from any node. A check command, a log file
    /// and a process Grace runs are of the machine they are on, and heartbeats are posted
    /// to the leader: those stay with the node that runs the engines.
    pub fn spreads(&self) -> bool {
        matches!(
            self,
            MonitorKind::Postgres { .. }
                | MonitorKind::Tcp { .. }
                | MonitorKind::Http(_)
                | MonitorKind::Redis { .. }
                | MonitorKind::Mysql { .. }
        )
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
    /// Accepted statuses, one (`200`) or a list (`[200, 204]`); empty (the default) accepts
    /// any 2xx or 3xx.
    #[serde(default, deserialize_with = "statuses::one_or_many")]
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

impl MonitorSpec {
    /// Everything wrong with this monitor, all at once.
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        check_id(&mut problems, "id", &self.id);
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
        problems.extend(self.flap_problems());
        problems.extend(self.kind.problems());
        if self.depends_on.len() > bounds::DEPENDS_ON_MAX {
            let most = format!("at most {} monitors", bounds::DEPENDS_ON_MAX);
            problems.push(SpecProblem::new("depends_on", most));
        }
        for (index, name) in self.depends_on.iter().enumerate() {
            if let Some(why) = crate::names::name_problem(name) {
                problems.push(SpecProblem::new(format!("depends_on[{index}]"), why));
            }
        }
        if self.depends_on.contains(&self.id) {
            let itself = "a monitor cannot depend on itself";
            problems.push(SpecProblem::new("depends_on", itself));
        }
        problems
    }
}

impl MonitorSpec {
    /// Whether flapping is looked for: `flap_window` or `flap_threshold` 0 turns it off (the
    /// other then does not matter, so either alone says "off").
    pub fn flapping_detected(&self) -> bool {
        self.flap_window > 0 && self.flap_threshold > 0
    }

    /// A flap window is 4 to FLAP_WINDOW_MAX probes, its threshold at least 2 swings and fewer
    /// than the window has.
    fn flap_problems(&self) -> Vec<SpecProblem> {
        let (window, threshold) = (self.flap_window, self.flap_threshold);
        let mut problems = Vec::new();
        if !self.flapping_detected() {
            return problems;
        }
        if !(4..=bounds::FLAP_WINDOW_MAX).contains(&window) {
            let range = format!("must be 0 (off) or 4 to {} probes", bounds::FLAP_WINDOW_MAX);
            problems.push(SpecProblem::new("flap_window", range));
        }
        if !(2..window).contains(&threshold) {
            let range = format!(
                "must be 0 (off) or 2 to {} swings (fewer than flap_window)",
                window - 1
            );
            problems.push(SpecProblem::new("flap_threshold", range));
        }
        problems
    }
}

impl MonitorKind {
    /// What is wrong with the settings of this kind of monitor.
    fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        match self {
            MonitorKind::Postgres {
                url,
                passfile,
                password,
            } => database::postgres_problems(url, passfile.as_deref(), password, &mut problems),
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
            MonitorKind::Redis {
                url,
                tls_ca_path,
                password,
            } => database::redis_problems(url, tls_ca_path.is_some(), password, &mut problems),
            MonitorKind::Mysql { url, password } => {
                database::mysql_problems(url, password, &mut problems)
            }
            MonitorKind::Command { argv, .. } => check_argv(&mut problems, argv),
            MonitorKind::Heartbeat { grace_ms } => {
                check_duration(&mut problems, "grace_ms", *grace_ms)
            }
            MonitorKind::Log(log) => log_problems(&mut problems, log),
            MonitorKind::Process(process) => process_problems(&mut problems, process),
        }
        problems
    }
}

pub(super) fn log_problems(problems: &mut Vec<SpecProblem>, log: &LogSpec) {
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

pub(super) fn process_problems(problems: &mut Vec<SpecProblem>, process: &ProcessSpec) {
    match &process.source {
        ProcessSource::Argv(argv) => check_argv(problems, argv),
        ProcessSource::Pidfile(pidfile) if pidfile.trim().is_empty() => {
            problems.push(SpecProblem::new("pidfile", "must name a file"));
        }
        ProcessSource::Pidfile(_) => {}
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

pub(super) fn is_host_port(address: &str) -> bool {
    address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0))
}

//! `[trust]`, `[supervision]` and `[limits]`, and the upper bounds no config may pass.

use serde::{Deserialize, Serialize};

use super::checks::*;
use super::*;

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
    /// Events the live-feed hub may have waiting in its mailbox. Past it the store actor hands
    /// it no more, only one "lagged" marker: the hub cuts its clients off there, and each
    /// resumes from the log with `since`. Keeps a stuck hub from growing its mailbox.
    #[serde(default = "defaults::feed_lag_max")]
    pub feed_lag_max: usize,
    /// Live-feed (`/ws`) clients served at once; past it an upgrade gets 503.
    #[serde(default = "defaults::ws_clients_max")]
    pub ws_clients_max: usize,
    /// Requests from outside (HTTP commands and reads an actor answers) in flight to one actor
    /// at once; past it a request answers 503 with `Retry-After`. Ractor mailboxes are
    /// unbounded: this is what keeps a flood of requests from growing one.
    #[serde(default = "defaults::actor_requests_max")]
    pub actor_requests_max: usize,
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
            feed_lag_max: defaults::feed_lag_max(),
            ws_clients_max: defaults::ws_clients_max(),
            actor_requests_max: defaults::actor_requests_max(),
        }
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
    /// Most labels one playbook's selector may name.
    pub const LABEL_SELECTORS_MAX: usize = 16;
    /// Most monitors one monitor may depend on.
    pub const DEPENDS_ON_MAX: usize = 16;
    /// Most probes a monitor's flap window looks back over.
    pub const FLAP_WINDOW_MAX: u32 = 100;
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
            ("feed_lag_max", self.feed_lag_max),
            ("ws_clients_max", self.ws_clients_max),
            ("actor_requests_max", self.actor_requests_max),
        ]
        .into_iter()
        .filter(|(_, value)| *value == 0)
        .map(|(field, _)| SpecProblem::new(field, "must be at least 1"))
        .collect()
    }
}

//! `[[playbooks]]`: which incidents start a playbook, from which sources, and its limits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::checks::*;
use super::*;
use crate::event::Pattern;
use crate::model::Incident;

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
    /// Optional label selector, for Alertmanager's alerts: only incidents whose alert has
    /// every one of these labels with this value trigger it (`{ severity = "critical" }`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
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
    /// What happens when its incident relapses more than `incidents.relapses_max` times:
    /// `heal` (the default) tells people once and keeps healing, paced by
    /// `incidents.relapse_backoff_ms`; `people` hands the incident to people and runs no more.
    #[serde(default)]
    pub on_relapse: OnRelapse,
    /// What a person's acknowledgement does to automation: `continue` (the default: runs go
    /// on, the person watches) or `stop` (an acknowledged incident gets no automatic run).
    #[serde(default)]
    pub on_ack: OnAck,
}

impl PlaybookSpec {
    /// The name people see; the id when no name is configured.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// Why this playbook is not for `incident` (whose origin is `origin`), or None when its
    /// trigger matches.
    pub fn mismatch(&self, incident: &Incident, origin: TriggerSource) -> Option<String> {
        let name = self.display_name();
        let (event_type, source) = (incident.event_type.as_str(), incident.source.as_str());
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
        let differs =
            |(label, value): &(&String, &String)| incident.labels.get(*label) != Some(value);
        if let Some((label, value)) = self.labels.iter().find(differs) {
            return Some(format!("{name} is only for alerts with {label}={value:?}"));
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
    /// `POST /integrations/alertmanager` (types `alert.<alertname>.firing`).
    Alertmanager,
}

/// What every Alertmanager alert's source starts with; pushed events may not use it.
pub const ALERTMANAGER_SOURCE_PREFIX: &str = "alertmanager/";
/// Every Alertmanager alert's type is `alert.<alertname>.firing` or `alert.<alertname>.resolved`:
/// one family per alert name, so a resolved alert resolves its own kind of incident and no
/// other. Pushed events may not use the `alert.` family: where an incident came from is read
/// from it (see [`TriggerSource::of`]).
pub const ALERT_FAMILY_PREFIX: &str = "alert.";

impl TriggerSource {
    /// The origin of an incident of `event_type` on `source`, given the monitors configured
    /// now. An alert's component may be a monitor's id, so the type decides first: only
    /// Alertmanager's alerts are of the `alert.` family (pushed events may not use it), and
    /// only monitors' sources are monitor ids (pushed events may not use them either).
    pub fn of(source: &str, event_type: &str, monitors: &[MonitorSpec]) -> Self {
        if event_type.starts_with(ALERT_FAMILY_PREFIX)
            || source.starts_with(ALERTMANAGER_SOURCE_PREFIX)
        {
            TriggerSource::Alertmanager
        } else if monitors.iter().any(|m| m.id == source) {
            TriggerSource::Monitors
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

impl PlaybookSpec {
    /// Steps that can never work on the incidents this playbook runs for: `check`, `verify`,
    /// `reconnect` and `wait until = "healthy"` ask a monitor's probe or an alert's state, which
    /// a pushed event has neither of; `restart` starts a process a monitor runs.
    fn steps_without_a_target(&self) -> Vec<SpecProblem> {
        let monitors = self.sources.contains(&TriggerSource::Monitors);
        let alerts = self.sources.contains(&TriggerSource::Alertmanager);
        let mut problems = Vec::new();
        for (index, step) in self.steps.iter().enumerate() {
            let probes = matches!(
                step,
                StepSpec::Check { .. } | StepSpec::Verify { .. } | StepSpec::Reconnect { .. }
            ) || matches!(step, StepSpec::Wait(w) if w.until == WaitFor::Event(WaitUntil::Healthy));
            let why = match step {
                StepSpec::Restart { .. } if !monitors => {
                    "a restart starts a process a `process` monitor runs, and this playbook \
                     runs for no monitor's incidents (sources)"
                }
                _ if probes && !(monitors || alerts) => {
                    "it asks a monitor or an alert whether the target is healthy, and pushed \
                     events have neither: check with an `http` or `command` step instead"
                }
                _ => continue,
            };
            problems.push(SpecProblem::new(format!("steps[{index}]"), why));
        }
        problems
    }
}

/// See [`PlaybookSpec::on_relapse`].
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnRelapse {
    /// Keep healing with backoff, as systemd's `Restart=` and Kubernetes' CrashLoopBackOff do:
    /// a service that keeps falling over is the one that most needs restarting.
    #[default]
    Heal,
    /// Stop and escalate: a heal that does not hold is a person's problem.
    People,
}

/// See [`PlaybookSpec::on_ack`].
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnAck {
    #[default]
    Continue,
    Stop,
}

/// See [`PlaybookSpec::on_interrupt`].
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnInterrupt {
    #[default]
    Escalate,
    Retry,
}

impl PlaybookSpec {
    /// Problems with the playbook's own fields (its steps are checked one by one).
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        check_id(&mut problems, "id", &self.id);
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
        problems.extend(self.steps_without_a_target());
        if self.labels.len() > bounds::LABEL_SELECTORS_MAX {
            let most = format!("at most {} labels", bounds::LABEL_SELECTORS_MAX);
            problems.push(SpecProblem::new("labels", most));
        }
        if let Some(label) = self.labels.keys().find(|label| !is_label_name(label)) {
            let why = format!("{label:?} is not a Prometheus label name");
            problems.push(SpecProblem::new(format!("labels.{label}"), why));
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

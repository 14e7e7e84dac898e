//! `[[routes]]`: which incidents reach which people, and when. A route matches an incident
//! (by component, source, event type, severity and labels, as silences match), names the
//! receivers to tell, what to tell them about (`on`), how long to wait before disturbing
//! anyone (`wait_ms`: most incidents heal first), how often to remind while nobody has
//! acknowledged (`repeat_ms`), and who comes next (`levels`). Routes are tried in order; the
//! first that matches takes the incident, unless it says `continue`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::checks::*;
use super::*;
use crate::model::Severity;
use crate::silence::Matchers;

/// Most routes.
pub const ROUTES_MAX: usize = 64;
/// Most escalation levels past the first receivers.
pub const LEVELS_MAX: usize = 8;
/// Shortest reminder interval: people are not to be flooded.
pub const REPEAT_MS_MIN: u64 = 1_000;

/// One route.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Unique; what each page of an incident is kept under.
    pub id: String,
    /// What it takes; empty matches every incident.
    #[serde(default)]
    pub matchers: RouteMatchers,
    /// The receivers told first (level 1).
    pub receivers: Vec<String>,
    /// What the receivers are told about.
    #[serde(default = "all_moments")]
    pub on: Vec<Moment>,
    /// Tell only an incident still not healed (nor acknowledged) this long after it opened.
    #[serde(default)]
    pub wait_ms: u64,
    /// Remind every this often while the incident is neither acknowledged nor healed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_ms: Option<u64>,
    /// Who is told next when nobody acknowledges: each level `after_ms` after the first tell.
    #[serde(default)]
    pub levels: Vec<LevelSpec>,
    /// Also try the routes after this one when it matches.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
}

/// The moments of an incident a route tells people about.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    Opened,
    /// Grace could not heal it: a playbook failed and a work order opened.
    Escalated,
    Resolved,
    /// It came back soon after it was healed.
    Reopened,
}

impl Moment {
    pub fn as_str(self) -> &'static str {
        match self {
            Moment::Opened => "opened",
            Moment::Escalated => "escalated",
            Moment::Resolved => "resolved",
            Moment::Reopened => "reopened",
        }
    }
}

fn all_moments() -> Vec<Moment> {
    vec![
        Moment::Opened,
        Moment::Escalated,
        Moment::Resolved,
        Moment::Reopened,
    ]
}

/// A level of escalation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    /// After the first tell, with no acknowledgement.
    pub after_ms: u64,
    pub receivers: Vec<String>,
}

/// The silences' matchers, and severities.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteMatchers {
    #[serde(default)]
    pub monitors: Vec<String>,
    /// Exact, or a prefix ending in `*`.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Event-type patterns (`db.*`).
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Severities taken; any when empty.
    #[serde(default)]
    pub severities: Vec<Severity>,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

impl RouteMatchers {
    fn as_matchers(&self) -> Matchers {
        Matchers {
            monitors: self.monitors.clone(),
            sources: self.sources.clone(),
            event_types: self.event_types.clone(),
            labels: self.labels.clone(),
        }
    }

    /// Whether an incident of `event_type` on `source` with `severity` and `labels` is taken.
    pub fn matches(
        &self,
        source: &str,
        event_type: &str,
        severity: Severity,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> bool {
        (self.severities.is_empty() || self.severities.contains(&severity))
            && self.as_matchers().matches(source, event_type, labels)
    }
}

impl RouteSpec {
    /// Every receiver it may tell, level 1 first.
    pub fn all_receivers(&self) -> impl Iterator<Item = &String> {
        let levels = self.levels.iter().flat_map(|level| level.receivers.iter());
        self.receivers.iter().chain(levels)
    }

    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        check_id(&mut problems, "id", &self.id);
        for (field, message) in self.matchers.as_matchers().problems("matchers") {
            // An empty matcher is a catch-all route: fine here, unlike a silence.
            if field != "matchers" {
                problems.push(SpecProblem::new(field, message));
            }
        }
        if self.receivers.is_empty() {
            problems.push(SpecProblem::new("receivers", "name at least one receiver"));
        }
        if self.on.is_empty() {
            let why = "name at least one of opened, escalated, resolved, reopened";
            problems.push(SpecProblem::new("on", why));
        }
        if self.wait_ms > bounds::DURATION_MS_MAX {
            let most = format!("at most {} ms", bounds::DURATION_MS_MAX);
            problems.push(SpecProblem::new("wait_ms", most));
        }
        if let Some(repeat_ms) = self.repeat_ms {
            if !(REPEAT_MS_MIN..=bounds::DURATION_MS_MAX).contains(&repeat_ms) {
                let why = format!(
                    "must be between {REPEAT_MS_MIN} and {} ms",
                    bounds::DURATION_MS_MAX
                );
                problems.push(SpecProblem::new("repeat_ms", why));
            }
        }
        self.level_problems(&mut problems);
        problems
    }

    fn level_problems(&self, problems: &mut Vec<SpecProblem>) {
        if self.levels.len() > LEVELS_MAX {
            problems.push(SpecProblem::new(
                "levels",
                format!("at most {LEVELS_MAX} levels"),
            ));
        }
        let mut before = 0;
        for (index, level) in self.levels.iter().enumerate() {
            if level.after_ms <= before || level.after_ms > bounds::DURATION_MS_MAX {
                let why = format!(
                    "must be more than the level before's ({before} ms) and at most {} ms",
                    bounds::DURATION_MS_MAX
                );
                problems.push(SpecProblem::new(format!("levels[{index}].after_ms"), why));
            }
            if level.receivers.is_empty() {
                let field = format!("levels[{index}].receivers");
                problems.push(SpecProblem::new(field, "name at least one receiver"));
            }
            before = level.after_ms;
        }
    }
}

/// The routes that take an incident: the first that matches, and those after it while each
/// match says `continue`.
pub fn routes_for<'a>(
    routes: &'a [RouteSpec],
    source: &str,
    event_type: &str,
    severity: Severity,
    labels: &std::collections::BTreeMap<String, String>,
) -> Vec<&'a RouteSpec> {
    let mut taken = Vec::new();
    for route in routes {
        if route.matchers.matches(source, event_type, severity, labels) {
            taken.push(route);
            if !route.continue_matching {
                break;
            }
        }
    }
    taken
}

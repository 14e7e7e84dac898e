//! `[incidents]`: when an outage that comes back is the same incident. A heal that does not
//! hold is not a new problem each time; it is one problem whose heals fail, and past a few
//! rounds it is a person's.

use serde::{Deserialize, Serialize};

use super::checks::*;
use super::*;

/// Most relapses `relapses_max` may allow before an incident is handed to people.
pub const RELAPSES_MAX_MAX: u32 = 100;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IncidentsSpec {
    /// A failure of the same component and type within this long after its incident was
    /// healed (by a playbook, or by itself) reopens that incident instead of opening a new
    /// one. 0: never. A person's resolve is final: what fails after it is a new incident.
    #[serde(default = "defaults::reopen_window_ms")]
    pub reopen_window_ms: u64,
    /// Relapses an incident may have before people are told. Past it, a playbook with
    /// `on_relapse = "heal"` (the default) keeps healing, paced by the backoff below; one with
    /// `on_relapse = "people"` stops and hands the incident over.
    #[serde(default = "defaults::relapses_max")]
    pub relapses_max: u32,
    /// The wait before the run that heals the first relapse past `relapses_max`; it doubles
    /// with each further relapse, up to `relapse_backoff_max_ms`.
    #[serde(default = "defaults::relapse_backoff_ms")]
    pub relapse_backoff_ms: u64,
    #[serde(default = "defaults::relapse_backoff_max_ms")]
    pub relapse_backoff_max_ms: u64,
}

impl Default for IncidentsSpec {
    fn default() -> Self {
        Self {
            reopen_window_ms: defaults::reopen_window_ms(),
            relapses_max: defaults::relapses_max(),
            relapse_backoff_ms: defaults::relapse_backoff_ms(),
            relapse_backoff_max_ms: defaults::relapse_backoff_max_ms(),
        }
    }
}

impl IncidentsSpec {
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if self.reopen_window_ms > 0 {
            check_duration(&mut problems, "reopen_window_ms", self.reopen_window_ms);
        }
        if self.relapses_max > RELAPSES_MAX_MAX {
            let most = format!("at most {RELAPSES_MAX_MAX}");
            problems.push(SpecProblem::new("relapses_max", most));
        }
        check_duration(&mut problems, "relapse_backoff_ms", self.relapse_backoff_ms);
        check_duration(
            &mut problems,
            "relapse_backoff_max_ms",
            self.relapse_backoff_max_ms,
        );
        if self.relapse_backoff_max_ms < self.relapse_backoff_ms {
            let why = "must be at least relapse_backoff_ms";
            problems.push(SpecProblem::new("relapse_backoff_max_ms", why));
        }
        problems
    }
}

//! The records Grace keeps: incidents, playbook executions, sub-agents, work orders and trust.
//!
//! They are persisted as they are (serde → SurrealDB) and returned by the kernel's queries. The
//! HTTP layer sends most of them as recorded; an incident goes out as its [`IncidentView`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::time::micros_opt;

mod ids;
mod incident;
mod outcome;
mod pipeline;
mod run;
mod trust;
mod view;
mod work_order;
mod work_order_life;

pub use ids::{AgentId, PipelineRunId, RunId, WorkOrderId};
pub use incident::*;
pub use outcome::{RunError, RunOutcome, RunReport};
pub use pipeline::*;
pub use run::*;
pub use trust::*;
pub use view::{IncidentView, SuggestionView, SymptomView};
pub use work_order::*;
pub use work_order_life::*;

/// Who asked for a change: the name of the token used, or `local` when tokens are off (and for
/// a SIGHUP). Recorded as `by` on the event the change causes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Who(String);

impl Who {
    pub const LOCAL: &'static str = "local";

    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn local() -> Self {
        Self(Self::LOCAL.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What people decided about a monitor: paused (no probing), or silenced until a time
/// (incidents are still recorded but no playbook runs). Kept across restarts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MonitorControl {
    pub monitor_id: String,
    pub paused: bool,
    #[serde(default, with = "micros_opt")]
    pub silenced_until: Option<DateTime<Utc>>,
}

impl MonitorControl {
    pub fn silenced_at(&self, at: DateTime<Utc>) -> bool {
        self.silenced_until.is_some_and(|until| until > at)
    }
}

/// The store refusing writes (a full disk, a broken device), from the first failed commit
/// until one succeeds again: `/health` says `degraded` with it meanwhile.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreFailure {
    pub since: chrono::DateTime<chrono::Utc>,
    /// The latest error.
    pub reason: String,
    pub failed_commits: u64,
}

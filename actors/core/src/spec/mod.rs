//! Typed specifications of what the supervision tree runs: monitors, playbooks and the limits
//! that bound every queue, retry and buffer.
//!
//! These are the shapes the actors consume. Reading them from a file, filling defaults and
//! reporting every validation error at once is the binary's job (`src/config/`); the actors
//! only ever see a spec that has already been checked.

pub use crate::problem::{SpecProblem, SpecProblems};

mod alertmanager;
mod checks;
mod database;
mod incidents;
mod limits;
mod maintenance;
mod monitor;
mod pipeline;
mod placeholders;
mod playbook;
mod receiver;
mod route;
mod statuses;
mod steps;
mod webhook;

pub use alertmanager::*;
pub use database::{PasswordSource, PasswordSpec};
pub use incidents::*;
pub use limits::*;
pub use maintenance::*;
pub use monitor::*;
pub use pipeline::*;
pub use placeholders::*;
pub use playbook::*;
pub use receiver::*;
pub use route::*;
pub use steps::*;
pub use webhook::*;

/// Everything the kernel needs to build the tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeSpec {
    pub monitors: Vec<MonitorSpec>,
    pub playbooks: Vec<PlaybookSpec>,
    pub pipelines: Vec<PipelineSpec>,
    pub webhooks: Vec<WebhookSpec>,
    pub receivers: Vec<ReceiverSpec>,
    pub routes: Vec<RouteSpec>,
    pub trust: TrustSpec,
    pub supervision: SupervisionSpec,
    pub limits: LimitsSpec,
    pub retention: crate::retention::RetentionSpec,
    pub alertmanager: AlertmanagerSpec,
    pub incidents: IncidentsSpec,
    pub history: crate::history::HistorySpec,
    pub maintenance: Vec<MaintenanceSpec>,
    pub status_page: crate::status_page::StatusPageSpec,
}

/// Defaults, named so config docs and code agree.
pub mod defaults;

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

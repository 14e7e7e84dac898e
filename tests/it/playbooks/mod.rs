//! Playbooks as code: files in `playbooks/` beside the config, the playbook API, and running a
//! playbook by hand on an active incident.
//!
//! By concept: playbook files and who they apply to (`files`), what holds a run back (`gates`),
//! runs and deliveries that outlive a crash or a restart (`durable_runs`), hand-overs to the
//! incident manager that land late and a person's run that is not committed (`handovers`),
//! handing an incident to people (`escalation`), and what each kind of step does (`steps`).

mod durable_runs;
mod escalation;
mod files;
mod gates;
mod handovers;
mod steps;

use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(20);

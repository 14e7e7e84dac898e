//! `escalate`: hands the incident to people on purpose; the run fails with the reason, and its
//! work order says it.

use super::super::runner::StepResult;

pub(in crate::playbooks) fn escalate(reason: Option<&str>) -> StepResult {
    let reason = reason.unwrap_or("handed to people");
    StepResult::new(false, 1, format!("escalated by the playbook: {reason}"))
}

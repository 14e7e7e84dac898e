//! What becomes of a run that a stopped Grace left `running` (even after `kill -9`). Pure: it
//! reads the run's record, the playbook configured now and whether its incident is still
//! active, so every decision has a unit test.

use crate::model::{Execution, StepStatus};
use crate::spec::{OnInterrupt, PlaybookSpec};

/// The decision for one interrupted run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// Every step had ended well: only the report of its end was lost. It ends as succeeded.
    Finish,
    /// Its sub-agent starts again at step `at`, which is safe to do again.
    Continue { at: usize },
    /// Its incident ended meanwhile: the run closes as interrupted, with nothing to escalate
    /// and nothing to learn.
    Close,
    /// Step `at` is not safe to do again, or the playbook changed or went: the run ends as
    /// interrupted and escalates to a work order.
    Escalate { at: usize },
}

/// The configured playbook the run was of, if it is still the same step for step: one that
/// changed meanwhile cannot be resumed.
pub fn unchanged_playbook<'a>(
    execution: &Execution,
    playbooks: &'a [PlaybookSpec],
) -> Option<&'a PlaybookSpec> {
    playbooks
        .iter()
        .find(|p| p.id == execution.playbook_id)
        .filter(|p| {
            p.steps.len() == execution.steps.len()
                && p.steps
                    .iter()
                    .zip(&execution.steps)
                    .all(|(spec, record)| spec.name() == record.name)
        })
}

/// Decides what becomes of `execution`, given its unchanged playbook (see
/// [`unchanged_playbook`]) and whether its incident is still active.
pub fn decide_resume(
    execution: &Execution,
    playbook: Option<&PlaybookSpec>,
    incident_active: bool,
) -> Resume {
    // Where it stopped: the first step that neither succeeded nor was skipped.
    let Some(at) = execution
        .steps
        .iter()
        .position(|step| !matches!(step.status, StepStatus::Succeeded | StepStatus::Skipped))
    else {
        return Resume::Finish;
    };
    if !incident_active {
        return Resume::Close;
    }
    let safe_again = |playbook: &PlaybookSpec| {
        playbook.steps[at].idempotent() || playbook.on_interrupt == OnInterrupt::Retry
    };
    match playbook {
        Some(playbook) if safe_again(playbook) => Resume::Continue { at },
        _ => Resume::Escalate { at },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExecutionStatus, StepRecord};
    use serde_json::json;

    fn playbook(on_interrupt: &str) -> PlaybookSpec {
        serde_json::from_value(json!({
            "id": "db_reconnect",
            "on": ["db.*"],
            "on_interrupt": on_interrupt,
            "steps": [
                { "kind": "check" },
                { "kind": "command", "argv": ["true"] },
                { "kind": "verify" },
            ],
        }))
        .unwrap()
    }

    fn run_of(playbook: &PlaybookSpec, statuses: &[StepStatus]) -> Execution {
        let steps = playbook
            .steps
            .iter()
            .zip(statuses)
            .map(|(step, status)| StepRecord {
                name: step.name().to_owned(),
                status: *status,
                attempts: 0,
                started_at: None,
                finished_at: None,
                output: String::new(),
                ran_by: None,
            });
        Execution {
            run_id: "run-1".into(),
            playbook_id: playbook.id.clone(),
            playbook_name: playbook.display_name().into(),
            incident_id: 1,
            source: "orders-db".into(),
            by_hand: false,
            started_by: None,
            agent_id: "agent-1".into(),
            status: ExecutionStatus::Running,
            steps_completed: 0,
            steps: steps.collect(),
            started_at: chrono::Utc::now(),
            finished_at: None,
            duration_seconds: None,
            work_order_id: None,
        }
    }

    use StepStatus::{Pending, Running, Skipped, Succeeded};

    #[test]
    fn a_run_whose_steps_all_ended_well_finishes_whatever_its_incident() {
        let playbook = playbook("escalate");
        let run = run_of(&playbook, &[Succeeded, Skipped, Succeeded]);
        assert_eq!(decide_resume(&run, Some(&playbook), true), Resume::Finish);
        assert_eq!(decide_resume(&run, None, false), Resume::Finish);
    }

    #[test]
    fn an_idempotent_step_resumes_where_it_stopped() {
        let playbook = playbook("escalate");
        let run = run_of(&playbook, &[Succeeded, Succeeded, Running]);
        let resume = decide_resume(&run, Some(&playbook), true);
        assert_eq!(resume, Resume::Continue { at: 2 });
    }

    #[test]
    fn a_step_not_safe_again_escalates_unless_the_playbook_says_retry() {
        let escalating = playbook("escalate");
        let run = run_of(&escalating, &[Succeeded, Running, Pending]);
        let resume = decide_resume(&run, Some(&escalating), true);
        assert_eq!(resume, Resume::Escalate { at: 1 });
        let retrying = playbook("retry");
        let resume = decide_resume(&run, Some(&retrying), true);
        assert_eq!(resume, Resume::Continue { at: 1 });
    }

    #[test]
    fn a_run_on_an_ended_incident_closes_without_escalating() {
        let playbook = playbook("retry");
        let run = run_of(&playbook, &[Running, Pending, Pending]);
        assert_eq!(decide_resume(&run, Some(&playbook), false), Resume::Close);
    }

    #[test]
    fn a_playbook_that_changed_or_went_cannot_be_resumed() {
        let before = playbook("retry");
        let run = run_of(&before, &[Succeeded, Succeeded, Running]);
        let mut renamed = before.clone();
        renamed.steps.pop();
        assert!(unchanged_playbook(&run, &[renamed]).is_none());
        assert!(unchanged_playbook(&run, &[]).is_none());
        let same = unchanged_playbook(&run, std::slice::from_ref(&before));
        assert_eq!(same, Some(&before));
        assert_eq!(decide_resume(&run, None, true), Resume::Escalate { at: 2 });
    }
}

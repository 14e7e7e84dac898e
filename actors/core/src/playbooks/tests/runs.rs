//! A run's life: its steps, its end (trust, a resolution or a work order), supersede, and what
//! a restart makes of a run left `running`.

use super::*;
use crate::model::{AgentStatus, ExecutionStatus, RunOutcome, RunReport, StepRecord};
use crate::model::{StepStatus, TrustScore, WorkOrderReason};
use crate::playbooks::runs::LeftRunning;

/// A book with one run of `db_reconnect` on incident 1 of `source`; the run id.
fn one_run(spec: &TreeSpec, source: &str) -> (RunBook, RunId) {
    let mut book = RunBook::default();
    book.learn_trust("db_reconnect", Some(TrustScore::playbook("db_reconnect")));
    let out = trigger(&mut book, spec, incident_on(1, source, "db.down"));
    let run_id = started(&out).unwrap();
    (book, run_id)
}

fn finish(book: &mut RunBook, spec: &TreeSpec, run_id: &RunId, report: RunReport) -> Changes {
    let mut out = Changes::default();
    book.finish(run_id, report, spec, at(2_000), &mut out);
    out
}

fn succeeded() -> RunReport {
    RunReport {
        succeeded: true,
        interrupted: false,
        failing_step: None,
        output: String::new(),
    }
}

#[test]
fn a_step_is_recorded_and_announced_unless_a_trust_step_announced_it() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let (mut book, run_id) = one_run(&spec, "db-1");
    let record = StepRecord {
        name: "command".into(),
        status: StepStatus::Succeeded,
        attempts: 1,
        started_at: Some(at(1)),
        finished_at: Some(at(2)),
        output: "ok".into(),
        ran_by: None,
    };
    let mut out = Changes::default();
    book.step(&run_id, 0, record.clone(), false, &mut out);
    assert_eq!(announced(&out), ["playbook.step"]);
    assert_eq!(out.runs[0].steps_completed, 1);
    let mut out = Changes::default();
    book.step(&run_id, 1, record, true, &mut out);
    assert!(
        out.drafts.is_empty() && out.runs.len() == 1,
        "recorded, not announced twice"
    );
}

#[test]
fn a_run_that_succeeds_hands_its_end_to_the_incident_manager_to_resolve() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let (mut book, run_id) = one_run(&spec, "orders-db");
    let out = finish(&mut book, &spec, &run_id, succeeded());
    assert_eq!(
        announced(&out),
        ["trust.changed", "playbook.finished", "agent.finished"]
    );
    assert_eq!(out.runs[0].status, ExecutionStatus::Succeeded);
    assert_eq!(out.agents[0].status, AgentStatus::Succeeded);
    assert!(out.work_order.is_none());
    let trust = out.trust.clone().unwrap();
    assert!(
        trust.score > 0.5,
        "a watched component's success raises trust: {trust:?}"
    );
    let expected = Handover::RunFinished {
        incident_id: 1,
        run_id: run_id.clone(),
        outcome: RunOutcome::Succeeded,
    };
    assert_eq!(handover(&out), Some(expected));
    assert_eq!(out.point, Some("playbooks.finish"));
    assert!(book.run(&run_id).is_none() && book.trust_of("db_reconnect") == trust);
}

#[test]
fn a_run_that_fails_escalates_with_a_work_order_naming_the_step() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let (mut book, run_id) = one_run(&spec, "orders-db");
    let report = RunReport {
        failing_step: Some("command".into()),
        ..RunReport::failed("exit 1".into())
    };
    let out = finish(&mut book, &spec, &run_id, report);
    let order = out.work_order.clone().expect("a work order");
    assert_eq!(order.reason, WorkOrderReason::RunFailed);
    assert_eq!(order.failing_step.as_deref(), Some("command"));
    assert_eq!(order.run_id.as_ref(), Some(&run_id));
    assert_eq!(
        out.runs[0].work_order_id.as_ref(),
        Some(&order.work_order_id)
    );
    assert_eq!(out.runs[0].status, ExecutionStatus::Failed);
    let failed = RunOutcome::Failed {
        work_order_id: order.work_order_id,
    };
    assert!(
        matches!(handover(&out), Some(Handover::RunFinished { outcome, .. }) if outcome == failed)
    );
    assert!(
        out.trust.unwrap().score < 0.5,
        "a watched component's failure lowers trust"
    );
}

#[test]
fn a_run_on_a_pushed_component_counts_but_moves_no_trust() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let (mut book, run_id) = one_run(&spec, "db-9");
    let out = finish(&mut book, &spec, &run_id, succeeded());
    assert_eq!(announced(&out), ["playbook.finished", "agent.finished"]);
    let trust = out.trust.unwrap();
    assert_eq!((trust.score, trust.unscored_runs), (0.5, 1), "{trust:?}");
}

#[test]
fn the_end_of_a_run_already_ended_changes_nothing() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let (mut book, run_id) = one_run(&spec, "db-1");
    finish(&mut book, &spec, &run_id, succeeded());
    let again = finish(&mut book, &spec, &run_id, succeeded());
    assert!(again.is_empty() && again.effects.is_empty());
}

#[test]
fn a_superseded_run_is_killed_and_ends_superseded_with_no_work_order_and_no_trust() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let (mut book, run_id) = one_run(&spec, "orders-db");
    let mut out = Changes::default();
    book.supersede(1, 2, at(3), &mut out);
    assert_eq!(announced(&out), ["playbook.finished", "agent.finished"]);
    assert_eq!(out.runs[0].status, ExecutionStatus::Superseded);
    assert!(out.runs[0]
        .steps
        .iter()
        .all(|s| s.status == StepStatus::Skipped));
    assert_eq!(out.agents[0].status, AgentStatus::Stopped);
    assert!(out.work_order.is_none() && out.trust.is_none() && out.handover.is_none());
    assert!(matches!(out.effects[0], Effect::KillAgent(_)));
    assert!(book.run(&run_id).is_none());
}

/// A run left `running` with its steps as `statuses`, on an incident active or not.
fn take_up(statuses: [StepStatus; 2], active: bool, on_interrupt: Option<&str>) -> Changes {
    let mut pb = playbook("db_reconnect");
    if let Some(on) = on_interrupt {
        pb.on_interrupt = serde_json::from_value(json!(on)).unwrap();
    }
    let spec = spec(vec![pb]);
    let (mut book, run_id) = one_run(&spec, "orders-db");
    let mut run = book.runs.remove(&run_id).unwrap();
    for (step, status) in run.execution.steps.iter_mut().zip(statuses) {
        step.status = status;
    }
    let mut restarted = RunBook::default();
    let left = LeftRunning {
        execution: run.execution,
        agent: run.agent,
        incident: active.then(|| incident_on(1, "orders-db", "db.down")),
    };
    let mut out = Changes::default();
    restarted.take_up(left, &spec, at(5_000), &mut out);
    out
}

#[test]
fn a_run_whose_steps_all_ended_well_finishes_after_a_restart() {
    use StepStatus::Succeeded;
    let out = take_up([Succeeded, Succeeded], true, None);
    assert_eq!(out.runs[0].status, ExecutionStatus::Succeeded);
    assert!(matches!(
        handover(&out),
        Some(Handover::RunFinished {
            outcome: RunOutcome::Succeeded,
            ..
        })
    ));
}

#[test]
fn a_step_safe_to_do_again_resumes_where_it_stopped() {
    use StepStatus::{Running, Succeeded};
    let out = take_up([Succeeded, Running], true, None);
    assert_eq!(announced(&out), ["playbook.resumed"]);
    assert_eq!(out.runs[0].steps[1].status, StepStatus::Pending);
    let resumed_at = out.effects.iter().find_map(|e| match e {
        Effect::Spawn(spawn) => Some(spawn.first_step),
        _ => None,
    });
    assert_eq!(resumed_at, Some(1), "the verify step again");
    assert!(out.handover.is_none());
}

#[test]
fn a_step_not_safe_again_ends_the_run_interrupted_and_escalates() {
    use StepStatus::{Pending, Running};
    let out = take_up([Running, Pending], true, None);
    assert_eq!(out.runs[0].status, ExecutionStatus::Interrupted);
    assert_eq!(
        out.work_order.as_ref().unwrap().failing_step.as_deref(),
        Some("command")
    );
    assert!(matches!(
        handover(&out),
        Some(Handover::RunFinished {
            outcome: RunOutcome::Failed { .. },
            ..
        })
    ));
}

#[test]
fn a_step_the_playbook_says_to_retry_resumes() {
    use StepStatus::{Pending, Running};
    let out = take_up([Running, Pending], true, Some("retry"));
    assert_eq!(announced(&out), ["playbook.resumed"]);
}

#[test]
fn a_run_on_an_ended_incident_closes_quietly() {
    use StepStatus::{Pending, Running};
    let out = take_up([Running, Pending], false, None);
    assert!(out.drafts.is_empty() && out.handover.is_none() && out.work_order.is_none());
    assert_eq!(out.runs[0].status, ExecutionStatus::Interrupted);
    assert_eq!(out.agents[0].status, AgentStatus::Failed);
}

/// Every decision that ends or resumes a run it read as `running` commits only while the run
/// is still `running` in the store (so a run is not ended twice); a start and a step expect
/// nothing.
#[test]
fn ends_and_resumes_are_guarded_on_the_run_still_running_starts_and_steps_are_not() {
    use StepStatus::{Pending, Running, Succeeded};
    let spec = spec(vec![playbook("db_reconnect")]);
    let mut book = RunBook::default();
    book.learn_trust("db_reconnect", Some(TrustScore::playbook("db_reconnect")));
    let start = trigger(&mut book, &spec, incident_on(1, "orders-db", "db.down"));
    assert!(start.expect_running.is_empty());
    let run_id = started(&start).unwrap();
    let mut step = Changes::default();
    let record = book.run(&run_id).unwrap().execution.steps[0].clone();
    book.step(&run_id, 0, record, false, &mut step);
    assert!(step.expect_running.is_empty());
    let ended = finish(&mut book, &spec, &run_id, succeeded());
    assert_eq!(ended.expect_running, [run_id]);
    let (mut book, run_id) = one_run(&spec, "orders-db");
    let mut superseded = Changes::default();
    book.supersede(1, 2, at(3), &mut superseded);
    assert_eq!(superseded.expect_running, [run_id]);
    for (statuses, active) in [
        ([Succeeded, Running], true),   // resumed
        ([Running, Pending], true),     // ended interrupted
        ([Running, Pending], false),    // closed quietly
        ([Succeeded, Succeeded], true), // finished
    ] {
        let out = take_up(statuses, active, None);
        assert_eq!(
            out.expect_running,
            [out.runs[0].run_id.clone()],
            "{statuses:?}"
        );
    }
}

#[test]
fn a_run_forgotten_gives_its_slot_back() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let (mut book, run_id) = one_run(&spec, "orders-db");
    book.forget(&run_id);
    assert!(book.run(&run_id).is_none() && book.run_on(1).is_none());
}

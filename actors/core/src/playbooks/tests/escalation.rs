//! What goes to people: an overdue incident, a relapsing one (with the backoff before the next
//! run), and a playbook its circuit breaker holds. Each is a work order handed to the incident
//! manager with the escalation.

use super::*;
use crate::model::{WorkOrderId, WorkOrderReason};

fn escalation(out: &Changes) -> Option<(WorkOrderReason, bool)> {
    let order = out.work_order.as_ref()?;
    match handover(out)? {
        Handover::Escalate {
            incident_id,
            overdue,
        } if incident_id == order.incident_id => Some((order.reason, overdue)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_overdue_incident_gets_a_work_order_naming_the_run_still_healing_it() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let mut book = RunBook::default();
    let run_id = started(&trigger(&mut book, &spec, incident(1))).unwrap();
    let mut out = Changes::default();
    book.overdue(Some(incident(1)), at(60_000), &mut out);
    assert_eq!(escalation(&out), Some((WorkOrderReason::Overdue, true)));
    let order = out.work_order.unwrap();
    assert_eq!(order.run_id, Some(run_id.clone()));
    assert!(
        order.output.contains("still active after 60 s"),
        "{}",
        order.output
    );
    assert_eq!(out.point, Some("playbooks.escalate"));
    assert!(book.run(&run_id).is_some(), "the run goes on");
}

#[test]
fn an_overdue_incident_escalated_or_resolved_meanwhile_gets_nothing() {
    let book = RunBook::default();
    let mut escalated = incident(1);
    escalated.work_order_id = Some(WorkOrderId::new());
    let mut resolved = incident(2);
    resolved.status = IncidentStatus::Resolved;
    for current in [Some(escalated), Some(resolved), None] {
        let mut out = Changes::default();
        book.overdue(current, at(60_000), &mut out);
        assert!(out.is_empty());
    }
}

/// `relapsing` for incident 1 relapsed `relapses` times, as stored `current`.
fn relapsing(book: &mut RunBook, spec: &TreeSpec, relapses: u32, told: bool) -> Changes {
    let mut incident = incident(1);
    incident.relapses = relapses;
    let mut current = incident.clone();
    current.work_order_id = told.then(WorkOrderId::new);
    let mut out = Changes::default();
    book.relapsing(&incident, Some(current), spec, at(0), &mut out);
    out
}

#[test]
fn a_relapsing_incident_tells_people_once_and_heals_again_after_a_growing_backoff() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let mut book = RunBook::default();
    let first = relapsing(&mut book, &spec, 4, false);
    assert_eq!(
        escalation(&first),
        Some((WorkOrderReason::Relapsing, false))
    );
    assert!(matches!(
        first.effects[..],
        [Effect::HealAfter {
            incident_id: 1,
            delay_ms: 1_000
        }]
    ));
    let paced = trigger(&mut book, &spec, incident(1));
    assert!(started(&paced).is_none(), "it waits out its backoff");
    assert!(book.relapse_due(1));
    assert!(!book.relapse_due(1), "once");
    let second = relapsing(&mut book, &spec, 5, true);
    assert!(second.work_order.is_none(), "told already this round");
    assert!(matches!(
        second.effects[..],
        [Effect::HealAfter {
            delay_ms: 2_000,
            ..
        }]
    ));
}

#[test]
fn a_relapsing_incident_past_the_limit_is_healed_past_its_cooldown() {
    let mut cooled = playbook("db_reconnect");
    cooled.cooldown_ms = 600_000;
    let spec = spec(vec![cooled]);
    let mut book = RunBook::default();
    let first = started(&trigger(&mut book, &spec, incident(1))).unwrap();
    book.finish(
        &first,
        crate::model::RunReport::failed("x".into()),
        &spec,
        at(1),
        &mut Changes::default(),
    );
    let mut relapsed = incident(1);
    relapsed.relapses = 4;
    assert!(
        started(&trigger(&mut book, &spec, relapsed)).is_some(),
        "the backoff paces it"
    );
}

#[test]
fn with_on_relapse_people_a_relapsing_incident_goes_to_people_and_is_not_healed() {
    let mut hands_over = playbook("db_reconnect");
    hands_over.on_relapse = crate::spec::OnRelapse::People;
    let spec = spec(vec![hands_over]);
    let mut book = RunBook::default();
    let out = relapsing(&mut book, &spec, 4, false);
    assert_eq!(escalation(&out), Some((WorkOrderReason::Relapsing, false)));
    assert!(out.effects.is_empty(), "no backoff: no next run");
}

#[test]
fn past_the_bound_a_backing_off_incident_waits_in_the_store() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let mut book = RunBook::default();
    for id in 1..=3 {
        let mut out = Changes::default();
        book.heal_after(id, 1_000, &spec, &mut out);
        assert_eq!(out.effects.len(), usize::from(id <= 2), "incident {id}");
    }
    assert!(book.overflowed, "found again when the queue drains");
}

#[test]
fn a_cooldown_holds_a_run_and_says_so() {
    let mut cooled = playbook("db_reconnect");
    cooled.cooldown_ms = 600_000;
    let spec = spec(vec![cooled]);
    let mut book = RunBook::default();
    trigger(&mut book, &spec, incident_on(1, "orders-db", "db.down"));
    let held = trigger(&mut book, &spec, incident_on(2, "orders-db", "db.down"));
    assert_eq!(announced(&held), ["playbook.held"]);
    assert!(held.work_order.is_none() && held.handover.is_none());
}

#[test]
fn an_open_circuit_breaker_escalates_with_a_work_order() {
    let mut breaker = playbook("db_reconnect");
    breaker.breaker_runs_max = 1;
    breaker.breaker_window_ms = 600_000;
    let spec = spec(vec![breaker]);
    let mut book = RunBook::default();
    trigger(&mut book, &spec, incident_on(1, "orders-db", "db.down"));
    let held = trigger(&mut book, &spec, incident_on(2, "orders-db", "db.down"));
    assert_eq!(announced(&held), ["playbook.held"]);
    assert_eq!(
        escalation(&held),
        Some((WorkOrderReason::CircuitBreaker, false))
    );
}

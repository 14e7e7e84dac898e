//! The sub-agent slots (`limits.agents_max`) and the bounded queue in front of them
//! (`limits.agents_queue_max`).

use super::*;
use crate::model::RunReport;
use crate::playbooks::book::Next;

/// Two slots taken, then a queue of two, then the store.
#[test]
fn past_the_slots_incidents_queue_and_past_the_queue_they_wait_in_the_store() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let mut book = RunBook::default();
    for id in 1..=2 {
        assert!(started(&trigger(&mut book, &spec, incident(id))).is_some());
    }
    for id in 3..=4 {
        let queued = trigger(&mut book, &spec, incident(id));
        assert!(
            started(&queued).is_none() && queued.is_empty(),
            "queued, nothing written"
        );
    }
    assert_eq!(book.waiting_len(), 2);
    assert_eq!(book.run_on(3).as_deref(), Some("waiting for a sub-agent"));
    let turned_away = trigger(&mut book, &spec, incident(5));
    assert!(matches!(
        turned_away.effects[..],
        [Effect::Overflowed { incident_id: 5, .. }]
    ));
    assert_eq!(book.waiting_len(), 2, "the queue stays bounded");
    assert_eq!(book.next_waiting(&spec), Next::Nothing, "no slot free yet");
}

#[test]
fn a_slot_freeing_starts_the_oldest_waiting_then_the_store_is_searched() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let mut book = RunBook::default();
    let runs: Vec<RunId> = (1..=2)
        .map(|id| started(&trigger(&mut book, &spec, incident(id))).unwrap())
        .collect();
    for id in 3..=5 {
        trigger(&mut book, &spec, incident(id));
    }
    let mut out = Changes::default();
    book.finish(
        &runs[0],
        RunReport::failed("no".into()),
        &spec,
        at(9),
        &mut out,
    );
    assert!(out.effects.iter().any(|e| matches!(e, Effect::SlotFree)));
    let Next::Incident(next) = book.next_waiting(&spec) else {
        panic!("the oldest waiting");
    };
    assert_eq!(next.id, 3);
    assert!(started(&trigger(&mut book, &spec, *next)).is_some());
    book.finish(
        &runs[1],
        RunReport::failed("no".into()),
        &spec,
        at(9),
        &mut Changes::default(),
    );
    assert!(matches!(book.next_waiting(&spec), Next::Incident(i) if i.id == 4));
    book.runs.clear();
    assert_eq!(
        book.next_waiting(&spec),
        Next::SearchStore,
        "5 was turned away"
    );
    assert_eq!(book.next_waiting(&spec), Next::Nothing, "searched once");
}

#[test]
fn a_superseded_incident_leaves_the_queue() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let mut book = RunBook::default();
    for id in 1..=3 {
        trigger(&mut book, &spec, incident(id));
    }
    let mut out = Changes::default();
    book.supersede(3, 9, at(1), &mut out);
    assert_eq!(book.waiting_len(), 0);
    assert!(out.is_empty(), "it had no run to end");
}

//! Which playbook an incident gets.

use super::*;
use crate::model::RunError;
use crate::model::{TrustScore, Who};
use crate::playbooks::book::RunNow;
use crate::playbooks::records::Started;

#[test]
fn an_incident_gets_the_first_playbook_whose_trigger_matches_and_its_run_starts() {
    let spec = spec(vec![playbook("db_reconnect"), playbook("db_failover")]);
    let mut book = RunBook::default();
    let out = trigger(&mut book, &spec, incident(1));
    let run_id = started(&out).expect("a run started");
    let run = book.run(&run_id).unwrap();
    assert_eq!(run.execution.playbook_id, "db_reconnect");
    assert_eq!(announced(&out), ["playbook.started", "agent.spawned"]);
    assert_eq!(
        (out.runs.len(), out.agents.len()),
        (1, 1),
        "the run and its agent, together"
    );
    assert_eq!(out.point, Some("playbooks.start"));
    assert!(out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::RunStarted { incident_id: 1, .. })));
}

#[test]
fn an_incident_no_playbook_matches_gets_nothing() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let mut book = RunBook::default();
    let out = trigger(&mut book, &spec, incident_on(1, "api", "http.down"));
    assert!(out.is_empty() && out.effects.is_empty(), "{out:?}");
}

#[test]
fn an_incident_with_a_run_gets_no_second_one() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let mut book = RunBook::default();
    trigger(&mut book, &spec, incident(1));
    let again = trigger(&mut book, &spec, incident(1));
    assert!(again.is_empty() && again.effects.is_empty());
    assert_eq!(book.runs.len(), 1);
}

#[test]
fn a_playbook_below_its_trust_bar_is_suggested_to_people_instead_of_run() {
    let mut trusted = playbook("db_reconnect");
    trusted.auto_run_min_trust = 0.8;
    let spec = spec(vec![trusted]);
    let mut book = RunBook::default();
    let mut low = TrustScore::playbook("db_reconnect");
    low.score = 0.5;
    book.learn_trust("db_reconnect", Some(low));
    let out = trigger(&mut book, &spec, incident(1));
    assert!(started(&out).is_none() && out.is_empty());
    let Some(Effect::Suggest {
        incident_id,
        suggestion,
    }) = out.effects.first()
    else {
        panic!("a suggestion: {out:?}");
    };
    assert_eq!((*incident_id, suggestion.trust), (1, 0.5));

    let mut high = TrustScore::playbook("db_reconnect");
    high.score = 0.9;
    book.learn_trust("db_reconnect", Some(high));
    assert!(
        started(&trigger(&mut book, &spec, incident(2))).is_some(),
        "trusted: it runs"
    );
}

#[test]
fn an_acknowledged_incident_is_left_to_the_person_when_the_playbook_stops_on_ack() {
    let mut stops = playbook("db_reconnect");
    stops.on_ack = crate::spec::OnAck::Stop;
    let spec = spec(vec![stops]);
    let mut acknowledged = incident(1);
    acknowledged.acknowledged_at = Some(at(5));
    let out = trigger(&mut RunBook::default(), &spec, acknowledged);
    assert!(started(&out).is_none());
}

fn run_now(
    book: &mut RunBook,
    spec: &TreeSpec,
    playbook_id: &str,
    incident: Option<Incident>,
    forced: bool,
) -> (Result<RunId, RunError>, Changes) {
    let asked = RunNow {
        playbook_id: playbook_id.to_owned(),
        incident_id: 7,
        started: Started::ByHand {
            by: Who::new("ops"),
            forced,
        },
    };
    let mut out = Changes::default();
    let result = book.run_now(asked, incident, spec, at(0), &mut out);
    (result, out)
}

#[test]
fn a_person_runs_a_playbook_by_hand_and_the_run_says_who() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let mut book = RunBook::default();
    let (run_id, out) = run_now(&mut book, &spec, "db_reconnect", Some(incident(7)), false);
    let run = book.run(&run_id.unwrap()).unwrap().clone();
    assert!(run.execution.by_hand);
    assert_eq!(run.execution.started_by, Some(Who::new("ops")));
    assert_eq!(announced(&out)[0], "playbook.started");
}

#[test]
fn a_person_s_run_is_refused_with_the_reason() {
    let spec = spec(vec![playbook("db_reconnect")]);
    let mut book = RunBook::default();
    let refused = |book: &mut RunBook, id: &str, incident: Option<Incident>| {
        run_now(book, &spec, id, incident, false).0.unwrap_err()
    };
    assert_eq!(
        refused(&mut book, "nope", Some(incident(7))),
        RunError::NoSuchPlaybook("nope".into())
    );
    assert_eq!(
        refused(&mut book, "db_reconnect", None),
        RunError::NoSuchIncident(7)
    );
    let mut resolved = incident(7);
    resolved.status = IncidentStatus::Resolved;
    assert_eq!(
        refused(&mut book, "db_reconnect", Some(resolved)),
        RunError::Resolved(7)
    );
    let other = incident_on(7, "api", "http.down");
    assert!(matches!(
        refused(&mut book, "db_reconnect", Some(other.clone())),
        RunError::NotTriggered(_)
    ));
    assert!(
        run_now(&mut book, &spec, "db_reconnect", Some(other), true)
            .0
            .is_ok(),
        "forced"
    );
    assert!(matches!(
        refused(&mut book, "db_reconnect", Some(incident(7))),
        RunError::Busy { .. }
    ));
}

#[test]
fn a_held_playbook_refuses_a_person_unless_forced() {
    let mut cooled = playbook("db_reconnect");
    cooled.cooldown_ms = 600_000;
    let spec = spec(vec![cooled]);
    let mut book = RunBook::default();
    let first = trigger(&mut book, &spec, incident_on(1, "orders-db", "db.down"));
    book.supersede(1, 2, at(1), &mut Changes::default()); // its slot is free again
    assert!(started(&first).is_some());
    let again = Some(incident_on(7, "orders-db", "db.down"));
    let (held, _) = run_now(&mut book, &spec, "db_reconnect", again.clone(), false);
    assert!(matches!(held, Err(RunError::Held(_))), "{held:?}");
    assert!(run_now(&mut book, &spec, "db_reconnect", again, true)
        .0
        .is_ok());
}

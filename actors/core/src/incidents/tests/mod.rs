//! Unit tests of the incident manager's rules (`book.rs`, `lifecycle.rs`): the helpers and the
//! core rules here, and one file each for Alertmanager's alerts, dependencies and relapses
//! (with maintenance).

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::*;
use crate::event::{types, Event, EventDraft};
use crate::model::{Incident, IncidentStatus, ResolvedBy, Suggestion, SuggestionStatus, Who};

mod alerts;
mod dependencies;
mod fixture;
mod relapses;

pub(super) use fixture::incident_on;

fn rules() -> Rules {
    Rules {
        drop_on_incident: 0.3,
        restore_on_recovery: 0.25,
        events_max: 4,
        depends_on: HashMap::from([
            ("api".to_owned(), vec!["db".to_owned()]),
            ("web".to_owned(), vec!["payments".to_owned()]),
        ]),
        monitors: ["api", "db", "web"].map(String::from).into(),
        reopen_window_ms: 600_000,
        relapses_max: 2,
    }
}

fn event(seq: u64, event_type: &str, source: &str) -> Event {
    EventDraft::new(event_type, json!({}))
        .source(source)
        .sequenced(seq, crate::time::now())
}

fn core() -> IncidentBook {
    IncidentBook::new(Vec::new(), 1)
}

fn apply(core: &mut IncidentBook, facts: &Facts, events: &[Event]) -> Changes {
    let mut out = Changes::default();
    for e in events {
        core.apply(e, &rules(), facts, &mut out);
    }
    out.finish();
    out
}

#[test]
fn a_thousand_repeats_in_a_page_are_one_small_announcement_and_a_recovery_comes_after_them() {
    let mut core = core();
    apply(
        &mut core,
        &Facts::default(),
        &[event(1, types::DB_CONNECTION_LOST, "db")],
    );
    let mut events: Vec<Event> = (2..=1_001)
        .map(|seq| event(seq, types::DB_CONNECTION_LOST, "db"))
        .collect();
    events.push(event(1_002, types::DB_CONNECTION_RESTORED, "db"));
    let out = apply(&mut core, &Facts::default(), &events);
    let kinds: Vec<&str> = out.drafts.iter().map(|d| d.event_type.as_str()).collect();
    assert_eq!(kinds, [types::INCIDENT_UPDATED, types::INCIDENT_RESOLVED]);
    assert_eq!(out.drafts[0].data["repeats"], 1_000);
    assert_eq!(out.drafts[0].data["incident"]["occurrences"], 1_001);
    assert_eq!(out.incidents[&1].occurrences, 1_001);
}

#[test]
fn a_problem_opens_one_incident_and_repeats_only_count() {
    let mut core = core();
    let out = apply(
        &mut core,
        &Facts::default(),
        &[
            event(1, types::DB_CONNECTION_LOST, "db"),
            event(2, types::DB_CONNECTION_LOST, "db"),
            event(3, types::TCP_UNREACHABLE, "db"),
        ],
    );
    assert_eq!(core.len(), 2);
    let first = core.get(1).unwrap();
    assert_eq!(first.occurrences, 2);
    assert_eq!(first.event_seqs, vec![1, 2]);
    // Trust fell once per new incident: 1.0 → 0.7 → 0.4.
    assert!((core.trust_of("db") - 0.4).abs() < 1e-9);
    assert_eq!(out.trust.len(), 1);
    let kinds: Vec<&str> = out.drafts.iter().map(|d| d.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            types::TRUST_CHANGED,
            types::INCIDENT_OPENED,
            types::TRUST_CHANGED,
            types::INCIDENT_OPENED,
            types::INCIDENT_UPDATED,
        ]
    );
    // The repeat is announced as a delta, once, after the page.
    let update = &out.drafts[4].data;
    assert_eq!(update["reason"], "repeat");
    assert_eq!(update["repeats"], 1);
    assert_eq!(update["incident"]["occurrences"], 2);
    assert!(update["incident"].get("event_seqs").is_none(), "{update}");
    assert_eq!(
        out.effects.len(),
        2,
        "each new incident is offered to playbooks"
    );
    assert_eq!(out.incidents.len(), 2);
}

#[test]
fn a_log_count_adds_to_occurrences_and_seqs_are_bounded() {
    let mut core = core();
    let mut counted = event(1, "log.error_detected", "app");
    counted.data = json!({ "class": "problem", "count": 41 });
    let repeats: Vec<Event> = (2..=9)
        .map(|seq| event(seq, "log.error_detected", "app"))
        .map(|mut e| {
            e.data = json!({ "class": "problem" });
            e
        })
        .collect();
    apply(&mut core, &Facts::default(), &[counted]);
    apply(&mut core, &Facts::default(), &repeats);
    let incident = core.get(1).unwrap();
    assert_eq!(incident.occurrences, 41 + 8);
    assert_eq!(incident.event_seqs.len(), 4, "events_max");
}

#[test]
fn a_recovery_resolves_its_family_only() {
    let mut core = core();
    apply(
        &mut core,
        &Facts::default(),
        &[
            event(1, types::DB_CONNECTION_LOST, "db"),
            event(2, types::TCP_UNREACHABLE, "db"),
        ],
    );
    let out = apply(
        &mut core,
        &Facts::default(),
        &[event(3, types::DB_CONNECTION_RESTORED, "db")],
    );
    let resolved = &out.incidents[&1];
    assert_eq!(resolved.status, IncidentStatus::Resolved);
    assert_eq!(resolved.resolved_by, Some(ResolvedBy::Recovery));
    assert!(core.get(1).is_none());
    assert!(core.get(2).is_some(), "tcp is another family");
    assert!(out.effects.is_empty(), "a recovery needs no recheck");
    // The next outage, this soon, is the same incident again (see relapses).
    apply(
        &mut core,
        &Facts::default(),
        &[event(4, types::DB_CONNECTION_LOST, "db")],
    );
    assert_eq!(core.get(1).unwrap().relapses, 1);
}

#[test]
fn a_recovery_during_a_run_leaves_it_to_the_playbook() {
    let mut core = core();
    apply(
        &mut core,
        &Facts::default(),
        &[event(1, types::DB_CONNECTION_LOST, "db")],
    );
    core.run_started(1, "r1".into(), &mut Changes::default());
    apply(
        &mut core,
        &Facts::default(),
        &[event(2, types::DB_CONNECTION_RESTORED, "db")],
    );
    assert!(core.get(1).unwrap().recovery_seen);
    // The run fails: escalated, then resolved since the component came back.
    let mut out = Changes::default();
    let failed = RunOutcome::Failed {
        work_order_id: "w1".into(),
    };
    let now = crate::time::now();
    core.run_finished(
        1,
        &"r1".into(),
        failed,
        true,
        now,
        &rules(),
        &Facts::default(),
        &mut out,
    );
    assert!(core.get(1).is_none());
    let kinds: Vec<&str> = out.drafts.iter().map(|d| d.event_type.as_str()).collect();
    assert_eq!(kinds, [types::INCIDENT_ESCALATED, types::INCIDENT_RESOLVED]);
    assert_eq!(
        out.incidents[&1].work_order_id.as_ref().map(|w| w.as_str()),
        Some("w1")
    );
}

#[test]
fn a_run_whose_start_a_crash_lost_still_ends_its_incident_but_only_once() {
    let mut core = core();
    apply(
        &mut core,
        &Facts::default(),
        &[event(1, types::DB_CONNECTION_LOST, "db")],
    );
    let failed = |id: &str| RunOutcome::Failed {
        work_order_id: id.into(),
    };
    let finish = |core: &mut IncidentBook, outcome| {
        let mut out = Changes::default();
        let (now, rules, facts) = (crate::time::now(), rules(), Facts::default());
        core.run_finished(
            1,
            &"r1".into(),
            outcome,
            true,
            now,
            &rules,
            &facts,
            &mut out,
        );
        out
    };
    // No `run_started` reached it: the run's end still escalates it.
    let out = finish(&mut core, failed("w1"));
    assert_eq!(out.incidents[&1].status, IncidentStatus::Escalated);
    // The same end reported again (a restart's reconciliation) changes nothing.
    let again = finish(&mut core, failed("w2"));
    assert!(again.incidents.is_empty() && again.drafts.is_empty());
    assert_eq!(
        core.get(1)
            .unwrap()
            .work_order_id
            .as_ref()
            .map(|w| w.as_str()),
        Some("w1")
    );
}

#[test]
fn silenced_sources_are_recorded_but_not_offered_to_playbooks() {
    let mut core = core();
    let silenced = Facts {
        silenced: HashSet::from(["db".to_owned()]),
        ..Facts::default()
    };
    let out = apply(
        &mut core,
        &silenced,
        &[event(1, types::DB_CONNECTION_LOST, "db")],
    );
    assert!(core.get(1).unwrap().silenced);
    assert!(out.effects.is_empty());
}

#[test]
fn commands_check_state() {
    let mut core = core();
    apply(
        &mut core,
        &Facts::default(),
        &[event(1, types::DB_CONNECTION_LOST, "db")],
    );
    let now = crate::time::now();
    let mut out = Changes::default();
    assert_eq!(
        core.acknowledge(1, &Who::local(), now, &mut out)
            .unwrap()
            .status,
        IncidentStatus::Acknowledged
    );
    assert!(matches!(
        core.acknowledge(1, &Who::local(), now, &mut out),
        Err(Refused::Conflict { .. })
    ));
    assert!(matches!(
        core.acknowledge(9, &Who::local(), now, &mut out),
        Err(Refused::NotFound(9))
    ));
    // A run's end for another run changes nothing.
    core.run_started(1, "r1".into(), &mut out);
    let before = core.get(1).cloned();
    let rules = rules();
    let facts = Facts::default();
    core.run_finished(
        1,
        &"r2".into(),
        RunOutcome::Succeeded,
        true,
        now,
        &rules,
        &facts,
        &mut out,
    );
    assert_eq!(core.get(1).cloned(), before);
    // A triage playbook leaves it for people, acknowledged as it was.
    core.run_finished(
        1,
        &"r1".into(),
        RunOutcome::Succeeded,
        false,
        now,
        &rules,
        &facts,
        &mut out,
    );
    assert_eq!(core.get(1).unwrap().status, IncidentStatus::Acknowledged);
}

#[test]
fn a_suggestion_is_offered_once_and_decided_once() {
    let mut core = core();
    apply(
        &mut core,
        &Facts::default(),
        &[event(1, types::DB_CONNECTION_LOST, "db")],
    );
    let now = crate::time::now();
    let suggestion = Suggestion {
        suggestion_id: String::new(),
        playbook_id: "p".into(),
        playbook_name: "P".into(),
        trust: 0.2,
        auto_run_min_trust: 0.5,
        status: SuggestionStatus::Pending,
        created_at: now,
        decided_at: None,
    };
    let mut out = Changes::default();
    core.suggest(1, suggestion.clone(), &mut out);
    core.suggest(1, suggestion, &mut out);
    assert_eq!(core.get(1).unwrap().suggestions.len(), 1);
    let decided = core
        .decide(1, "s1", false, &Who::local(), now, &mut out)
        .unwrap();
    assert_eq!(decided.status, SuggestionStatus::Dismissed);
    assert!(matches!(
        core.decide(1, "s1", true, &Who::local(), now, &mut out),
        Err(Refused::Conflict { .. })
    ));
    assert!(matches!(
        core.decide(1, "s9", true, &Who::local(), now, &mut out),
        Err(Refused::NoSuchSuggestion { .. })
    ));
}

#[test]
fn overdue_lists_only_unescalated_loud_incidents_past_their_limit() {
    let mut core = core();
    apply(
        &mut core,
        &Facts::default(),
        &[
            event(1, types::DB_CONNECTION_LOST, "db"),
            event(2, types::TCP_UNREACHABLE, "cache"),
        ],
    );
    let limits = HashMap::from([("db".to_owned(), 0)]);
    let now = crate::time::now() + chrono::Duration::seconds(1);
    let ids: Vec<u64> = core.overdue(&limits, now).map(|i| i.id).collect();
    assert_eq!(ids, vec![1]);
    let (rules, facts) = (rules(), Facts::default());
    core.escalate(
        1,
        "w".into(),
        true,
        now,
        &rules,
        &facts,
        &mut Changes::default(),
    );
    assert_eq!(core.overdue(&limits, now).count(), 0);
}

#[test]
fn reloading_keeps_ids_growing() {
    let mut core = core();
    apply(
        &mut core,
        &Facts::default(),
        &[event(1, types::DB_CONNECTION_LOST, "db")],
    );
    let active: Vec<Incident> = core.active().cloned().collect();
    let reloaded = IncidentBook::new(active, 1);
    assert_eq!(reloaded.next_id(), 2);
    assert!(reloaded
        .trust_needed(&event(5, types::DB_CONNECTION_LOST, "db"))
        .is_none());
    assert_eq!(
        reloaded.trust_needed(&event(5, types::TCP_UNREACHABLE, "db")),
        Some("db".to_owned())
    );
}

#[test]
fn the_newest_active_page_walks_back_from_a_cursor_and_skips_resolved_ones() {
    let mut core = core();
    let problems: Vec<Event> = (1..=5)
        .map(|seq| event(seq, types::DB_CONNECTION_LOST, &format!("db{seq}")))
        .collect();
    apply(&mut core, &Facts::default(), &problems);
    apply(
        &mut core,
        &Facts::default(),
        &[event(6, types::DB_CONNECTION_RESTORED, "db4")],
    );
    let ids = |(page, _): (Vec<Incident>, usize)| page.iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(ids(core.newest_active(None, 3, None)), [5, 3, 2]);
    assert_eq!(ids(core.newest_active(Some(3), 3, None)), [2, 1]);
    assert_eq!(ids(core.newest_active(Some(1), 3, None)), Vec::<u64>::new());
    assert_eq!(core.newest_active(Some(1), 3, None).1, 4);
    assert_eq!(core.active_ids_below(5), [1, 2, 3]);

    let mut out = Changes::default();
    core.acknowledge(2, &Who::local(), crate::time::now(), &mut out)
        .unwrap();
    let (acknowledged, total) = core.newest_active(None, 10, Some(IncidentStatus::Acknowledged));
    assert_eq!(
        (acknowledged.iter().map(|i| i.id).collect::<Vec<_>>(), total),
        (vec![2], 1)
    );
    assert_eq!(core.newest_active(None, 2, Some(IncidentStatus::Open)).1, 3);
}

fn alert(seq: u64, name: &str, status: &str, source: &str, fingerprint: &str) -> Event {
    let class = if status == "firing" {
        "problem"
    } else {
        "recovery"
    };
    let data = json!({
        crate::event::CLASS_KEY: class,
        "title": name,
        "fingerprint": fingerprint,
        "labels": { "alertname": name, "severity": "critical" },
    });
    EventDraft::new(&format!("alert.{name}.{status}"), data)
        .source(source)
        .sequenced(seq, crate::time::now())
}

/// db ← api ← web: web depends on api, api on db.
fn chain_rules() -> Rules {
    Rules {
        depends_on: HashMap::from([
            ("api".to_owned(), vec!["db".to_owned()]),
            ("web".to_owned(), vec!["api".to_owned()]),
        ]),
        monitors: ["api", "db", "web"].map(String::from).into(),
        ..rules()
    }
}

fn apply_with(core: &mut IncidentBook, rules: &Rules, facts: &Facts, events: &[Event]) -> Changes {
    let mut out = Changes::default();
    for e in events {
        core.apply(e, rules, facts, &mut out);
    }
    out.finish();
    out
}

fn all_down() -> Facts {
    Facts {
        down: ["db", "api", "web"].map(String::from).into(),
        ..Facts::default()
    }
}

fn event_at(seq: u64, event_type: &str, source: &str, at: chrono::DateTime<chrono::Utc>) -> Event {
    EventDraft::new(event_type, json!({}))
        .source(source)
        .sequenced(seq, at)
}

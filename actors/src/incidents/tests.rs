//! Unit tests of the incident manager's rules (`book.rs`).

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::*;
use crate::event::{types, Event, EventDraft};
use crate::model::{Incident, IncidentStatus, ResolvedBy, Suggestion, SuggestionStatus, Who};
use crate::protocol::incidents::{IncidentError, RunOutcome};

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
fn a_dependent_failure_attaches_to_its_down_parent_and_reopens_after() {
    let mut core = core();
    let down = Facts {
        down: HashSet::from(["db".to_owned(), "api".to_owned()]),
        ..Facts::default()
    };
    apply(
        &mut core,
        &down,
        &[
            event(1, types::DB_CONNECTION_LOST, "db"),
            event(2, types::API_UNAVAILABLE, "api"),
            event(3, types::API_UNAVAILABLE, "api"),
        ],
    );
    assert_eq!(core.len(), 1, "the api's failure is a symptom of the db's");
    assert_eq!(core.get(1).unwrap().symptoms.len(), 1);
    // The db is resolved by hand while the api still says down: it gets its own incident.
    let mut out = Changes::default();
    let now = crate::time::now();
    core.resolve_by_hand(1, &Who::local(), now, &rules(), &down, &mut out)
        .unwrap();
    assert_eq!(core.len(), 1);
    assert_eq!(core.get(2).unwrap().source, "api");
    let recheck = Effect::Recheck {
        source: "db".into(),
        family: "db".into(),
    };
    assert!(out.effects.contains(&recheck));
}

#[test]
fn a_parent_not_called_down_by_its_monitor_hides_nothing() {
    let mut core = core();
    apply(
        &mut core,
        &Facts::default(),
        &[
            event(1, types::DB_CONNECTION_LOST, "db"),
            event(2, types::API_UNAVAILABLE, "api"),
        ],
    );
    assert_eq!(core.len(), 2);
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
        Err(IncidentError::Conflict { .. })
    ));
    assert!(matches!(
        core.acknowledge(9, &Who::local(), now, &mut out),
        Err(IncidentError::NotFound(9))
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
        Err(IncidentError::Conflict { .. })
    ));
    assert!(matches!(
        core.decide(1, "s9", true, &Who::local(), now, &mut out),
        Err(IncidentError::NoSuchSuggestion { .. })
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

#[test]
fn alerts_of_one_name_on_one_component_are_one_incident_until_the_last_resolves() {
    let mut core = core();
    let none = Facts::default();
    apply(
        &mut core,
        &none,
        &[
            alert(1, "pg_down", "firing", "orders-db", "aaa"),
            alert(2, "pg_down", "firing", "orders-db", "bbb"),
            alert(3, "pg_down", "firing", "orders-db", "aaa"),
            alert(4, "disk_full", "firing", "orders-db", "ccc"),
        ],
    );
    assert_eq!(core.len(), 2, "one incident per alert name");
    let incident = core.get(1).unwrap();
    assert_eq!(incident.alerts_firing, ["aaa", "bbb"]);
    assert_eq!(incident.labels["severity"], "critical");
    assert_eq!(incident.occurrences, 3);

    let out = apply(
        &mut core,
        &none,
        &[alert(5, "pg_down", "resolved", "orders-db", "aaa")],
    );
    assert_eq!(core.get(1).unwrap().alerts_firing, ["bbb"]);
    assert_eq!(out.drafts[0].event_type, types::INCIDENT_UPDATED);
    // A resolve of an alert it is not waiting for changes nothing.
    let out = apply(
        &mut core,
        &none,
        &[alert(6, "pg_down", "resolved", "orders-db", "zzz")],
    );
    assert!(out.drafts.is_empty());

    let out = apply(
        &mut core,
        &none,
        &[alert(7, "pg_down", "resolved", "orders-db", "bbb")],
    );
    assert_eq!(out.incidents[&1].status, IncidentStatus::Resolved);
    assert_eq!(core.len(), 1, "the disk alert is another family");
}

#[test]
fn a_component_only_alerts_speak_of_is_down_while_its_alert_fires() {
    let mut core = core();
    let none = Facts::default();
    apply(
        &mut core,
        &none,
        &[
            alert(1, "payments_down", "firing", "payments", "aaa"),
            event(2, types::TCP_UNREACHABLE, "web"),
        ],
    );
    assert_eq!(core.len(), 1, "web's failure is a symptom of payments'");
    assert_eq!(core.get(1).unwrap().symptoms[0].source, "web");
    // A pushed problem on payments is not an alert: it does not make payments "down".
    let mut core = IncidentBook::new(Vec::new(), 1);
    apply(
        &mut core,
        &none,
        &[
            EventDraft::new(
                "payments.slow",
                json!({ crate::event::CLASS_KEY: "problem" }),
            )
            .source("payments")
            .sequenced(1, crate::time::now()),
            event(2, types::TCP_UNREACHABLE, "web"),
        ],
    );
    assert_eq!(core.len(), 2);
}

#[test]
fn an_attached_alert_that_resolved_is_not_reopened_and_one_still_firing_is() {
    let down = Facts {
        down: HashSet::from(["db".to_owned()]),
        ..Facts::default()
    };
    for (resolved_meanwhile, incidents_after) in [(true, 0), (false, 1)] {
        let mut core = core();
        apply(
            &mut core,
            &down,
            &[
                event(1, types::DB_CONNECTION_LOST, "db"),
                alert(2, "api_errors", "firing", "api", "aaa"),
            ],
        );
        assert_eq!(
            core.len(),
            1,
            "the api's alert is a symptom of the db's outage"
        );
        if resolved_meanwhile {
            apply(
                &mut core,
                &down,
                &[alert(3, "api_errors", "resolved", "api", "aaa")],
            );
            assert!(core.get(1).unwrap().symptoms[0].ended_at.is_some());
        }
        apply(
            &mut core,
            &Facts::default(),
            &[event(4, types::DB_CONNECTION_RESTORED, "db")],
        );
        assert_eq!(
            core.len(),
            incidents_after,
            "resolved: {resolved_meanwhile}"
        );
    }
}

#[test]
fn a_playbooks_label_selector_and_sources_decide_which_alerts_start_it() {
    use crate::spec::{PlaybookSpec, TriggerSource};
    let mut core = core();
    apply(
        &mut core,
        &Facts::default(),
        &[alert(1, "pg_down", "firing", "db", "aaa")],
    );
    let incident = core.get(1).unwrap();
    let origin = TriggerSource::of(&incident.source, &incident.event_type, &[]);
    assert_eq!(origin, TriggerSource::Alertmanager);
    let playbook = |labels: serde_json::Value| -> PlaybookSpec {
        serde_json::from_value(json!({
            "id": "page", "on": ["alert.pg_down.*"], "sources": ["alertmanager"],
            "labels": labels, "steps": [{ "kind": "notify", "message": "x" }],
        }))
        .unwrap()
    };
    assert_eq!(
        playbook(json!({ "severity": "critical" })).mismatch(incident, origin),
        None
    );
    let why = playbook(json!({ "severity": "warning" }))
        .mismatch(incident, origin)
        .unwrap();
    assert!(why.contains("severity=\"warning\""), "{why}");
    // An alert on a monitor's component is still an alert: monitor playbooks do not run.
    let monitors: Vec<crate::spec::MonitorSpec> = vec![serde_json::from_value(json!({
        "id": "db", "kind": "tcp", "address": "127.0.0.1:1"
    }))
    .unwrap()];
    let origin = TriggerSource::of(&incident.source, &incident.event_type, &monitors);
    assert_eq!(origin, TriggerSource::Alertmanager);
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

#[test]
fn a_parent_seen_after_its_dependent_takes_the_dependents_incident_in() {
    let mut core = core();
    let (rules, down) = (chain_rules(), all_down());
    apply_with(
        &mut core,
        &rules,
        &down,
        &[event(1, types::API_UNAVAILABLE, "api")],
    );
    core.run_started(1, "r1".into(), &mut Changes::default());
    let out = apply_with(
        &mut core,
        &rules,
        &down,
        &[event(2, types::DB_CONNECTION_LOST, "db")],
    );
    assert_eq!(core.len(), 1, "one outage, one incident");
    let root = core.get(2).unwrap();
    assert_eq!(root.symptoms[0].source, "api");
    assert_eq!(
        root.symptoms[0].title, "API unavailable",
        "{:?}",
        root.symptoms
    );
    let folded = &out.incidents[&1];
    assert_eq!(folded.status, IncidentStatus::Resolved);
    assert_eq!(folded.resolved_by, Some(ResolvedBy::Superseded));
    assert_eq!(folded.superseded_by, Some(2));
    assert!(out.effects.contains(&Effect::Supersede {
        incident_id: 1,
        by: 2
    }));
}

#[test]
fn a_chain_seen_in_any_order_ends_as_one_incident_and_comes_apart_as_it_heals() {
    let (rules, down) = (chain_rules(), all_down());
    let orders: [[(&str, &str); 3]; 3] = [
        [
            ("web", types::API_UNAVAILABLE),
            ("api", types::API_UNAVAILABLE),
            ("db", types::DB_CONNECTION_LOST),
        ],
        [
            ("db", types::DB_CONNECTION_LOST),
            ("web", types::API_UNAVAILABLE),
            ("api", types::API_UNAVAILABLE),
        ],
        [
            ("api", types::API_UNAVAILABLE),
            ("db", types::DB_CONNECTION_LOST),
            ("web", types::API_UNAVAILABLE),
        ],
    ];
    for order in orders {
        let mut core = core();
        let events: Vec<Event> = order
            .iter()
            .zip(1..)
            .map(|((source, kind), seq)| event(seq, kind, source))
            .collect();
        let out = apply_with(&mut core, &rules, &down, &events);
        assert_eq!(core.len(), 1, "{order:?}");
        let root = core.active().next().unwrap().clone();
        assert_eq!(root.source, "db", "{order:?}");
        let mut sources: Vec<&str> = root.symptoms.iter().map(|s| s.source.as_str()).collect();
        sources.sort();
        assert_eq!(sources, ["api", "web"], "{order:?}");
        // Nothing but the root is offered to the playbooks.
        let triggered: Vec<u64> = out
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Trigger(i) => Some(i.id),
                _ => None,
            })
            .collect();
        assert_eq!(triggered, [root.id], "{order:?}");

        // The database is back; the api and web still fail: the api's outage is the web's.
        let still_down = Facts {
            down: ["api", "web"].map(String::from).into(),
            ..Facts::default()
        };
        apply_with(
            &mut core,
            &rules,
            &still_down,
            &[event(9, types::DB_CONNECTION_RESTORED, "db")],
        );
        assert_eq!(core.len(), 1, "{order:?}");
        let api = core.active().next().unwrap();
        assert_eq!(api.source, "api", "{order:?}");
        assert_eq!(api.symptoms[0].source, "web", "{order:?}");
    }
}

fn event_at(seq: u64, event_type: &str, source: &str, at: chrono::DateTime<chrono::Utc>) -> Event {
    EventDraft::new(event_type, json!({}))
        .source(source)
        .sequenced(seq, at)
}

#[test]
fn an_outage_back_soon_after_its_heal_reopens_its_incident_until_it_is_for_people() {
    let mut core = core();
    let t0 = crate::time::now();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    let none = Facts::default();
    let mut seq = 0;
    let mut round = |core: &mut IncidentBook, lost_at: i64| {
        seq += 2;
        let lost = event_at(seq, types::DB_CONNECTION_LOST, "db", at(lost_at));
        let back = event_at(
            seq + 1,
            types::DB_CONNECTION_RESTORED,
            "db",
            at(lost_at + 5),
        );
        let out = apply(core, &none, &[lost]);
        apply(core, &none, &[back]);
        out
    };
    round(&mut core, 0);
    let out = round(&mut core, 60);
    let kinds: Vec<&str> = out.drafts.iter().map(|d| d.event_type.as_str()).collect();
    assert!(kinds.contains(&types::INCIDENT_REOPENED), "{kinds:?}");
    let reopened = &out.incidents[&1];
    assert_eq!(
        (reopened.relapses, reopened.status),
        (1, IncidentStatus::Open)
    );
    assert_eq!(reopened.reopened_at, Some(at(60)));
    assert!(matches!(&out.effects[0], Effect::Trigger(i) if i.id == 1));
    assert_eq!(core.next_id(), 2, "no new incident");
    round(&mut core, 120); // relapse 2: still healed automatically (relapses_max = 2)
    let out = apply(
        &mut core,
        &none,
        &[event_at(98, types::DB_CONNECTION_LOST, "db", at(180))],
    );
    assert_eq!(out.incidents[&1].relapses, 3);
    assert!(
        matches!(&out.effects[..], [Effect::Relapsing(i)] if i.id == 1),
        "{:?}",
        out.effects
    );
    // Its round is timed from when it came back.
    let resolved = apply(
        &mut core,
        &none,
        &[event_at(99, types::DB_CONNECTION_RESTORED, "db", at(190))],
    );
    assert_eq!(resolved.incidents[&1].resolution_time_seconds, Some(10.0));

    // Past the window, a failure is a new incident.
    let late = apply(
        &mut core,
        &none,
        &[event_at(
            100,
            types::DB_CONNECTION_LOST,
            "db",
            at(190 + 601),
        )],
    );
    assert!(late.opened.contains(&2));
}

#[test]
fn a_persons_resolve_is_final_and_a_restart_remembers_recent_heals() {
    let mut core = core();
    let now = crate::time::now();
    apply(
        &mut core,
        &Facts::default(),
        &[event(1, types::DB_CONNECTION_LOST, "db")],
    );
    let mut out = Changes::default();
    core.resolve_by_hand(1, &Who::local(), now, &rules(), &Facts::default(), &mut out)
        .unwrap();
    let out = apply(
        &mut core,
        &Facts::default(),
        &[event(2, types::DB_CONNECTION_LOST, "db")],
    );
    assert!(
        out.opened.contains(&2),
        "a new incident after a person's resolve"
    );

    // A heal remembered from the store before a restart still reopens.
    let healed = apply(
        &mut core,
        &Facts::default(),
        &[event(3, types::DB_CONNECTION_RESTORED, "db")],
    )
    .incidents[&2]
        .clone();
    let mut restarted = IncidentBook::new(Vec::new(), 3);
    restarted.remember_resolved(vec![healed], crate::time::now(), 600_000);
    let out = apply(
        &mut restarted,
        &Facts::default(),
        &[event(4, types::DB_CONNECTION_LOST, "db")],
    );
    assert_eq!(out.incidents[&2].relapses, 1);
    assert!(out.opened.is_empty());
}

#[test]
fn an_incident_under_a_maintenance_window_is_recorded_but_not_healed() {
    use crate::silence::{Matchers, Quiet};
    let mut core = core();
    let facts = Facts {
        quiets: vec![Quiet {
            name: "db-upgrade".into(),
            matchers: Matchers {
                monitors: vec!["db".into()],
                ..Matchers::default()
            },
        }],
        ..Facts::default()
    };
    let out = apply(
        &mut core,
        &facts,
        &[
            event(1, types::DB_CONNECTION_LOST, "db"),
            event(2, types::API_UNAVAILABLE, "web"),
        ],
    );
    let db = core.of_source("db")[0];
    let incident = core.get(db).unwrap();
    assert_eq!(incident.maintenance.as_deref(), Some("db-upgrade"));
    assert!(incident.silenced);
    let triggered: Vec<&str> = out
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Trigger(i) => Some(i.source.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(triggered, ["web"], "only what no window covers is healed");
}

#[test]
fn an_alert_attached_through_a_chain_that_resolves_is_not_reopened() {
    // web → api → db, all down: web's alert attaches to db's incident, two levels up.
    let (rules, down) = (chain_rules(), all_down());
    let mut core = core();
    apply_with(
        &mut core,
        &rules,
        &down,
        &[
            event(1, types::DB_CONNECTION_LOST, "db"),
            alert(2, "web_errors", "firing", "web", "aaa"),
            alert(3, "web_errors", "firing", "web", "bbb"),
        ],
    );
    assert_eq!(core.len(), 1);
    apply_with(
        &mut core,
        &rules,
        &down,
        &[alert(4, "web_errors", "resolved", "web", "aaa")],
    );
    assert!(
        core.get(1).unwrap().symptoms[0].ended_at.is_none(),
        "bbb still fires"
    );
    apply_with(
        &mut core,
        &rules,
        &down,
        &[alert(5, "web_errors", "resolved", "web", "bbb")],
    );
    assert!(core.get(1).unwrap().symptoms[0].ended_at.is_some());
    let only_db_was_down = Facts::default();
    apply_with(
        &mut core,
        &rules,
        &only_db_was_down,
        &[event(6, types::DB_CONNECTION_RESTORED, "db")],
    );
    assert_eq!(core.len(), 0, "nothing left firing");
}

#[test]
fn a_relapsed_alert_incident_waits_only_for_its_own_rounds_alerts() {
    let mut core = core();
    let none = Facts::default();
    apply(
        &mut core,
        &none,
        &[
            alert(1, "pg_down", "firing", "db", "aaa"),
            alert(2, "pg_down", "firing", "db", "bbb"),
        ],
    );
    // A playbook heals it; the alerts' own resolves are never heard.
    let mut out = Changes::default();
    core.run_started(1, "r1".into(), &mut out);
    let now = crate::time::now();
    core.run_finished(
        1,
        &"r1".into(),
        RunOutcome::Succeeded,
        true,
        now,
        &rules(),
        &none,
        &mut out,
    );
    assert!(core.get(1).is_none());
    apply(
        &mut core,
        &none,
        &[alert(3, "pg_down", "firing", "db", "aaa")],
    );
    assert_eq!(
        core.get(1).unwrap().alerts_firing,
        ["aaa"],
        "the new round's only"
    );
    let out = apply(
        &mut core,
        &none,
        &[alert(4, "pg_down", "resolved", "db", "aaa")],
    );
    assert_eq!(out.incidents[&1].status, IncidentStatus::Resolved);
}

#[test]
fn a_relapse_in_maintenance_pages_nobody() {
    use crate::silence::{Matchers, Quiet};
    let rules = Rules {
        relapses_max: 0,
        ..rules()
    };
    let quiet = Facts {
        quiets: vec![Quiet {
            name: "upgrade".into(),
            matchers: Matchers {
                monitors: vec!["db".into()],
                ..Matchers::default()
            },
        }],
        ..Facts::default()
    };
    let mut core = core();
    apply_with(
        &mut core,
        &rules,
        &Facts::default(),
        &[event(1, types::DB_CONNECTION_LOST, "db")],
    );
    apply_with(
        &mut core,
        &rules,
        &Facts::default(),
        &[event(2, types::DB_CONNECTION_RESTORED, "db")],
    );
    let out = apply_with(
        &mut core,
        &rules,
        &quiet,
        &[event(3, types::DB_CONNECTION_LOST, "db")],
    );
    assert_eq!(out.incidents[&1].relapses, 1);
    assert_eq!(out.incidents[&1].maintenance.as_deref(), Some("upgrade"));
    assert!(out.effects.is_empty(), "{:?}", out.effects);
}

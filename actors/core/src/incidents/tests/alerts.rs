//! Alertmanager's alerts in the book: several firing into one incident, alert-only parents,
//! attached alerts that end, label selectors.

use super::*;

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
fn a_heal_counts_once_its_alerts_resolve_and_a_relapse_waits_only_for_its_own_rounds_alerts() {
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
    // A playbook's run succeeds while both alerts still fire: the alerts have the last word.
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
    let waiting = core.get(1).expect("still open while its alerts fire");
    assert!(waiting.awaiting_alert);
    assert_eq!(waiting.status, IncidentStatus::Open);
    apply(
        &mut core,
        &none,
        &[alert(3, "pg_down", "resolved", "db", "aaa")],
    );
    assert!(core.get(1).is_some(), "bbb still fires");
    let out = apply(
        &mut core,
        &none,
        &[alert(4, "pg_down", "resolved", "db", "bbb")],
    );
    assert_eq!(out.incidents[&1].resolved_by, Some(ResolvedBy::Playbook));
    // Firing again soon after: a relapse that waits only for this round's alert.
    apply(
        &mut core,
        &none,
        &[alert(5, "pg_down", "firing", "db", "aaa")],
    );
    let relapsed = core.get(1).unwrap();
    assert_eq!(relapsed.alerts_firing, ["aaa"], "the new round's only");
    assert_eq!((relapsed.relapses, relapsed.awaiting_alert), (1, false));
    let out = apply(
        &mut core,
        &none,
        &[alert(6, "pg_down", "resolved", "db", "aaa")],
    );
    assert_eq!(out.incidents[&1].status, IncidentStatus::Resolved);
}

#[test]
fn an_alert_on_a_monitored_component_folds_into_the_monitors_incident() {
    let mut core = core();
    let none = Facts::default();
    let out = apply(
        &mut core,
        &none,
        &[
            event(1, types::DB_CONNECTION_LOST, "db"),
            alert(2, "pg_down", "firing", "db", "aaa"),
        ],
    );
    assert_eq!(core.len(), 1, "one outage, one incident");
    assert_eq!(out.trust.len(), 1);
    let incident = core.get(1).unwrap();
    assert_eq!(incident.alerts_firing, ["aaa"]);
    assert_eq!(incident.occurrences, 2);
    // Where the monitor leads, its probe has the last word: the heal is the run's at once, and
    // the alert's resolution after it changes nothing.
    let mut out = Changes::default();
    core.run_started(1, "r1".into(), &mut out);
    let now = crate::time::now();
    let rules = rules();
    core.run_finished(
        1,
        &"r1".into(),
        RunOutcome::Succeeded,
        true,
        now,
        &rules,
        &none,
        &mut out,
    );
    assert_eq!(out.incidents[&1].resolved_by, Some(ResolvedBy::Playbook));
    assert_eq!(core.len(), 0);
    let out = apply(
        &mut core,
        &none,
        &[alert(3, "pg_down", "resolved", "db", "aaa")],
    );
    assert!(out.incidents.is_empty(), "{:?}", out.incidents);
}

#[test]
fn a_monitor_seeing_an_alerted_outage_takes_the_alert_incident_in_with_one_trust_drop() {
    let mut core = core();
    let none = Facts::default();
    apply(
        &mut core,
        &none,
        &[alert(1, "pg_down", "firing", "db", "aaa")],
    );
    let out = apply(
        &mut core,
        &none,
        &[event(2, types::DB_CONNECTION_LOST, "db")],
    );
    assert_eq!(core.len(), 1, "one outage, one incident");
    let superseded = &out.incidents[&1];
    assert_eq!(superseded.resolved_by, Some(ResolvedBy::Superseded));
    assert_eq!(superseded.superseded_by, Some(2));
    assert!(out.effects.iter().any(|e| matches!(
        e,
        Effect::Supersede {
            incident_id: 1,
            by: 2
        }
    )));
    let monitor = core.get(2).unwrap();
    assert_eq!(monitor.alerts_firing, ["aaa"]);
    assert_eq!(monitor.labels["alertname"], "pg_down");
    // One drop of 0.3 from 1.0, not two.
    assert!((monitor.trust - 0.7).abs() < 1e-9, "{}", monitor.trust);
    // The monitor's recovery ends it; the alert's resolution later finds nothing to reopen.
    apply(
        &mut core,
        &none,
        &[event(3, types::DB_CONNECTION_RESTORED, "db")],
    );
    apply(
        &mut core,
        &none,
        &[alert(4, "pg_down", "resolved", "db", "aaa")],
    );
    assert_eq!(core.len(), 0);
}

#[test]
fn an_alert_is_no_second_witness_of_a_refused_login_and_a_relapse_takes_an_alert_in() {
    let mut core = core();
    let none = Facts::default();
    // A refused login is not an outage: an alert saying the database is down is its own.
    apply(&mut core, &none, &[event(1, types::DB_AUTH_FAILED, "db")]);
    apply(
        &mut core,
        &none,
        &[alert(2, "pg_down", "firing", "db", "aaa")],
    );
    assert_eq!(core.len(), 2);
    apply(
        &mut core,
        &none,
        &[alert(3, "pg_down", "resolved", "db", "aaa")],
    );
    apply(
        &mut core,
        &none,
        &[event(4, types::DB_CONNECTION_RESTORED, "db")],
    );
    assert_eq!(core.len(), 0);
    // An outage healed, then its alert fires late, then the outage comes back: one incident.
    let lost = |seq| event(seq, types::DB_CONNECTION_LOST, "db");
    apply(&mut core, &none, &[lost(5)]);
    let outage = core.active().next().unwrap().id;
    apply(
        &mut core,
        &none,
        &[event(6, types::DB_CONNECTION_RESTORED, "db")],
    );
    apply(
        &mut core,
        &none,
        &[alert(7, "pg_down", "firing", "db", "bbb")],
    );
    let out = apply(&mut core, &none, &[lost(8)]);
    assert_eq!(core.len(), 1, "{:?}", out.incidents);
    let relapsed = core.get(outage).unwrap();
    assert_eq!(
        (relapsed.relapses, relapsed.alerts_firing.clone()),
        (1, vec!["bbb".to_owned()])
    );
}

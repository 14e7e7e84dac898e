//! Relapses (a failure soon after a heal reopens its incident) and maintenance windows.

use super::*;

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

#[test]
fn an_acknowledgement_made_past_the_limit_carries_into_the_next_round_but_not_before() {
    let mut core = core();
    let t0 = crate::time::now();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    let none = Facts::default();
    // Each round: lost, acknowledged by a person, healed by itself.
    let round = |core: &mut IncidentBook, n: i64| {
        let seq = 2 * n as u64 + 1;
        let lost = event_at(seq, types::DB_CONNECTION_LOST, "db", at(60 * n));
        let out = apply(core, &none, &[lost]);
        let mut ack = Changes::default();
        // Past the limit the acknowledgement is already there from the round before.
        let _ = core.acknowledge(1, &Who::local(), at(60 * n + 1), &mut ack);
        let back = event_at(seq + 1, types::DB_CONNECTION_RESTORED, "db", at(60 * n + 5));
        apply(core, &none, &[back]);
        out.incidents[&1].clone()
    };
    // Up to the first round past relapses_max (2), each round starts afresh: an
    // acknowledgement inside the limit does not switch off what comes after it.
    for n in 0..=3 {
        let incident = round(&mut core, n);
        assert_eq!(incident.relapses, n as u32);
        assert_eq!(incident.acknowledged_at, None, "round {n} starts afresh");
        assert_eq!(incident.status, IncidentStatus::Open);
    }
    // Relapse 4: the person who acknowledged round 3, already past the limit, stays on it.
    let incident = round(&mut core, 4);
    assert_eq!(incident.relapses, 4);
    assert_eq!(incident.acknowledged_at, Some(at(181)));
    assert_eq!(incident.status, IncidentStatus::Acknowledged);
}

#[test]
fn a_refused_login_is_never_a_relapse_of_an_outage_nor_an_outage_of_a_refused_login() {
    let mut core = core();
    let none = Facts::default();
    let mut refused = event(3, types::DB_AUTH_FAILED, "db");
    refused.data = json!({ "error": "password missing — put it in password_file" });
    let out = apply(
        &mut core,
        &none,
        &[
            event(1, types::DB_CONNECTION_LOST, "db"),
            event(2, types::DB_CONNECTION_RESTORED, "db"),
            refused,
        ],
    );
    // Within the reopen window of the healed outage, yet an incident of its own.
    let login = &out.incidents[&2];
    assert_eq!(
        (login.event_type.as_str(), login.relapses),
        (types::DB_AUTH_FAILED, 0)
    );
    assert_eq!(
        login.title,
        "Grace cannot log in to db: password missing — put it in password_file"
    );
    assert!(
        matches!(out.effects.last(), Some(Effect::Trigger(i)) if i.id == 2),
        "offered to playbooks as what it is: {:?}",
        out.effects
    );
    // A good login again resolves it; the outage after it is the outage's relapse, not the
    // login failure's.
    apply(
        &mut core,
        &none,
        &[event(4, types::DB_CONNECTION_RESTORED, "db")],
    );
    assert!(core.get(2).is_none(), "resolved by the recovery");
    let out = apply(
        &mut core,
        &none,
        &[event(5, types::DB_CONNECTION_LOST, "db")],
    );
    let outage = &out.incidents[&1];
    assert_eq!(
        (outage.event_type.as_str(), outage.relapses),
        (types::DB_CONNECTION_LOST, 1)
    );
    assert_eq!(core.next_id(), 3, "no third incident");
}

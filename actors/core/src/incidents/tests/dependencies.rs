//! `depends_on`: attaching at any depth, and a parent seen late taking its dependents in.

use super::*;

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

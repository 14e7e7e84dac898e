//! Unit tests of the store, against an in-memory SurrealDB.

use chrono::Utc;

use super::incidents::{gaps_between, GAP_RANGES_MAX};
use super::*;
use crate::event::EventDraft;
use crate::model::Severity;

pub(super) fn incident(id: u64, status: IncidentStatus) -> Incident {
    Incident {
        id,
        event_type: "db.connection_lost".into(),
        severity: Severity::High,
        source: "orders-db".into(),
        title: "Database connection lost".into(),
        status,
        detected_at: Utc::now(),
        acknowledged_at: None,
        resolved_at: None,
        resolution_time_seconds: None,
        occurrences: 1,
        trust: 0.7,
        resolved_by: None,
        active_run_id: None,
        work_order_id: None,
        recovery_seen: false,
        awaiting_alert: false,
        silenced: false,
        event_seqs: vec![2],
        symptoms: Vec::new(),
        suggestions: Vec::new(),
        labels: Default::default(),
        alerts_firing: Vec::new(),
        superseded_by: None,
        relapses: 0,
        reopened_at: None,
        maintenance: None,
    }
}

#[tokio::test]
async fn the_newest_rows_come_newest_first_across_every_window() {
    use crate::model::{Agent, AgentStatus};
    let store = Store::open(&StoreLocation::Memory).await.unwrap();
    let now = crate::time::now();
    // Minutes, hours, days and months back: each of newest()'s windows has some.
    let ages_s = [60, 7_200, 200_000, 5_000_000, 30, 90_000];
    for (i, age_s) in ages_s.iter().enumerate() {
        let agent = Agent {
            agent_id: format!("a{i}").as_str().into(),
            agent_name: "x".into(),
            task: "x".into(),
            incident_id: 1,
            run_id: format!("r{i}").as_str().into(),
            trust_score: 0.5,
            status: match i {
                5 => AgentStatus::Running,
                _ => AgentStatus::Succeeded,
            },
            started_at: now - chrono::Duration::seconds(*age_s),
            finished_at: None,
        };
        store.save_agent(&agent).await.unwrap();
    }
    let ids = |agents: Vec<Agent>| agents.into_iter().map(|a| a.agent_id).collect::<Vec<_>>();
    assert_eq!(ids(store.agents(None, 2).await.unwrap()), ["a4", "a0"]);
    assert_eq!(
        ids(store.agents(None, 3).await.unwrap()),
        ["a4", "a0", "a1"]
    );
    assert_eq!(
        ids(store.agents(None, 10).await.unwrap()),
        ["a4", "a0", "a1", "a5", "a2", "a3"]
    );
    // Of one status only: the running one, from a window back.
    let running = store.agents(Some(AgentStatus::Running), 10).await.unwrap();
    assert_eq!(ids(running), ["a5"]);
    assert!(store.deliveries(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn compaction_keeps_the_newest_keep_min_and_what_runs_and_takes_the_oldest_first() {
    use crate::model::{Agent, AgentStatus};
    use crate::retention::Keep;
    let store = Store::open(&StoreLocation::Memory).await.unwrap();
    let now = crate::time::now();
    for (i, age_h) in [2, 3, 4, 5, 6].into_iter().enumerate() {
        let status = match i {
            4 => AgentStatus::Running,
            _ => AgentStatus::Succeeded,
        };
        let agent = Agent {
            agent_id: format!("a{i}").as_str().into(),
            agent_name: "x".into(),
            task: "x".into(),
            incident_id: 1,
            run_id: format!("r{i}").as_str().into(),
            trust_score: 0.5,
            status,
            started_at: now - chrono::Duration::hours(age_h),
            finished_at: None,
        };
        store.save_agent(&agent).await.unwrap();
    }
    let left = || async {
        let mut ids: Vec<String> = store
            .agents(None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.agent_id.to_string())
            .collect();
        ids.sort();
        ids
    };
    let hour_ms = 3_600_000;
    let compact = |max_age_ms, max_count, keep_min| {
        let keep = Keep {
            max_age_ms,
            max_count,
            keep_min,
        };
        let store = &store;
        async move {
            store
                .compact(Compacted::Agents, &keep, now, 100)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        compact(hour_ms, 10, 2).await,
        2,
        "by age, the newest 2 kept"
    );
    assert_eq!(left().await, ["a0", "a1", "a4"]);
    assert_eq!(compact(100 * 24 * hour_ms, 1, 0).await, 1, "by count");
    assert_eq!(left().await, ["a0", "a4"]);
    assert_eq!(compact(1, 1, 1).await, 0, "the newest kept");
}

#[test]
fn the_gaps_between_active_ids_cover_the_rest_of_the_window() {
    assert_eq!(gaps_between(&[], 1, 10), (vec![(1, 10)], 1));
    assert_eq!(
        gaps_between(&[3, 4, 8, 12], 1, 10),
        (vec![(9, 10), (5, 8), (1, 3)], 1)
    );
    assert_eq!(gaps_between(&[9], 5, 10), (vec![(5, 9)], 5));
    assert_eq!(gaps_between(&[5, 6, 7, 8, 9], 5, 10), (vec![], 5));
    let every_other: Vec<u64> = (0..2_000).map(|n| n * 2).collect();
    let (ranges, stopped) = gaps_between(&every_other, 1, 4_000);
    assert_eq!(ranges.len(), GAP_RANGES_MAX);
    assert_eq!(ranges[0], (3_999, 4_000));
    assert_eq!(stopped, 4_000 - 2 * GAP_RANGES_MAX as u64);
}

#[tokio::test]
async fn incidents_round_trip_and_page_newest_first() {
    let store = Store::open(&StoreLocation::Memory).await.unwrap();
    for id in 1..=5 {
        let status = if id % 2 == 0 {
            IncidentStatus::Resolved
        } else {
            IncidentStatus::Open
        };
        store.save_incident(&incident(id, status)).await.unwrap();
    }
    let got = store.incident(3).await.unwrap().unwrap();
    assert_eq!(
        got,
        with_detected_at(incident(3, IncidentStatus::Open), got.detected_at)
    );
    let ids: Vec<u64> = store
        .incidents(None, 2)
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, vec![5, 4]);
    let ids: Vec<u64> = store
        .incidents(Some(4), 10)
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, vec![3, 2, 1]);
    let resolved: Vec<u64> = store
        .resolved_incidents(None, 10, &[1, 3, 5])
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(resolved, vec![4, 2]);
    assert_eq!(store.active_incidents().await.unwrap().len(), 3);
    assert!(store.has_active_incident("orders-db", "db").await.unwrap());
    assert!(!store.has_active_incident("orders-db", "log").await.unwrap());
    assert!(!store.has_active_incident("other-db", "db").await.unwrap());
    assert_eq!(store.max_incident_id().await.unwrap(), 5);
    assert!(store.incident(99).await.unwrap().is_none());
}

fn with_detected_at(mut incident: Incident, at: chrono::DateTime<Utc>) -> Incident {
    incident.detected_at = at;
    incident
}

#[tokio::test]
async fn a_commit_writes_all_of_it_or_nothing() {
    let store = Store::open(&StoreLocation::Memory).await.unwrap();
    let event = || EventDraft::new("incident.opened", json!({}));
    let progress = |watermark| Write::IncidentsProgress {
        watermark,
        next_id: watermark + 1,
    };
    let mut trust = TrustScore::component("orders-db");
    trust.adjust(-0.3);
    let writes = [
        Write::NewIncident(Box::new(incident(1, IncidentStatus::Open))),
        Write::NewTrust(trust.clone()),
        progress(2),
    ];
    store.commit(vec![event(), event()], &writes).await.unwrap();
    assert_eq!(store.last_seq().await.unwrap(), 2);
    assert_eq!(
        store.incident(1).await.unwrap().map(|i| i.id),
        Some(1),
        "inserted under its id"
    );
    assert_eq!(
        store.trust(&trust.subject).await.unwrap(),
        Some(trust.clone())
    );
    let subjects = [trust.subject.clone(), "component:never-seen".to_owned()];
    assert_eq!(store.trusts(&subjects).await.unwrap(), vec![trust.clone()]);
    // Later changes replace them.
    trust.adjust(0.1);
    let mut acknowledged = incident(1, IncidentStatus::Acknowledged);
    acknowledged.occurrences = 2;
    let writes = [
        Write::Incident(Box::new(acknowledged.clone())),
        Write::Trust(trust.clone()),
    ];
    store.commit(Vec::new(), &writes).await.unwrap();
    assert_eq!(store.trust(&trust.subject).await.unwrap(), Some(trust));
    let stored = store.incident(1).await.unwrap().unwrap();
    assert_eq!(stored.status, IncidentStatus::Acknowledged);
    assert_eq!(stored.occurrences, 2);
    // A "new" record that exists fails the whole commit.
    let clash = [Write::NewIncident(Box::new(incident(
        1,
        IncidentStatus::Open,
    )))];
    assert!(store.commit(Vec::new(), &clash).await.is_err());
    assert_eq!(store.incident(1).await.unwrap().unwrap().occurrences, 2);
    let stored = store.incidents_progress().await.unwrap();
    assert_eq!((stored.watermark, stored.next_id), (2, 3));
    // Incident 1 exists already: the whole commit fails, and nothing of it is written.
    let writes = [
        Write::NewIncident(Box::new(incident(2, IncidentStatus::Open))),
        Write::NewIncident(Box::new(incident(1, IncidentStatus::Open))),
        progress(9),
    ];
    assert!(store.commit(vec![event()], &writes).await.is_err());
    assert!(store.incident(2).await.unwrap().is_none());
    assert_eq!(store.last_seq().await.unwrap(), 2);
    assert_eq!(store.incidents_progress().await.unwrap().watermark, 2);
}

#[tokio::test]
async fn data_survives_reopening_the_same_path() {
    let dir = tempfile::tempdir().unwrap();
    let location = StoreLocation::Path(dir.path().join("db"), EmbeddedLimits::default());
    {
        let store = Store::open(&location).await.unwrap();
        store
            .save_incident(&incident(1, IncidentStatus::Open))
            .await
            .unwrap();
        let event = EventDraft::new("incident.opened", json!({}));
        store.append_events(vec![event]).await.unwrap();
    }
    // The engine releases its lock asynchronously once the last handle is dropped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let store = loop {
        match Store::open(&location).await {
            Ok(store) => break store,
            Err(error) if std::time::Instant::now() < deadline => {
                assert!(error.to_string().contains("locked"), "{error}");
                tokio::task::yield_now().await;
            }
            Err(error) => panic!("store never reopened: {error}"),
        }
    };
    assert!(store.incident(1).await.unwrap().is_some());
    assert_eq!(store.last_seq().await.unwrap(), 1);
}

/// A guarded commit goes through only while its record still has the status its decision
/// read; otherwise nothing of it is written, and it says so (`Stale`), not as a store fault.
#[tokio::test]
async fn a_guarded_commit_lands_only_while_its_record_is_as_read() {
    let store = Store::open(&StoreLocation::Memory).await.unwrap();
    let event = || EventDraft::new("incident.resolved", json!({}));
    let open = Write::NewIncident(Box::new(incident(1, IncidentStatus::Open)));
    store.commit(vec![event()], &[open]).await.unwrap();
    let expect = |status| Write::Expect {
        table: "incident",
        key: json!(1),
        status,
    };
    let resolve = |status| {
        [
            expect(status),
            Write::Incident(Box::new(incident(1, IncidentStatus::Resolved))),
        ]
    };
    store.commit(vec![event()], &resolve("open")).await.unwrap();
    assert_eq!(
        store.incident(1).await.unwrap().unwrap().status,
        IncidentStatus::Resolved
    );
    // The same decision again: the record is no longer `open`.
    let again = store.commit(vec![event()], &resolve("open")).await;
    assert!(matches!(&again, Err(e) if e.is_stale()), "{again:?}");
    assert_eq!(store.last_seq().await.unwrap(), 2, "nothing of it written");
    // A record that does not exist is not as read either.
    let missing = [Write::Expect {
        table: "execution",
        key: json!("run-never"),
        status: "running",
    }];
    let missing = store.commit(vec![event()], &missing).await;
    assert!(matches!(&missing, Err(e) if e.is_stale()), "{missing:?}");
    assert_eq!(store.last_seq().await.unwrap(), 2);
}

/// Two writers on one database (two nodes of a cluster) append at once: every commit's seqs
/// are given in its transaction, so the log stays one gap-free order and no seq is given
/// twice; a commit that read the same head as another is tried again.
#[tokio::test]
async fn writers_on_one_log_take_seqs_in_their_transactions_without_gaps() {
    let store = Store::open(&StoreLocation::Memory).await.unwrap().shared();
    let writer = |store: Store, name: &'static str| {
        tokio::spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..50 {
                let drafts = (0..3)
                    .map(|i| EventDraft::new("app.note", json!({ "by": name, "n": n, "i": i })))
                    .collect();
                let appended = store.append_events(drafts).await.unwrap();
                let got: Vec<u64> = appended.events.iter().map(|e| e.seq).collect();
                let after = appended.after;
                assert_eq!(
                    got,
                    vec![after + 1, after + 2, after + 3],
                    "one commit, one run"
                );
                seqs.extend(got);
            }
            seqs
        })
    };
    let (a, b) = (writer(store.clone(), "a"), writer(store.clone(), "b"));
    let mut seqs: Vec<u64> = a.await.unwrap();
    seqs.extend(b.await.unwrap());
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=300).collect::<Vec<u64>>(),
        "every seq given once"
    );
    assert_eq!(store.last_seq().await.unwrap(), 300);
    let logged: Vec<u64> = store
        .events_after(0, 300)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(logged, seqs, "the log holds what each writer was told");
}

/// A cluster's monitor leases: renewed in one transaction, each only while this node holds it
/// at the epoch it names; a commit guarded by a lease lands only while the lease is held.
#[tokio::test]
async fn monitor_leases_renew_together_and_guard_their_monitors_commits() {
    use crate::cluster::{Epoch, LeaseKey, NodeId};
    let store = Store::open(&StoreLocation::Memory).await.unwrap().shared();
    store.prepare_cluster().await.unwrap();
    let (a, b) = (NodeId::new("a").unwrap(), NodeId::new("b").unwrap());
    let key = |id: &str| LeaseKey::Monitor(id.to_owned());
    for (id, node) in [("m1", &a), ("m2", &a), ("m3", &b)] {
        let taken = store
            .acquire_lease(&key(id), node, None, Epoch(1), 60_000)
            .await;
        assert!(taken.unwrap());
    }

    // a's two renewed; one it names at a wrong epoch, and b's, are not.
    let held = [
        (key("m1"), Epoch(1)),
        (key("m2"), Epoch(2)),
        (key("m3"), Epoch(1)),
    ];
    let renewed = store.renew_leases(&a, &held, 60_000).await.unwrap();
    assert_eq!(renewed, vec![key("m1")]);

    // Taken together: a free one, and not b's (unexpired) nor one read at a stale epoch.
    let acquires = [
        (key("m4"), None, Epoch(1)),
        (key("m3"), Some(Epoch(1)), Epoch(2)),
        (key("m2"), None, Epoch(1)),
    ];
    let taken = store.acquire_leases(&a, &acquires, 60_000).await.unwrap();
    assert_eq!(taken, vec![key("m4")]);

    // A commit guarded by a's lease on m1 lands; one guarded by a lease a does not hold at
    // that epoch is refused whole.
    let guard = |epoch: u64, id: &str| Write::LeaseHeld {
        by: crate::model::RanBy {
            node_id: a.clone(),
            epoch: Epoch(epoch),
        },
        key: key(id),
    };
    let note = || vec![EventDraft::new("app.note", json!({}))];
    store.commit(note(), &[guard(1, "m1")]).await.unwrap();
    let refused = store.commit(note(), &[guard(1, "m3")]).await;
    assert!(matches!(refused, Err(StoreError::Fenced(_))), "{refused:?}");
    assert_eq!(
        store.last_seq().await.unwrap(),
        1,
        "the refused commit wrote nothing"
    );
}

//! Unit tests of the store, against an in-memory SurrealDB.

use chrono::Utc;

use super::incidents::{gaps_between, GAP_RANGES_MAX};
use super::*;
use crate::event::EventDraft;
use crate::model::Severity;

fn incident(id: u64, status: IncidentStatus) -> Incident {
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
async fn event_log_appends_and_scans_in_seq_order() {
    let store = Store::open(&StoreLocation::Memory).await.unwrap();
    assert_eq!(store.last_seq().await.unwrap(), 0);
    let drafts: Vec<EventDraft> = (1..=12)
        .map(|n| EventDraft::new("db.connection_lost", json!({ "n": n })))
        .collect();
    let mut events: Vec<Event> = Vec::new();
    for (n, part) in drafts.chunks(4).enumerate() {
        let appended = store.append_events(part.to_vec()).await.unwrap();
        assert_eq!(appended.after, n as u64 * 4, "each after the head it found");
        events.extend(appended.events);
    }
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
    assert_eq!(store.last_seq().await.unwrap(), 12);
    let after: Vec<u64> = store
        .events_after(9, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(after, vec![10, 11, 12]);
    let page = store.events_after(0, 5).await.unwrap();
    assert_eq!(page, events[..5].to_vec());
    // Retention removes whole chunks from the front (a commit is one chunk here: 1–4, 5–8,
    // 9–12): the oldest kept is found without a scan.
    assert_eq!(store.first_seq().await.unwrap(), Some(1));
    assert_eq!(
        store.remove_events(1, 3).await.unwrap(),
        0,
        "1–4 held past 3"
    );
    assert_eq!(store.remove_events(1, 4).await.unwrap(), 4);
    assert_eq!(store.first_seq().await.unwrap(), Some(5));
    assert_eq!(store.events_after(0, 2).await.unwrap(), Vec::<Event>::new());
    assert_eq!(
        store.events_after(4, 2).await.unwrap(),
        events[4..6].to_vec()
    );
    assert_eq!(store.remove_events(5, 12).await.unwrap(), 8);
    assert_eq!(store.first_seq().await.unwrap(), None);
}

#[tokio::test]
async fn a_large_commit_is_several_chunks_and_any_event_of_it_is_read_alone() {
    let store = Store::open(&StoreLocation::Memory).await.unwrap();
    store
        .append_events(vec![EventDraft::new("x.tick", json!({}))])
        .await
        .unwrap();
    let count = super::chunks::CHUNK_EVENTS_MAX * 2 + 7;
    let drafts: Vec<EventDraft> = (0..count)
        .map(|n| EventDraft::new("x.tick", json!({ "n": n })).incident(n as u64 % 3))
        .collect();
    let appended = store.append_events(drafts).await.unwrap();
    let last = count as u64 + 1;
    assert_eq!(store.last_seq().await.unwrap(), last);
    for seq in [2, 257, 258, 513, 514, last] {
        let one = store.events_after(seq - 1, 1).await.unwrap();
        assert_eq!(
            one,
            vec![appended.events[(seq - 2) as usize].clone()],
            "seq {seq}"
        );
    }
    let all = store.events_after(0, 10_000).await.unwrap();
    assert_eq!(all.len(), count + 1);
    assert!(
        all.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "in order, no gap"
    );
    assert_eq!(
        store.events_after(last, 10).await.unwrap(),
        Vec::<Event>::new()
    );
}

#[tokio::test]
async fn an_incidents_events_are_its_tagged_ones_and_the_ones_it_remembers() {
    let store = Store::open(&StoreLocation::Memory).await.unwrap();
    let drafts = vec![
        EventDraft::new("db.connection_lost", json!({})).source("orders-db"),
        EventDraft::new("incident.opened", json!({})).incident(1),
        EventDraft::new("incident.opened", json!({})).incident(2),
    ];
    store.append_events(drafts).await.unwrap();
    store
        .append_events(vec![
            EventDraft::new("incident.resolved", json!({})).incident(1)
        ])
        .await
        .unwrap();
    let mut first = incident(1, IncidentStatus::Resolved);
    first.event_seqs = vec![1];
    let seqs = |events: Vec<Event>| events.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.incident_events(&first, 100).await.unwrap()),
        vec![1, 2, 4]
    );
    assert_eq!(
        seqs(store.incident_events(&first, 2).await.unwrap()),
        vec![1, 2]
    );
    let mut second = incident(2, IncidentStatus::Open);
    second.event_seqs = Vec::new();
    assert_eq!(
        seqs(store.incident_events(&second, 100).await.unwrap()),
        vec![3]
    );
}

#[tokio::test]
async fn a_log_kept_one_record_per_event_is_moved_into_chunks_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let location = StoreLocation::Path(dir.path().join("kv"), Default::default());
    let count = super::chunks::CHUNK_EVENTS_MAX + 10;
    {
        // The layout before chunks, as its commits wrote it; the first 4 events compacted.
        let store = Store::open(&location).await.unwrap();
        let rows: Vec<Value> = (5..=count as u64)
            .map(|seq| {
                let draft = EventDraft::new("x.tick", json!({ "n": seq })).incident(seq % 2);
                let mut row = serde_json::to_value(draft.sequenced(seq, Utc::now())).unwrap();
                row["id"] = json!(seq);
                row
            })
            .collect();
        let body = "DEFINE TABLE event SCHEMALESS; INSERT INTO event $rows RETURN NONE; \
                    UPSERT meta:event_log SET last_seq = $last RETURN NONE;";
        store
            .write_query(body, json!({ "rows": rows, "last": count }))
            .await
            .unwrap();
    }
    let closed = location
        .closed_within(std::time::Duration::from_secs(10))
        .await;
    assert!(closed, "the first open never let go of the store");
    let store = Store::open(&location).await.unwrap();
    let events = store.events_after(0, 10_000).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (5..=count as u64).collect::<Vec<_>>());
    assert_eq!(events[0].data["n"], json!(5));
    assert_eq!(store.first_seq().await.unwrap(), Some(5));
    let appended = store
        .append_events(vec![EventDraft::new("x.tick", json!({}))])
        .await
        .unwrap();
    assert_eq!(appended.events[0].seq, count as u64 + 1);
    let tables: Vec<String> = store
        .rows("RETURN object::keys((INFO FOR DB).tables)", json!({}))
        .await
        .unwrap();
    assert!(
        !tables.contains(&"event".to_owned()),
        "the old table is gone: {tables:?}"
    );
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

#[tokio::test]
async fn the_incident_managers_progress_rides_on_the_head_and_is_read_where_it_was_kept_before() {
    let store = Store::open(&StoreLocation::Memory).await.unwrap();
    let before = "UPSERT meta:incidents CONTENT { last_seq: 7, next_id: 3 } RETURN NONE;";
    store.write_query(before, json!({})).await.unwrap();
    let progress = store.incidents_progress().await.unwrap();
    assert_eq!((progress.watermark, progress.next_id), (7, 3));
    let with_events = [Write::IncidentsProgress {
        watermark: 9,
        next_id: 4,
    }];
    let event = EventDraft::new("incident.opened", json!({})).incident(3);
    store.commit(vec![event], &with_events).await.unwrap();
    let progress = store.incidents_progress().await.unwrap();
    assert_eq!((progress.watermark, progress.next_id), (9, 4));
    let alone = [Write::IncidentsProgress {
        watermark: 10,
        next_id: 4,
    }];
    store.commit(Vec::new(), &alone).await.unwrap();
    let progress = store.incidents_progress().await.unwrap();
    assert_eq!((progress.watermark, progress.next_id), (10, 4));
    assert_eq!(store.last_seq().await.unwrap(), 1);
}

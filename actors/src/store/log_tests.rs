//! Unit tests of the event log (`log.rs`, `chunks.rs`), against an in-memory SurrealDB and
//! one on disk.

use chrono::Utc;

use super::tests::incident;
use super::*;
use crate::event::EventDraft;

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

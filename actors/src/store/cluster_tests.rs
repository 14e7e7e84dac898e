//! The cluster's compare-and-set writes and the fence, against an in-memory SurrealDB (the
//! same statements run on a server: `tests/it/cluster.rs`).

use super::*;
use crate::cluster::{Epoch, NodeId};
use crate::event::EventDraft;

const LEASE_MS: i64 = 10_000;

fn node(id: &str) -> NodeId {
    NodeId::new(id).unwrap()
}

async fn store() -> Store {
    let store = Store::open(&StoreLocation::Memory).await.unwrap();
    store.prepare_cluster().await.unwrap();
    store
}

fn event() -> EventDraft {
    EventDraft::new("db.connection_lost", json!({}))
}

#[tokio::test]
async fn the_lease_is_taken_once_per_epoch_and_only_while_free() {
    let store = store().await;
    let (a, b) = (node("a"), node("b"));
    assert!(store
        .acquire_engines(&a, None, Epoch(1), LEASE_MS)
        .await
        .unwrap());
    // b read no row too: its take lands second and finds the row moved.
    assert!(!store
        .acquire_engines(&b, None, Epoch(1), LEASE_MS)
        .await
        .unwrap());
    // Read at epoch 1 but still a's and unexpired: refused.
    assert!(!store
        .acquire_engines(&b, Some(Epoch(1)), Epoch(2), LEASE_MS)
        .await
        .unwrap());
    let read = store.cluster_read().await.unwrap();
    let lease = read.lease.expect("the row");
    assert_eq!((lease.owner, lease.epoch), (Some(a.clone()), Epoch(1)));
    assert!(lease.expires_at_ms > read.now_ms);

    assert!(store.renew_engines(&a, Epoch(1), LEASE_MS).await.unwrap());
    assert!(!store.renew_engines(&b, Epoch(1), LEASE_MS).await.unwrap());
    // Handed back: b takes it at once, at the next epoch, and a can renew no more.
    assert!(store.release_engines(&a, Epoch(1)).await.unwrap());
    assert!(store
        .acquire_engines(&b, Some(Epoch(1)), Epoch(2), LEASE_MS)
        .await
        .unwrap());
    assert!(!store.renew_engines(&a, Epoch(1), LEASE_MS).await.unwrap());
}

#[tokio::test]
async fn a_lease_that_ran_out_is_taken_at_the_next_epoch() {
    let store = store().await;
    let (a, b) = (node("a"), node("b"));
    assert!(store.acquire_engines(&a, None, Epoch(1), 1).await.unwrap());
    let ran_out = crate::cluster::LEASE_MS_MIN; // any wait past 1 ms will do; poll, not sleep
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ran_out as u64);
    loop {
        if store
            .acquire_engines(&b, Some(Epoch(1)), Epoch(2), LEASE_MS)
            .await
            .unwrap()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a 1 ms lease never ran out"
        );
    }
    assert!(!store.renew_engines(&a, Epoch(1), LEASE_MS).await.unwrap());
}

#[tokio::test]
async fn a_fenced_store_writes_only_while_its_node_holds_the_lease_at_its_epoch() {
    let store = store().await;
    let (a, b) = (node("a"), node("b"));
    assert!(store
        .acquire_engines(&a, None, Epoch(1), LEASE_MS)
        .await
        .unwrap());
    let leader = store.fenced(Fence {
        node: a.clone(),
        epoch: Epoch(1),
    });
    leader.append_events(vec![event()]).await.unwrap();

    assert!(store.release_engines(&a, Epoch(1)).await.unwrap());
    assert!(store
        .acquire_engines(&b, Some(Epoch(1)), Epoch(2), LEASE_MS)
        .await
        .unwrap());
    let refused = leader.append_events(vec![event()]).await.unwrap_err();
    assert!(matches!(refused, StoreError::Fenced(_)), "{refused}");
    assert_eq!(
        store.last_seq().await.unwrap(),
        1,
        "nothing of the fenced write landed"
    );

    let new_leader = store.fenced(Fence {
        node: b,
        epoch: Epoch(2),
    });
    new_leader.append_events(vec![event()]).await.unwrap();
    assert_eq!(store.last_seq().await.unwrap(), 2);
}

#[tokio::test]
async fn membership_rows_are_read_with_the_databases_time() {
    let store = store().await;
    store
        .heartbeat(&node("a"), "http://127.0.0.1:1", LEASE_MS, false)
        .await
        .unwrap();
    store
        .heartbeat(&node("b"), "http://127.0.0.1:2", LEASE_MS, true)
        .await
        .unwrap();
    let read = store.cluster_read().await.unwrap();
    assert!(read.lease.is_none());
    let mut nodes: Vec<(String, bool, bool)> = read
        .nodes
        .iter()
        .map(|row| {
            let live = row.node.is_live(read.now_ms);
            (row.node.node_id.to_string(), row.node.stopping, live)
        })
        .collect();
    nodes.sort();
    let expected = [("a".to_owned(), false, true), ("b".to_owned(), true, false)];
    assert_eq!(nodes, expected);
}

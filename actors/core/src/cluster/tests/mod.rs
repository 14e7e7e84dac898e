//! The cluster's unit tests, a file per piece: `ids` (names and their stored forms),
//! `rendezvous` (the spread), `book` (each round's decisions), `fence` (may a node act),
//! and `cluster` (several nodes' rounds committed through one store, as a node dies, joins
//! and stops). Helpers to write rows and books shortly are here.

mod book;
mod cluster;
mod fence;
mod ids;
mod rendezvous;

use super::{
    commit, Epoch, Lease, LeaseAction, LeaseBook, LeaseKey, NodeId, Settled, LEASE_MS_DEFAULT,
};

/// The lease length of the tests: the default.
const LEASE_MS: i64 = LEASE_MS_DEFAULT;

fn node(id: &str) -> NodeId {
    NodeId::new(id).unwrap()
}

fn nodes(ids: &[&str]) -> Vec<NodeId> {
    ids.iter().map(|id| node(id)).collect()
}

fn monitor(id: &str) -> LeaseKey {
    LeaseKey::Monitor(id.to_owned())
}

/// `count` monitors, `m0`…
fn monitors(count: usize) -> Vec<LeaseKey> {
    (0..count).map(|i| monitor(&format!("m{i}"))).collect()
}

/// A lease row on `key` owned by `owner` at `epoch`, running out at `expires_at_ms` and last
/// renewed a lease before.
fn row(key: &LeaseKey, owner: Option<&str>, epoch: u64, expires_at_ms: i64) -> Lease {
    Lease {
        key: key.clone(),
        owner: owner.map(node),
        epoch: Epoch(epoch),
        expires_at_ms,
        renewed_at_ms: expires_at_ms - LEASE_MS,
    }
}

fn book(me: &str) -> LeaseBook {
    LeaseBook::new(node(me), LEASE_MS).unwrap()
}

/// The lease rows of a test's store, by key.
type Store = std::collections::BTreeMap<LeaseKey, Lease>;

/// Commits each write of `actions` by `book`'s node to `store` at `now_ms`, as the store's
/// transactions would, one after another, and tells the book how each came out.
fn commit_all(store: &mut Store, book: &mut LeaseBook, actions: &[LeaseAction], now_ms: i64) {
    for action in actions {
        let me = book.me().clone();
        let settled = match commit(store.get(action.key()), action, &me, now_ms, LEASE_MS) {
            Ok(Some(lease)) => {
                store.insert(lease.key.clone(), lease);
                Settled::Committed
            }
            Ok(None) => Settled::Committed,
            Err(_) => Settled::Refused,
        };
        book.settle(action, settled);
    }
}

/// The store's rows, as a round reads them.
fn read(store: &Store) -> Vec<Lease> {
    store.values().cloned().collect()
}

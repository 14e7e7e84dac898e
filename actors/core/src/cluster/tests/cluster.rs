//! Several nodes' rounds committed one after another through the store's rule (`commit`), as
//! a node pauses and comes back, and as one stops cleanly. After every round no two nodes
//! may write under one lease, and every monitor finds an owner within a lease and a round.

use std::collections::BTreeMap;

use super::*;
use crate::cluster::{live_nodes, preferred_owner, round_every_ms, Conflict, Node};

/// The shared database and the nodes' books.
struct Cluster {
    store: Store,
    members: BTreeMap<NodeId, Node>,
    books: BTreeMap<NodeId, LeaseBook>,
    wanted: Vec<LeaseKey>,
}

impl Cluster {
    fn new(names: &[&str], wanted: Vec<LeaseKey>) -> Self {
        let books = names.iter().map(|name| (node(name), book(name))).collect();
        Self {
            store: Store::new(),
            members: BTreeMap::new(),
            books,
            wanted,
        }
    }

    /// `name`'s round at `now_ms`: its membership row, then read, decide, commit.
    fn round(&mut self, name: &str, now_ms: i64) {
        let me = node(name);
        let heartbeat = Node::heartbeat(me.clone(), now_ms, LEASE_MS);
        self.members.insert(me.clone(), heartbeat);
        let members: Vec<Node> = self.members.values().cloned().collect();
        let live = live_nodes(&members, now_ms);
        let book = self.books.get_mut(&me).unwrap();
        let actions = book.decide(&read(&self.store), &self.wanted, &live, now_ms);
        commit_all(&mut self.store, book, &actions, now_ms);
        self.assert_one_writer(now_ms);
    }

    /// `rounds` rounds of `names` from `from_ms`, a round apart, each node 100 ms after the
    /// one before. When the last round started (its first node's round).
    fn run(&mut self, names: &[&str], from_ms: i64, rounds: i64) -> i64 {
        let mut last = from_ms;
        for round in 0..rounds {
            last = from_ms + round * round_every_ms(LEASE_MS);
            for (i, name) in names.iter().enumerate() {
                self.round(name, last + 100 * i as i64);
            }
        }
        last
    }

    /// No lease row may be written under by two nodes: at most one book passes the fence.
    fn assert_one_writer(&self, now_ms: i64) {
        for (key, lease) in &self.store {
            let writers = self
                .books
                .values()
                .filter(|b| b.may_write(lease, now_ms).is_ok());
            assert!(writers.count() <= 1, "{key} has two writers at {now_ms}");
        }
    }

    /// Who holds each wanted key at `now_ms`, by the store and that node's book.
    fn holders(&self, now_ms: i64) -> BTreeMap<LeaseKey, NodeId> {
        let held = |lease: &Lease| {
            let owner = lease.owner.clone()?;
            self.books[&owner].may_write(lease, now_ms).ok()?;
            Some((lease.key.clone(), owner))
        };
        self.store.values().filter_map(held).collect()
    }

    /// Starts a run on `name`: the node starting it writes its lease row.
    fn start_run(&mut self, name: &str, run: &str, now_ms: i64) {
        let key = LeaseKey::Run(run.to_owned());
        let acquire = LeaseAction::Acquire {
            key,
            expected_epoch: None,
            new_epoch: Epoch(1),
        };
        let book = self.books.get_mut(&node(name)).unwrap();
        commit_all(&mut self.store, book, &[acquire], now_ms);
    }
}

/// A round after `last_ms`, when the next rounds start.
fn next(last_ms: i64) -> i64 {
    last_ms + round_every_ms(LEASE_MS)
}

#[test]
fn three_nodes_share_the_monitors_and_a_paused_one_loses_its_share_and_acts_no_more() {
    let mut cluster = Cluster::new(&["a", "b", "c"], monitors(90));
    let mut last = cluster.run(&["a", "b", "c"], 0, 6);
    cluster.start_run("c", "run-1", last);
    last = cluster.run(&["a", "b", "c"], next(last), 3);
    let holders = cluster.holders(last + 200);
    assert_eq!(holders.len(), 91, "every monitor and the run held");
    let live = nodes(&["a", "b", "c"]);
    for key in monitors(90) {
        assert_eq!(preferred_owner(&key, &live).as_ref(), holders.get(&key));
    }
    // `c` pauses (a stall, a partition) after its round: within a lease and a round, `a` and
    // `b` hold everything, the run too, and `c`, still believing, may write nothing.
    let paused_at = last + 200;
    last = cluster.run(&["a", "b"], next(last), 4);
    assert!(last + 100 - paused_at <= LEASE_MS + round_every_ms(LEASE_MS));
    let holders = cluster.holders(last + 100);
    assert_eq!(holders.len(), 91);
    assert!(holders.values().all(|owner| *owner != node("c")));
    // `c` comes back: its first round drops what it believed, then it takes its share again.
    let believed = cluster.books[&node("c")].held().count();
    assert!(believed > 30, "c still believes it holds its share");
    cluster.round("c", next(last) + 200);
    assert_eq!(cluster.books[&node("c")].held().count(), 0);
    last = cluster.run(&["a", "b", "c"], next(next(last)), 3);
    let holders = cluster.holders(last + 200);
    assert_eq!(holders.len(), 91);
    for key in monitors(90) {
        assert_eq!(preferred_owner(&key, &live).as_ref(), holders.get(&key));
    }
}

#[test]
fn a_node_that_stops_cleanly_has_its_share_taken_up_at_the_others_next_round() {
    let mut cluster = Cluster::new(&["a", "b", "c"], monitors(60));
    let mut now = cluster.run(&["a", "b", "c"], 0, 6);
    let of_b = |cluster: &Cluster, now| {
        let holders = cluster.holders(now);
        holders
            .values()
            .filter(|owner| **owner == node("b"))
            .count()
    };
    assert!(of_b(&cluster, now) > 0);
    // `b` says it is stopping, then hands everything back, after its last round at +100 ms.
    let stop_at = now + 300;
    let stopping = Node {
        stopping: true,
        ..Node::heartbeat(node("b"), stop_at, LEASE_MS)
    };
    cluster.members.insert(node("b"), stopping);
    let book = cluster.books.get_mut(&node("b")).unwrap();
    let released = book.release_all();
    commit_all(&mut cluster.store, book, &released, stop_at);
    // One round of `a` and `c` a moment later, long before `b`'s leases would run out.
    now = cluster.run(&["a", "c"], stop_at + 100, 1) + 100;
    assert_eq!(of_b(&cluster, now), 0);
    assert_eq!(
        cluster.holders(now).len(),
        60,
        "all taken in one round, not a lease later"
    );
}

#[test]
fn of_two_acquires_from_one_read_only_the_first_to_commit_wins() {
    let mut store = Store::new();
    let (mut a, mut b) = (book("a"), book("b"));
    let acquire = LeaseAction::Acquire {
        key: monitor("db"),
        expected_epoch: None,
        new_epoch: Epoch(1),
    };
    commit_all(&mut store, &mut a, std::slice::from_ref(&acquire), 0);
    commit_all(&mut store, &mut b, std::slice::from_ref(&acquire), 0);
    assert_eq!(a.epoch_of(&monitor("db")), Some(Epoch(1)));
    assert_eq!(b.epoch_of(&monitor("db")), None);
    let refused = commit(store.get(&monitor("db")), &acquire, &node("b"), 0, LEASE_MS);
    assert_eq!(
        refused,
        Err(Conflict::EpochMoved {
            expected: None,
            read: Some(Epoch(1))
        })
    );
}

#[test]
fn a_renewal_that_lands_first_beats_a_takeover_decided_on_an_older_read() {
    let lease = row(&monitor("db"), Some("a"), 1, 10_000);
    let renew = LeaseAction::Renew {
        key: monitor("db"),
        epoch: Epoch(1),
    };
    let renewed = commit(Some(&lease), &renew, &node("a"), 9_999, LEASE_MS).unwrap();
    let renewed = renewed.unwrap();
    assert_eq!((renewed.epoch, renewed.expires_at_ms), (Epoch(1), 19_999));
    // `b` read the row run out at 10 s (its clock ahead) and tries to take it.
    let takeover = LeaseAction::Acquire {
        key: monitor("db"),
        expected_epoch: Some(Epoch(1)),
        new_epoch: Epoch(2),
    };
    let refused = commit(Some(&renewed), &takeover, &node("b"), 10_000, LEASE_MS);
    assert!(matches!(refused, Err(Conflict::StillHeld { .. })));
    // A renewal too late is refused: the lease may be another's by then.
    let late = commit(Some(&lease), &renew, &node("a"), 10_000, LEASE_MS);
    assert_eq!(late, Err(Conflict::Expired));
}

#[test]
fn writes_on_a_lease_that_is_not_this_nodes_change_nothing() {
    let lease = row(&monitor("db"), Some("b"), 2, 10_000);
    let release = LeaseAction::Release {
        key: monitor("db"),
        epoch: Epoch(2),
    };
    let refused = commit(Some(&lease), &release, &node("a"), 0, LEASE_MS);
    assert_eq!(refused, Err(Conflict::NotOwner));
    let skipping = LeaseAction::Acquire {
        key: monitor("db"),
        expected_epoch: Some(Epoch(2)),
        new_epoch: Epoch(5),
    };
    let refused = commit(Some(&lease), &skipping, &node("a"), 10_000, LEASE_MS);
    assert!(matches!(refused, Err(Conflict::BadEpoch { .. })));
    let drop = LeaseAction::Drop { key: monitor("db") };
    assert_eq!(
        commit(Some(&lease), &drop, &node("a"), 0, LEASE_MS),
        Ok(None)
    );
}

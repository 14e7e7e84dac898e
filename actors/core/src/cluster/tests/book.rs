//! The lease book's rounds, one rule a test: what a node acquires, renews, hands back and
//! stops acting on, given a read of the store and the time.

use super::*;
use crate::cluster::{
    live_nodes, preferred_owner, Node, Refusal, LEASES_HELD_MAX, LEASES_PER_ROUND_MAX,
    LEASE_MS_MAX, LEASE_MS_MIN,
};

/// A book of `me` that holds each key at its epoch (as if its acquires were committed).
fn holding(me: &str, held: &[(LeaseKey, u64)]) -> LeaseBook {
    let mut book = book(me);
    for (key, epoch) in held {
        let acquire = LeaseAction::Acquire {
            key: key.clone(),
            expected_epoch: None,
            new_epoch: Epoch(*epoch),
        };
        book.settle(&acquire, Settled::Committed);
    }
    book
}

/// The keys `actions` acquire.
fn acquired(actions: &[LeaseAction]) -> Vec<LeaseKey> {
    let acquires = actions
        .iter()
        .filter(|a| matches!(a, LeaseAction::Acquire { .. }));
    acquires.map(|a| a.key().clone()).collect()
}

/// The keys `actions` hand back.
fn released(actions: &[LeaseAction]) -> Vec<LeaseKey> {
    let releases = actions
        .iter()
        .filter(|a| matches!(a, LeaseAction::Release { .. }));
    releases.map(|a| a.key().clone()).collect()
}

/// Of `keys`, those `owner` is preferred for among `live`, in key order (a round's order).
fn preferred_of(keys: &[LeaseKey], owner: &str, live: &[NodeId]) -> Vec<LeaseKey> {
    let owner = node(owner);
    let mine = keys
        .iter()
        .filter(|key| preferred_owner(key, live) == Some(owner.clone()));
    let mut mine: Vec<LeaseKey> = mine.cloned().collect();
    mine.sort();
    mine
}

#[test]
fn on_an_empty_store_the_only_live_node_acquires_every_monitor_and_schedule_at_epoch_one() {
    let schedule = LeaseKey::Schedule("nightly".into());
    let wanted = [monitor("db"), schedule.clone()];
    let actions = book("a").decide(&[], &wanted, &nodes(&["a"]), 0);
    let acquire = |key: &LeaseKey| LeaseAction::Acquire {
        key: key.clone(),
        expected_epoch: None,
        new_epoch: Epoch(1),
    };
    assert_eq!(actions, [acquire(&monitor("db")), acquire(&schedule)]);
}

#[test]
fn a_run_is_never_acquired_without_its_row_the_node_starting_it_writes_that() {
    let wanted = [LeaseKey::Run("run-1".into())];
    assert_eq!(book("a").decide(&[], &wanted, &nodes(&["a"]), 0), []);
}

#[test]
fn a_node_that_is_not_live_acquires_nothing() {
    let rows = [
        Node::heartbeat(node("b"), 0, LEASE_MS),
        Node {
            stopping: true,
            ..Node::heartbeat(node("a"), 0, LEASE_MS)
        },
        Node::heartbeat(node("c"), -LEASE_MS, LEASE_MS),
    ];
    // `a` is stopping and `c` ran out at 0, the instant included.
    let live = live_nodes(&rows, 0);
    assert_eq!(live, nodes(&["b"]));
    let actions = book("a").decide(&[], &monitors(50), &live, 0);
    assert_eq!(actions, []);
}

/// A read of 400 keys in every state: no row, handed back, run out, held by `d` (gone quiet) or by `a`
/// (its previous process), and runs likewise, at 5 s.
fn mixed_read() -> (Vec<Lease>, Vec<LeaseKey>) {
    let mut rows = Vec::new();
    let mut wanted = Vec::new();
    for i in 0..400 {
        let key = match i % 2 {
            0 => monitor(&format!("m{i}")),
            _ => LeaseKey::Run(format!("run-{i}")),
        };
        match i % 5 {
            0 => {}
            1 => rows.push(row(&key, None, 3, 0)),
            2 => rows.push(row(&key, Some("d"), 3, 5_000)),
            3 => rows.push(row(&key, Some("d"), 3, 5_001)),
            _ => rows.push(row(&key, Some("a"), 3, 9_000)),
        }
        wanted.push(key);
    }
    (rows, wanted)
}

#[test]
fn given_the_same_read_no_two_nodes_decide_to_acquire_one_key() {
    let (rows, wanted) = mixed_read();
    let live = nodes(&["a", "b", "c"]);
    let mut acquirers: Store = Store::new();
    let mut count = std::collections::BTreeMap::<LeaseKey, usize>::new();
    for me in ["a", "b", "c"] {
        for key in acquired(&book(me).decide(&rows, &wanted, &live, 5_000)) {
            *count.entry(key.clone()).or_default() += 1;
            acquirers.insert(key.clone(), row(&key, Some(me), 0, 0));
        }
    }
    assert!(count.values().all(|n| *n == 1), "{count:?}");
    // Every free key is taken by exactly one node; one held by `d` by none.
    for lease in &rows {
        let free = lease.is_free(5_000) || lease.owner == Some(node("a"));
        let taken = acquirers.contains_key(&lease.key);
        assert!(free || !taken, "{} taken while held", lease.key);
    }
    let runs_without_rows = wanted.iter().filter(|k| !k.rebalances());
    assert!(runs_without_rows
        .filter(|k| !rows.iter().any(|r| &r.key == *k))
        .all(|k| !count.contains_key(k)));
}

#[test]
fn a_lease_is_taken_over_only_once_it_has_run_out() {
    // `b` stopped renewing: its membership lapsed, its lease runs out at 10 s.
    let rows = [row(&monitor("db"), Some("b"), 4, 10_000)];
    let live = nodes(&["a"]);
    let mut a = book("a");
    assert_eq!(a.decide(&rows, &[monitor("db")], &live, 9_999), []);
    let actions = a.decide(&rows, &[monitor("db")], &live, 10_000);
    assert_eq!(
        actions,
        [LeaseAction::Acquire {
            key: monitor("db"),
            expected_epoch: Some(Epoch(4)),
            new_epoch: Epoch(5),
        }]
    );
}

#[test]
fn a_run_stays_with_its_owner_and_one_live_node_takes_it_up_once_it_ran_out() {
    let run = LeaseKey::Run("run-7".into());
    let rows = [row(&run, Some("b"), 1, 10_000)];
    let all = nodes(&["a", "b", "c"]);
    // Held by `b`: nobody else acquires, and `b` does not hand it over, whoever rendezvous
    // would prefer.
    for me in ["a", "c"] {
        assert_eq!(book(me).decide(&rows, &[], &all, 5_000), []);
    }
    let b = &mut holding("b", &[(run.clone(), 1)]);
    assert!(released(&b.decide(&rows, &[], &all, 5_000)).is_empty());
    // Run out, `b` gone: the one of `a` and `c` that rendezvous picks takes it up.
    let live = nodes(&["a", "c"]);
    let taker = preferred_owner(&run, &live).unwrap();
    for me in ["a", "c"] {
        let actions = book(me).decide(&rows, &[], &live, 10_000);
        assert_eq!(!actions.is_empty(), taker == node(me), "{me}: {actions:?}");
    }
}

#[test]
fn a_held_lease_is_renewed_once_a_third_of_it_has_passed_and_keeps_its_epoch() {
    let rows = [row(&monitor("db"), Some("a"), 2, 10_000)];
    let mut a = holding("a", &[(monitor("db"), 2)]);
    let live = nodes(&["a"]);
    assert_eq!(a.decide(&rows, &[monitor("db")], &live, 3_332), []);
    let renew = LeaseAction::Renew {
        key: monitor("db"),
        epoch: Epoch(2),
    };
    assert_eq!(a.decide(&rows, &[monitor("db")], &live, 3_333), [renew]);
}

#[test]
fn a_joining_node_gets_its_share_handed_over_and_takes_it_up_next_round() {
    let keys = monitors(100);
    let mut store: Store = keys
        .iter()
        .map(|key| (key.clone(), row(key, Some("a"), 1, 10_000)))
        .collect();
    let held: Vec<(LeaseKey, u64)> = keys.iter().map(|key| (key.clone(), 1)).collect();
    let mut a = holding("a", &held);
    let live = nodes(&["a", "b"]);
    let to_b = preferred_of(&keys, "b", &live);
    let actions = a.decide(&read(&store), &keys, &live, 1_000);
    assert_eq!(released(&actions), to_b);
    assert!(
        to_b.iter().all(|key| a.epoch_of(key).is_none()),
        "a stopped acting"
    );
    assert_eq!(a.held().count(), 100 - to_b.len());
    commit_all(&mut store, &mut a, &actions, 1_000);
    // `b` takes them at once, not a lease later, each at the next epoch.
    let mut b = book("b");
    let taken = b.decide(&read(&store), &keys, &live, 1_100);
    assert_eq!(acquired(&taken), to_b);
    commit_all(&mut store, &mut b, &taken, 1_100);
    assert!(to_b.iter().all(|key| b.epoch_of(key) == Some(Epoch(2))));
}

#[test]
fn a_monitor_config_no_longer_has_is_handed_back() {
    let rows = [row(&monitor("gone"), Some("a"), 1, 10_000)];
    let mut a = holding("a", &[(monitor("gone"), 1)]);
    let actions = a.decide(&rows, &[], &nodes(&["a"]), 1_000);
    assert_eq!(released(&actions), [monitor("gone")]);
}

#[test]
fn a_lease_seen_moved_on_gone_or_run_out_is_dropped_first_and_at_once() {
    let (m1, m2, m3) = (monitor("m1"), monitor("m2"), monitor("m3"));
    let rows = [
        row(&m1, Some("b"), 2, 20_000),
        row(&m3, Some("a"), 1, 10_000),
    ];
    let mut a = holding("a", &[(m1.clone(), 1), (m2.clone(), 1), (m3.clone(), 1)]);
    let actions = a.decide(&rows, &[m1.clone(), m3.clone()], &nodes(&["a"]), 10_000);
    let drop = |key: &LeaseKey| LeaseAction::Drop { key: key.clone() };
    assert_eq!(actions[..3], [drop(&m1), drop(&m2), drop(&m3)]);
    assert_eq!(a.held().count(), 0);
    assert!(matches!(
        a.may_write(&rows[0], 10_000),
        Err(Refusal::NotHeldHere { .. })
    ));
    // Its own run out, and still the preferred owner: it takes it anew, at the next epoch.
    assert_eq!(acquired(&actions[3..]), [m3]);
}

#[test]
fn a_row_this_node_owns_but_does_not_hold_is_taken_again_at_the_next_epoch() {
    // The previous process of `a` left it; a new epoch fences that process out.
    let rows = [row(&monitor("db"), Some("a"), 6, 10_000)];
    let actions = book("a").decide(&rows, &[monitor("db")], &nodes(&["a"]), 1_000);
    let acquire = LeaseAction::Acquire {
        key: monitor("db"),
        expected_epoch: Some(Epoch(6)),
        new_epoch: Epoch(7),
    };
    assert_eq!(actions, [acquire]);
}

#[test]
fn a_clean_stop_hands_every_lease_back_and_another_node_takes_them_up_at_once() {
    let run = LeaseKey::Run("run-1".into());
    let mut keys = monitors(10);
    keys.push(run.clone());
    let mut store: Store = keys
        .iter()
        .map(|key| (key.clone(), row(key, Some("a"), 3, 10_000)))
        .collect();
    let held: Vec<(LeaseKey, u64)> = keys.iter().map(|key| (key.clone(), 3)).collect();
    let mut a = holding("a", &held);
    let actions = a.release_all();
    assert_eq!(released(&actions), keys);
    assert_eq!(a.held().count(), 0);
    commit_all(&mut store, &mut a, &actions, 1_000);
    // `a`'s membership says it is stopping: `b` alone is live and takes everything, the run
    // too, long before the leases would have run out.
    let members = [
        Node {
            stopping: true,
            ..Node::heartbeat(node("a"), 1_000, LEASE_MS)
        },
        Node::heartbeat(node("b"), 1_000, LEASE_MS),
    ];
    let mut b = book("b");
    let live = live_nodes(&members, 1_100);
    let taken = b.decide(&read(&store), &monitors(10), &live, 1_100);
    assert_eq!(acquired(&taken), keys);
    commit_all(&mut store, &mut b, &taken, 1_100);
    assert!(keys.iter().all(|key| b.epoch_of(key) == Some(Epoch(4))));
}

#[test]
fn the_epoch_grows_at_every_change_of_owner_and_at_nothing_else() {
    let key = monitor("db");
    let wanted = [key.clone()];
    let mut store = Store::new();
    let epoch = |store: &Store| store[&key].epoch;
    let round = |book: &mut LeaseBook, store: &mut Store, live: &[&str], now: i64| {
        let actions = book.decide(&read(store), &wanted, &nodes(live), now);
        commit_all(store, book, &actions, now);
    };
    let (mut a, mut b) = (book("a"), book("b"));
    round(&mut a, &mut store, &["a"], 0);
    assert_eq!(epoch(&store), Epoch(1));
    // Renewals, round after round: the epoch stays.
    for now in [3_333, 6_666, 10_000, 13_333] {
        round(&mut a, &mut store, &["a"], now);
        assert_eq!(store[&key].expires_at_ms, now + LEASE_MS);
    }
    assert_eq!(epoch(&store), Epoch(1));
    // Handed back: still 1; `b` takes it: 2.
    let actions = a.release_all();
    commit_all(&mut store, &mut a, &actions, 14_000);
    assert_eq!(epoch(&store), Epoch(1));
    round(&mut b, &mut store, &["b"], 14_000);
    assert_eq!(epoch(&store), Epoch(2));
    // `b` goes quiet; once its lease runs out, `a` takes it: 3.
    round(&mut a, &mut store, &["a"], 24_000);
    assert_eq!(epoch(&store), Epoch(3));
    assert_eq!(a.epoch_of(&key), Some(Epoch(3)));
}

#[test]
fn a_renewal_refused_or_not_known_to_be_written_stops_the_node_holding_the_lease() {
    let mut a = holding("a", &[(monitor("db"), 2)]);
    let stale = LeaseAction::Renew {
        key: monitor("db"),
        epoch: Epoch(1),
    };
    a.settle(&stale, Settled::Refused);
    assert_eq!(
        a.epoch_of(&monitor("db")),
        Some(Epoch(2)),
        "not the epoch held"
    );
    let renew = LeaseAction::Renew {
        key: monitor("db"),
        epoch: Epoch(2),
    };
    a.settle(&renew, Settled::Refused);
    assert_eq!(a.epoch_of(&monitor("db")), None);
    let acquire = LeaseAction::Acquire {
        key: monitor("db"),
        expected_epoch: Some(Epoch(2)),
        new_epoch: Epoch(3),
    };
    a.settle(&acquire, Settled::Refused);
    assert_eq!(
        a.epoch_of(&monitor("db")),
        None,
        "a refused acquire holds nothing"
    );
}

#[test]
fn a_node_holds_at_most_its_bound_and_a_round_writes_at_most_its_bound() {
    let keys = monitors(LEASES_HELD_MAX + 1_000);
    let live = nodes(&["a"]);
    let mut a = book("a");
    let mut store = Store::new();
    let actions = a.decide(&[], &keys, &live, 0);
    assert_eq!(acquired(&actions).len(), LEASES_HELD_MAX);
    commit_all(&mut store, &mut a, &actions, 0);
    assert_eq!(a.held().count(), LEASES_HELD_MAX);
    // All due for renewal, and more free: every renewal is asked for, no acquire past the
    // bound, and the round stays within its writes.
    let actions = a.decide(&read(&store), &keys, &live, 5_000);
    assert!(actions.len() <= LEASES_PER_ROUND_MAX);
    let renewals = actions
        .iter()
        .filter(|a| matches!(a, LeaseAction::Renew { .. }));
    assert_eq!(renewals.count(), LEASES_HELD_MAX);
    assert!(acquired(&actions).is_empty());
}

#[test]
fn the_lease_length_is_bounded() {
    assert!(LeaseBook::new(node("a"), LEASE_MS_MIN).is_ok());
    assert!(LeaseBook::new(node("a"), LEASE_MS_MAX).is_ok());
    let refused = LeaseBook::new(node("a"), LEASE_MS_MIN - 1).unwrap_err();
    assert!(refused.to_string().starts_with("lease_ms must be between"));
    assert!(LeaseBook::new(node("a"), LEASE_MS_MAX + 1).is_err());
}

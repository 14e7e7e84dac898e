//! The spread of monitors over the live nodes: even, the same on every node, and moving only
//! the share of a node that joins or leaves.

use super::*;
use crate::cluster::{preferred_owner, weight};

/// The weight of `monitor:orders-db` for node `grace-1`.
const PINNED_WEIGHT: u64 = 15_264_163_326_026_173_683;

/// The owner of each key over `live`.
fn owners(keys: &[LeaseKey], live: &[NodeId]) -> Vec<NodeId> {
    keys.iter()
        .map(|key| preferred_owner(key, live).unwrap())
        .collect()
}

#[test]
fn no_live_node_owns_nothing_and_one_owns_everything() {
    assert_eq!(preferred_owner(&monitor("db"), &[]), None);
    assert_eq!(
        preferred_owner(&monitor("db"), &nodes(&["a"])),
        Some(node("a"))
    );
}

#[test]
fn the_weight_is_pinned_so_every_build_and_version_agrees() {
    // Computed once and written down: a change to the hash would move every monitor of a
    // cluster whose nodes run different builds, so it must fail here first.
    assert_eq!(
        weight(&monitor("orders-db"), &node("grace-1")),
        PINNED_WEIGHT
    );
    assert_ne!(
        weight(&monitor("orders-db"), &node("grace-1")),
        weight(&LeaseKey::Schedule("orders-db".into()), &node("grace-1")),
        "the kind is part of the key"
    );
}

#[test]
fn the_order_the_live_nodes_are_listed_in_does_not_matter() {
    let keys = monitors(500);
    let forward = owners(&keys, &nodes(&["a", "b", "c", "d"]));
    let backward = owners(&keys, &nodes(&["d", "c", "b", "a"]));
    assert_eq!(forward, backward);
}

#[test]
fn ten_thousand_monitors_spread_over_three_nodes_within_ten_percent_of_even() {
    let keys = monitors(10_000);
    let live = nodes(&["grace-1", "grace-2", "grace-3"]);
    let owned = owners(&keys, &live);
    let even = keys.len() as f64 / live.len() as f64;
    for node in &live {
        let share = owned.iter().filter(|owner| *owner == node).count() as f64;
        assert!(
            (share - even).abs() <= even * 0.10,
            "{node} owns {share} of {}, even is {even:.0}",
            keys.len()
        );
    }
}

#[test]
fn a_node_joining_takes_only_keys_that_now_go_to_it() {
    let keys = monitors(3_000);
    let before = owners(&keys, &nodes(&["a", "b", "c"]));
    let after = owners(&keys, &nodes(&["a", "b", "c", "d"]));
    let mut moved = 0;
    for (was, is) in before.iter().zip(&after) {
        if was != is {
            assert_eq!(*is, node("d"), "a key moved between old nodes");
            moved += 1;
        }
    }
    // About a quarter moves: its fair share.
    assert!((600..=900).contains(&moved), "{moved} moved");
}

#[test]
fn a_node_leaving_gives_up_only_its_own_keys() {
    let keys = monitors(3_000);
    let before = owners(&keys, &nodes(&["a", "b", "c"]));
    let after = owners(&keys, &nodes(&["a", "c"]));
    for (was, is) in before.iter().zip(&after) {
        if *was != node("b") {
            assert_eq!(was, is, "a key of a node that stayed moved");
        }
    }
}

//! The engines' lease: in a cluster, one node at a time runs the engines (incident manager,
//! playbook engine, pipeline runner, monitors, notifier, retention), so one outage makes one
//! incident and one node heals it. The others stand by, renew their membership, and take the
//! lease when it runs out — within `lease_ms` of the last renewal — and the engines resume
//! from the store under the durable-run rules.
//!
//! This decides one round, told the row as read and the database server's time (`now_ms`),
//! so that every node judges expiry by one clock. The store's transaction checks the same
//! conditions again as it writes (`store/cluster.rs`), so a decision taken on a read that is
//! stale by the time it lands writes nothing. The engines' lease is not the [`LeaseBook`]'s:
//! the book spreads keys, this one stays where it is until it runs out or is handed back.
//!
//! [`LeaseBook`]: super::LeaseBook

use super::ids::{Epoch, NodeId};
use super::lease::Lease;

/// What a node does about the engines' lease this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderStep {
    /// Nobody holds it (no row, handed back, run out), or the row names this node but it
    /// does not hold it (a previous process of this node): take it at the next epoch, which
    /// shuts out whatever still acts under the old one.
    Acquire {
        expected: Option<Epoch>,
        epoch: Epoch,
    },
    /// Held here, and still so by the row: renew it (every round: a round is a third of the
    /// lease, so two renewals may fail before it runs out).
    Renew { epoch: Epoch },
    /// Another node holds it.
    Follow { leader: NodeId, epoch: Epoch },
    /// This node held it, and the row says it no longer does (another owner, another epoch,
    /// run out, gone): stop acting at once.
    Lost { to: Option<NodeId> },
}

/// The step for `me`, which holds the lease at `held` (None: it does not), given `row` as read
/// at `now_ms` (the database's clock).
pub fn decide(row: Option<&Lease>, me: &NodeId, held: Option<Epoch>, now_ms: i64) -> LeaderStep {
    if let Some(epoch) = held {
        return match row {
            Some(row) if row.epoch == epoch && row.held_by(me, now_ms) => {
                LeaderStep::Renew { epoch }
            }
            Some(row) if !row.is_free(now_ms) => LeaderStep::Lost {
                to: row.owner.clone(),
            },
            _ => LeaderStep::Lost { to: None },
        };
    }
    match row {
        Some(row) if !row.is_free(now_ms) && row.owner.as_ref() != Some(me) => LeaderStep::Follow {
            leader: row
                .owner
                .clone()
                .expect("a lease that is not free has an owner"),
            epoch: row.epoch,
        },
        _ => {
            let expected = row.map(|row| row.epoch);
            LeaderStep::Acquire {
                expected,
                epoch: Epoch::after(expected),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::LeaseKey;

    const LEASE_MS: i64 = 10_000;

    fn node(id: &str) -> NodeId {
        NodeId::new(id).unwrap()
    }

    fn row(owner: Option<&str>, epoch: u64, renewed_at_ms: i64) -> Lease {
        Lease {
            key: LeaseKey::Engines,
            owner: owner.map(node),
            epoch: Epoch(epoch),
            expires_at_ms: renewed_at_ms + LEASE_MS,
            renewed_at_ms,
        }
    }

    #[test]
    fn the_first_node_takes_the_lease_at_the_first_epoch() {
        let step = decide(None, &node("a"), None, 0);
        let first = LeaderStep::Acquire {
            expected: None,
            epoch: Epoch::FIRST,
        };
        assert_eq!(step, first);
    }

    #[test]
    fn a_held_lease_is_followed_until_it_runs_out_then_taken_at_the_next_epoch() {
        let held = row(Some("a"), 3, 1_000);
        let follow = LeaderStep::Follow {
            leader: node("a"),
            epoch: Epoch(3),
        };
        assert_eq!(decide(Some(&held), &node("b"), None, 10_999), follow);
        let take = LeaderStep::Acquire {
            expected: Some(Epoch(3)),
            epoch: Epoch(4),
        };
        assert_eq!(decide(Some(&held), &node("b"), None, 11_000), take);
    }

    #[test]
    fn a_handed_back_lease_is_taken_at_once() {
        let handed_back = row(None, 3, 1_000);
        let step = decide(Some(&handed_back), &node("b"), None, 1_001);
        assert!(
            matches!(
                step,
                LeaderStep::Acquire {
                    epoch: Epoch(4),
                    ..
                }
            ),
            "{step:?}"
        );
    }

    #[test]
    fn the_holder_renews_while_the_row_is_still_its_own() {
        let held = row(Some("a"), 3, 1_000);
        let step = decide(Some(&held), &node("a"), Some(Epoch(3)), 5_000);
        assert_eq!(step, LeaderStep::Renew { epoch: Epoch(3) });
    }

    #[test]
    fn the_holder_that_finds_another_owner_or_epoch_or_time_up_has_lost_it() {
        let me = node("a");
        let taken = row(Some("b"), 4, 20_000);
        let to_b = LeaderStep::Lost {
            to: Some(node("b")),
        };
        assert_eq!(decide(Some(&taken), &me, Some(Epoch(3)), 20_001), to_b);
        // Its own name at a later epoch: a newer process of this node took it.
        let retaken = row(Some("a"), 4, 20_000);
        let to_me = LeaderStep::Lost {
            to: Some(me.clone()),
        };
        assert_eq!(decide(Some(&retaken), &me, Some(Epoch(3)), 20_001), to_me);
        // Paused past its end, nobody took it yet: lost all the same (it takes it again at the
        // next round, at the next epoch, as any node would).
        let lapsed = row(Some("a"), 3, 1_000);
        let lost = decide(Some(&lapsed), &me, Some(Epoch(3)), 11_000);
        assert_eq!(lost, LeaderStep::Lost { to: None });
        assert_eq!(
            decide(None, &me, Some(Epoch(3)), 0),
            LeaderStep::Lost { to: None }
        );
    }

    #[test]
    fn a_row_of_this_node_it_does_not_hold_is_taken_again_at_the_next_epoch() {
        let leftover = row(Some("a"), 3, 1_000);
        let step = decide(Some(&leftover), &node("a"), None, 2_000);
        let again = LeaderStep::Acquire {
            expected: Some(Epoch(3)),
            epoch: Epoch(4),
        };
        assert_eq!(step, again);
    }
}

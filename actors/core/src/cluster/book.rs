//! The lease book: what this node holds, and what each round does about it. A round reads
//! every lease row and membership row, and the book answers with the writes to make and the
//! keys to stop acting on:
//!
//! - a lease this node holds that the read shows is another's, at another epoch, gone or run
//!   out: `Drop`, at once, before anything is written;
//! - a monitor or schedule lease whose preferred owner is now another live node (one joined),
//!   or that config no longer has: `Release`, so the new owner takes it next round;
//! - a lease held with two thirds of `lease_ms` or less left: `Renew`;
//! - a free lease (no row, handed back, or run out) this node is the preferred owner of:
//!   `Acquire` at the next epoch. A run's lease is never made here (the node that starts a
//!   run writes it) and is taken up only once free, by the live node rendezvous picks;
//! - a row this node owns but the book does not hold (left by this node's previous process):
//!   `Acquire` at the next epoch if it should still be this node's, which fences the old
//!   process out, else `Release`.
//!
//! Given the same read, only one node decides to acquire a key: the free ones go to the one
//! preferred owner, an unexpired one only to the node that owns it. The store's conditional
//! write (`commit`) settles races between reads.
//!
//! The actor tells the book how each write came out ([`LeaseBook::settle`]) before the next
//! round; the book holds a lease from a committed acquire until a drop, a hand-back or a
//! renewal not known to be written.

use std::collections::{BTreeMap, BTreeSet};

use super::action::{LeaseAction, Settled};
use super::fence::{self, Refusal};
use super::ids::{Epoch, LeaseKey, NodeId};
use super::lease::Lease;
use super::limits::{
    check_lease_ms, renew_when_left_ms, LeaseMsOutOfBounds, LEASES_HELD_MAX, LEASES_PER_ROUND_MAX,
};
use super::rendezvous::preferred_owner;

/// The leases this node holds, at the epoch it holds each.
#[derive(Debug, Clone)]
pub struct LeaseBook {
    me: NodeId,
    lease_ms: i64,
    /// At most [`LEASES_HELD_MAX`]: a round acquires only into the room left.
    held: BTreeMap<LeaseKey, Epoch>,
}

/// What the book makes of a lease it holds, given the read.
enum Verdict {
    Keep,
    Renew { left_ms: i64 },
    Release,
    Drop,
}

/// One round's read, indexed.
struct Round<'a> {
    /// By key; of two rows for one key (the store's index forbids it), the later epoch.
    rows: BTreeMap<&'a LeaseKey, &'a Lease>,
    wanted: BTreeSet<&'a LeaseKey>,
    live: &'a [NodeId],
    now_ms: i64,
}

impl<'a> Round<'a> {
    fn new(leases: &'a [Lease], wanted: &'a [LeaseKey], live: &'a [NodeId], now_ms: i64) -> Self {
        let mut rows: BTreeMap<&LeaseKey, &Lease> = BTreeMap::new();
        for lease in leases {
            let later = rows
                .get(&lease.key)
                .is_none_or(|had| had.epoch < lease.epoch);
            if later {
                rows.insert(&lease.key, lease);
            }
        }
        Self {
            rows,
            wanted: wanted.iter().collect(),
            live,
            now_ms,
        }
    }

    /// Whether `me` should hand `key` over: a monitor or schedule config no longer has, or
    /// whose preferred owner is another live node. With no live node known, nothing moves.
    fn hands_over(&self, key: &LeaseKey, me: &NodeId) -> bool {
        key.rebalances()
            && (!self.wanted.contains(key)
                || preferred_owner(key, self.live).is_some_and(|owner| owner != *me))
    }

    /// The keys a lease may be taken on: the monitors and schedules wanted, and every run
    /// with a row (runs are not made here).
    fn candidates(&self) -> BTreeSet<&'a LeaseKey> {
        let runs = self.rows.keys().copied().filter(|key| !key.rebalances());
        let wanted = self.wanted.iter().copied().filter(|key| key.rebalances());
        wanted.chain(runs).collect()
    }
}

/// A round's decisions by kind, before the bound on writes.
#[derive(Default)]
struct Plan {
    drops: Vec<LeaseAction>,
    renews: Vec<(i64, LeaseAction)>,
    releases: Vec<LeaseAction>,
    acquires: Vec<LeaseAction>,
}

impl Plan {
    /// Every drop (local, and what keeps two nodes from acting at once), then at most
    /// [`LEASES_PER_ROUND_MAX`] writes: renewals first, least time left first (keep what is
    /// held), then hand-backs, then at most `room` acquires.
    fn into_actions(self, room: usize) -> Vec<LeaseAction> {
        let mut renews = self.renews;
        renews.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.key().cmp(y.key())));
        let mut writes: Vec<LeaseAction> = renews.into_iter().map(|(_, renew)| renew).collect();
        writes.extend(self.releases);
        writes.truncate(LEASES_PER_ROUND_MAX);
        let acquires = room.min(LEASES_PER_ROUND_MAX - writes.len());
        writes.extend(self.acquires.into_iter().take(acquires));
        let mut actions = self.drops;
        actions.extend(writes);
        actions
    }
}

impl LeaseBook {
    /// The book of node `me`, holding nothing yet, for leases of `lease_ms`.
    pub fn new(me: NodeId, lease_ms: i64) -> Result<Self, LeaseMsOutOfBounds> {
        Ok(Self {
            me,
            lease_ms: check_lease_ms(lease_ms)?,
            held: BTreeMap::new(),
        })
    }

    pub fn me(&self) -> &NodeId {
        &self.me
    }

    pub fn lease_ms(&self) -> i64 {
        self.lease_ms
    }

    /// The epoch this node holds `key` at, if it holds it.
    pub fn epoch_of(&self, key: &LeaseKey) -> Option<Epoch> {
        self.held.get(key).copied()
    }

    /// The leases held, by key.
    pub fn held(&self) -> impl Iterator<Item = (&LeaseKey, Epoch)> {
        self.held.iter().map(|(key, epoch)| (key, *epoch))
    }

    /// One round at `now_ms`: `leases` every lease row as read, `wanted` the monitors and
    /// schedules of this node's config, `live` the live nodes (`lease::live_nodes`). Keys
    /// dropped or handed back are no longer held when this returns.
    pub fn decide(
        &mut self,
        leases: &[Lease],
        wanted: &[LeaseKey],
        live: &[NodeId],
        now_ms: i64,
    ) -> Vec<LeaseAction> {
        let round = Round::new(leases, wanted, live, now_ms);
        let mut plan = Plan::default();
        let released = self.review_held(&round, &mut plan);
        self.take_up(&round, &released, &mut plan);
        plan.into_actions(LEASES_HELD_MAX.saturating_sub(self.held.len()))
    }

    /// Judges every lease held; stops holding what is dropped or handed back. The keys
    /// handed back, which this round must not take up again.
    fn review_held(&mut self, round: &Round, plan: &mut Plan) -> BTreeSet<LeaseKey> {
        let mut released = BTreeSet::new();
        for (key, epoch) in std::mem::take(&mut self.held) {
            match self.verdict(round, &key, epoch) {
                Verdict::Keep => {}
                Verdict::Renew { left_ms } => {
                    let renew = LeaseAction::Renew {
                        key: key.clone(),
                        epoch,
                    };
                    plan.renews.push((left_ms, renew));
                }
                Verdict::Release => {
                    plan.releases.push(LeaseAction::Release {
                        key: key.clone(),
                        epoch,
                    });
                    released.insert(key);
                    continue;
                }
                Verdict::Drop => {
                    plan.drops.push(LeaseAction::Drop { key });
                    continue;
                }
            }
            self.held.insert(key, epoch);
        }
        released
    }

    fn verdict(&self, round: &Round, key: &LeaseKey, epoch: Epoch) -> Verdict {
        let Some(row) = round.rows.get(key) else {
            return Verdict::Drop;
        };
        if row.owner.as_ref() != Some(&self.me) || row.epoch != epoch || row.expired(round.now_ms) {
            return Verdict::Drop;
        }
        if round.hands_over(key, &self.me) {
            return Verdict::Release;
        }
        let left_ms = row.left_ms(round.now_ms);
        if left_ms <= renew_when_left_ms(self.lease_ms) {
            Verdict::Renew { left_ms }
        } else {
            Verdict::Keep
        }
    }

    /// Acquires (or hands back) the leases not held that this node should hold.
    fn take_up(&self, round: &Round, released: &BTreeSet<LeaseKey>, plan: &mut Plan) {
        for key in round.candidates() {
            if self.held.contains_key(key) || released.contains(key) {
                continue;
            }
            let row = round.rows.get(key).copied();
            let chosen = preferred_owner(key, round.live).is_some_and(|owner| owner == self.me);
            let acquire = |read: Option<Epoch>| LeaseAction::Acquire {
                key: key.clone(),
                expected_epoch: read,
                new_epoch: Epoch::after(read),
            };
            match row {
                None if chosen => plan.acquires.push(acquire(None)),
                // This node's own, from before this book: keep it if it should stay here.
                Some(row) if row.held_by(&self.me, round.now_ms) => {
                    if chosen || !key.rebalances() {
                        plan.acquires.push(acquire(Some(row.epoch)));
                    } else {
                        plan.releases.push(LeaseAction::Release {
                            key: key.clone(),
                            epoch: row.epoch,
                        });
                    }
                }
                Some(row) if chosen && row.is_free(round.now_ms) => {
                    plan.acquires.push(acquire(Some(row.epoch)));
                }
                _ => {}
            }
        }
    }

    /// Takes in how a write of the last round came out: a committed acquire is held from
    /// now; a renewal refused (or not known to be written) is not held any more.
    pub fn settle(&mut self, action: &LeaseAction, settled: Settled) {
        match (action, settled) {
            (LeaseAction::Acquire { key, new_epoch, .. }, Settled::Committed) => {
                debug_assert!(self.held.len() < LEASES_HELD_MAX || self.held.contains_key(key));
                self.held.insert(key.clone(), *new_epoch);
            }
            (LeaseAction::Renew { key, epoch }, Settled::Refused)
                if self.held.get(key) == Some(epoch) =>
            {
                self.held.remove(key);
            }
            _ => {}
        }
    }

    /// A clean stop: hands every lease back, so the others take them up at their next round
    /// instead of a lease later. Holds nothing after.
    pub fn release_all(&mut self) -> Vec<LeaseAction> {
        std::mem::take(&mut self.held)
            .into_iter()
            .map(|(key, epoch)| LeaseAction::Release { key, epoch })
            .collect()
    }

    /// [`fence::may_act`] at the epoch this node holds `lease` at; refused when it holds none.
    pub fn may_act(&self, lease: &Lease, now_ms: i64, margin_ms: i64) -> Result<(), Refusal> {
        let epoch = self
            .epoch_of(&lease.key)
            .ok_or_else(|| Refusal::NotHeldHere {
                key: lease.key.clone(),
            })?;
        fence::may_act(lease, &self.me, epoch, now_ms, margin_ms)
    }

    /// [`fence::may_write`] at the epoch this node holds `lease` at.
    pub fn may_write(&self, lease: &Lease, now_ms: i64) -> Result<(), Refusal> {
        self.may_act(lease, now_ms, 0)
    }
}

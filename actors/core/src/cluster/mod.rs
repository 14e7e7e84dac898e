//! Cluster ownership by lease: several Grace nodes share one database, and each monitor,
//! pipeline schedule and playbook run in flight is owned by one node at a time through a
//! lease row. Pure: the rows are handed in as read and the time is told (`now_ms`, Unix
//! milliseconds); the actor does the reads, the conditional writes and the clock.
//!
//! - `ids`: [`NodeId`], [`LeaseKey`] (`monitor:<id>`, `schedule:<id>`, `run:<id>`), [`Epoch`].
//! - `lease`: the rows as stored, [`Lease`] and the membership row [`Node`], and which nodes
//!   are live.
//! - `rendezvous`: which live node a key belongs to ([`preferred_owner`]), by a hash that is
//!   the same in every process, so a join or a leave moves only that node's share.
//! - `action` and `book`: the [`LeaseBook`], which decides each round what to acquire, renew,
//!   hand back and stop acting on ([`LeaseAction`]).
//! - `commit`: the compare-and-set each write is in the store, as a reference rule.
//! - `fence`: whether a node may still write, or start a command step, under a lease
//!   ([`may_act`], [`Refusal`]).
//! - `leader`: the engines' lease — which one node runs the engines ([`LeaderStep`]).
//! - `limits`: lease length, renewal, margin and per-round bounds.
//!
//! **Invariants:** the epoch grows by one at every acquire and at nothing else; a node that
//! lost a lease never acts on it again (a write checks the epoch it holds against the row in
//! the same transaction, and a command needs [`COMMAND_MARGIN_MS`] left); given the same
//! read, at most one node decides to acquire a key. Node ids must be unique: two processes
//! under one id take a lease from each other in turns (each acquire fences the other out).
//! Clocks of the nodes must agree to within the margin.

pub mod action;
pub mod book;
pub mod commit;
pub mod fence;
pub mod ids;
pub mod leader;
pub mod lease;
pub mod limits;
pub mod rendezvous;
#[cfg(test)]
mod tests;

pub use action::{LeaseAction, Settled};
pub use book::LeaseBook;
pub use commit::{commit, Conflict};
pub use fence::{may_act, may_write, Refusal};
pub use ids::{Epoch, IdError, LeaseKey, NodeId};
pub use leader::LeaderStep;
pub use lease::{live_nodes, Lease, Node};
pub use limits::{
    check_lease_ms, renew_when_left_ms, round_every_ms, LeaseMsOutOfBounds, COMMAND_MARGIN_MS,
    LEASES_HELD_MAX, LEASES_PER_ROUND_MAX, LEASE_MS_DEFAULT, LEASE_MS_MAX, LEASE_MS_MIN, NODES_MAX,
};
pub use rendezvous::{preferred_owner, weight};

//! What a round decides about one lease. Three are writes the store makes in a transaction,
//! each conditional on the row as read (the rule is `commit::commit`); `Drop` is local only:
//! the node stops acting on the key at once, whatever the store says.

use super::ids::{Epoch, LeaseKey};

/// One decision of a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAction {
    /// Take the lease: the row is free (or missing) and this node is the one to take it.
    /// The store writes it only if the row's epoch is still `expected_epoch` (no row for
    /// none) and it is still free, so of two nodes that try, one wins.
    Acquire {
        key: LeaseKey,
        expected_epoch: Option<Epoch>,
        new_epoch: Epoch,
    },
    /// Push the lease's end on by one `lease_ms`; the epoch stays.
    Renew { key: LeaseKey, epoch: Epoch },
    /// Hand the lease back (owner none, expired now), so its next owner takes it at once
    /// instead of after it runs out. The node has stopped acting on it already.
    Release { key: LeaseKey, epoch: Epoch },
    /// Stop acting on the key: the read shows the lease is no longer this node's.
    Drop { key: LeaseKey },
}

impl LeaseAction {
    pub fn key(&self) -> &LeaseKey {
        match self {
            LeaseAction::Acquire { key, .. }
            | LeaseAction::Renew { key, .. }
            | LeaseAction::Release { key, .. }
            | LeaseAction::Drop { key } => key,
        }
    }

    /// Whether the store writes anything for it.
    pub fn is_write(&self) -> bool {
        !matches!(self, LeaseAction::Drop { .. })
    }
}

/// How the store's transaction for a write came out, told back to the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Committed,
    /// Its condition failed, or the store could not say: either way the node does not count
    /// on the write (a renewal not known to be written is a lease not known to be held).
    Refused,
}

//! The rule the store's transaction applies to a lease write: the compare-and-set, given the
//! row as it is at commit. The store does the same in its own query language; this is the
//! reference it is tested against, and what the unit tests commit through to show that two
//! nodes never both hold a lease.
//!
//! Every write is conditional on the epoch: an acquire on the epoch read (and on the row being
//! free still, so a renewal that landed in between wins), a renewal and a hand-back on the
//! epoch held by this node. A write whose condition fails changes nothing.

use super::action::LeaseAction;
use super::ids::{Epoch, NodeId};
use super::lease::Lease;

/// Why the store refused a lease write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// Someone changed the row since it was read.
    #[error("the lease row is at {read:?}, not the {expected:?} it was read at")]
    EpochMoved {
        expected: Option<Epoch>,
        read: Option<Epoch>,
    },
    /// An acquire on a row another node holds and has kept renewing.
    #[error("the lease is held by node {owner} for {left_ms} ms more")]
    StillHeld { owner: NodeId, left_ms: i64 },
    /// A renewal or a hand-back of a lease this node does not own.
    #[error("the lease is not this node's")]
    NotOwner,
    /// A renewal too late: the lease ran out and may be another's by now.
    #[error("the lease ran out before it was renewed")]
    Expired,
    /// An acquire whose new epoch is not the one after the epoch it expects.
    #[error("the new epoch must be {want}, not {got}")]
    BadEpoch { want: Epoch, got: Epoch },
}

/// The row after `action` by `me` at `now_ms`, given the row `row` as it is at commit (none:
/// no row); none to write for a `Drop`.
pub fn commit(
    row: Option<&Lease>,
    action: &LeaseAction,
    me: &NodeId,
    now_ms: i64,
    lease_ms: i64,
) -> Result<Option<Lease>, Conflict> {
    let expires_at_ms = now_ms.saturating_add(lease_ms);
    match action {
        LeaseAction::Acquire {
            key,
            expected_epoch,
            new_epoch,
        } => {
            acquirable(row, *expected_epoch, *new_epoch, me, now_ms)?;
            Ok(Some(Lease {
                key: key.clone(),
                owner: Some(me.clone()),
                epoch: *new_epoch,
                expires_at_ms,
                renewed_at_ms: now_ms,
            }))
        }
        LeaseAction::Renew { epoch, .. } => {
            let row = owned(row, *epoch, me)?;
            if row.expired(now_ms) {
                return Err(Conflict::Expired);
            }
            Ok(Some(Lease {
                expires_at_ms,
                renewed_at_ms: now_ms,
                ..row.clone()
            }))
        }
        LeaseAction::Release { epoch, .. } => {
            let row = owned(row, *epoch, me)?;
            Ok(Some(Lease {
                owner: None,
                expires_at_ms: row.expires_at_ms.min(now_ms),
                ..row.clone()
            }))
        }
        LeaseAction::Drop { .. } => Ok(None),
    }
}

/// An acquire's condition: the epoch as read, and the row free — or this node's own, which
/// an earlier run of this node left behind; taking it with a new epoch fences that run out.
fn acquirable(
    row: Option<&Lease>,
    expected: Option<Epoch>,
    new: Epoch,
    me: &NodeId,
    now_ms: i64,
) -> Result<(), Conflict> {
    let read = row.map(|row| row.epoch);
    if read != expected {
        return Err(Conflict::EpochMoved { expected, read });
    }
    if new != Epoch::after(expected) {
        return Err(Conflict::BadEpoch {
            want: Epoch::after(expected),
            got: new,
        });
    }
    match row.and_then(|row| row.owner.as_ref().map(|owner| (row, owner))) {
        Some((row, owner)) if owner != me && !row.expired(now_ms) => Err(Conflict::StillHeld {
            owner: owner.clone(),
            left_ms: row.left_ms(now_ms),
        }),
        _ => Ok(()),
    }
}

/// The row, if `me` owns it at `epoch`.
fn owned<'a>(row: Option<&'a Lease>, epoch: Epoch, me: &NodeId) -> Result<&'a Lease, Conflict> {
    let row = row.ok_or(Conflict::EpochMoved {
        expected: Some(epoch),
        read: None,
    })?;
    if row.epoch != epoch {
        return Err(Conflict::EpochMoved {
            expected: Some(epoch),
            read: Some(row.epoch),
        });
    }
    if row.owner.as_ref() != Some(me) {
        return Err(Conflict::NotOwner);
    }
    Ok(row)
}

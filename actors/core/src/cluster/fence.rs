//! The fencing check: whether a node may still act on a lease it believes it holds. Run
//! against the lease row read in the same transaction as the write it guards, so a node that
//! lost the lease (to a slow round, a pause, a partition) finds out before its write lands,
//! not after.
//!
//! Two strengths: a write that depends on the lease needs the lease held at the epoch the
//! writer holds and not run out ([`may_write`]); a command step, whose side effect cannot be
//! taken back, also needs a margin left ([`may_act`], [`COMMAND_MARGIN_MS`] by default).
//!
//! [`COMMAND_MARGIN_MS`]: super::limits::COMMAND_MARGIN_MS

use super::ids::{Epoch, LeaseKey, NodeId};
use super::lease::Lease;

/// Why a node may not act on a lease.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// This node does not believe it holds the lease at all.
    #[error("this node holds no lease on {key}")]
    NotHeldHere { key: LeaseKey },
    /// Handed back: nobody owns it until the next acquire.
    #[error("the lease was handed back")]
    Released,
    #[error("the lease is held by node {owner}")]
    OtherOwner { owner: NodeId },
    /// Someone took the lease since (and maybe this node took it back): the epoch this node
    /// holds is not the row's.
    #[error("the lease moved on: this node holds {held}, the row is at {read}")]
    EpochMoved { held: Epoch, read: Epoch },
    #[error("the lease ran out {ago_ms} ms ago")]
    Expired { ago_ms: i64 },
    #[error("the lease has {left_ms} ms left, less than the {margin_ms} ms a step needs")]
    TooLittleLeft { left_ms: i64, margin_ms: i64 },
}

/// Whether `me`, holding `lease` at `epoch`, may start a step at `now_ms` that needs
/// `margin_ms` of lease left. Checked in order: the owner, the epoch, the time.
pub fn may_act(
    lease: &Lease,
    me: &NodeId,
    epoch: Epoch,
    now_ms: i64,
    margin_ms: i64,
) -> Result<(), Refusal> {
    match &lease.owner {
        None => return Err(Refusal::Released),
        Some(owner) if owner != me => {
            return Err(Refusal::OtherOwner {
                owner: owner.clone(),
            })
        }
        Some(_) => {}
    }
    if lease.epoch != epoch {
        return Err(Refusal::EpochMoved {
            held: epoch,
            read: lease.epoch,
        });
    }
    let left_ms = lease.left_ms(now_ms);
    if lease.expired(now_ms) {
        return Err(Refusal::Expired { ago_ms: -left_ms });
    }
    if left_ms < margin_ms {
        return Err(Refusal::TooLittleLeft { left_ms, margin_ms });
    }
    Ok(())
}

/// Whether `me`, holding `lease` at `epoch`, may make a write that depends on it at
/// `now_ms`: held at that epoch and not run out. No margin: the write lands in the same
/// transaction as this check, or not at all.
pub fn may_write(lease: &Lease, me: &NodeId, epoch: Epoch, now_ms: i64) -> Result<(), Refusal> {
    may_act(lease, me, epoch, now_ms, 0)
}

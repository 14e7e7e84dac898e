//! The cluster's numbers: how long a lease lasts, how often it is renewed, how close to its
//! end a command may still start, and how much one round may do. Each has a bound so a
//! config cannot make a lease that never lapses or a round that never ends.

/// How long a lease lasts from its last renewal, unless config says otherwise: a node that
/// stops renewing loses its work to the others about this long after its last round.
pub const LEASE_MS_DEFAULT: i64 = 10_000;

/// Shortest lease: three times [`COMMAND_MARGIN_MS`], so a lease renewed on time (at a third)
/// always has more than the margin left and commands are never refused for nothing.
pub const LEASE_MS_MIN: i64 = 3 * COMMAND_MARGIN_MS;

/// Longest lease: five minutes. Past it a dead node's monitors go unwatched too long.
pub const LEASE_MS_MAX: i64 = 300_000;

/// Least time a lease must have left for a command step to start under it. It covers the
/// clocks of two nodes disagreeing and the time between the check and the step's start; a
/// node never starts a side effect that may outlive its lease by more than that.
pub const COMMAND_MARGIN_MS: i64 = 2_000;

/// Most lease writes (acquire, renew, release) one round asks for. What is left over is
/// decided again next round, from a fresh read.
pub const LEASES_PER_ROUND_MAX: usize = 10_000;

/// Most leases one node holds. Half a round's writes, so renewing all of them always leaves
/// room in the round to hand over and take up the rest.
pub const LEASES_HELD_MAX: usize = LEASES_PER_ROUND_MAX / 2;

/// Most live nodes the spread is over. Rendezvous costs one hash per node per key; nodes past
/// this (by id order, the same on every node) get nothing.
pub const NODES_MAX: usize = 64;

/// A lease length outside its bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lease_ms must be between {LEASE_MS_MIN} and {LEASE_MS_MAX}; it is {0}")]
pub struct LeaseMsOutOfBounds(pub i64);

/// `lease_ms` if it is within bounds.
pub fn check_lease_ms(lease_ms: i64) -> Result<i64, LeaseMsOutOfBounds> {
    if (LEASE_MS_MIN..=LEASE_MS_MAX).contains(&lease_ms) {
        Ok(lease_ms)
    } else {
        Err(LeaseMsOutOfBounds(lease_ms))
    }
}

/// How often a node runs a round (reads, decides, writes its membership row): a third of
/// the lease, so each lease is renewed about twice before it could lapse.
pub fn round_every_ms(lease_ms: i64) -> i64 {
    lease_ms / 3
}

/// A lease with this much or less left is renewed: a third of `lease_ms` has passed.
pub fn renew_when_left_ms(lease_ms: i64) -> i64 {
    lease_ms - lease_ms / 3
}

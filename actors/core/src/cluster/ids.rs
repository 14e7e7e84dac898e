//! The names the cluster speaks in: a node's id, a lease's key and a lease's epoch. Each is a
//! type of its own so a node id cannot be passed where a monitor id is meant, and an epoch
//! is never compared with a count.
//!
//! A lease key is stored as one string, `monitor:<id>`, `schedule:<id>` or `run:<id>`: the
//! store's unique index is on it, and the rendezvous hash is taken over it, so its form is
//! fixed here and read back by [`LeaseKey::from_str`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::names::refused_char;

/// Longest node id, in bytes: it is in every lease row and hashed for every key each round.
pub const NODE_ID_BYTES_MAX: usize = 128;

/// Longest id inside a lease key, in bytes (a monitor's, a schedule's or a run's).
pub const LEASE_KEY_ID_BYTES_MAX: usize = 256;

/// Why a node id or a lease key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an id may not be empty")]
    Empty,
    #[error("an id may be at most {max} bytes; this one is {len}")]
    TooLong { len: usize, max: usize },
    #[error("an id may not hold control, bidirectional or zero-width characters")]
    RefusedChar,
    #[error("a lease key is monitor:<id>, schedule:<id>, run:<id> or engines; {0:?} is not")]
    UnknownKind(String),
}

/// Checks an id against its length bound and the one predicate for names people read.
fn check_id(id: &str, max: usize) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > max {
        return Err(IdError::TooLong { len: id.len(), max });
    }
    match refused_char(id) {
        Some(_) => Err(IdError::RefusedChar),
        None => Ok(()),
    }
}

/// One Grace node of the cluster, as named in its config. Plain string on the wire and in the
/// store; made through [`NodeId::new`], which checks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(String);

impl NodeId {
    pub fn new(id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        check_id(&id, NODE_ID_BYTES_MAX)?;
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a lease is over. The order (monitors, then schedules, then runs, each by id) is the
/// order a round's actions come out in, so two rounds over the same read agree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeaseKey {
    /// A monitor: spread over the live nodes by rendezvous hashing.
    Monitor(String),
    /// A pipeline schedule: spread like a monitor.
    Schedule(String),
    /// A playbook run in flight: stays with the node that started it until that node's
    /// lease lapses or is handed back.
    Run(String),
    /// The engines (incident manager, playbook engine, pipeline runner, monitors, notifier,
    /// retention): one node at a time runs them (`leader.rs`). Stored as `engines`.
    Engines,
}

impl LeaseKey {
    /// Whether a lease on this key moves to its preferred owner when the live nodes change.
    /// A run does not: it stays where it started, so a join never interrupts a step.
    pub fn rebalances(&self) -> bool {
        !matches!(self, LeaseKey::Run(_) | LeaseKey::Engines)
    }

    fn parts(&self) -> (&'static str, &str) {
        match self {
            LeaseKey::Monitor(id) => ("monitor", id),
            LeaseKey::Schedule(id) => ("schedule", id),
            LeaseKey::Run(id) => ("run", id),
            LeaseKey::Engines => (ENGINES, ""),
        }
    }
}

/// The stored form of [`LeaseKey::Engines`]: one lease, no id.
const ENGINES: &str = "engines";

impl fmt::Display for LeaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parts() {
            (kind, "") => f.write_str(kind),
            (kind, id) => write!(f, "{kind}:{id}"),
        }
    }
}

impl FromStr for LeaseKey {
    type Err = IdError;

    /// Reads `kind:id`, split at the first colon (an id may hold colons of its own).
    fn from_str(text: &str) -> Result<Self, IdError> {
        let unknown = || IdError::UnknownKind(text.chars().take(64).collect());
        if text == ENGINES {
            return Ok(LeaseKey::Engines);
        }
        let (kind, id) = text.split_once(':').ok_or_else(unknown)?;
        check_id(id, LEASE_KEY_ID_BYTES_MAX)?;
        let id = id.to_owned();
        match kind {
            "monitor" => Ok(LeaseKey::Monitor(id)),
            "schedule" => Ok(LeaseKey::Schedule(id)),
            "run" => Ok(LeaseKey::Run(id)),
            _ => Err(unknown()),
        }
    }
}

/// Stored as its string form, so the row's key is the string the unique index holds.
impl Serialize for LeaseKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LeaseKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How many times a lease has changed hands. It grows by one at every acquire and never at a
/// renewal, so a write checked against the epoch its writer holds fails once anyone else has
/// taken the lease, even if the writer's clock says it still holds it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Epoch(pub u64);

impl Epoch {
    /// The epoch of a lease row's first owner.
    pub const FIRST: Epoch = Epoch(1);

    /// The epoch after a change of owner from a row at `read` (none: no row yet).
    pub fn after(read: Option<Epoch>) -> Epoch {
        read.map_or(Epoch::FIRST, Epoch::next)
    }

    /// The next epoch. Saturates: at one change of owner a millisecond it takes longer than
    /// the age of the universe to get there.
    pub fn next(self) -> Epoch {
        Epoch(self.0.saturating_add(1))
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "epoch {}", self.0)
    }
}

//! What the store actor takes: one transaction of events and the records they announce, and
//! a person's silence to make or end (the store actor is the one owner of silences, so the cap
//! is decided against what is kept, never raced).

use std::sync::Arc;

use ractor::RpcReplyPort;

use crate::event::{Event, EventDraft};
use crate::protocol::{Scope, Store};
use crate::store::{StoreError, Write};

/// The persisted events of a commit, or why there are none.
pub type CommitReply = RpcReplyPort<Result<Vec<Arc<Event>>, Arc<StoreError>>>;

pub enum StoreMsg {
    /// Sequence and persist drafts in one transaction, with `writes`; replies with the
    /// persisted events once they are durable (and routed).
    Commit {
        drafts: Vec<EventDraft>,
        writes: Vec<Write>,
        reply: CommitReply,
    },
    /// Decide and commit a change to people's silences with its announcement, in one
    /// transaction, then put it on the context's board; replies with the silence as kept.
    Silence(SilenceChange, SilenceReply),
    /// Replies once taken: every commit sent before it has ended, landed or not. What a
    /// caller whose commit timed out waits for before it reads the store again.
    Barrier(RpcReplyPort<()>),
    /// Look for events other nodes appended to the log, and route them (a cluster's nodes,
    /// every `store_actor::LOG_FOLLOW_MS`).
    Follow,
}

/// A change to people's silences.
pub enum SilenceChange {
    /// Keep this new silence (at the cap, the one that ended longest ago makes room).
    Create(crate::silence::Silence),
    /// End silence `id` now.
    Expire { id: String, by: crate::model::Who },
}

/// Why a silence change was refused.
#[derive(Debug, Clone)]
pub enum SilenceRefused {
    NoSuch(String),
    /// The cap, with none ended to make room.
    Full(usize),
    Save(Arc<StoreError>),
}

/// The silence as kept, or why not.
pub type SilenceReply = RpcReplyPort<Result<crate::silence::Silence, SilenceRefused>>;

/// Commits `drafts` and `writes` in one transaction through the store actor of `scope`'s
/// kernel; returns the persisted events.
pub async fn commit(
    scope: &Scope,
    drafts: Vec<EventDraft>,
    writes: Vec<Write>,
) -> Result<Vec<Arc<Event>>, Arc<StoreError>> {
    scope
        .ask::<Store, _>(|reply| StoreMsg::Commit {
            drafts,
            writes,
            reply,
        })
        .await
        .map_err(|error| Arc::new(StoreError::Unavailable(error.to_string())))?
}

/// Waits until every commit sent to the store actor before now has ended.
pub async fn barrier(scope: &Scope) -> Result<(), crate::protocol::Unavailable> {
    scope.ask::<Store, _>(StoreMsg::Barrier).await
}

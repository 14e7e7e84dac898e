//! What the store actor takes: one transaction of events and the records they announce.

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
}

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

//! What the bus takes: events to publish (grouped into few commits), a batch pushed in from
//! outside, and a commit that must follow everything published before it.

use std::sync::Arc;

use ractor::RpcReplyPort;

use crate::event::{Event, EventDraft};
use crate::protocol::store::CommitReply;
use crate::protocol::{Bus, Scope};
use crate::store::{StoreError, Write};

/// The reply to an ingest: the seqs given, once durable, or why not.
pub type IngestReply = RpcReplyPort<Result<Vec<u64>, String>>;

pub enum BusMsg {
    /// Persist, then route. Fire-and-forget: publishers never wait on subscribers.
    Publish(EventDraft),
    /// Commit everything pending.
    Flush,
    /// Persist a batch pushed in from outside (in the same transaction as whatever else is
    /// pending), route it, and reply with the seqs it got once it is durable: the caller
    /// acknowledges only what is on disk.
    Ingest(Vec<EventDraft>, IngestReply),
    /// Commit drafts with records (see `store_actor::commit`) after everything published
    /// before it: an actor that heard of an event and acts on it commits after that event.
    Commit {
        drafts: Vec<EventDraft>,
        writes: Vec<Write>,
        reply: CommitReply,
    },
    /// Replies once everything sent to the bus before it, and so to the store actor, has
    /// been committed or dropped (a `StoreMsg::Barrier` behind it).
    Barrier(RpcReplyPort<Result<(), crate::protocol::Unavailable>>),
}

/// Publishes through the bus of `scope`'s kernel; a no-op (logged) while the bus is
/// restarting.
pub fn publish(scope: &Scope, draft: EventDraft) {
    let event_type = draft.event_type.clone();
    if let Err(error) = scope.tell::<Bus>(BusMsg::Publish(draft)) {
        tracing::warn!(%error, %event_type, "event dropped");
    }
}

/// Commits `drafts` and `writes` in one transaction, in order after everything published
/// through the bus so far (a `playbook.finished` before the `incident.resolved` it causes);
/// returns the persisted events.
pub async fn commit_in_order(
    scope: &Scope,
    drafts: Vec<EventDraft>,
    writes: Vec<Write>,
) -> Result<Vec<Arc<Event>>, Arc<StoreError>> {
    scope
        .ask::<Bus, _>(|reply| BusMsg::Commit {
            drafts,
            writes,
            reply,
        })
        .await
        .map_err(|error| Arc::new(StoreError::Unavailable(error.to_string())))?
}

/// Waits until every commit sent through the bus, and then to the store actor, before now has
/// ended: a caller whose commit timed out reads the store only after this, so a commit still
/// landing cannot come after its read.
pub async fn barrier(scope: &Scope) -> Result<(), crate::protocol::Unavailable> {
    scope.ask::<Bus, _>(BusMsg::Barrier).await?
}

//! The event bus: every event published or pushed in goes through here to be persisted (and
//! then routed) by the store actor, so nothing is pushed that is not already in the log.
//!
//! Publishing is batched without adding latency: the first draft of a batch queues a `Flush`
//! behind whatever is already in the mailbox, so everything published meanwhile is persisted in
//! one transaction (group commit), then routed in order.
//!
//! Routing is the store actor's (see there): every event goes to the live-feed hub, and
//! problem and recovery events nudge the incident manager.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::context::{roles, Ctx};
use crate::event::EventDraft;
use crate::store_actor::commit;

pub struct BusActor;

/// Most drafts persisted in one transaction: bounds the batch's memory and commit time.
const BATCH_EVENTS_MAX: usize = 256;

pub struct BusState {
    ctx: Arc<Ctx>,
    /// Drafts waiting for the next flush, in publish order.
    pending: Vec<EventDraft>,
}

pub enum BusMsg {
    /// Persist, then route. Fire-and-forget: publishers never wait on subscribers.
    Publish(EventDraft),
    /// Persist and route everything pending.
    Flush,
    /// Persist a batch pushed in from outside in one transaction, route it, and reply with
    /// the seqs it got once it is durable: the caller acknowledges only what is on disk.
    Ingest(Vec<EventDraft>, RpcReplyPort<Result<Vec<u64>, String>>),
}

impl Actor for BusActor {
    type Msg = BusMsg;
    type State = BusState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(BusState {
            ctx,
            pending: Vec::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BusMsg::Publish(draft) => {
                state.pending.push(draft);
                if state.pending.len() >= BATCH_EVENTS_MAX {
                    state.flush().await;
                } else if state.pending.len() == 1 {
                    myself.cast(BusMsg::Flush)?;
                }
            }
            BusMsg::Flush => state.flush().await,
            BusMsg::Ingest(drafts, reply) => {
                state.flush().await; // what was published before goes first
                                     // A caller that timed out was told the events were not recorded, and may
                                     // send them again: recording them now would make duplicates.
                if !reply.is_closed() {
                    let _ = reply.send(state.persist_and_route(drafts).await);
                }
            }
        }
        Ok(())
    }
}

impl BusState {
    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let drafts = std::mem::take(&mut self.pending);
        let count = drafts.len();
        if let Err(error) = self.persist_and_route(drafts).await {
            tracing::error!(%error, events = count, "events not persisted; not routed");
        }
    }

    /// Persists `drafts` in one transaction (the store actor then routes them in order);
    /// returns their seqs.
    async fn persist_and_route(&self, drafts: Vec<EventDraft>) -> Result<Vec<u64>, String> {
        let events = commit(&self.ctx, drafts, Vec::new())
            .await
            .map_err(|error| error.to_string())?;
        Ok(events.iter().map(|event| event.seq).collect())
    }
}

/// Publishes through the bus of `ctx`'s kernel; a no-op (logged) while the bus is restarting.
pub fn publish(ctx: &Ctx, draft: EventDraft) {
    match ctx.scope.lookup::<BusMsg>(roles::BUS) {
        Some(bus) => {
            if let Err(error) = bus.cast(BusMsg::Publish(draft)) {
                tracing::warn!(%error, "bus refused an event");
            }
        }
        None => tracing::warn!(event_type = %draft.event_type, "bus unavailable; event dropped"),
    }
}

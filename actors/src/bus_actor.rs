//! The event bus: every event goes through here to be persisted (by the store actor) and then
//! routed, so nothing is pushed that is not already in the log.
//!
//! Publishing is batched without adding latency: the first draft of a batch queues a `Flush`
//! behind whatever is already in the mailbox, so everything published meanwhile is persisted in
//! one transaction (group commit), then routed in order.
//!
//! Routes are static: every event goes to the live-feed hub (which fans out to pattern
//! subscribers), and problem and recovery events also go to the incident manager. Routing by
//! registered name means a restarted recipient keeps getting events without re-subscribing.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::context::{roles, Ctx, RPC_TIMEOUT_MS};
use crate::event::{classify, EventClass, EventDraft};
use crate::feed_actor::FeedMsg;
use crate::incidents_actor::IncidentsMsg;
use crate::store_actor::StoreMsg;

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
        let scope = &self.ctx.scope;
        let Some(store) = scope.lookup::<StoreMsg>(roles::STORE) else {
            tracing::error!(events = drafts.len(), "store unavailable; events dropped");
            return;
        };
        let persisted = ractor::call_t!(store, StoreMsg::Append, RPC_TIMEOUT_MS, drafts);
        let events = match persisted {
            Ok(Ok(events)) => events,
            Ok(Err(error)) => {
                tracing::error!(%error, "events not persisted; not routed");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "store did not answer; events not routed");
                return;
            }
        };
        for event in events {
            let event = Arc::new(event);
            if classify(&event.event_type) != EventClass::Info {
                if let Some(incidents) = scope.lookup::<IncidentsMsg>(roles::INCIDENTS) {
                    let _ = incidents.cast(IncidentsMsg::Observe(event.clone()));
                }
            }
            if let Some(feed) = scope.lookup::<FeedMsg>(roles::FEED) {
                let _ = feed.cast(FeedMsg::Push(event));
            }
        }
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

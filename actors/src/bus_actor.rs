//! The event bus: every event goes through here to be persisted (by the store actor) and then
//! routed, so nothing is pushed that is not already in the log.
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

pub struct BusState {
    ctx: Arc<Ctx>,
}

pub enum BusMsg {
    /// Persist, then route. Fire-and-forget: publishers never wait on subscribers.
    Publish(EventDraft),
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
        Ok(BusState { ctx })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let BusMsg::Publish(draft) = msg;
        let scope = &state.ctx.scope;
        let Some(store) = scope.lookup::<StoreMsg>(roles::STORE) else {
            tracing::error!(event_type = %draft.event_type, "store unavailable; event dropped");
            return Ok(());
        };
        let persisted = ractor::call_t!(store, StoreMsg::Append, RPC_TIMEOUT_MS, vec![draft]);
        let events = match persisted {
            Ok(Ok(events)) => events,
            Ok(Err(error)) => {
                tracing::error!(%error, "event not persisted; not routed");
                return Ok(());
            }
            Err(error) => {
                tracing::error!(%error, "store did not answer; event not routed");
                return Ok(());
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
        Ok(())
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

//! The live-feed hub: fans persisted events out to pattern subscribers (WebSocket clients, tests)
//! through bounded channels.
//!
//! A subscriber whose buffer is full is dropped rather than waited for, so one slow client can
//! never hold up the hub or the bus behind it. It notices its channel closed and can resume from
//! the log with the last seq it saw.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::mpsc;

use crate::context::Ctx;
use crate::event::{Event, Pattern};

pub struct FeedActor;

struct Subscriber {
    patterns: Vec<Pattern>,
    tx: mpsc::Sender<Arc<Event>>,
}

pub struct FeedState {
    subscribers: Vec<Subscriber>,
    buffer_max: usize,
}

pub enum FeedMsg {
    /// A persisted event to fan out.
    Push(Arc<Event>),
    /// Subscribe to events matching any of the patterns (all events when empty).
    Subscribe(Vec<Pattern>, RpcReplyPort<mpsc::Receiver<Arc<Event>>>),
}

impl Actor for FeedActor {
    type Msg = FeedMsg;
    type State = FeedState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(FeedState {
            subscribers: Vec::new(),
            buffer_max: ctx.spec.limits.ws_buffer_max.max(1),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            FeedMsg::Push(event) => state.subscribers.retain(|subscriber| {
                let wanted = subscriber.patterns.is_empty()
                    || subscriber
                        .patterns
                        .iter()
                        .any(|pattern| pattern.matches(&event.event_type));
                // Full or closed: either way this subscriber is cut off.
                !wanted || subscriber.tx.try_send(event.clone()).is_ok()
            }),
            FeedMsg::Subscribe(patterns, reply) => {
                let (tx, rx) = mpsc::channel(state.buffer_max);
                if reply.send(rx).is_ok() {
                    state.subscribers.push(Subscriber { patterns, tx });
                }
            }
        }
        Ok(())
    }
}

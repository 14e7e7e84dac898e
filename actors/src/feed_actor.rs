//! The live-feed hub: fans persisted events out to pattern subscribers (WebSocket clients, tests)
//! through bounded channels.
//!
//! A subscriber whose buffer is full is dropped rather than waited for, so one slow client can
//! never hold up the hub or the bus behind it. It notices its channel closed and can resume from
//! the log with the last seq it saw.
//!
//! The hub only ever passes on consecutive seqs. If it is handed a gap (events the store
//! committed after the bus stopped waiting for it), it cuts every subscriber off, and each
//! resumes from the log, where those events are.
//!
//! Its mailbox is bounded by what the store actor hands it: at most `limits.feed_lag_max`
//! events in flight (`progress.feed_in_flight`, taken off here as each is handled), then one
//! `Lagged` marker, where the hub cuts every subscriber off the same way.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::mpsc;

use crate::context::Ctx;
use crate::event::{Event, Pattern};
use crate::protocol::feed::FeedMsg;

pub struct FeedActor;

struct Subscriber {
    patterns: Vec<Pattern>,
    tx: mpsc::Sender<Arc<Event>>,
}

pub struct FeedState {
    ctx: Arc<Ctx>,
    subscribers: Vec<Subscriber>,
    buffer_max: usize,
    /// The seq of the last event passed on.
    last_seq: Option<u64>,
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
        // What the store actor counted for a hub before this one died with it.
        ctx.progress.feed_in_flight.store(0, Ordering::Release);
        Ok(FeedState {
            subscribers: Vec::new(),
            buffer_max: ctx.spec().limits.ws_buffer_max.max(1),
            last_seq: None,
            ctx,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            FeedMsg::Push(event) => {
                state.ctx.progress.feed_taken();
                if let Some(ms) = crate::failpoints::hold_ms("feed.push") {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
                match state.last_seq {
                    Some(last) if event.seq <= last => return Ok(()),
                    Some(last) if event.seq > last + 1 => {
                        tracing::warn!(
                            last,
                            next = event.seq,
                            "gap in the feed; subscribers resume from the log"
                        );
                        state.subscribers.clear();
                    }
                    _ => {}
                }
                state.last_seq = Some(event.seq);
                state.subscribers.retain(|subscriber| {
                    let wanted = subscriber.patterns.is_empty()
                        || subscriber
                            .patterns
                            .iter()
                            .any(|pattern| pattern.matches(&event.event_type));
                    // Full or closed: either way this subscriber is cut off.
                    !subscriber.tx.is_closed()
                        && (!wanted || subscriber.tx.try_send(event.clone()).is_ok())
                });
            }
            FeedMsg::Lagged { from_seq } => {
                state.ctx.progress.feed_taken();
                tracing::warn!(
                    from_seq,
                    "the feed fell limits.feed_lag_max behind; subscribers resume from the log"
                );
                state.subscribers.clear();
            }
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

//! The event bus: every event published or pushed in goes through here to be persisted (and
//! then routed) by the store actor, so nothing is pushed that is not already in the log.
//!
//! Committing is batched without adding latency: the first draft of a batch queues a `Flush`
//! behind whatever is already in the mailbox, so everything published or pushed in meanwhile
//! is persisted in one transaction (group commit), then routed in order. Sixteen clients each
//! posting one event share one fsync instead of queueing for sixteen.
//!
//! Routing is the store actor's (see there): every event goes to the live-feed hub, and
//! problem and recovery events nudge the incident manager.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::context::Ctx;
use crate::event::EventDraft;
use crate::protocol::bus::{BusMsg, IngestReply};
use crate::protocol::store::commit;

pub struct BusActor;

/// Most events committed in one transaction: bounds the batch's memory and commit time (two
/// full `POST /events` batches fit).
const BATCH_EVENTS_MAX: usize = 2_048;

/// Drafts waiting for the next commit: published by an actor (no reply), or pushed in from
/// outside (the caller waits for the seqs).
struct Waiting {
    drafts: Vec<EventDraft>,
    reply: Option<IngestReply>,
}

pub struct BusState {
    ctx: Arc<Ctx>,
    /// What waits for the next flush, in arrival order.
    pending: Vec<Waiting>,
    pending_events: usize,
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
            pending_events: 0,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BusMsg::Publish(draft) => state.add(&myself, vec![draft], None).await?,
            BusMsg::Ingest(drafts, reply) => state.add(&myself, drafts, Some(reply)).await?,
            BusMsg::Flush => state.flush().await,
            BusMsg::Commit {
                drafts,
                writes,
                reply,
            } => {
                state.flush().await;
                // A caller that stopped waiting was told its commit failed: committing it
                // now would make the store say otherwise.
                if reply.is_closed() {
                    tracing::warn!("a commit whose caller stopped waiting was dropped");
                } else {
                    let _ = reply.send(commit(&state.ctx.scope, drafts, writes).await);
                }
            }
            BusMsg::Barrier(reply) => {
                state.flush().await;
                let _ = reply.send(crate::protocol::store::barrier(&state.ctx.scope).await);
            }
        }
        Ok(())
    }
}

impl BusState {
    /// Queues drafts for the next commit: the first of a batch queues a `Flush` behind what is
    /// already in the mailbox, so everything that arrives meanwhile shares one transaction.
    async fn add(
        &mut self,
        myself: &ActorRef<BusMsg>,
        drafts: Vec<EventDraft>,
        reply: Option<IngestReply>,
    ) -> Result<(), ActorProcessingErr> {
        let first = self.pending.is_empty();
        self.pending_events += drafts.len();
        self.pending.push(Waiting { drafts, reply });
        self.ctx.metrics.queue("bus_events", self.pending_events);
        if self.pending_events >= BATCH_EVENTS_MAX {
            self.flush().await;
        } else if first {
            myself.cast(BusMsg::Flush)?;
        }
        Ok(())
    }

    /// Commits everything pending in one transaction (the store actor then routes it) and
    /// answers each caller with its own seqs.
    async fn flush(&mut self) {
        self.pending_events = 0;
        self.ctx.metrics.queue("bus_events", 0);
        // A caller that timed out was told its events were not recorded, and may send them
        // again: recording them now would make duplicates.
        let mut waiting: Vec<Waiting> = std::mem::take(&mut self.pending)
            .into_iter()
            .filter(|w| w.reply.as_ref().is_none_or(|reply| !reply.is_closed()))
            .collect();
        let mut drafts = Vec::new();
        let mut counts = Vec::with_capacity(waiting.len());
        for w in &mut waiting {
            counts.push(w.drafts.len());
            drafts.append(&mut w.drafts);
        }
        if drafts.is_empty() {
            return;
        }
        match commit(&self.ctx.scope, drafts, Vec::new()).await {
            Ok(events) => {
                let mut seqs = events.iter().map(|event| event.seq);
                for (w, count) in waiting.into_iter().zip(counts) {
                    let mine: Vec<u64> = seqs.by_ref().take(count).collect();
                    if let Some(reply) = w.reply {
                        let _ = reply.send(Ok(mine));
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "events not persisted; not routed");
                for reply in waiting.into_iter().filter_map(|w| w.reply) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
        }
    }
}

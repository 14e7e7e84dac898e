//! The event bus: every event published or pushed in goes through here to be persisted (and
//! then routed) by the store actor, so nothing is pushed that is not already in the log.
//!
//! Committing is batched without adding latency: the first draft of a batch queues a `Flush`
//! behind whatever is already in the mailbox, so everything published or pushed in meanwhile
//! is persisted in one transaction (group commit), then routed in order. Sixteen clients each
//! posting one event share one fsync instead of queueing for sixteen. An actor's commit of
//! records takes what is pending along, in the same transaction.
//!
//! Routing is the store actor's (see there): every event goes to the live-feed hub, and
//! problem and recovery events nudge the incident manager.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::context::Ctx;
use crate::event::EventDraft;
use crate::protocol::bus::{BusMsg, IngestReply};
use crate::protocol::store::{commit, CommitReply};
use crate::store::Write;

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
                // A caller that stopped waiting was told its commit failed: committing it
                // now would make the store say otherwise.
                if reply.is_closed() {
                    tracing::warn!("a commit whose caller stopped waiting was dropped");
                    state.flush().await;
                } else {
                    state.commit_with_pending(drafts, writes, reply).await;
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
        let batch = self.take();
        if !batch.drafts.is_empty() {
            self.commit_alone(batch).await;
        }
    }

    /// Commits `batch`'s drafts in a transaction of their own and answers their callers.
    async fn commit_alone(&self, mut batch: Batch) {
        let drafts = std::mem::take(&mut batch.drafts);
        let committed = commit(&self.ctx.scope, drafts, Vec::new()).await;
        batch.answer(committed.as_deref().map_err(|error| error.to_string()));
    }

    /// Commits an actor's drafts and records together with what is pending, in one transaction
    /// (the pending drafts first: they came first): one commit's fixed cost and fsync instead
    /// of two. When the commit fails (the actor's guard or fence refused it, or what it wrote
    /// did not go in), the pending drafts are committed on their own — the failure is not theirs.
    async fn commit_with_pending(
        &mut self,
        drafts: Vec<EventDraft>,
        writes: Vec<Write>,
        reply: CommitReply,
    ) {
        let batch = self.take();
        if batch.drafts.is_empty() {
            let _ = reply.send(commit(&self.ctx.scope, drafts, writes).await);
            return;
        }
        let theirs = batch.drafts.len();
        let mut all = batch.drafts.clone();
        all.extend(drafts);
        match commit(&self.ctx.scope, all, writes).await {
            Ok(mut events) => {
                let mine = events.split_off(theirs);
                batch.answer(Ok(&events));
                let _ = reply.send(Ok(mine));
            }
            Err(error) => {
                // Refused (a guard, the fence) or failed for what the actor wrote: what came
                // before it is not at fault, and still lands — on its own — before the actor
                // is answered. A store that is down fails this commit too, and says so.
                self.commit_alone(batch).await;
                let _ = reply.send(Err(error));
            }
        }
    }

    /// Takes what is pending, leaving out callers that stopped waiting: one that timed out was
    /// told its events were not recorded, and may send them again — recording them now would
    /// make duplicates.
    fn take(&mut self) -> Batch {
        self.pending_events = 0;
        self.ctx.metrics.queue("bus_events", 0);
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
        Batch {
            waiting,
            counts,
            drafts,
        }
    }
}

/// What was pending at a commit: the drafts in arrival order, and whom to answer.
struct Batch {
    waiting: Vec<Waiting>,
    /// How many of `drafts` each of `waiting` sent.
    counts: Vec<usize>,
    drafts: Vec<EventDraft>,
}

impl Batch {
    /// Answers each caller with its own seqs, or the error that failed the commit.
    fn answer(self, committed: Result<&[Arc<crate::event::Event>], String>) {
        match committed {
            Ok(events) => {
                let mut seqs = events.iter().map(|event| event.seq);
                for (w, count) in self.waiting.into_iter().zip(self.counts) {
                    let mine: Vec<u64> = seqs.by_ref().take(count).collect();
                    if let Some(reply) = w.reply {
                        let _ = reply.send(Ok(mine));
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "events not persisted; not routed");
                for reply in self.waiting.into_iter().filter_map(|w| w.reply) {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::event::EventDraft;
    use crate::probe::Probes;
    use crate::protocol::bus::{commit_in_order, publish};
    use crate::spec::TreeSpec;
    use crate::store::{StoreLocation, Write};
    use crate::Kernel;

    fn draft(event_type: &str) -> EventDraft {
        EventDraft::new(event_type, json!({}))
    }

    // One thread: the bus runs only when the test awaits, so the published event is surely
    // pending when the commit comes.
    #[tokio::test]
    async fn a_commit_of_records_takes_what_is_pending_along_and_a_refused_one_leaves_it_be() {
        let kernel = Kernel::start(
            TreeSpec::default(),
            &StoreLocation::Memory,
            Probes::default(),
        )
        .await
        .unwrap();
        let scope = kernel.scope();
        // Published first, so pending when the commit comes: one transaction, in that order.
        publish(scope, draft("test.pending"));
        let mine = commit_in_order(scope, vec![draft("test.mine")], Vec::new())
            .await
            .unwrap();
        let logged = kernel.store().events_after(0, 100).await.unwrap();
        let types: Vec<&str> = logged.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["test.pending", "test.mine"]);
        assert_eq!(mine.len(), 1, "the committer gets its own events only");
        assert_eq!(mine[0].seq, logged[1].seq);
        assert_eq!(logged[0].at, logged[1].at, "one commit: one time for both");

        // A commit whose guard refuses it: the pending event still lands, on its own.
        publish(scope, draft("test.pending_again"));
        let guard = Write::Expect {
            table: "execution",
            key: json!("no-such-run"),
            status: "running",
        };
        let refused = commit_in_order(scope, vec![draft("test.refused")], vec![guard]).await;
        assert!(refused.unwrap_err().is_stale());
        let logged = kernel.store().events_after(2, 100).await.unwrap();
        let types: Vec<&str> = logged.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["test.pending_again"]);
    }
}

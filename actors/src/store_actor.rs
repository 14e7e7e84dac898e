//! The store actor: the one writer of the event log and the authority on `seq`.
//!
//! It hands out strictly increasing sequence numbers and makes each batch durable in a single
//! transaction before anyone may push it. On (re)start it resumes from the log's high-water mark,
//! so a restart never reuses or skips a seq.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::context::Ctx;
use crate::event::{Event, EventDraft};
use crate::store::StoreError;

pub struct StoreActor;

pub struct StoreState {
    ctx: Arc<Ctx>,
    last_seq: u64,
}

pub enum StoreMsg {
    /// Sequence and persist drafts in one transaction; replies with the persisted events.
    Append(
        Vec<EventDraft>,
        RpcReplyPort<Result<Vec<Event>, Arc<StoreError>>>,
    ),
}

impl Actor for StoreActor {
    type Msg = StoreMsg;
    type State = StoreState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let last_seq = ctx.store.last_seq().await?;
        Ok(StoreState { ctx, last_seq })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StoreMsg::Append(drafts, reply) => {
                let at = crate::time::now();
                let events: Vec<Event> = drafts
                    .into_iter()
                    .zip(state.last_seq + 1..)
                    .map(|(draft, seq)| draft.sequenced(seq, at))
                    .collect();
                let result = match state.ctx.store.append_events(&events).await {
                    Ok(()) => {
                        state.last_seq += events.len() as u64;
                        Ok(events)
                    }
                    Err(error) => {
                        tracing::error!(%error, "event log append failed");
                        Err(Arc::new(error))
                    }
                };
                // The caller may have given up waiting; the events are durable either way.
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
}

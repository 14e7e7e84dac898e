//! The retention actor: compacts the store in the background, every `retention.interval_ms`,
//! by the rules in `retention.rs`.
//!
//! It removes at most CHUNK_MAX records per message and sends itself the next chunk, so a large
//! first compaction never holds a long transaction and stops at once when the tree does.
//! It is the one actor that deletes; it never touches what another actor may still change
//! (open incidents, runs in progress, pending deliveries, events not yet applied).

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::context::Ctx;
use crate::protocol::retention::RetentionMsg;
use crate::store::{Compacted, StoreError};

/// Records removed per transaction.
const CHUNK_MAX: usize = 5_000;

pub struct RetentionActor;

pub struct RetentionState {
    ctx: Arc<Ctx>,
    /// What is left to compact in this round, first first.
    round: Vec<Step>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Events,
    Records(Compacted),
}

impl Actor for RetentionActor {
    type Msg = RetentionMsg;
    type State = RetentionState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.send_after(interval(&ctx), || RetentionMsg::Round);
        Ok(RetentionState {
            ctx,
            round: Vec::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RetentionMsg::Round => {
                state.round = std::iter::once(Step::Events)
                    .chain(Compacted::ALL.into_iter().map(Step::Records))
                    .rev()
                    .collect();
                myself.send_after(interval(&state.ctx), || RetentionMsg::Round);
            }
            RetentionMsg::Next => {}
        }
        let Some(step) = state.round.last().copied() else {
            return Ok(());
        };
        match state.chunk(step).await {
            Ok(removed) if removed > 0 => {}
            Ok(_) => {
                state.round.pop();
            }
            Err(error) => {
                // A store refusing writes is reported by the store actor; try next round.
                tracing::warn!(%error, ?step, "compaction failed");
                state.round.clear();
            }
        }
        if !state.round.is_empty() {
            myself.cast(RetentionMsg::Next)?;
        }
        Ok(())
    }
}

fn interval(ctx: &Ctx) -> Duration {
    Duration::from_millis(ctx.spec().retention.interval_ms)
}

impl RetentionState {
    /// Removes one chunk of `step`; returns how many records went.
    async fn chunk(&self, step: Step) -> Result<usize, StoreError> {
        let spec = self.ctx.spec().retention;
        let now = crate::time::now();
        match step {
            Step::Records(kind) => {
                let removed = self
                    .ctx
                    .store
                    .compact(kind, &spec.records, now, CHUNK_MAX)
                    .await?;
                if removed > 0 {
                    tracing::info!(removed, table = kind.name(), "compacted");
                }
                Ok(removed)
            }
            Step::Events => self.events_chunk(&spec.events, now).await,
        }
    }

    async fn events_chunk(
        &self,
        keep: &crate::retention::Keep,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StoreError> {
        let store = &self.ctx.store;
        let Some(first) = store.first_seq().await? else {
            return Ok(0);
        };
        let last = store.last_seq().await?;
        let applied = self
            .ctx
            .progress
            .incidents_at
            .load(std::sync::atomic::Ordering::Acquire);
        let young_since = now - chrono::Duration::milliseconds(keep.max_age_ms as i64);
        let first_young = self.first_young(first, last, young_since).await?;
        let Some(cut) = crate::retention::events_cut(keep, last, applied, first_young) else {
            return Ok(0);
        };
        if cut < first {
            return Ok(0);
        }
        let to = cut.min(first + CHUNK_MAX as u64 - 1);
        let removed = store.remove_events(first, to).await?;
        if removed > 0 {
            tracing::info!(from = first, to = first + removed - 1, "compacted events");
        }
        Ok(removed as usize)
    }

    /// The seq of the oldest event at or after `since` in `first..=last` (`last + 1` when
    /// there is none): seqs and times grow together, so a binary search of point reads.
    async fn first_young(
        &self,
        first: u64,
        last: u64,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        let (mut low, mut high) = (first, last.saturating_add(1));
        while low < high {
            let mid = low + (high - low) / 2;
            match self.ctx.store.event_at(mid).await? {
                Some(at) if at >= since => high = mid,
                _ => low = mid + 1,
            }
        }
        Ok(low)
    }
}

//! The incident manager: applies problem and recovery events from the log to incidents, moves
//! incidents through their lifecycle on command, and owns component trust.
//!
//! The decisions are [`IncidentBook`]'s; this actor feeds it and makes its changes durable.
//! The event log, not the mailbox, is the source of truth: the store actor only nudges
//! (`Observe`: "the log has news"), and the actor takes what follows its watermark a page at a
//! time — from the store actor's queue of what it just committed when that follows on without a
//! gap (`signals.rs`), from the log otherwise. Each page is applied in memory and committed in one transaction: the incidents and
//! trust it changed, the events announcing them, and the new watermark. So a crash between two
//! pages replays nothing twice and loses nothing, and an event routed while this actor was
//! restarting is still handled.
//!
//! Starting never waits on pending work: the active incidents are loaded after the tree is up
//! (`post_start`) and the backlog is caught up a page per message, so commands (acknowledge,
//! resolve) wait at most one page however long the backlog is.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::book::IncidentBook;
use super::changes::Changes;
use crate::context::Ctx;
use crate::protocol::incidents::{IncidentError, IncidentsMsg};
use crate::ticks::Ticker;

/// How often the log is checked for news that no nudge announced.
const CATCH_UP_INTERVAL_MS: u64 = 5_000;
/// How often active incidents are checked against their `escalate_after_ms`.
const OVERDUE_CHECK_MS: u64 = 1_000;

/// Which of `IncidentsState::tickers` sends what.
const CATCH_UP: usize = 0;
const CHECK_OVERDUE: usize = 1;

/// How a commit reaches the store actor.
#[derive(Debug, Clone, Copy)]
pub(super) enum Via {
    /// Through the bus, after everything published before it (a run's end before the
    /// resolution it causes).
    Bus,
    /// Straight to the store actor.
    Store,
}

pub struct IncidentsActor;

pub struct IncidentsState {
    pub(super) ctx: Arc<Ctx>,
    pub(super) myself: ActorRef<IncidentsMsg>,
    pub(super) book: IncidentBook,
    /// Every event up to this seq has been applied.
    pub(super) watermark: u64,
    /// The watermark as last committed: a page that changes nothing commits it only once it
    /// is `catch_up::WATERMARK_STORE_EVENTS` behind (other nodes' intake waits on it).
    pub(super) stored_watermark: u64,
    /// A `NextPage` is in the mailbox: nudges meanwhile need no page of their own.
    pub(super) page_pending: bool,
    /// The core matches what is durable. False only when a failed commit could not be
    /// followed by a reload; the actor then stops and its restart rebuilds from the store.
    pub(super) consistent: bool,
    /// Overdue incidents whose work order was asked for and has not come back yet, with when,
    /// so one is not asked for twice (but again after OVERDUE_RETRY_MS, should the first ask
    /// have been lost). Bounded by the active incidents.
    pub(super) overdue_asked: HashMap<u64, std::time::Instant>,
    /// The periodic `CatchUp` and `CheckOverdue`, each at most one waiting (none before
    /// `post_start`).
    pub(super) tickers: Option<[Ticker; 2]>,
}

impl Actor for IncidentsActor {
    type Msg = IncidentsMsg;
    type State = IncidentsState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        // Only the watermark now (one record), so intake's lag is right from the first
        // request; the active set is loaded after the tree is up.
        let watermark = ctx.store.incidents_progress().await?.watermark;
        ctx.progress.incidents_applied(watermark);
        Ok(IncidentsState {
            ctx,
            myself,
            book: IncidentBook::default(),
            watermark,
            stored_watermark: watermark,
            page_pending: false,
            consistent: true,
            overdue_asked: HashMap::new(),
            tickers: None,
        })
    }

    /// Loads the active incidents after the tree is up, then catches up in the background.
    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.reload().await?;
        state.reconcile_runs().await?;
        state.schedule_page();
        let every = Duration::from_millis;
        state.tickers = Some([
            Ticker::start(&myself, every(CATCH_UP_INTERVAL_MS), || {
                IncidentsMsg::CatchUp
            }),
            Ticker::start(&myself, every(OVERDUE_CHECK_MS), || {
                IncidentsMsg::CheckOverdue
            }),
        ]);
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if !state.consistent {
            return Err("incidents out of step with the store; restarting from it".into());
        }
        match msg {
            IncidentsMsg::CatchUp => state.catch_up_tick().await?,
            IncidentsMsg::Observe if state.page_pending => {}
            IncidentsMsg::Observe => state.page().await?,
            IncidentsMsg::NextPage => {
                state.page_pending = false;
                state.page().await?;
            }
            IncidentsMsg::Acknowledge(id, by, reply) => state.acknowledge(id, by, reply).await,
            IncidentsMsg::Resolve(id, by, reply) => state.resolve(id, by, reply).await,
            IncidentsMsg::Decide {
                incident_id,
                suggestion_id,
                approve,
                by,
                reply,
            } => {
                let decision = (suggestion_id.as_str(), approve, &by);
                state.decide(incident_id, decision, reply).await
            }
            IncidentsMsg::RunStarted {
                incident_id,
                run_id,
            } => {
                let started = |book: &mut IncidentBook, out: &mut Changes| {
                    book.run_started(incident_id, run_id, out);
                    Ok(())
                };
                state.command(started).await?
            }
            msg @ (IncidentsMsg::RunFinished { .. } | IncidentsMsg::Escalate { .. }) => {
                state.handed_over(msg).await
            }
            IncidentsMsg::Suggest {
                incident_id,
                suggestion,
            } => {
                let suggest = |book: &mut IncidentBook, out: &mut Changes| {
                    book.suggest(incident_id, suggestion, out);
                    Ok(())
                };
                state.command(suggest).await?
            }
            IncidentsMsg::CheckOverdue => state.overdue_tick(),
            // A step whose sub-agent stopped waiting (its ask timed out, or it was stopped) has
            // failed already, and may be tried again: moving trust now would count it twice.
            IncidentsMsg::TrustStep(_, reply) if reply.is_closed() => {}
            IncidentsMsg::TrustStep(step, reply) => {
                let _ = reply.send(state.trust_step(*step).await);
            }
            IncidentsMsg::Query(query) => state.answer(query),
            IncidentsMsg::Barrier(reply) => {
                let _ = reply.send(());
            }
            IncidentsMsg::Reconcile => state.reconcile_runs().await?,
        }
        Ok(())
    }
}

impl IncidentsState {
    /// The periodic look at the log: a page, unless one is on its way already.
    async fn catch_up_tick(&mut self) -> Result<(), IncidentError> {
        self.tick_taken(CATCH_UP);
        match self.page_pending {
            true => Ok(()),
            false => self.page().await,
        }
    }

    /// The periodic look for incidents past their `escalate_after_ms`.
    fn overdue_tick(&mut self) {
        self.tick_taken(CHECK_OVERDUE);
        self.check_overdue()
    }

    /// The periodic message `which` was taken from the mailbox: its next may be sent.
    fn tick_taken(&self, which: usize) {
        if let Some(tickers) = &self.tickers {
            tickers[which].taken();
        }
    }
}

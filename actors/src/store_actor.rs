//! The store actor: the one writer of the event log and the authority on `seq`.
//!
//! Each batch is made durable in a single transaction that gives its events their seqs, from
//! the log's head as the transaction reads it — together with the records the batch announces, when an actor commits state
//! changes (an outbox: what is saved is always announced) — before anyone may see it. Then it
//! routes the batch, in seq order: every event to the live feed, and a nudge to the incident
//! manager when the batch holds problem or recovery events, or when info events alone have
//! put it NUDGE_LAG_MIN behind. Being the one router, it hands the feed every seq in order.
//! In a cluster the other nodes append to the same log: their events are found between the
//! head this actor knew and where its own commit landed, or when a live query on the log's
//! head says it moved (with a look every LOG_FOLLOW_MS should a notification be lost), and
//! are routed like its own, in their place. Each commit's problem and recovery
//! events are also handed to the incident manager in memory (`signals.rs`), so it need not read
//! them back from the log. On (re)start it resumes from the
//! log's high-water mark, so a restart never reuses or skips a seq.
//!
//! It is also the one owner of people's silences: each change is decided against what is kept
//! and committed with its announcement in one transaction, one at a time.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::context::{Ctx, Duties};
use crate::delivery::Alert;
use crate::event::{classify, Event, EventDraft};
use crate::model::StoreFailure;
use crate::payload::StoreRecovered;
use crate::payload::{SilenceCreated, SilenceExpired};
use crate::protocol::bus::publish;
use crate::protocol::feed::FeedMsg;
use crate::protocol::incidents::IncidentsMsg;
use crate::protocol::notifier::NotifierMsg;
use crate::protocol::store::{SilenceChange, SilenceRefused, StoreMsg};
use crate::protocol::{Feed, Incidents, Notifier};
use crate::signals::Span;
use crate::silence::{expired, make_room, Room, Silence, SILENCES_MAX};
use crate::store::{Appended, StoreError, Write};
use crate::ticks::Ticker;

pub struct StoreActor;

/// Events without problems or recoveries the incident manager may fall behind before a commit
/// nudges it anyway (its periodic check passes fewer within seconds).
const NUDGE_LAG_MIN: u64 = 256;

/// A commit's events as the log took them, before they are routed.
struct Landed {
    /// The log's head just before them.
    after: u64,
    events: Vec<Arc<Event>>,
}

/// How often a node of a cluster looks for events other nodes appended even without a live
/// notification: what a client of its feed waits at most should one be lost (the live query
/// ends with its connection and is made again at the next look).
const LOG_FOLLOW_MS: u64 = 1_000;

/// Most events read from the log at once while routing other nodes' events.
const FOLLOW_PAGE_EVENTS: usize = 256;

pub struct StoreState {
    ctx: Arc<Ctx>,
    last_seq: u64,
    /// The feed hub was told `Lagged` and is handed nothing until it has taken everything in
    /// flight (`progress.feed_in_flight`).
    feed_lagged: bool,
    /// Sends `Follow` while other nodes append to the log too.
    follow: Option<Ticker>,
    /// Sends `Follow` when the log's head moves (a live query), at most one waiting.
    head_watch: Option<HeadWatch>,
}

/// The task that turns the live query's notifications into `Follow`s; stopped with the actor.
struct HeadWatch {
    task: tokio::task::JoinHandle<()>,
    /// A `Follow` it sent waits in the mailbox.
    asked: Arc<std::sync::atomic::AtomicBool>,
}

impl HeadWatch {
    async fn start(ctx: &Ctx, me: ActorRef<StoreMsg>) -> Result<Self, StoreError> {
        use futures_util::StreamExt;
        let mut moves = ctx.store.head_moves().await?;
        let asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = asked.clone();
        let task = tokio::spawn(async move {
            while moves.next().await.is_some() {
                if !flag.swap(true, Ordering::AcqRel) && me.cast(StoreMsg::Follow).is_err() {
                    return; // the actor is gone
                }
            }
        });
        Ok(Self { task, asked })
    }
}

impl Drop for HeadWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Actor for StoreActor {
    type Msg = StoreMsg;
    type State = StoreState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let last_seq = ctx.store.last_seq().await?;
        ctx.progress.log_head.store(last_seq, Ordering::Release);
        let period = std::time::Duration::from_millis(LOG_FOLLOW_MS);
        let follow = ctx
            .store
            .is_shared()
            .then(|| Ticker::start(&myself, period, || StoreMsg::Follow));
        let mut state = StoreState {
            ctx,
            last_seq,
            feed_lagged: false,
            follow,
            head_watch: None,
        };
        if state.ctx.store.is_shared() {
            state.watch_head(&myself).await;
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StoreMsg::Commit {
                drafts,
                writes,
                reply,
            } => {
                // A caller that stopped waiting was told its commit failed (intake answered
                // "not recorded"; an actor reads the store again): committing it now would
                // make the store say otherwise. One that stops waiting during the commit
                // cannot be helped: its outcome is unknown to it, and it waits for a
                // `Barrier` before reading again.
                if reply.is_closed() {
                    tracing::warn!("a commit whose caller stopped waiting was dropped");
                } else {
                    // The caller hears as soon as its events are durable; routing them (after
                    // any other node's that came first) follows before the next message.
                    match state.commit(drafts, &writes).await {
                        Ok(landed) => {
                            let _ = reply.send(Ok(landed.events.clone()));
                            state.land(landed).await;
                        }
                        Err(error) => {
                            let _ = reply.send(Err(error));
                        }
                    }
                }
            }
            StoreMsg::Barrier(reply) => {
                let _ = reply.send(());
            }
            StoreMsg::Follow => {
                state.follow.iter().for_each(Ticker::taken);
                state.watch_head(&myself).await;
                if let Err(error) = state.follow().await {
                    tracing::warn!(%error, "cannot read what other nodes appended to the log");
                }
            }
            StoreMsg::Silence(change, reply) => {
                let _ = reply.send(state.silence(change).await);
            }
        }
        Ok(())
    }
}

impl StoreState {
    /// Decides a silence change against the board (kept as stored), commits it with its
    /// announcement and any silence removed to make room, then updates the board. The one
    /// place silences change: messages are handled one at a time, so two requests at the cap
    /// cannot both pass it.
    async fn silence(&mut self, change: SilenceChange) -> Result<Silence, SilenceRefused> {
        let now = crate::time::now();
        let kept = self.ctx.silences.read().expect("silences poisoned").clone();
        let (silence, removed, draft) = match change {
            SilenceChange::Create(silence) => {
                let removed = match make_room(&kept, SILENCES_MAX, now) {
                    Room::Free => None,
                    Room::Remove(id) => Some(id),
                    Room::Full => return Err(SilenceRefused::Full(SILENCES_MAX)),
                };
                let created = SilenceCreated {
                    silence: silence.clone(),
                };
                (silence, removed, EventDraft::of(&created))
            }
            SilenceChange::Expire { id, by } => {
                let found = kept.into_iter().find(|s| s.id == id);
                let silence = expired(found.ok_or(SilenceRefused::NoSuch(id))?, now);
                let expired = SilenceExpired {
                    silence: silence.clone(),
                    by,
                };
                (silence, None, EventDraft::of(&expired))
            }
        };
        let mut writes = vec![Write::Silence(Box::new(silence.clone()))];
        writes.extend(removed.clone().map(Write::SilenceRemoved));
        let landed = self
            .commit(vec![draft], &writes)
            .await
            .map_err(SilenceRefused::Save)?;
        self.land(landed).await;
        let mut board = self.ctx.silences.write().expect("silences poisoned");
        board.retain(|s| Some(&s.id) != removed.as_ref() && s.id != silence.id);
        board.push(silence.clone());
        Ok(silence)
    }

    /// Commits `drafts` and `writes` in one transaction; the events as the log took them, to
    /// be routed with [`StoreState::land`].
    async fn commit(
        &mut self,
        drafts: Vec<EventDraft>,
        writes: &[Write],
    ) -> Result<Landed, Arc<StoreError>> {
        let started = std::time::Instant::now();
        let committed = self.ctx.store.commit(drafts, writes).await;
        let metrics = &self.ctx.metrics;
        metrics
            .store_commit_seconds
            .observe(started.elapsed().as_secs_f64());
        let Appended { after, events } = match committed {
            Ok(appended) => appended,
            Err(error) if error.is_stale() || error.is_refusal() => {
                // A guard found its record changed, or the fence its lease taken, or other
                // nodes' commits kept winning: the store is fine, this commit was late.
                tracing::info!(%error, "a commit was refused; nothing written");
                return Err(Arc::new(error));
            }
            Err(error) => {
                tracing::error!(%error, "commit to the store failed");
                metrics.store_commit_failures.inc();
                self.failed(&error);
                return Err(Arc::new(error));
            }
        };
        metrics.events_committed.inc_by(events.len() as u64);
        self.succeeded();
        let events = events.into_iter().map(Arc::new).collect();
        Ok(Landed { after, events })
    }

    /// Routes a commit's events in their place: after other nodes' events that landed before
    /// them, read from the log.
    async fn land(&mut self, Landed { after, events }: Landed) {
        if events.is_empty() {
            return;
        }
        if after > self.last_seq {
            if let Err(error) = self.route_others(after).await {
                // They are durable; this node's clients and incident manager find them in the
                // log (the feed's gap cuts its clients off, who resume with `since`).
                tracing::warn!(%error, "cannot read other nodes' events; skipped");
                self.last_seq = after;
            }
        }
        self.advance(events);
    }

    /// Takes a `Follow` of the live query's; makes the live query (again) when there is none
    /// or it ended with its connection.
    async fn watch_head(&mut self, myself: &ActorRef<StoreMsg>) {
        match &self.head_watch {
            Some(watch) if !watch.task.is_finished() => {
                watch.asked.store(false, Ordering::Release);
            }
            _ => match HeadWatch::start(&self.ctx, myself.clone()).await {
                Ok(watch) => self.head_watch = Some(watch),
                Err(error) => {
                    tracing::warn!(%error, "no live query on the log's head; looking every {LOG_FOLLOW_MS} ms")
                }
            },
        }
    }

    /// Looks for events other nodes appended since the head this actor knew, and routes them.
    /// On a standby node, also how far the leader's incident manager got: intake here waits
    /// on it as it would on the leader.
    async fn follow(&mut self) -> Result<(), StoreError> {
        crate::metrics::CLUSTER.store_requests.inc();
        let head = self.ctx.store.last_seq().await?;
        if head > self.last_seq {
            self.route_others(head).await?;
        }
        if self.ctx.duties == Duties::Serve {
            crate::metrics::CLUSTER.store_requests.inc();
            let applied = self.ctx.store.incidents_progress().await?.watermark;
            self.ctx.progress.incidents_applied(applied);
        }
        Ok(())
    }

    /// Reads the log from the head this actor knew up to `head` a page at a time, and routes
    /// each page as if it had committed it.
    async fn route_others(&mut self, head: u64) -> Result<(), StoreError> {
        while self.last_seq < head {
            let page_max = FOLLOW_PAGE_EVENTS.min((head - self.last_seq) as usize);
            crate::metrics::CLUSTER.store_requests.inc();
            let page = self.ctx.store.events_after(self.last_seq, page_max).await?;
            if page.is_empty() {
                // Retention removed them before this node read them: go on from the oldest.
                match self.ctx.store.first_seq().await? {
                    Some(first) if first > self.last_seq + 1 => {
                        self.last_seq = (first - 1).min(head)
                    }
                    _ => {
                        let missing = format!("the log has no events past {}", self.last_seq);
                        return Err(StoreError::Unavailable(missing));
                    }
                }
                continue;
            }
            let page: Vec<Arc<Event>> = page.into_iter().map(Arc::new).collect();
            crate::hearing::hear(&self.ctx, &page).await;
            self.advance(page);
        }
        Ok(())
    }

    /// Events now in the log right after `last_seq`: queued for the incident manager, the
    /// head moved past them, and routed.
    fn advance(&mut self, events: Vec<Arc<Event>>) {
        if let (Some(first), Some(last)) = (events.first(), events.last()) {
            // Before the head moves, so a reader that sees the head finds the span.
            let signals = events.iter().filter(|e| is_signal(e)).cloned().collect();
            let span = Span {
                first: first.seq,
                last: last.seq,
                signals,
            };
            self.ctx
                .signals
                .lock()
                .expect("signal queue poisoned")
                .push(span);
        }
        if let Some(last) = events.last() {
            // By seq, not by count: a page that retention cut short starts past last_seq + 1.
            self.last_seq = self.last_seq.max(last.seq);
        }
        let progress = &self.ctx.progress;
        progress.log_head.store(self.last_seq, Ordering::Release);
        self.route(&events);
    }

    /// A commit failed: Grace is degraded until one succeeds. The first failure is told to the
    /// webhooks at once, without the store.
    fn failed(&self, error: &StoreError) {
        let mut health = self.ctx.store_health.lock().expect("store health poisoned");
        if let Some(failure) = health.as_mut() {
            failure.reason = error.to_string();
            failure.failed_commits += 1;
            return;
        }
        let failure = StoreFailure {
            since: crate::time::now(),
            reason: error.to_string(),
            failed_commits: 1,
        };
        *health = Some(failure.clone());
        self.alert(Alert::StoreFailing(failure));
    }

    /// A commit succeeded: if the store had been failing, that is over; say so.
    fn succeeded(&self) {
        let ended = self
            .ctx
            .store_health
            .lock()
            .expect("store health poisoned")
            .take();
        let Some(failure) = ended else {
            return;
        };
        let until = crate::time::now();
        tracing::warn!(since = %failure.since, failed_commits = failure.failed_commits, "the store takes writes again");
        publish(
            &self.ctx.scope,
            EventDraft::of(&StoreRecovered {
                since: failure.since,
                until,
                reason: failure.reason.clone(),
                failed_commits: failure.failed_commits,
            })
            .source("grace/store".to_owned()),
        );
        self.alert(Alert::StoreRecovered { failure, until });
    }

    fn alert(&self, alert: Alert) {
        let _ = self
            .ctx
            .scope
            .tell::<Notifier>(NotifierMsg::Alert(Box::new(alert)));
    }

    /// Passes committed events on, in seq order.
    fn route(&mut self, events: &[Arc<Event>]) {
        if self.ctx.duties == Duties::All {
            for event in events {
                self.ctx.metrics.incident_announced(event);
            }
            // Without routes nobody is paged: the pager is not handed anything to look at.
            if !self.ctx.spec().routes.is_empty() {
                let progress = &self.ctx.progress;
                let (in_flight, resync) = (&progress.pager_in_flight, &progress.pager_resync);
                crate::protocol::pager::hand(&self.ctx.scope, in_flight, resync, events);
            }
        }
        if let Ok(feed) = self.ctx.scope.find::<Feed>() {
            let lag_max = self.ctx.spec().limits.feed_lag_max;
            for event in events {
                self.feed(&feed, event, lag_max);
            }
        }
        let scope = &self.ctx.scope;
        // Problems and recoveries are news. So is a lag that has grown past NUDGE_LAG_MIN
        // without them: the incident manager's watermark has to pass info events too, or intake
        // (which waits on that lag) would refuse a flood of them while nothing nudged it. Its own
        // announcements alone do not wake it.
        let lag = self.ctx.progress.incidents_lag();
        let news = events.iter().any(|event| is_signal(event)) || lag >= NUDGE_LAG_MIN;
        let nudged = &self.ctx.progress.incidents_nudged;
        // Restarting when told: it catches up from the log when it is back.
        if news
            && !nudged.swap(true, Ordering::AcqRel)
            && scope.tell::<Incidents>(IncidentsMsg::Observe).is_err()
        {
            nudged.store(false, Ordering::Release);
        }
    }
}

impl StoreState {
    /// Hands one event to the feed hub, at most `lag_max` in flight. Past it the hub is sent one
    /// `Lagged` instead, and nothing more until it has taken everything in flight; then events
    /// flow again, and the gap tells the hub to cut off whoever subscribed meanwhile. The log
    /// holds every event, so each client cut off resumes from it with `since`.
    fn feed(&mut self, feed: &ractor::ActorRef<FeedMsg>, event: &Arc<Event>, lag_max: usize) {
        let in_flight = &self.ctx.progress.feed_in_flight;
        let waiting = in_flight.load(Ordering::Acquire);
        if self.feed_lagged && waiting > 0 {
            return;
        }
        self.feed_lagged = waiting >= lag_max;
        let msg = match self.feed_lagged {
            true => FeedMsg::Lagged {
                from_seq: event.seq,
            },
            false => FeedMsg::Push(event.clone()),
        };
        in_flight.fetch_add(1, Ordering::AcqRel);
        if feed.cast(msg).is_err() {
            self.ctx.progress.feed_taken();
        }
    }
}

/// Whether the incident manager needs to see an event: a problem or a recovery.
fn is_signal(event: &Event) -> bool {
    !classify(&event.event_type, &event.data).is_info()
}

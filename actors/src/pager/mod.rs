//! The pager: tells people about incidents along `[[routes]]` — after `wait_ms`, reminding
//! every `repeat_ms`, escalating through `levels` — until someone acknowledges or it heals.
//!
//! It hears every incident announcement the store actor commits (`PagerMsg::Heard`), keeps
//! the incidents some route takes with their pages, and on each change and each tick asks the
//! pure book (`paging::decide`) what is due. Every tell is committed once, as the page row,
//! the pending deliveries and an `incident.notified` on the incident's timeline in one
//! transaction, then handed to the notifier. At start it loads the pages not yet done and the
//! active incidents, so a crash forgets nothing, and a tell is decided again only if its commit
//! never landed, so none is sent twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::context::Ctx;
use crate::event::Event;
use crate::paging::{Facts, Page};
use crate::protocol::pager::PagerMsg;
use crate::ticks::Ticker;

mod commit;
mod load;

/// Incidents watched at once; past it the newest are not paged (and a warning says so).
pub const WATCHED_MAX: usize = 50_000;
/// How often due pages are looked at: the resolution of `wait_ms`, `repeat_ms` and levels.
const TICK_MS: u64 = 250;
/// A commit that failed is tried again this much later.
const RETRY_MS: i64 = 1_000;
/// Most incidents decided into one commit: each may add a page row, a delivery per receiver
/// (with its body) and an event per tell.
const INCIDENTS_PER_COMMIT_MAX: usize = 256;
/// Most commits in one round before the mailbox is looked at again.
const COMMITS_PER_ROUND_MAX: usize = 8;

pub struct PagerActor;

pub struct PagerState {
    ctx: Arc<Ctx>,
    watched: HashMap<u64, Watched>,
    ticker: Option<Ticker>,
    /// The spec whose routes it last loaded for: a reload that changes them has it load again.
    loaded_for: Arc<crate::spec::TreeSpec>,
}

/// One incident some route takes.
struct Watched {
    facts: Facts,
    /// Its page on each route that takes it; `persisted`: a row of it exists.
    pages: BTreeMap<String, (Page, bool)>,
    /// When to decide again without news.
    next_at: Option<DateTime<Utc>>,
}

impl Actor for PagerActor {
    type Msg = PagerMsg;
    type State = PagerState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        ctx.progress.pager_in_flight.store(0, Ordering::Release);
        Ok(PagerState {
            loaded_for: ctx.spec(),
            ctx,
            watched: HashMap::new(),
            ticker: None,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state
            .ctx
            .progress
            .pager_resync
            .store(false, Ordering::Release);
        state.load().await?;
        state.ticker = Some(Ticker::start(
            &myself,
            Duration::from_millis(TICK_MS),
            || PagerMsg::Tick,
        ));
        state.decide_due().await;
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PagerMsg::Heard(events) => {
                state.ctx.progress.pager_taken();
                state.heard(&events);
            }
            PagerMsg::Tick => {
                if let Some(ticker) = &state.ticker {
                    ticker.taken();
                }
                let resync = state
                    .ctx
                    .progress
                    .pager_resync
                    .swap(false, Ordering::AcqRel);
                let spec = state.ctx.spec();
                if resync || spec.routes != state.loaded_for.routes {
                    state.loaded_for = spec;
                    state.load().await?;
                }
            }
        }
        state.decide_due().await;
        Ok(())
    }
}

impl PagerState {
    /// Takes in what the announcements say of their incidents: each is due at once.
    fn heard(&mut self, events: &[Arc<Event>]) {
        for event in events {
            let Some(incident) = event.data.get("incident") else {
                continue;
            };
            // A repeat carries only what repeats change: nothing a page depends on.
            if let Ok(facts) = serde_json::from_value::<Facts>(incident.clone()) {
                self.learn(facts, &[]);
            }
        }
    }

    /// Watches `facts`' incident on the routes that take it, with `stored` pages of it.
    fn learn(&mut self, facts: Facts, stored: &[Page]) {
        let spec = self.ctx.spec();
        let routes = crate::spec::routes_for(
            &spec.routes,
            &facts.source,
            &facts.event_type,
            facts.severity,
            &facts.labels,
        );
        let id = facts.id;
        if !self.watched.contains_key(&id)
            && (routes.is_empty()
                || facts.status == crate::model::IncidentStatus::Resolved && stored.is_empty())
        {
            return;
        }
        if !self.watched.contains_key(&id) && self.watched.len() >= WATCHED_MAX {
            tracing::warn!(
                incident = id,
                "pager watches {WATCHED_MAX} incidents: not paging this one"
            );
            return;
        }
        let episode = facts.relapses;
        let watched = self.watched.entry(id).or_insert_with(|| Watched {
            facts: facts.clone(),
            pages: BTreeMap::new(),
            next_at: None,
        });
        watched.facts = facts;
        for page in stored {
            watched
                .pages
                .insert(page.route_id.clone(), (page.clone(), true));
        }
        for route in routes {
            watched
                .pages
                .entry(route.id.clone())
                .or_insert_with(|| (Page::new(id, &route.id, episode), false));
        }
        watched.next_at = Some(crate::time::now());
    }

    /// Decides the watched incidents that are due, and commits what it tells: at most
    /// [`INCIDENTS_PER_COMMIT_MAX`] to a commit (a storm of pages must not make one transaction
    /// larger than the store's memtable), at most [`COMMITS_PER_ROUND_MAX`] commits before the
    /// mailbox is looked at again; the rest stay due for the next tick.
    async fn decide_due(&mut self) {
        let now = crate::time::now();
        let due: Vec<u64> = self
            .watched
            .iter()
            .filter(|(_, w)| w.next_at.is_some_and(|at| at <= now))
            .map(|(id, _)| *id)
            .collect();
        let chunks = due
            .chunks(INCIDENTS_PER_COMMIT_MAX)
            .take(COMMITS_PER_ROUND_MAX);
        for chunk in chunks {
            if !self.commit_round(chunk, now).await {
                return;
            }
        }
    }

    /// Decides and commits `due`; false when the commit failed (they are tried again later).
    async fn commit_round(&mut self, due: &[u64], now: DateTime<Utc>) -> bool {
        let decided = commit::decide(&self.ctx, &self.watched, due, now);
        match commit::commit(&self.ctx, &decided, now).await {
            Ok(()) => {
                self.apply(decided);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "pages not committed: tried again shortly");
                let later = now + chrono::Duration::milliseconds(RETRY_MS);
                for id in due {
                    if let Some(watched) = self.watched.get_mut(id) {
                        watched.next_at = Some(later);
                    }
                }
                false
            }
        }
    }

    /// The decisions are committed: their pages are what is now told.
    fn apply(&mut self, decided: Vec<commit::Decided>) {
        for one in decided {
            let Some(watched) = self.watched.get_mut(&one.incident_id) else {
                continue;
            };
            for (route_id, page, persisted) in one.pages {
                watched.pages.insert(route_id, (page, persisted));
            }
            watched.next_at = one.next_at;
            if watched.pages.values().all(|(page, _)| page.done) {
                self.watched.remove(&one.incident_id);
            }
        }
    }
}

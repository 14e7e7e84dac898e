//! The incident manager's catch-up: it takes the log after its watermark a page at a time —
//! from the store actor's queue of what it just committed when that follows on without a gap
//! (`signals.rs`), from the log otherwise — applies each page to the book in memory and commits
//! it in one transaction with the new watermark.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::actor::{IncidentsState, Via};
use super::book::IncidentBook;
use super::changes::{Changes, Facts, Rules};
use crate::event::{classify, Event};
use crate::model::{component_subject, TrustScore};
use crate::protocol::incidents::{Handed, IncidentError, IncidentsMsg};
use crate::store::StoreError;
use grace_core::incidents::recently_healed::RECENT_MAX;

/// Events read from the log, applied and committed together: large enough to amortise a
/// commit, small enough that a command waits little behind one page (a page of 256 new
/// incidents takes about 80 ms here; 512 kept an acknowledge waiting up to 250 ms).
const CATCH_UP_PAGE_EVENTS: usize = 256;

/// How far the stored watermark may trail the one in memory when the pages since changed
/// nothing (info events): a cluster's standby nodes read it to hold their intake back as the
/// leader holds its own (`limits.incidents_lag_max`, 4,096 by default), so it must move well
/// within that. A replay after a crash reads at most this many events again, changing nothing.
pub(super) const WATERMARK_STORE_EVENTS: u64 = 1_024;

impl IncidentsState {
    /// Rebuilds the core from the store: at start, and after a commit failed (the core was
    /// ahead of what is durable). First it waits for every commit sent before (a commit that
    /// timed out may still be landing: read before it, the book would apply its page again).
    pub(super) async fn reload(&mut self) -> Result<(), StoreError> {
        crate::protocol::bus::barrier(&self.ctx.scope)
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        let progress = self.ctx.store.incidents_progress().await?;
        let active = self.ctx.store.active_incidents().await?;
        let active_ids: Vec<u64> = active.iter().map(|incident| incident.id).collect();
        self.book = IncidentBook::new(active, progress.next_id);
        // The incidents healed lately, so a relapse after a restart still reopens its own.
        let window_ms = self.ctx.spec().incidents.reopen_window_ms;
        if window_ms > 0 {
            let resolved = self
                .ctx
                .store
                .resolved_incidents(None, RECENT_MAX, &active_ids);
            let now = crate::time::now();
            self.book.remember_resolved(resolved.await?, now, window_ms);
        }
        self.watermark = progress.watermark;
        self.stored_watermark = progress.watermark;
        self.consistent = true;
        self.publish_progress();
        Ok(())
    }

    pub(super) fn publish_progress(&self) {
        self.ctx.progress.incidents_applied(self.watermark);
    }

    /// Queues the next page of a catch-up behind whatever is in the mailbox.
    pub(super) fn schedule_page(&mut self) {
        if !self.page_pending && self.myself.cast(IncidentsMsg::NextPage).is_ok() {
            self.page_pending = true;
        }
    }

    /// One page of catch-up. A store that fails is no reason to stop: the page stays in the log
    /// and is tried again at the next nudge or periodic check (at most CATCH_UP_INTERVAL_MS).
    /// Only a core that could not be rebuilt after a failed commit ends the actor, so its
    /// restart starts from what is durable.
    pub(super) async fn page(&mut self) -> Result<(), IncidentError> {
        match self.catch_up_page().await {
            Err(error) if self.consistent => {
                tracing::warn!(%error, "incident catch-up failed; retried shortly");
                Ok(())
            }
            other => other,
        }
    }

    /// Applies one page of the log after the watermark and commits it; queues the next page
    /// when there may be more.
    pub(super) async fn catch_up_page(&mut self) -> Result<(), IncidentError> {
        // Whatever is committed from now on nudges again; what came before is in this read.
        let ctx = self.ctx.clone();
        let progress = &ctx.progress;
        progress.incidents_nudged.store(false, Ordering::Release);
        if progress.log_head.load(Ordering::Acquire) <= self.watermark {
            return Ok(());
        }
        let taken = self
            .ctx
            .signals
            .lock()
            .expect("signal queue poisoned")
            .take(self.watermark, CATCH_UP_PAGE_EVENTS);
        let (page, last) = match taken {
            Some((signals, last)) => (signals, last),
            None => self.read_page().await?,
        };
        if last == self.watermark {
            return Ok(());
        }
        let signals: Vec<&Event> = page.iter().map(|event| event.as_ref()).collect();
        self.learn_trust(&signals).await?;
        let (rules, facts) = self.rules_and_facts();
        let mut changes = Changes::default();
        for event in signals {
            self.book.apply(event, &rules, &facts, &mut changes);
        }
        self.watermark = last;
        let behind = self.watermark - self.stored_watermark.min(self.watermark);
        if changes.is_empty() && behind < WATERMARK_STORE_EVENTS {
            self.publish_progress(); // nothing to keep: a replay would change nothing either
        } else {
            self.commit(changes, Via::Bus, Handed::default()).await?;
            self.stored_watermark = self.watermark;
        }
        if progress.log_head.load(Ordering::Acquire) > self.watermark {
            self.schedule_page();
        }
        Ok(())
    }

    /// The problem and recovery events of the next page of the log after the watermark, and
    /// the seq the page ends at: the way back when the queue in memory has a gap.
    pub(super) async fn read_page(&self) -> Result<(Vec<Arc<Event>>, u64), StoreError> {
        let page = self
            .ctx
            .store
            .events_after(self.watermark, CATCH_UP_PAGE_EVENTS)
            .await?;
        let last = page.last().map_or(self.watermark, |event| event.seq);
        let signals = page
            .into_iter()
            .filter(|event| !classify(&event.event_type, &event.data).is_info())
            .map(Arc::new)
            .collect();
        Ok((signals, last))
    }

    /// Loads the trust of every component a new incident in `events` may need.
    pub(super) async fn learn_trust(&mut self, events: &[&Event]) -> Result<(), StoreError> {
        self.book.bound_trust_cache();
        let needed: HashSet<String> = events
            .iter()
            .filter_map(|event| self.book.trust_needed(event))
            .collect();
        let subjects: Vec<String> = needed.iter().map(|c| component_subject(c)).collect();
        let mut stored: HashMap<String, TrustScore> = self
            .ctx
            .store
            .trusts(&subjects)
            .await?
            .into_iter()
            .map(|score| (score.subject.clone(), score))
            .collect();
        for (component, subject) in needed.iter().zip(&subjects) {
            self.book.learn_trust(component, stored.remove(subject));
        }
        Ok(())
    }

    /// The config's rules, and what the monitors' status board says now: which monitors are
    /// down and which are silenced (each monitor posts its control with its status).
    pub(super) fn rules_and_facts(&self) -> (Rules, Facts) {
        let rules = Rules::from_spec(&self.ctx.spec());
        let now = crate::time::now();
        let mut facts = Facts {
            quiets: self.ctx.quiets(now),
            ..Facts::default()
        };
        for status in self.ctx.statuses() {
            if status.control.silenced_at(now) {
                facts.silenced.insert(status.id.clone());
            }
            if status.down && !status.refused {
                facts.down.insert(status.id);
            }
        }
        (rules, facts)
    }
}

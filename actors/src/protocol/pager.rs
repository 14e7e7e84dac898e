//! What the pager takes: incident announcements just committed, and its own clock.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::event::Event;

/// Batches of announcements handed to the pager and not yet taken: past it the store actor
/// drops them and the pager reads the active incidents again (`Progress::pager_resync`).
pub const PAGER_IN_FLIGHT_MAX: usize = 1_024;

pub enum PagerMsg {
    /// `incident.*` events of one commit, in log order.
    Heard(Vec<Arc<Event>>),
    /// Decide the pages that are due.
    Tick,
}

/// Hands the pager the incident announcements among `events` (the store actor, after each
/// commit), at most [`PAGER_IN_FLIGHT_MAX`] batches in flight (`in_flight`, taken off by the
/// pager); past it, or while the pager is away, `resync` has it read the incidents again.
pub fn hand(
    scope: &super::Scope,
    in_flight: &AtomicUsize,
    resync: &AtomicBool,
    events: &[Arc<Event>],
) {
    let heard: Vec<Arc<Event>> = events
        .iter()
        .filter(|event| is_announcement(&event.event_type))
        .cloned()
        .collect();
    if heard.is_empty() {
        return;
    }
    let full = in_flight.load(Ordering::Acquire) >= PAGER_IN_FLIGHT_MAX;
    if full || scope.tell::<super::Pager>(PagerMsg::Heard(heard)).is_err() {
        resync.store(true, Ordering::Release);
        return;
    }
    in_flight.fetch_add(1, Ordering::AcqRel);
}

/// The events whose `data.incident` is the whole incident as it now stands.
fn is_announcement(event_type: &str) -> bool {
    use crate::event::types::*;
    [
        INCIDENT_OPENED,
        INCIDENT_UPDATED,
        INCIDENT_ESCALATED,
        INCIDENT_RESOLVED,
        INCIDENT_REOPENED,
    ]
    .contains(&event_type)
}

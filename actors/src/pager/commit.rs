//! Turns the book's decisions into one commit: the page rows, the pending deliveries (with the
//! body each receiver kind is sent) and an `incident.notified` per tell on the incident's
//! timeline, then hands the deliveries to the notifier.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Watched;
use crate::context::Ctx;
use crate::event::EventDraft;
use crate::model::Delivery;
use crate::paging::{decide as book, notice, Facts, Page, Tell};
use crate::payload::IncidentNotified;
use crate::spec::{find_receiver, TreeSpec};
use crate::store::Write;

/// What was decided for one incident.
pub(super) struct Decided {
    pub incident_id: u64,
    /// Each route's page after the decision, and whether a row of it exists once committed.
    pub pages: Vec<(String, Page, bool)>,
    pub next_at: Option<DateTime<Utc>>,
    drafts: Vec<EventDraft>,
    writes: Vec<Write>,
    deliveries: Vec<Delivery>,
}

/// Asks the book about each page of the `due` incidents.
pub(super) fn decide(
    ctx: &Ctx,
    watched: &HashMap<u64, Watched>,
    due: &[u64],
    now: DateTime<Utc>,
) -> Vec<Decided> {
    let spec = ctx.spec();
    due.iter()
        .filter_map(|id| watched.get(id))
        .map(|one| decide_one(&spec, one, now))
        .collect()
}

fn decide_one(spec: &TreeSpec, watched: &Watched, now: DateTime<Utc>) -> Decided {
    let mut decided = Decided {
        incident_id: watched.facts.id,
        pages: Vec::new(),
        next_at: None,
        drafts: Vec::new(),
        writes: Vec::new(),
        deliveries: Vec::new(),
    };
    for (route_id, (page, persisted)) in &watched.pages {
        let Some(route) = spec.routes.iter().find(|r| &r.id == route_id) else {
            // A reload removed the route: its page ends here.
            let mut page = page.clone();
            page.done = true;
            decided.pages.push((route_id.clone(), page, *persisted));
            continue;
        };
        let decision = book(route, &watched.facts, page, now);
        for tell in &decision.tells {
            decided.tell(spec, &watched.facts, route_id, tell, now);
        }
        let write = *persisted || !decision.tells.is_empty();
        if write && (decision.page != *page || !decision.tells.is_empty()) {
            decided
                .writes
                .push(Write::Page(Box::new(decision.page.clone())));
        }
        decided.pages.push((route_id.clone(), decision.page, write));
        decided.next_at = match (decided.next_at, decision.next_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    decided
}

impl Decided {
    /// One tell: a pending delivery to each receiver, and its event.
    fn tell(
        &mut self,
        spec: &TreeSpec,
        facts: &Facts,
        route_id: &str,
        tell: &Tell,
        now: DateTime<Utc>,
    ) {
        let mut ids = Vec::new();
        for receiver_id in &tell.receivers {
            let Some(receiver) = find_receiver(&spec.receivers, &spec.webhooks, receiver_id) else {
                tracing::warn!(receiver = %receiver_id, route = %route_id, "no such receiver: not told");
                continue;
            };
            let body = notice::body(&receiver.kind, facts, tell, route_id, now);
            let delivery = crate::delivery::pending_to(receiver_id, facts.id, body);
            ids.push(delivery.delivery_id.clone());
            self.writes
                .push(Write::Delivery(Box::new(delivery.clone())));
            self.deliveries.push(delivery);
        }
        let notified = IncidentNotified {
            incident_id: facts.id,
            route: route_id.to_owned(),
            reason: tell.reason,
            level: tell.level,
            receivers: tell.receivers.clone(),
            deliveries: ids,
        };
        self.drafts
            .push(EventDraft::of(&notified).incident(facts.id));
    }
}

/// Commits every decision in one transaction, after everything published before it; then the
/// notifier sends the deliveries.
pub(super) async fn commit(
    ctx: &Arc<Ctx>,
    decided: &[Decided],
    _now: DateTime<Utc>,
) -> Result<(), String> {
    let drafts: Vec<EventDraft> = decided
        .iter()
        .flat_map(|d| d.drafts.iter().cloned())
        .collect();
    let writes: Vec<Write> = decided
        .iter()
        .flat_map(|d| d.writes.iter().cloned())
        .collect();
    if drafts.is_empty() && writes.is_empty() {
        return Ok(());
    }
    crate::protocol::bus::commit_in_order(&ctx.scope, drafts, writes)
        .await
        .map_err(|error| error.to_string())?;
    let deliveries: Vec<Delivery> = decided
        .iter()
        .flat_map(|d| d.deliveries.iter().cloned())
        .collect();
    crate::protocol::notifier::send(&ctx.scope, deliveries);
    Ok(())
}

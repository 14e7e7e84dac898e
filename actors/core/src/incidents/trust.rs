//! Component trust in the incident book: learned from the store as pages need it, dropped by
//! an incident, restored by a recovery or a playbook's step. What is known is the book's
//! [`TrustBook`](super::trust_book::TrustBook); here are the decisions and what they write.

use super::book::{source_of, IncidentBook};
use super::changes::Changes;
use super::trust_book::Adjusted;
use super::trust_book::TRUST_CACHE_MAX;
use crate::event::{classify, Event, EventClass, EventDraft};
use crate::model::{component_subject, TrustScore};
use crate::payload::TrustChanged;

impl IncidentBook {
    /// Whether the trust of `component` is known (else the actor loads it first).
    pub fn knows_trust(&self, component: &str) -> bool {
        self.trust.knows(component)
    }

    /// Hands the core a component's stored trust (or none: fully trusted).
    pub fn learn_trust(&mut self, component: &str, stored: Option<TrustScore>) {
        self.trust.learn(component, stored);
    }

    /// Forgets cached trust when the cache has grown past [`TRUST_CACHE_MAX`] (reloaded on
    /// demand). Between pages only: a page's decisions need what was learnt for it.
    pub fn bound_trust_cache(&mut self) {
        self.trust.bound(TRUST_CACHE_MAX);
    }

    /// The component a problem event would need the trust of: it opens a new incident.
    pub fn trust_needed(&self, event: &Event) -> Option<String> {
        let source = source_of(event);
        let is_problem = matches!(
            classify(&event.event_type, &event.data),
            EventClass::Problem { .. }
        );
        let new = !self
            .active
            .holds_key(&(source.clone(), event.event_type.clone()));
        (is_problem && new && !self.knows_trust(&source)).then_some(source)
    }

    /// Moves a component's trust by `delta` (fully trusted when unknown), writes the change
    /// (a first one creates its record) and returns the score.
    pub fn adjust_trust(&mut self, component: &str, delta: f64, out: &mut Changes) -> f64 {
        let Adjusted { from, now, first } = self.trust.adjust(component, delta);
        if first {
            out.new_trust.insert(component_subject(component));
        }
        out.drafts.push(
            EventDraft::of(&TrustChanged {
                subject: now.subject.clone(),
                from,
                to: now.score,
            })
            .source(component.to_owned()),
        );
        let score = now.score;
        out.trust.insert(now.subject.clone(), now);
        score
    }

    /// The component's trust (fully trusted when unknown).
    pub fn trust_of(&self, component: &str) -> f64 {
        self.trust.score(component)
    }
}

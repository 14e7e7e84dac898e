//! Component trust in the incident book: learned from the store as pages need it, dropped by
//! an incident, restored by a recovery or a playbook's step.

use super::book::{source_of, IncidentBook};
use super::changes::Changes;
use crate::event::{classify, Event, EventClass, EventDraft};
use crate::model::{component_subject, TrustScore};
use crate::payload::TrustChanged;

impl IncidentBook {
    /// Whether the trust of `component` is known (else the actor loads it first).
    pub fn knows_trust(&self, component: &str) -> bool {
        self.trust.contains_key(component)
    }

    /// Hands the core a component's stored trust (or none: fully trusted).
    pub fn learn_trust(&mut self, component: &str, stored: Option<TrustScore>) {
        let trust = stored.unwrap_or_else(|| {
            self.unstored_trust.insert(component.to_owned());
            TrustScore::component(component)
        });
        self.trust.insert(component.to_owned(), trust);
    }

    /// Forgets cached trust when the cache grows past `max` entries (reloaded on demand).
    pub fn bound_trust_cache(&mut self, max: usize) {
        if self.trust.len() > max {
            self.trust.clear();
            self.unstored_trust.clear();
        }
    }

    /// The component a problem event would need the trust of: it opens a new incident.
    pub fn trust_needed(&self, event: &Event) -> Option<String> {
        let source = source_of(event);
        let is_problem = matches!(
            classify(&event.event_type, &event.data),
            EventClass::Problem { .. }
        );
        let new = !self
            .by_key
            .contains_key(&(source.clone(), event.event_type.clone()));
        (is_problem && new && !self.knows_trust(&source)).then_some(source)
    }

    /// Moves a component's trust by `delta` (its trust must be known) and returns the score.
    pub fn adjust_trust(&mut self, component: &str, delta: f64, out: &mut Changes) -> f64 {
        if !self.trust.contains_key(component) {
            self.learn_trust(component, None);
        }
        if self.unstored_trust.remove(component) {
            out.new_trust.insert(component_subject(component));
        }
        let trust = self.trust.get_mut(component).expect("learnt above");
        let before = trust.score;
        trust.adjust(delta);
        out.drafts.push(
            EventDraft::of(&TrustChanged {
                subject: trust.subject.clone(),
                from: before,
                to: trust.score,
            })
            .source(component.to_owned()),
        );
        out.trust.insert(trust.subject.clone(), trust.clone());
        trust.score
    }

    /// The component's trust (fully trusted when unknown).
    pub fn trust_of(&self, component: &str) -> f64 {
        self.trust.get(component).map_or(1.0, |t| t.score)
    }
}

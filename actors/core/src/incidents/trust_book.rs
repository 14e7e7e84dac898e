//! The trust book: the component trust the incident book knows so far, a cache of what the
//! store holds. The actor hands it what a page needs (`learn`); a component it has never seen
//! scored is fully trusted and marked unstored, so the first change to it creates its record.
//!
//! **Invariants:** the unstored are a subset of the known; the cache is bounded — [`bound`]
//! (called between pages, never in one, whose decisions need what was learnt for it) starts
//! it over once past [`TRUST_CACHE_MAX`], and what is forgotten is read back on demand.
//!
//! [`bound`]: TrustBook::bound

use std::collections::{HashMap, HashSet};

use crate::model::TrustScore;

/// Component trust scores kept in memory; past it the cache starts over (read back on demand).
pub const TRUST_CACHE_MAX: usize = 200_000;

/// What a change of trust did: the score before, the score now, and whether it is the
/// component's first stored score.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjusted {
    pub from: f64,
    pub now: TrustScore,
    pub first: bool,
}

/// Component trust by component id.
#[derive(Debug, Default)]
pub struct TrustBook {
    scores: HashMap<String, TrustScore>,
    /// Components in `scores` that have no stored score yet.
    unstored: HashSet<String>,
}

impl TrustBook {
    /// Whether the trust of `component` is known (else the actor loads it first).
    pub fn knows(&self, component: &str) -> bool {
        self.scores.contains_key(component)
    }

    /// A component's stored trust (or none: fully trusted, and unstored).
    pub fn learn(&mut self, component: &str, stored: Option<TrustScore>) {
        let trust = match stored {
            Some(trust) => {
                self.unstored.remove(component);
                trust
            }
            None => {
                self.unstored.insert(component.to_owned());
                TrustScore::component(component)
            }
        };
        self.scores.insert(component.to_owned(), trust);
    }

    /// Starts the cache over when it holds more than `max` components.
    pub fn bound(&mut self, max: usize) {
        if self.scores.len() > max {
            self.scores.clear();
            self.unstored.clear();
        }
    }

    /// Moves a component's trust by `delta` (fully trusted when unknown).
    pub fn adjust(&mut self, component: &str, delta: f64) -> Adjusted {
        if !self.knows(component) {
            self.learn(component, None);
        }
        let first = self.unstored.remove(component);
        let trust = self.scores.get_mut(component).expect("learnt above");
        let from = trust.score;
        trust.adjust(delta);
        Adjusted {
            from,
            now: trust.clone(),
            first,
        }
    }

    /// The component's trust (fully trusted when unknown).
    pub fn score(&self, component: &str) -> f64 {
        self.scores.get(component).map_or(1.0, |t| t.score)
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::component_subject;

    fn stored(component: &str, score: f64) -> TrustScore {
        TrustScore {
            score,
            ..TrustScore::component(component)
        }
    }

    #[test]
    fn an_unknown_component_is_fully_trusted_and_its_first_change_is_its_first_record() {
        let mut book = TrustBook::default();
        assert!(!book.knows("db") && book.score("db") == 1.0);
        let adjusted = book.adjust("db", -0.3);
        assert!(adjusted.first && adjusted.from == 1.0);
        assert!((adjusted.now.score - 0.7).abs() < 1e-9);
        assert_eq!(adjusted.now.subject, component_subject("db"));
        let again = book.adjust("db", -0.3);
        assert!(!again.first, "stored by the first change");
        assert!((book.score("db") - 0.4).abs() < 1e-9);
    }

    #[test]
    fn a_stored_score_is_not_a_first_record_even_after_learning_none() {
        let mut book = TrustBook::default();
        book.learn("db", None);
        book.learn("db", Some(stored("db", 0.5)));
        let adjusted = book.adjust("db", 0.25);
        assert!(!adjusted.first, "the store has it");
        assert!((adjusted.from - 0.5).abs() < 1e-9);
    }

    #[test]
    fn past_its_bound_the_cache_starts_over_and_forgets_the_unstored_with_it() {
        let mut book = TrustBook::default();
        for n in 0..3 {
            book.learn(&format!("c{n}"), None);
        }
        book.bound(3);
        assert_eq!(book.len(), 3, "at the bound it stays");
        book.learn("c3", Some(stored("c3", 0.5)));
        book.bound(3);
        assert!(book.is_empty() && book.unstored.is_empty());
        // Read back on demand: an unstored component is unstored again.
        book.learn("c0", None);
        assert!(book.adjust("c0", -0.1).first);
    }
}

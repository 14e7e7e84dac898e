//! The incidents healed lately, by key: the memory a relapse is recognised by (the decision,
//! which heals count and for how long, is `relapses.rs`'s).
//!
//! **Invariants:** at most [`RECENT_MAX`] incidents are remembered, the oldest heal forgotten
//! first; one incident per key, the last healed (a key healed again replaces what it held,
//! and the older heal's turn to be forgotten does not forget the newer).

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};

use super::active_set::{key_of, IncidentKey};
use crate::model::Incident;

/// Most healed incidents remembered for a relapse.
pub const RECENT_MAX: usize = 1_000;

/// Healed incidents by key, and the order they were healed in.
#[derive(Debug, Default)]
pub struct RecentlyHealed {
    by_key: HashMap<IncidentKey, Incident>,
    /// Each heal remembered, oldest first, with when it was healed: an entry whose key holds
    /// a later heal (or none) is stale, and forgets nothing.
    order: VecDeque<(IncidentKey, Option<DateTime<Utc>>)>,
}

impl RecentlyHealed {
    /// Remembers `incident`, just healed, in place of any earlier heal of its key; past
    /// [`RECENT_MAX`] heals the oldest are forgotten.
    pub fn remember(&mut self, incident: &Incident) {
        let key = key_of(incident);
        self.by_key.insert(key.clone(), incident.clone());
        self.order.push_back((key, incident.resolved_at));
        while self.order.len() > RECENT_MAX {
            let (key, healed_at) = self.order.pop_front().expect("longer than the bound");
            if self
                .by_key
                .get(&key)
                .is_some_and(|kept| kept.resolved_at == healed_at)
            {
                self.by_key.remove(&key);
            }
        }
    }

    /// The healed incident of `key`, if remembered.
    pub fn get(&self, key: &IncidentKey) -> Option<&Incident> {
        self.by_key.get(key)
    }

    /// Forgets the healed incident of `key`, handing it back.
    pub fn take(&mut self, key: &IncidentKey) -> Option<Incident> {
        self.by_key.remove(key)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::incidents::tests::incident_on;

    /// Incident `id` on `source`, healed `s` seconds after the epoch.
    fn healed(id: u64, source: &str, s: i64) -> Incident {
        let mut incident = incident_on(id, source, "db.down");
        incident.resolved_at = Some(DateTime::UNIX_EPOCH + Duration::seconds(s));
        incident
    }

    fn key(source: &str) -> IncidentKey {
        (source.to_owned(), "db.down".to_owned())
    }

    #[test]
    fn past_the_bound_the_oldest_heal_is_forgotten_first() {
        let mut memory = RecentlyHealed::default();
        for n in 0..RECENT_MAX as u64 {
            memory.remember(&healed(n, &format!("c{n}"), n as i64));
        }
        assert_eq!(memory.len(), RECENT_MAX);
        memory.remember(&healed(9_999, "late", 9_999));
        assert_eq!(memory.len(), RECENT_MAX, "the bound holds");
        assert!(memory.get(&key("c0")).is_none(), "the oldest went");
        assert!(memory.get(&key("c1")).is_some() && memory.get(&key("late")).is_some());
        assert!(memory.order.len() <= RECENT_MAX);
    }

    #[test]
    fn a_key_healed_again_is_remembered_once_and_its_older_heal_forgets_nothing() {
        let mut memory = RecentlyHealed::default();
        memory.remember(&healed(1, "db", 1));
        memory.remember(&healed(1, "db", 2));
        assert_eq!(memory.len(), 1);
        // Push the first heal of db out of the order: db's later heal stays.
        for n in 0..RECENT_MAX as u64 - 1 {
            memory.remember(&healed(n + 10, &format!("c{n}"), 10 + n as i64));
        }
        let kept = memory.get(&key("db")).expect("the later heal stays");
        assert_eq!(kept.resolved_at, healed(1, "db", 2).resolved_at);
        // Its own turn comes next.
        memory.remember(&healed(5_000, "next", 5_000));
        assert!(memory.get(&key("db")).is_none());
    }

    #[test]
    fn a_heal_taken_is_forgotten_and_its_turn_forgets_nothing_else() {
        let mut memory = RecentlyHealed::default();
        memory.remember(&healed(1, "db", 1));
        assert_eq!(memory.take(&key("db")).map(|i| i.id), Some(1));
        assert!(memory.take(&key("db")).is_none() && memory.is_empty());
        // Healed anew: the taken heal's entry is stale, and does not forget the new one.
        memory.remember(&healed(2, "db", 3));
        for n in 0..RECENT_MAX as u64 - 1 {
            memory.remember(&healed(n + 10, &format!("c{n}"), 10 + n as i64));
        }
        assert!(
            memory.get(&key("db")).is_some(),
            "the stale entry went first"
        );
    }
}

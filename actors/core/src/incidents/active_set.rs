//! The active set: every incident not yet resolved, by id and by what it is deduplicated by
//! (its source and event type), and the next id to give. It owns both maps, so nothing else
//! can let them disagree: an incident goes in and comes out through [`ActiveSet::insert`] and
//! [`ActiveSet::take`], and is changed in place only through [`ActiveSet::edit`], which
//! re-indexes it if its key moved.
//!
//! **Invariants:** every active incident is indexed under its key, and every key points at
//! the active incident that has it; one active incident per key (the book opens one only
//! when its key has none); the next id is above every id held.

use std::collections::BTreeMap;

use crate::model::{Incident, IncidentStatus};

/// What an incident is deduplicated by: its source and event type.
pub type IncidentKey = (String, String);

/// The key `incident` is indexed under.
pub fn key_of(incident: &Incident) -> IncidentKey {
    (incident.source.clone(), incident.event_type.clone())
}

/// The active incidents and their index.
#[derive(Debug, Default)]
pub struct ActiveSet {
    /// By id; a BTreeMap so the newest are a range (the dashboard's page).
    by_id: BTreeMap<u64, Incident>,
    /// By (source, event_type); a BTreeMap so a source's incidents are a range.
    by_key: BTreeMap<IncidentKey, u64>,
    next_id: u64,
}

impl ActiveSet {
    /// The active incidents loaded from the store; ids go on from `next_id`, or past the
    /// highest loaded if that is higher.
    pub fn new(active: Vec<Incident>, next_id: u64) -> Self {
        let mut set = Self {
            next_id,
            ..Self::default()
        };
        for incident in active {
            set.insert(incident);
        }
        set
    }

    /// The id the next incident opened gets.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Gives out the next id.
    pub fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn get(&self, id: u64) -> Option<&Incident> {
        self.by_id.get(&id)
    }

    /// The active incident of `key`, if any.
    pub fn id_of(&self, key: &IncidentKey) -> Option<u64> {
        self.by_key.get(key).copied()
    }

    pub fn holds_key(&self, key: &IncidentKey) -> bool {
        self.by_key.contains_key(key)
    }

    /// The active incidents, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Incident> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Puts `incident` in the set (again, when it was taken out to be changed).
    pub fn insert(&mut self, incident: Incident) {
        let key = key_of(&incident);
        let held = self.by_key.insert(key, incident.id);
        debug_assert!(
            held.is_none_or(|held| held == incident.id),
            "one active incident per key: #{} has the key of #{held:?}",
            incident.id
        );
        self.next_id = self.next_id.max(incident.id + 1);
        self.by_id.insert(incident.id, incident);
    }

    /// Takes incident `id` out of the set.
    pub fn take(&mut self, id: u64) -> Option<Incident> {
        let incident = self.by_id.remove(&id)?;
        self.unindex(&key_of(&incident), id);
        Some(incident)
    }

    /// Changes incident `id` in place with `change`; what `change` returns, or `None` when
    /// `id` is not active.
    pub fn edit<R>(&mut self, id: u64, change: impl FnOnce(&mut Incident) -> R) -> Option<R> {
        let incident = self.by_id.get_mut(&id)?;
        let key = key_of(incident);
        let result = change(incident);
        let moved = key_of(incident);
        if moved != key {
            self.unindex(&key, id);
            let held = self.by_key.insert(moved, id);
            debug_assert!(
                held.is_none(),
                "one active incident per key: #{id} moved onto #{held:?}'s"
            );
        }
        Some(result)
    }

    /// Active incidents of `source`, in id order.
    pub fn of_source(&self, source: &str) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .by_key
            .range((source.to_owned(), String::new())..)
            .take_while(|((s, _), _)| s == source)
            .map(|(_, id)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Up to `limit` active incidents with ids below `before` (all when `None`) and, when
    /// `status` is given, in that status; newest first. Also how many match in all.
    pub fn newest(
        &self,
        before: Option<u64>,
        limit: usize,
        status: Option<IncidentStatus>,
    ) -> (Vec<Incident>, usize) {
        let matches = |incident: &&Incident| status.is_none_or(|s| incident.status == s);
        let total = match status {
            None => self.by_id.len(),
            Some(_) => self.by_id.values().filter(matches).count(),
        };
        let page = self
            .by_id
            .range(..before.unwrap_or(u64::MAX))
            .rev()
            .map(|(_, incident)| incident)
            .filter(matches)
            .take(limit)
            .cloned()
            .collect();
        (page, total)
    }

    /// The ids of the active incidents below `below`, ascending.
    pub fn ids_below(&self, below: u64) -> Vec<u64> {
        self.by_id.range(..below).map(|(id, _)| *id).collect()
    }

    /// How many active incidents have each status, in the order first seen (oldest first).
    pub fn count_by_status(&self) -> Vec<(IncidentStatus, usize)> {
        let mut counts: Vec<(IncidentStatus, usize)> = Vec::new();
        for incident in self.iter() {
            match counts
                .iter_mut()
                .find(|(status, _)| *status == incident.status)
            {
                Some((_, count)) => *count += 1,
                None => counts.push((incident.status, 1)),
            }
        }
        counts
    }

    /// Drops `key` from the index if it still points at `id` (not at another's).
    fn unindex(&mut self, key: &IncidentKey, id: u64) {
        if self.by_key.get(key) == Some(&id) {
            self.by_key.remove(key);
        }
    }
}

/// The active incident `id`; panics when it is not (for ids just listed from the set).
impl std::ops::Index<u64> for ActiveSet {
    type Output = Incident;

    fn index(&self, id: u64) -> &Incident {
        self.get(id).expect("an active incident")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::tests::incident_on;

    /// Whether the two maps agree: each incident indexed under its key, each key at its own.
    fn agrees(set: &ActiveSet) -> bool {
        let indexed = set
            .by_id
            .values()
            .all(|i| set.by_key.get(&key_of(i)) == Some(&i.id));
        let pointed = set
            .by_key
            .iter()
            .all(|(key, id)| set.by_id.get(id).is_some_and(|i| key_of(i) == *key));
        indexed && pointed && set.by_id.len() == set.by_key.len()
    }

    fn set_of(incidents: &[(u64, &str, &str)]) -> ActiveSet {
        let loaded = incidents
            .iter()
            .map(|(id, source, event_type)| incident_on(*id, source, event_type))
            .collect();
        ActiveSet::new(loaded, 1)
    }

    #[test]
    fn the_maps_agree_after_every_insert_take_and_edit() {
        let mut set = set_of(&[(1, "db", "db.down"), (2, "api", "http.down")]);
        assert!(agrees(&set));
        let key = ("db".to_owned(), "db.down".to_owned());
        assert_eq!(set.id_of(&key), Some(1));
        let taken = set.take(1).unwrap();
        assert!(agrees(&set) && !set.holds_key(&key) && set.get(1).is_none());
        assert_eq!(set.take(1), None, "taken already");
        set.insert(taken);
        assert!(agrees(&set) && set.id_of(&key) == Some(1));
        // An edit that moves the key moves the index with it.
        set.edit(2, |i| i.event_type = "http.slow".to_owned());
        assert!(agrees(&set));
        assert_eq!(
            set.id_of(&("api".to_owned(), "http.slow".to_owned())),
            Some(2)
        );
        assert!(!set.holds_key(&("api".to_owned(), "http.down".to_owned())));
        assert_eq!(set.edit(9, |_| ()), None, "not active");
        assert_eq!(set.len(), 2);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "one active incident per key")]
    fn a_second_incident_on_a_held_key_is_a_bug_caught_in_tests() {
        let mut set = set_of(&[(1, "db", "db.down")]);
        set.insert(incident_on(2, "db", "db.down"));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "one active incident per key")]
    fn an_edit_onto_a_held_key_is_a_bug_caught_in_tests() {
        let mut set = set_of(&[(1, "db", "db.down"), (2, "db", "db.slow")]);
        set.edit(2, |i| i.event_type = "db.down".to_owned());
    }

    #[test]
    fn ids_go_on_past_the_highest_loaded() {
        let mut set = ActiveSet::new(vec![incident_on(7, "db", "db.down")], 3);
        assert_eq!(set.next_id(), 8);
        assert_eq!((set.new_id(), set.new_id(), set.next_id()), (8, 9, 10));
        let mut set = ActiveSet::new(vec![incident_on(2, "db", "db.down")], 5);
        assert_eq!(set.new_id(), 5, "the stored next id stands when higher");
    }

    #[test]
    fn a_sources_incidents_are_in_id_order_and_no_other_sources() {
        let set = set_of(&[
            (5, "db", "a.down"),
            (2, "db", "z.down"),
            (3, "db-replica", "a.down"),
            (4, "d", "a.down"),
        ]);
        assert_eq!(set.of_source("db"), [2, 5]);
        assert_eq!(set.of_source("db-replica"), [3]);
        assert!(set.of_source("web").is_empty());
    }

    #[test]
    fn the_newest_page_is_newest_first_below_its_cursor_and_counts_all_that_match() {
        let mut set = set_of(&[(1, "a", "x"), (2, "b", "x"), (3, "c", "x"), (4, "d", "x")]);
        set.edit(3, |i| i.status = IncidentStatus::Acknowledged);
        let ids = |page: &[Incident]| page.iter().map(|i| i.id).collect::<Vec<_>>();
        let (page, total) = set.newest(None, 2, None);
        assert_eq!((ids(&page), total), (vec![4, 3], 4));
        let (page, total) = set.newest(Some(3), 5, None);
        assert_eq!((ids(&page), total), (vec![2, 1], 4));
        let (page, total) = set.newest(None, 5, Some(IncidentStatus::Open));
        assert_eq!((ids(&page), total), (vec![4, 2, 1], 3));
        assert_eq!(set.ids_below(3), [1, 2]);
        assert_eq!(
            set.count_by_status(),
            [(IncidentStatus::Open, 3), (IncidentStatus::Acknowledged, 1)]
        );
    }
}

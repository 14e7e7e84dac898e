//! The run gate: whether a playbook may run by itself on a component now, or a cooldown or an
//! open circuit breaker holds it. Pure: it remembers start times and is told the time, so every
//! window has a unit test.
//!
//! The memory is bounded (`breaker_runs_max` times per pair, `pairs_max` pairs) and kept in
//! memory only; the engine rebuilds it from the store's recent runs when it starts, so a
//! restart neither opens a breaker nor ends a cooldown.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use crate::spec::PlaybookSpec;

/// Most (playbook, component) pairs whose run times are remembered. Components come from
/// monitors and from pushed events, so this bounds what a flood of new sources can cost; past
/// it, the oldest memories are dropped.
pub const RUN_HISTORY_PAIRS_MAX: usize = 10_000;

/// A pair whose last start is older than this may be forgotten when the memory is full.
const FORGET_AFTER_MS: i64 = 3_600_000;

/// Why an automatic run does not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    Cooldown { left_ms: i64 },
    BreakerOpen { runs: usize },
}

impl Hold {
    /// The `reason` of `playbook.held`.
    pub fn reason(&self) -> &'static str {
        match self {
            Hold::Cooldown { .. } => "cooldown",
            Hold::BreakerOpen { .. } => "circuit_breaker",
        }
    }

    /// Why this hold keeps `playbook` from running on `source`, in words.
    pub fn detail(&self, playbook: &PlaybookSpec, source: &str) -> String {
        let name = playbook.display_name();
        match self {
            Hold::Cooldown { left_ms } => format!(
                "{name} ran on {source} less than {} ms ago; next run possible in {left_ms} ms",
                playbook.cooldown_ms
            ),
            Hold::BreakerOpen { runs } => format!(
                "circuit breaker open: {name} ran {runs} times on {source} within {} ms; \
                 automation stopped there until the window passes",
                playbook.breaker_window_ms
            ),
        }
    }
}

/// When each playbook last started on each component, newest last.
#[derive(Debug)]
pub struct RunGate {
    started: HashMap<(String, String), VecDeque<DateTime<Utc>>>,
    pairs_max: usize,
}

impl RunGate {
    pub fn new(pairs_max: usize) -> Self {
        Self {
            started: HashMap::new(),
            pairs_max,
        }
    }

    /// Whether the circuit breaker or the cooldown keeps `playbook` from running by itself on
    /// `source` at `now`. The breaker is checked first: it is the stronger hold.
    pub fn hold(
        &mut self,
        playbook: &PlaybookSpec,
        source: &str,
        now: DateTime<Utc>,
    ) -> Option<Hold> {
        let key = (playbook.id.clone(), source.to_owned());
        let started = self.started.get_mut(&key)?;
        let window = Duration::milliseconds(playbook.breaker_window_ms as i64);
        // The cooldown may be longer than the breaker's window: take the last start first.
        let last = started.back().copied();
        started.retain(|at| now - *at < window);
        if started.len() >= playbook.breaker_runs_max as usize {
            return Some(Hold::BreakerOpen {
                runs: started.len(),
            });
        }
        let cooldown = Duration::milliseconds(playbook.cooldown_ms as i64);
        let left = last.map(|last| (last + cooldown - now).num_milliseconds())?;
        (left > 0).then_some(Hold::Cooldown { left_ms: left })
    }

    /// Remembers that `playbook` started on `source` at `at`.
    pub fn remember(
        &mut self,
        playbook: &PlaybookSpec,
        source: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let key = (playbook.id.clone(), source.to_owned());
        if !self.started.contains_key(&key) && self.started.len() >= self.pairs_max {
            self.make_room(now);
        }
        let times = self.started.entry(key).or_default();
        times.push_back(at);
        while times.len() > playbook.breaker_runs_max as usize {
            times.pop_front();
        }
    }

    /// Forgets pairs idle for an hour; if the memory is still full (a flood of pushed sources),
    /// forgets the pair started longest ago, never all of them, so a real component's breaker
    /// stays as it is.
    fn make_room(&mut self, now: DateTime<Utc>) {
        let idle = Duration::milliseconds(FORGET_AFTER_MS);
        self.started
            .retain(|_, times| times.back().is_some_and(|last| now - *last < idle));
        if self.started.len() < self.pairs_max {
            return;
        }
        let oldest = self
            .started
            .iter()
            .min_by_key(|(_, times)| times.back().copied())
            .map(|(key, _)| key.clone());
        if let Some(oldest) = oldest {
            self.started.remove(&oldest);
        }
    }

    #[cfg(test)]
    fn pairs(&self) -> usize {
        self.started.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playbook(cooldown_ms: u64, breaker_runs_max: u32, breaker_window_ms: u64) -> PlaybookSpec {
        let mut playbook: PlaybookSpec = serde_json::from_value(serde_json::json!({
            "id": "db_reconnect", "on": ["db.*"], "steps": [{ "kind": "verify" }]
        }))
        .unwrap();
        playbook.cooldown_ms = cooldown_ms;
        playbook.breaker_runs_max = breaker_runs_max;
        playbook.breaker_window_ms = breaker_window_ms;
        playbook
    }

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::milliseconds(ms)
    }

    #[test]
    fn a_pair_never_started_is_not_held() {
        let mut gate = RunGate::new(10);
        assert_eq!(gate.hold(&playbook(1_000, 3, 60_000), "db", at(0)), None);
    }

    #[test]
    fn the_cooldown_holds_until_it_has_passed_on_that_component_only() {
        let playbook = playbook(1_000, 3, 60_000);
        let mut gate = RunGate::new(10);
        gate.remember(&playbook, "db", at(0), at(0));
        let held = gate.hold(&playbook, "db", at(400));
        assert_eq!(held, Some(Hold::Cooldown { left_ms: 600 }));
        assert_eq!(held.unwrap().reason(), "cooldown");
        assert_eq!(gate.hold(&playbook, "other-db", at(400)), None);
        assert_eq!(gate.hold(&playbook, "db", at(1_000)), None);
    }

    #[test]
    fn the_breaker_opens_at_runs_max_within_the_window_and_closes_after_it() {
        let playbook = playbook(0, 3, 10_000);
        let mut gate = RunGate::new(10);
        for ms in [0, 1_000, 2_000] {
            assert_eq!(gate.hold(&playbook, "db", at(ms)), None, "{ms}");
            gate.remember(&playbook, "db", at(ms), at(ms));
        }
        let held = gate.hold(&playbook, "db", at(3_000)).unwrap();
        assert_eq!(held, Hold::BreakerOpen { runs: 3 });
        assert!(held
            .detail(&playbook, "db")
            .contains("circuit breaker open"));
        // The first start leaves the window at 10 s: two remain, under the limit.
        assert_eq!(gate.hold(&playbook, "db", at(10_000)), None);
    }

    #[test]
    fn a_cooldown_longer_than_the_breaker_window_still_holds() {
        let playbook = playbook(60_000, 5, 1_000);
        let mut gate = RunGate::new(10);
        gate.remember(&playbook, "db", at(0), at(0));
        let held = gate.hold(&playbook, "db", at(30_000));
        assert_eq!(held, Some(Hold::Cooldown { left_ms: 30_000 }));
    }

    #[test]
    fn only_breaker_runs_max_times_are_kept_per_pair() {
        let playbook = playbook(0, 2, 60_000);
        let mut gate = RunGate::new(10);
        for ms in 0..100 {
            gate.remember(&playbook, "db", at(ms), at(ms));
        }
        assert_eq!(gate.started.values().next().unwrap().len(), 2);
    }

    #[test]
    fn a_full_memory_forgets_idle_pairs_first_then_the_oldest_start() {
        let playbook = playbook(0, 3, 60_000);
        let mut gate = RunGate::new(2);
        gate.remember(&playbook, "idle", at(0), at(0));
        gate.remember(&playbook, "db", at(FORGET_AFTER_MS), at(FORGET_AFTER_MS));
        let now = at(FORGET_AFTER_MS + 10);
        gate.remember(&playbook, "new", now, now);
        assert_eq!(gate.pairs(), 2);
        assert!(!gate
            .started
            .contains_key(&("db_reconnect".into(), "idle".into())));
        // Both recent: the one started longest ago goes, the newest stays.
        let later = at(FORGET_AFTER_MS + 20);
        gate.remember(&playbook, "newest", later, later);
        assert_eq!(gate.pairs(), 2);
        assert!(!gate
            .started
            .contains_key(&("db_reconnect".into(), "db".into())));
        assert!(gate
            .started
            .contains_key(&("db_reconnect".into(), "new".into())));
    }
}

//! A monitor's flap damping: when a run of probes makes a component down or up, and when it is
//! flapping. Pure: it is told each probe's outcome, so every rule has a unit test.
//!
//! - Down after `failures_before_down` failed probes in a row, up again after
//!   `successes_before_up` good ones (consecutive damping).
//! - With a flap window (`flap_window` probes, `flap_threshold` changes between a good and a
//!   failed probe within it, as Nagios counts state changes), a component that keeps going up
//!   and down is *flapping*: one incident says so, and no down or up is announced for each
//!   swing. It is steady again once the changes in the window fall to half the threshold; if
//!   it is then failing, that is an outage of its own.

use std::collections::VecDeque;

use crate::spec::MonitorSpec;

/// What one probe changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Down,
    Up,
    /// `changes` swings, `failures` failed probes in the last `window` probes.
    FlappingStarted {
        changes: usize,
        failures: usize,
        window: usize,
    },
    /// Steady again: up, or (`down`) failing steadily, which is an outage of its own.
    /// `was_down`: it was down (announced) when it started flapping.
    FlappingEnded {
        down: bool,
        was_down: bool,
    },
}

/// A monitor's counts and state.
#[derive(Debug, Clone)]
pub struct Damping {
    failures_before_down: u32,
    successes_before_up: u32,
    flap_window: usize,
    flap_threshold: usize,
    /// The last `flap_window` outcomes, newest last (true: the probe succeeded).
    outcomes: VecDeque<bool>,
    pub consecutive_failures: u32,
    consecutive_successes: u32,
    pub down: bool,
    pub flapping: bool,
}

impl Damping {
    /// Damping for `spec`, starting down or flapping when an incident says it was.
    pub fn new(spec: &MonitorSpec, down: bool, flapping: bool) -> Self {
        // A window of 0 is what turns it off below, whichever of the two said so.
        let flap_window = if spec.flapping_detected() {
            spec.flap_window
        } else {
            0
        };
        Self {
            failures_before_down: spec.failures_before_down,
            successes_before_up: spec.successes_before_up,
            flap_window: flap_window as usize,
            flap_threshold: spec.flap_threshold as usize,
            outcomes: VecDeque::with_capacity(flap_window as usize),
            consecutive_failures: 0,
            consecutive_successes: 0,
            down,
            flapping,
        }
    }

    /// Forgets that the component is down (its incident was closed without a recovery seen):
    /// the next failures announce it anew.
    pub fn forget_down(&mut self) {
        self.down = false;
        self.consecutive_failures = 0;
    }

    /// Forgets the swings counted so far: its outage was healed (by a playbook or a person),
    /// and the ups and downs of an outage Grace healed are not a component going up and down
    /// by itself — a heal that does not hold is a relapse, paced by the relapse rules.
    pub fn forget_swings(&mut self) {
        if !self.flapping {
            self.outcomes.clear();
        }
    }

    /// Forgets that the component is flapping (its flapping incident was closed by hand): a
    /// fresh window decides anew.
    pub fn forget_flapping(&mut self) {
        self.flapping = false;
        self.outcomes.clear();
    }

    /// Takes back the transition of the last probe (its events were not committed), keeping
    /// the counts: the next probe makes the transition again.
    pub fn undo_transition(&mut self, before: &Damping) {
        self.down = before.down;
        self.flapping = before.flapping;
    }

    /// Counts one probe's outcome; the transition it makes, if any.
    pub fn record(&mut self, ok: bool) -> Option<Transition> {
        self.remember(ok);
        if ok {
            self.consecutive_failures = 0;
            self.consecutive_successes = self.consecutive_successes.saturating_add(1);
        } else {
            self.consecutive_successes = 0;
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        }
        if self.flap_window > 0 {
            if let Some(flap) = self.flap() {
                return Some(flap);
            }
            if self.flapping {
                return None; // no down or up for each swing
            }
        }
        self.consecutive()
    }

    fn remember(&mut self, ok: bool) {
        if self.flap_window == 0 {
            return;
        }
        if self.outcomes.len() == self.flap_window {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back(ok);
    }

    /// Swings between a good and a failed probe in the window.
    fn changes(&self) -> usize {
        let outcomes = self.outcomes.iter().zip(self.outcomes.iter().skip(1));
        outcomes.filter(|(a, b)| a != b).count()
    }

    /// Whether flapping starts or ends with this probe.
    fn flap(&mut self) -> Option<Transition> {
        let changes = self.changes();
        if !self.flapping && changes >= self.flap_threshold {
            self.flapping = true;
            let failures = self.outcomes.iter().filter(|ok| !**ok).count();
            let window = self.outcomes.len();
            return Some(Transition::FlappingStarted {
                changes,
                failures,
                window,
            });
        }
        // Steady needs a whole window of evidence: right after a restart the window is empty.
        let window_full = self.outcomes.len() == self.flap_window;
        if self.flapping && window_full && changes * 2 <= self.flap_threshold {
            self.flapping = false;
            let was_down = self.down;
            // Each direction keeps its own damping.
            self.down = match was_down {
                true => self.consecutive_successes < self.successes_before_up,
                false => self.consecutive_failures >= self.failures_before_down,
            };
            return Some(Transition::FlappingEnded {
                down: self.down,
                was_down,
            });
        }
        None
    }

    /// Consecutive damping: down after enough failures in a row, up after enough successes.
    fn consecutive(&mut self) -> Option<Transition> {
        if !self.down && self.consecutive_failures >= self.failures_before_down {
            self.down = true;
            return Some(Transition::Down);
        }
        if self.down && self.consecutive_successes >= self.successes_before_up {
            self.down = false;
            return Some(Transition::Up);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(flap_window: u32, flap_threshold: u32) -> MonitorSpec {
        let mut spec: MonitorSpec = serde_json::from_value(serde_json::json!({
            "id": "api", "kind": "tcp", "address": "127.0.0.1:1",
            "failures_before_down": 3, "successes_before_up": 2,
        }))
        .unwrap();
        spec.flap_window = flap_window;
        spec.flap_threshold = flap_threshold;
        spec
    }

    /// Every transition `outcomes` make, in order.
    fn run(damping: &mut Damping, outcomes: &str) -> Vec<Transition> {
        outcomes
            .chars()
            .filter_map(|c| damping.record(c == '+'))
            .collect()
    }

    #[test]
    fn down_after_failures_in_a_row_and_up_after_successes_in_a_row() {
        let mut damping = Damping::new(&spec(0, 0), false, false);
        assert_eq!(run(&mut damping, "--+--+"), []);
        assert_eq!(run(&mut damping, "---"), [Transition::Down]);
        assert_eq!(run(&mut damping, "+-+"), []);
        assert_eq!(run(&mut damping, "++"), [Transition::Up]);
    }

    #[test]
    fn without_a_flap_window_failing_every_other_probe_is_never_an_incident() {
        let mut damping = Damping::new(&spec(0, 0), false, false);
        assert_eq!(run(&mut damping, &"-+".repeat(50)), []);
        // Either setting at 0 turns it off, whatever the other says.
        for (window, threshold) in [(0, 8), (20, 0)] {
            let mut damping = Damping::new(&spec(window, threshold), false, false);
            assert_eq!(
                run(&mut damping, &"-+".repeat(50)),
                [],
                "{window}/{threshold}"
            );
        }
    }

    /// A monitor with only its id, kind and address: every damping setting at its default.
    fn default_spec() -> MonitorSpec {
        serde_json::from_value(serde_json::json!({
            "id": "api", "kind": "tcp", "address": "127.0.0.1:1",
        }))
        .unwrap()
    }

    #[test]
    fn by_default_failing_every_other_probe_is_flapping_once() {
        let spec = default_spec();
        assert_eq!((spec.flap_window, spec.flap_threshold), (20, 8));
        let mut damping = Damping::new(&spec, false, false);
        let transitions = run(&mut damping, &"-+".repeat(100));
        let started = Transition::FlappingStarted {
            changes: 8,
            failures: 5,
            window: 9,
        };
        assert_eq!(transitions, [started]);
    }

    #[test]
    fn by_default_blips_and_short_outages_are_not_flapping() {
        let mut damping = Damping::new(&default_spec(), false, false);
        // A blip now and then: one failed probe is not even down (2 failures are).
        let blips = "+++++-+++++++-++++++".repeat(5);
        assert_eq!(run(&mut damping, &blips), []);
        // Two short outages within a window: down and up each time, never flapping.
        let outages = run(&mut damping, "+++---+++++---++++++");
        assert_eq!(
            outages,
            [
                Transition::Down,
                Transition::Up,
                Transition::Down,
                Transition::Up
            ]
        );
    }

    #[test]
    fn failing_every_other_probe_is_flapping_once_until_steady() {
        let mut damping = Damping::new(&spec(10, 6), false, false);
        let flapping = run(&mut damping, &"-+".repeat(50));
        let started = Transition::FlappingStarted {
            changes: 6,
            failures: 4,
            window: 7,
        };
        assert_eq!(flapping, [started]);
        // Steady: the swings leave the window; up again without a new incident.
        assert_eq!(
            run(&mut damping, "+++++++++"),
            [Transition::FlappingEnded {
                down: false,
                was_down: false
            }]
        );
        assert!(!damping.flapping && !damping.down);
    }

    #[test]
    fn swinging_across_the_threshold_is_one_flapping_not_an_incident_per_swing() {
        let mut damping = Damping::new(&spec(20, 8), false, false);
        let transitions = run(&mut damping, &"---++".repeat(20));
        let started = transitions
            .iter()
            .position(|t| matches!(t, Transition::FlappingStarted { .. }))
            .expect("flapping");
        // A few swings before the window has seen enough, then nothing per swing.
        assert!(started <= 8, "{transitions:?}");
        assert_eq!(transitions[started + 1..], [], "{transitions:?}");
    }

    #[test]
    fn a_steady_outage_is_down_not_flapping_and_flapping_can_end_in_an_outage() {
        let mut damping = Damping::new(&spec(10, 6), false, false);
        assert_eq!(run(&mut damping, &"-".repeat(30)), [Transition::Down]);
        let mut damping = Damping::new(&spec(10, 6), false, false);
        run(&mut damping, &"-+".repeat(10));
        assert!(damping.flapping);
        let ended = run(&mut damping, &"-".repeat(10));
        let steady_down = Transition::FlappingEnded {
            down: true,
            was_down: false,
        };
        assert_eq!(ended, [steady_down]);
        assert!(damping.down);
    }

    #[test]
    fn forgetting_down_or_flapping_forgets_only_that() {
        let mut damping = Damping::new(&spec(10, 6), true, true);
        damping.forget_down();
        assert!(!damping.down && damping.flapping);
        damping.forget_flapping();
        assert!(!damping.flapping);
        assert_eq!(run(&mut damping, "---"), [Transition::Down]);
    }

    #[test]
    fn a_heal_starts_the_swing_count_afresh() {
        let mut one_probe = spec(10, 6);
        (
            one_probe.failures_before_down,
            one_probe.successes_before_up,
        ) = (1, 1);
        let mut damping = Damping::new(&one_probe, false, false);
        // Killed and healed again and again: each heal forgets the swings before it.
        for _ in 0..10 {
            let round = run(&mut damping, "-+");
            assert_eq!(round, [Transition::Down, Transition::Up]);
            damping.forget_down();
            damping.forget_swings();
        }
        assert!(!damping.flapping);
        // Without the heals the same probes are flapping.
        let mut unhealed = Damping::new(&one_probe, false, false);
        let transitions = run(&mut unhealed, &"-+".repeat(5));
        assert!(transitions
            .iter()
            .any(|t| matches!(t, Transition::FlappingStarted { .. })));
    }

    #[test]
    fn flapping_restored_after_a_restart_waits_for_a_full_window() {
        // Down and flapping when Grace stopped: one failed probe proves nothing.
        let mut damping = Damping::new(&spec(10, 6), true, true);
        assert_eq!(run(&mut damping, "-"), []);
        assert!(damping.flapping && damping.down);
        let ended = run(&mut damping, &"+".repeat(9));
        let up = Transition::FlappingEnded {
            down: false,
            was_down: true,
        };
        assert_eq!(ended, [up]);
    }

    #[test]
    fn flapping_ends_up_only_after_successes_before_up_good_probes() {
        let mut damping = Damping::new(&spec(10, 6), true, true);
        // A full window that ends on failures: steady, but still down.
        let ended = run(&mut damping, "+++++++---");
        let still_down = Transition::FlappingEnded {
            down: true,
            was_down: true,
        };
        assert_eq!(ended, [still_down]);
    }
}

//! Which scheduled pipelines are due: pure, told the time, so the rules read as tests.
//!
//! A pipeline with `every_ms` is first due a full period after it is first seen (Grace starting
//! does not set off every job at once). When due, its next run is a full period from that
//! moment: periods missed while Grace was busy are not made up. A run due while the pipeline
//! is still going (or has reruns waiting) is skipped, not queued. A pipeline whose period
//! changes in a reload starts its count again; one removed or unscheduled is forgotten.
//! Pipelines are decided in config order (`depends_on` names monitors, not other pipelines,
//! so there is no order among them to respect).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What the schedule decided for a pipeline at a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Start a scheduled run now.
    Start(String),
    /// It was due but is still going: this period's run is skipped.
    Skip(String),
}

/// When each scheduled pipeline is due next, with the period it was computed from.
#[derive(Debug, Default)]
pub struct Schedule {
    next: HashMap<String, (u64, Instant)>,
}

impl Schedule {
    /// The pipelines due at `now`, of `pipelines` (each id with its `every_ms`, in config
    /// order); `busy` says whether one is going or has reruns waiting.
    pub fn due<'a>(
        &mut self,
        pipelines: impl IntoIterator<Item = (&'a str, Option<u64>)>,
        now: Instant,
        busy: impl Fn(&str) -> bool,
    ) -> Vec<Due> {
        let scheduled: Vec<(&str, u64)> = pipelines
            .into_iter()
            .filter_map(|(id, every_ms)| Some((id, every_ms?)))
            .collect();
        self.next
            .retain(|id, _| scheduled.iter().any(|(known, _)| known == id));
        let mut decided = Vec::new();
        for (id, every_ms) in scheduled {
            let period = Duration::from_millis(every_ms);
            let (known_every_ms, at) = self
                .next
                .entry(id.to_owned())
                .or_insert((every_ms, now + period));
            if *known_every_ms != every_ms {
                *known_every_ms = every_ms;
                *at = now + period;
            }
            if now < *at {
                continue;
            }
            *at = now + period;
            decided.push(if busy(id) {
                Due::Skip(id.to_owned())
            } else {
                Due::Start(id.to_owned())
            });
        }
        decided
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND_MS: u64 = 1_000;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    fn idle(_: &str) -> bool {
        false
    }

    #[test]
    fn a_pipeline_is_first_due_a_full_period_after_it_is_seen() {
        let (mut schedule, t0) = (Schedule::default(), Instant::now());
        let nightly = [("export", Some(SECOND_MS))];
        assert_eq!(schedule.due(nightly, t0, idle), vec![]);
        assert_eq!(schedule.due(nightly, at(t0, 999), idle), vec![]);
        assert_eq!(
            schedule.due(nightly, at(t0, 1_000), idle),
            vec![Due::Start("export".into())]
        );
    }

    #[test]
    fn missed_periods_are_not_made_up_the_next_run_is_a_period_after_the_last() {
        let (mut schedule, t0) = (Schedule::default(), Instant::now());
        let every = [("export", Some(SECOND_MS))];
        schedule.due(every, t0, idle);
        // Five periods late: one run, not five.
        assert_eq!(schedule.due(every, at(t0, 5_500), idle).len(), 1);
        assert_eq!(schedule.due(every, at(t0, 6_000), idle), vec![]);
        assert_eq!(schedule.due(every, at(t0, 6_499), idle), vec![]);
        assert_eq!(schedule.due(every, at(t0, 6_500), idle).len(), 1);
    }

    #[test]
    fn a_run_due_while_the_pipeline_is_busy_is_skipped_and_the_period_still_counts() {
        let (mut schedule, t0) = (Schedule::default(), Instant::now());
        let every = [("export", Some(SECOND_MS))];
        schedule.due(every, t0, idle);
        let busy = |id: &str| id == "export";
        assert_eq!(
            schedule.due(every, at(t0, 1_000), busy),
            vec![Due::Skip("export".into())]
        );
        assert_eq!(schedule.due(every, at(t0, 1_500), idle), vec![]);
        assert_eq!(
            schedule.due(every, at(t0, 2_000), idle),
            vec![Due::Start("export".into())]
        );
    }

    #[test]
    fn pipelines_without_every_ms_never_come_due() {
        let (mut schedule, t0) = (Schedule::default(), Instant::now());
        let by_hand = [("manual", None)];
        schedule.due(by_hand, t0, idle);
        assert_eq!(schedule.due(by_hand, at(t0, 1_000_000), idle), vec![]);
    }

    #[test]
    fn a_changed_period_starts_the_count_again() {
        let (mut schedule, t0) = (Schedule::default(), Instant::now());
        schedule.due([("export", Some(SECOND_MS))], t0, idle);
        let slower = [("export", Some(10 * SECOND_MS))];
        assert_eq!(schedule.due(slower, at(t0, 900), idle), vec![]);
        assert_eq!(schedule.due(slower, at(t0, 1_000), idle), vec![]);
        assert_eq!(schedule.due(slower, at(t0, 10_899), idle), vec![]);
        assert_eq!(schedule.due(slower, at(t0, 10_900), idle).len(), 1);
    }

    #[test]
    fn a_pipeline_removed_and_added_again_starts_from_its_return() {
        let (mut schedule, t0) = (Schedule::default(), Instant::now());
        let every = [("export", Some(SECOND_MS))];
        schedule.due(every, t0, idle);
        schedule.due([], at(t0, 500), idle);
        assert_eq!(schedule.due(every, at(t0, 1_000), idle), vec![]);
        assert_eq!(schedule.due(every, at(t0, 2_000), idle).len(), 1);
    }

    #[test]
    fn due_pipelines_come_in_config_order() {
        let (mut schedule, t0) = (Schedule::default(), Instant::now());
        let both = [("b", Some(SECOND_MS)), ("a", Some(SECOND_MS))];
        schedule.due(both, t0, idle);
        assert_eq!(
            schedule.due(both, at(t0, 1_000), idle),
            vec![Due::Start("b".into()), Due::Start("a".into())]
        );
    }
}

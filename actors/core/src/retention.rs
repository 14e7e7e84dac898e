//! How long Grace keeps what it records (`[retention]`), and the pure rules that decide what a
//! compaction may remove. The retention actor (`retention_actor.rs`) applies them.
//!
//! Each kind of record is kept by age and by count: past `max_age_ms` or beyond the newest
//! `max_count` it may go, but the newest `keep_min` always stay. Open incidents, running runs
//! and pending deliveries are never removed, and no event the incident manager has not applied
//! yet.

use serde::{Deserialize, Serialize};

use crate::problem::SpecProblem;

/// One kind of record's limits.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Keep {
    /// Older than this may be removed.
    pub max_age_ms: u64,
    /// Beyond the newest this many may be removed.
    pub max_count: u64,
    /// The newest this many are never removed, whatever their age.
    pub keep_min: u64,
}

impl Keep {
    fn problems(&self, key: &str) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if self.max_age_ms == 0 || self.max_count == 0 {
            problems.push(SpecProblem::new(
                key,
                "max_age_ms and max_count must be at least 1",
            ));
        }
        if self.keep_min > self.max_count {
            problems.push(SpecProblem::new(
                format!("{key}.keep_min"),
                "must not be more than max_count",
            ));
        }
        problems
    }
}

const DAY_MS: u64 = 24 * 60 * 60 * 1_000;

/// `[retention]`. Any key left out keeps its default, inside `events` and `records` too.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(from = "RetentionGiven")]
pub struct RetentionSpec {
    /// How often a compaction runs.
    pub interval_ms: u64,
    /// The event log.
    pub events: Keep,
    /// Resolved incidents, ended runs and sub-agents, ended deliveries, ended pipeline runs,
    /// each kind counted on its own.
    pub records: Keep,
}

impl Default for RetentionSpec {
    fn default() -> Self {
        Self {
            interval_ms: 10 * 60 * 1_000,
            events: Keep {
                max_age_ms: 30 * DAY_MS,
                max_count: 5_000_000,
                keep_min: 100_000,
            },
            records: Keep {
                max_age_ms: 90 * DAY_MS,
                max_count: 100_000,
                keep_min: 1_000,
            },
        }
    }
}

/// `[retention]` as written: what is missing takes the default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionGiven {
    interval_ms: Option<u64>,
    events: Option<KeepGiven>,
    records: Option<KeepGiven>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeepGiven {
    max_age_ms: Option<u64>,
    max_count: Option<u64>,
    keep_min: Option<u64>,
}

impl KeepGiven {
    fn over(given: Option<KeepGiven>, default: Keep) -> Keep {
        let Some(given) = given else {
            return default;
        };
        Keep {
            max_age_ms: given.max_age_ms.unwrap_or(default.max_age_ms),
            max_count: given.max_count.unwrap_or(default.max_count),
            keep_min: given.keep_min.unwrap_or(default.keep_min),
        }
    }
}

impl From<RetentionGiven> for RetentionSpec {
    fn from(given: RetentionGiven) -> Self {
        let default = Self::default();
        Self {
            interval_ms: given.interval_ms.unwrap_or(default.interval_ms),
            events: KeepGiven::over(given.events, default.events),
            records: KeepGiven::over(given.records, default.records),
        }
    }
}

impl RetentionSpec {
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if self.interval_ms == 0 {
            problems.push(SpecProblem::new("interval_ms", "must be at least 1"));
        }
        problems.extend(self.events.problems("events"));
        problems.extend(self.records.problems("records"));
        problems
    }
}

/// The highest event seq a compaction may remove: every event up to it is past the age or the
/// count limit, outside the newest `keep_min`, and already applied to incidents.
/// `first_young` is the seq of the oldest event younger than `max_age_ms` (`last + 1` when
/// none is). None when nothing may go.
pub fn events_cut(keep: &Keep, last: u64, applied: u64, first_young: u64) -> Option<u64> {
    let by_count = last.saturating_sub(keep.max_count);
    let by_age = first_young.saturating_sub(1);
    let cut = by_count.max(by_age);
    let floor = last.saturating_sub(keep.keep_min);
    let cut = cut.min(floor).min(applied);
    (cut > 0).then_some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP: Keep = Keep {
        max_age_ms: 1_000,
        max_count: 100,
        keep_min: 10,
    };

    #[test]
    fn events_go_by_count_or_age_but_never_the_newest_nor_unapplied_ones() {
        // 1,000 events, all young: the count keeps the newest 100.
        assert_eq!(events_cut(&KEEP, 1_000, 1_000, 1), Some(900));
        // All old: everything but the newest keep_min.
        assert_eq!(events_cut(&KEEP, 1_000, 1_000, 1_001), Some(990));
        // Old up to seq 949: age cuts deeper than count.
        assert_eq!(events_cut(&KEEP, 1_000, 1_000, 950), Some(949));
        // Not yet applied to incidents: they stay.
        assert_eq!(events_cut(&KEEP, 1_000, 500, 1_001), Some(500));
        // Few and young: nothing.
        assert_eq!(events_cut(&KEEP, 50, 50, 1), None);
        assert_eq!(events_cut(&KEEP, 0, 0, 1), None);
    }

    #[test]
    fn keys_left_out_keep_their_defaults() {
        let spec: RetentionSpec =
            serde_json::from_value(serde_json::json!({ "events": { "max_age_ms": 1_000 } }))
                .unwrap();
        let default = RetentionSpec::default();
        assert_eq!(spec.events.max_age_ms, 1_000);
        assert_eq!(spec.events.max_count, default.events.max_count);
        assert_eq!(spec.records, default.records);
        assert_eq!(spec.interval_ms, default.interval_ms);
        let unknown = serde_json::json!({ "events": { "max_age": 1 } });
        assert!(serde_json::from_value::<RetentionSpec>(unknown).is_err());
    }

    #[test]
    fn limits_are_checked_with_their_keys() {
        let spec = RetentionSpec {
            interval_ms: 0,
            records: Keep {
                max_age_ms: 1,
                max_count: 5,
                keep_min: 6,
            },
            ..RetentionSpec::default()
        };
        let keys: Vec<String> = spec.problems().into_iter().map(|p| p.field).collect();
        assert_eq!(keys, ["interval_ms", "records.keep_min"]);
    }
}

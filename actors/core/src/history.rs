//! Each monitor's history at a glance, as Uptime Kuma and Gatus show it: its probes summed per
//! bucket of `history.bucket_ms` (5 min), kept for `history.keep_ms` (30 days), read as a
//! status bar (one cell per bucket, coloured by the worst state in it), uptime and latency.
//!
//! A bucket is written once, when it closes, into slot `start / bucket_ms % slots` of its
//! monitor: the slots are a ring, so a monitor never has more than `keep_ms / bucket_ms` rows
//! and nothing has to be pruned. The open bucket lives in the monitor (and on its status
//! board) until then; a `kill -9` loses at most that one. Pure, unit-tested.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::problem::SpecProblem;
use crate::time::micros;

/// Most buckets a monitor keeps (`keep_ms / bucket_ms`).
pub const SLOTS_MAX: u64 = 100_000;
/// Most cells one status bar shows.
pub const CELLS_MAX: usize = 288;
const BUCKET_MS_MIN: u64 = 1_000;
/// Longest bucket: the status bar shows a day, in cells.
const BUCKET_MS_MAX: u64 = 3_600_000;

/// `[history]`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HistorySpec {
    /// Probes are summed per bucket this long; one cell of the status bar.
    #[serde(default = "bucket_ms")]
    pub bucket_ms: u64,
    /// Buckets older than this are overwritten.
    #[serde(default = "keep_ms")]
    pub keep_ms: u64,
}

fn bucket_ms() -> u64 {
    5 * 60 * 1_000
}

fn keep_ms() -> u64 {
    30 * 24 * 60 * 60 * 1_000
}

impl Default for HistorySpec {
    fn default() -> Self {
        Self {
            bucket_ms: bucket_ms(),
            keep_ms: keep_ms(),
        }
    }
}

impl HistorySpec {
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if !(BUCKET_MS_MIN..=BUCKET_MS_MAX).contains(&self.bucket_ms) {
            let range = format!("must be {BUCKET_MS_MIN} to {BUCKET_MS_MAX} ms");
            problems.push(SpecProblem::new("bucket_ms", range));
        } else if self.keep_ms < self.bucket_ms || self.slots() > SLOTS_MAX {
            let slots = self.keep_ms / self.bucket_ms;
            let why = format!("holds {slots} buckets of bucket_ms; it must hold 1 to {SLOTS_MAX}");
            problems.push(SpecProblem::new("keep_ms", why));
        }
        problems
    }

    /// How many buckets a monitor keeps.
    pub fn slots(&self) -> u64 {
        (self.keep_ms / self.bucket_ms.max(1)).max(1)
    }

    /// The ring slot of the bucket starting at `start`.
    pub fn slot(&self, start: DateTime<Utc>) -> u64 {
        (start.timestamp_millis().max(0) as u64 / self.bucket_ms) % self.slots()
    }
}

/// One bucket of one monitor's probes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HistoryBucket {
    pub monitor_id: String,
    #[serde(with = "micros")]
    pub start: DateTime<Utc>,
    pub probes: u32,
    pub failures: u32,
    /// The monitor called its component down during the bucket.
    pub down: bool,
    pub latency_ms_sum: u64,
    pub latency_ms_max: u64,
}

/// A cell's colour: the worst state in its bucket.
#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CellState {
    /// No probe in it (paused, or Grace not running).
    None,
    Up,
    /// Some probe failed, but the component was not called down.
    Failing,
    Down,
}

/// One cell of a status bar.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Cell {
    #[serde(with = "micros")]
    pub start: DateTime<Utc>,
    pub state: CellState,
    pub probes: u32,
    pub failures: u32,
    pub latency_ms_avg: Option<f64>,
    pub latency_ms_max: Option<u64>,
}

/// Sums a monitor's probes into its open bucket.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    open: Option<HistoryBucket>,
}

impl Recorder {
    /// Counts one probe at `at`; the bucket it closed, if it started a new one.
    pub fn record(
        &mut self,
        spec: &HistorySpec,
        monitor_id: &str,
        at: DateTime<Utc>,
        ok: bool,
        down: bool,
        latency_ms: u64,
    ) -> Option<HistoryBucket> {
        let start = bucket_start(at, spec.bucket_ms);
        let closed = match &self.open {
            Some(open) if open.start != start => self.open.take(),
            _ => None,
        };
        let bucket = self.open.get_or_insert_with(|| HistoryBucket {
            monitor_id: monitor_id.to_owned(),
            start,
            probes: 0,
            failures: 0,
            down: false,
            latency_ms_sum: 0,
            latency_ms_max: 0,
        });
        bucket.probes = bucket.probes.saturating_add(1);
        bucket.failures = bucket.failures.saturating_add(u32::from(!ok));
        bucket.down |= down;
        if ok {
            bucket.latency_ms_sum = bucket.latency_ms_sum.saturating_add(latency_ms);
            bucket.latency_ms_max = bucket.latency_ms_max.max(latency_ms);
        }
        closed
    }

    /// The bucket being summed now.
    pub fn open(&self) -> Option<&HistoryBucket> {
        self.open.as_ref()
    }
}

fn bucket_start(at: DateTime<Utc>, bucket_ms: u64) -> DateTime<Utc> {
    let ms = at.timestamp_millis().max(0) as u64;
    DateTime::from_timestamp_millis((ms - ms % bucket_ms.max(1)) as i64).unwrap_or(at)
}

/// The status bar: the `count` buckets up to the one holding `now`, oldest first, from the
/// stored `rows` (any order, any age) and the `open` bucket.
pub fn cells(
    rows: &[HistoryBucket],
    open: Option<&HistoryBucket>,
    now: DateTime<Utc>,
    bucket_ms: u64,
    count: usize,
) -> Vec<Cell> {
    let last = bucket_start(now, bucket_ms);
    let step = Duration::milliseconds(bucket_ms as i64);
    (0..count.min(CELLS_MAX))
        .rev()
        .map(|back| {
            let start = last - step * back as i32;
            let bucket = open
                .filter(|b| b.start == start)
                .or_else(|| rows.iter().find(|b| b.start == start));
            cell(start, bucket)
        })
        .collect()
}

fn cell(start: DateTime<Utc>, bucket: Option<&HistoryBucket>) -> Cell {
    let Some(b) = bucket.filter(|b| b.probes > 0) else {
        return Cell {
            start,
            state: CellState::None,
            probes: 0,
            failures: 0,
            latency_ms_avg: None,
            latency_ms_max: None,
        };
    };
    let state = match (b.down, b.failures) {
        (true, _) => CellState::Down,
        (false, 0) => CellState::Up,
        (false, _) => CellState::Failing,
    };
    let good = b.probes - b.failures;
    Cell {
        start,
        state,
        probes: b.probes,
        failures: b.failures,
        latency_ms_avg: (good > 0).then(|| b.latency_ms_sum as f64 / good as f64),
        latency_ms_max: (good > 0).then_some(b.latency_ms_max),
    }
}

/// The share of good probes in buckets starting at or after `since`; None without probes.
pub fn uptime(
    rows: &[HistoryBucket],
    open: Option<&HistoryBucket>,
    since: DateTime<Utc>,
) -> Option<f64> {
    let (probes, failures) = rows
        .iter()
        .filter(|b| open.is_none_or(|o| o.start != b.start))
        .chain(open)
        .filter(|b| b.start >= since)
        .fold((0u64, 0u64), |(p, f), b| {
            (p + u64::from(b.probes), f + u64::from(b.failures))
        });
    (probes > 0).then(|| (probes - failures) as f64 / probes as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn probes_sum_into_buckets_that_close_when_the_next_begins() {
        let spec = HistorySpec {
            bucket_ms: 1_000,
            keep_ms: 10_000,
        };
        let mut recorder = Recorder::default();
        assert_eq!(recorder.record(&spec, "db", at(0), true, false, 4), None);
        assert_eq!(recorder.record(&spec, "db", at(500), false, true, 0), None);
        let closed = recorder
            .record(&spec, "db", at(1_200), true, false, 8)
            .unwrap();
        assert_eq!((closed.probes, closed.failures, closed.down), (2, 1, true));
        assert_eq!((closed.latency_ms_sum, closed.latency_ms_max), (4, 4));
        assert_eq!(recorder.open().unwrap().start, at(1_000));
        // The ring: ten slots of one second.
        assert_eq!(spec.slot(at(12_000)), spec.slot(at(2_000)));
        assert_ne!(spec.slot(at(3_000)), spec.slot(at(2_000)));
    }

    #[test]
    fn a_status_bar_shows_the_worst_state_per_cell_and_gaps_as_none() {
        let bucket = |s: i64, probes, failures, down| HistoryBucket {
            monitor_id: "db".into(),
            start: at(s),
            probes,
            failures,
            down,
            latency_ms_sum: 10 * u64::from(probes - failures),
            latency_ms_max: 12,
        };
        let rows = [
            bucket(0, 4, 0, false),
            bucket(2_000, 4, 4, true),
            bucket(-50_000, 9, 0, false),
        ];
        let open = bucket(3_000, 2, 1, false);
        let cells = cells(&rows, Some(&open), at(3_500), 1_000, 4);
        let states: Vec<CellState> = cells.iter().map(|c| c.state).collect();
        use CellState::*;
        assert_eq!(states, [Up, None, Down, Failing]);
        assert_eq!(cells[0].latency_ms_avg, Some(10.0));
        assert_eq!(
            cells[2].latency_ms_avg,
            Option::None,
            "no good probe, no latency"
        );
        let uptime = uptime(&rows, Some(&open), at(0)).unwrap();
        assert!((uptime - 5.0 / 10.0).abs() < 1e-9, "{uptime}");
        assert!(
            HistorySpec {
                bucket_ms: 10,
                keep_ms: 100
            }
            .problems()[0]
                .field
                == "bucket_ms"
        );
    }
}

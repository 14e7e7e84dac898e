//! `[[maintenance]]`: planned quiet written in the config — one-off (`start`, `end`) or
//! recurring (`cron`, `duration_ms`) — for the incidents its matchers cover (see `silence.rs`).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::checks::*;
use super::*;
use crate::silence::{Matchers, When};

/// Most `[[maintenance]]` windows.
pub const MAINTENANCE_MAX: usize = 256;

/// A window as written: either `start` and `end`, or `cron` and `duration_ms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceInput {
    pub id: String,
    /// What it covers: the same matchers as `POST /silences`.
    #[serde(default)]
    pub matchers: Matchers,
    /// One-off: RFC 3339 times.
    pub start: Option<String>,
    pub end: Option<String>,
    /// Recurring: a cron expression in UTC (`0 2 * * SUN`), and how long from each time.
    pub cron: Option<String>,
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub comment: String,
}

/// A window, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceSpec {
    pub id: String,
    pub matchers: Matchers,
    pub when: When,
    pub comment: String,
}

impl MaintenanceInput {
    /// The window, or every problem with it.
    pub fn into_spec(self) -> Result<MaintenanceSpec, Vec<SpecProblem>> {
        let matchers = self.matchers;
        let mut problems: Vec<SpecProblem> = matchers
            .problems("matchers")
            .into_iter()
            .map(|(field, message)| SpecProblem::new(field, message))
            .collect();
        check_id(&mut problems, "id", &self.id);
        let when = when(self.start, self.end, self.cron, self.duration_ms);
        match (when, problems.is_empty()) {
            (Ok(when), true) => Ok(MaintenanceSpec {
                id: self.id,
                matchers,
                when,
                comment: self.comment,
            }),
            (Ok(_), false) => Err(problems),
            (Err(mut more), _) => {
                problems.append(&mut more);
                Err(problems)
            }
        }
    }
}

/// Either `start` and `end`, or `cron` and `duration_ms`.
fn when(
    start: Option<String>,
    end: Option<String>,
    cron: Option<String>,
    duration_ms: Option<u64>,
) -> Result<When, Vec<SpecProblem>> {
    let time = |field: &str, text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| SpecProblem::new(field, format!("{text:?} is not an RFC 3339 time")))
    };
    match (start, end, cron, duration_ms) {
        (Some(start), Some(end), None, None) => {
            let (start, end) = (time("start", &start), time("end", &end));
            match (start, end) {
                (Ok(start), Ok(end)) if start < end => Ok(When::Once { start, end }),
                (Ok(_), Ok(_)) => Err(vec![SpecProblem::new("end", "must be after start")]),
                (start, end) => Err([start.err(), end.err()].into_iter().flatten().collect()),
            }
        }
        (None, None, Some(cron), Some(duration_ms)) => {
            let mut problems = Vec::new();
            check_duration(&mut problems, "duration_ms", duration_ms);
            match cron.parse::<croner::Cron>() {
                Ok(cron) if problems.is_empty() => Ok(When::Recurring {
                    cron: Box::new(cron),
                    duration_ms,
                }),
                Ok(_) => Err(problems),
                Err(error) => {
                    problems.push(SpecProblem::new(
                        "cron",
                        format!("not a cron expression: {error}"),
                    ));
                    Err(problems)
                }
            }
        }
        _ => Err(vec![SpecProblem::new(
            "start",
            "give either start and end (one-off) or cron and duration_ms (recurring)",
        )]),
    }
}

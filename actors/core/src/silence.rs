//! Maintenance: planned quiet, from the config (`[[maintenance]]`, one-off or recurring) or
//! from people (`POST /silences`, expiring by themselves). An incident that opens while one
//! matches it is recorded as usual but marked *in maintenance*: no playbook runs for it, it is
//! not escalated, and the dashboard shows it grey, not red. Matchers work like Alertmanager's:
//! every kind given must match (monitor, source, event type, labels), any entry of a list.
//! Pure, unit-tested; the store actor decides and keeps the people's silences (one owner, so
//! the cap cannot be raced: [`make_room`], [`expired`]), the incident manager asks which match
//! when an incident opens.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::event::Pattern;
use crate::model::Who;
use crate::time::micros;

/// Most entries in one matcher list, and most labels.
pub const MATCHERS_MAX: usize = 16;
/// Longest a silence may last: a longer quiet is a config change.
pub const SILENCE_DAYS_MAX: i64 = 30;
/// Most silences kept; expired ones go first past it.
pub const SILENCES_MAX: usize = 1_000;

/// What a maintenance window or silence applies to. Empty lists match anything; at least one
/// matcher must be given.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Matchers {
    /// Monitor ids (incidents on those components).
    #[serde(default)]
    pub monitors: Vec<String>,
    /// Sources: exact, or a prefix ending in `*` (`checkout/*`).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Event-type patterns (`db.*`, `alert.disk_full.*`).
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Labels an Alertmanager alert must carry, each with this value.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Matchers {
    /// Every problem, as (field, message), each field under `prefix`.
    pub fn problems(&self, prefix: &str) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let empty = self.monitors.is_empty()
            && self.sources.is_empty()
            && self.event_types.is_empty()
            && self.labels.is_empty();
        if empty {
            let why = "give at least one of monitors, sources, event_types, labels: a quiet that \
                       matches everything is not a maintenance";
            problems.push((prefix.to_owned(), why.to_owned()));
        }
        let lists = [
            ("monitors", self.monitors.len()),
            ("sources", self.sources.len()),
            ("event_types", self.event_types.len()),
            ("labels", self.labels.len()),
        ];
        for (field, len) in lists {
            if len > MATCHERS_MAX {
                let most = format!("at most {MATCHERS_MAX} entries");
                problems.push((format!("{prefix}.{field}"), most));
            }
        }
        problems.extend(self.name_problems(prefix));
        problems
    }

    /// Names that hide or reorder text (see `crate::names`), each by its field.
    fn name_problems(&self, prefix: &str) -> Vec<(String, String)> {
        let lists = [
            ("monitors", &self.monitors),
            ("sources", &self.sources),
            ("event_types", &self.event_types),
        ];
        let listed = lists.into_iter().flat_map(|(field, list)| {
            let named = list.iter().enumerate();
            named.map(move |(index, name)| (format!("{prefix}.{field}[{index}]"), name))
        });
        let labels = self.labels.iter().flat_map(|(name, value)| {
            let field = format!("{prefix}.labels.{}", name.escape_debug());
            [(field.clone(), name), (field, value)]
        });
        listed
            .chain(labels)
            .filter_map(|(field, name)| Some((field, crate::names::name_problem(name)?)))
            .collect()
    }

    /// Whether an incident of `event_type` on `source` (with `labels`) is covered.
    pub fn matches(
        &self,
        source: &str,
        event_type: &str,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        let any_or = |list: &[String], test: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|entry| test(entry))
        };
        any_or(&self.monitors, &|id| id == source)
            && any_or(&self.sources, &|s| match s.strip_suffix('*') {
                Some(prefix) => source.starts_with(prefix),
                None => s == source,
            })
            && any_or(&self.event_types, &|p| Pattern::new(p).matches(event_type))
            && self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// A silence people made.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Silence {
    /// `silence-…`.
    pub id: String,
    pub matchers: Matchers,
    #[serde(with = "micros")]
    pub starts_at: DateTime<Utc>,
    #[serde(with = "micros")]
    pub ends_at: DateTime<Utc>,
    pub comment: String,
    pub created_by: Who,
    #[serde(with = "micros")]
    pub created_at: DateTime<Utc>,
}

impl Silence {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// When a configured window is on.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    Once {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    /// From each time the cron expression (UTC) fires, for `duration_ms`.
    Recurring {
        cron: Box<croner::Cron>,
        duration_ms: u64,
    },
}

impl When {
    pub fn is_on(&self, now: DateTime<Utc>) -> bool {
        match self {
            When::Once { start, end } => *start <= now && now < *end,
            When::Recurring { cron, duration_ms } => cron
                .find_previous_occurrence(&now, true)
                .is_ok_and(|began| now < began + Duration::milliseconds(*duration_ms as i64)),
        }
    }
}

/// A quiet in force now: its name (a window's id or a silence's) and what it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quiet {
    pub name: String,
    pub matchers: Matchers,
}

/// The quiets in force among `windows` (id, matchers, when) and `silences` at `now`.
pub fn in_force<'a>(
    windows: impl Iterator<Item = (&'a str, &'a Matchers, &'a When)>,
    silences: &[Silence],
    now: DateTime<Utc>,
) -> Vec<Quiet> {
    let quiet = |name: &str, matchers: &Matchers| Quiet {
        name: name.to_owned(),
        matchers: matchers.clone(),
    };
    let mut on: Vec<Quiet> = windows
        .filter(|(_, _, when)| when.is_on(now))
        .map(|(id, matchers, _)| quiet(id, matchers))
        .collect();
    on.extend(
        silences
            .iter()
            .filter(|s| s.is_active(now))
            .map(|s| quiet(&s.id, &s.matchers)),
    );
    on
}

/// What a new silence needs first, given the silences kept and the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Room {
    /// Below the cap: nothing to remove.
    Free,
    /// At the cap: the silence that ended longest ago (its id) makes room.
    Remove(String),
    /// At the cap and none has ended: the new one is refused.
    Full,
}

/// Whether a new silence fits among `kept` (at most `cap`) at `now`, and what goes if not.
pub fn make_room(kept: &[Silence], cap: usize, now: DateTime<Utc>) -> Room {
    if kept.len() < cap {
        return Room::Free;
    }
    kept.iter()
        .filter(|s| s.ends_at <= now)
        .min_by_key(|s| s.ends_at)
        .map_or(Room::Full, |ended| Room::Remove(ended.id.clone()))
}

/// `silence` ended at `now` (one that has not begun never does; one already over stays so).
pub fn expired(mut silence: Silence, now: DateTime<Utc>) -> Silence {
    silence.ends_at = silence.ends_at.min(now);
    silence.starts_at = silence.starts_at.min(silence.ends_at);
    silence
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn every_matcher_given_must_match_and_any_entry_of_a_list() {
        let labels = BTreeMap::from([("team".to_owned(), "db".to_owned())]);
        let none = BTreeMap::new();
        let m = Matchers {
            sources: vec!["checkout/*".into(), "orders-db".into()],
            event_types: vec!["db.*".into()],
            ..Matchers::default()
        };
        assert!(m.matches("orders-db", "db.connection_lost", &none));
        assert!(m.matches("checkout/orders-db", "db.connection_lost", &none));
        assert!(!m.matches("orders-db", "tcp.unreachable", &none));
        assert!(!m.matches("billing", "db.connection_lost", &none));
        let by_label = Matchers {
            labels: labels.clone(),
            ..Matchers::default()
        };
        assert!(by_label.matches("x", "alert.disk_full.firing", &labels));
        assert!(!by_label.matches("x", "alert.disk_full.firing", &none));
        assert_eq!(Matchers::default().problems("matchers")[0].0, "matchers");
    }

    #[test]
    fn names_that_hide_or_reorder_text_are_refused_by_field() {
        let m = Matchers {
            monitors: vec!["orders-db".into(), "orders\u{202e}-db".into()],
            sources: vec!["checkout\u{0}".into()],
            labels: BTreeMap::from([("team".to_owned(), "d\u{200b}b".to_owned())]),
            ..Matchers::default()
        };
        let fields: Vec<String> = m.problems("matchers").into_iter().map(|p| p.0).collect();
        assert_eq!(
            fields,
            [
                "matchers.monitors[1]",
                "matchers.sources[0]",
                "matchers.labels.team"
            ]
        );
    }

    #[test]
    fn windows_are_on_once_or_for_a_while_after_each_cron_time() {
        let once = When::Once {
            start: at("2026-12-01T02:00:00Z"),
            end: at("2026-12-01T03:00:00Z"),
        };
        assert!(once.is_on(at("2026-12-01T02:30:00Z")));
        assert!(!once.is_on(at("2026-12-01T03:00:00Z")));
        // Sundays at 02:00 for an hour.
        let cron: croner::Cron = "0 2 * * SUN".parse().unwrap();
        let weekly = When::Recurring {
            cron: Box::new(cron),
            duration_ms: 3_600_000,
        };
        assert!(weekly.is_on(at("2026-11-29T02:59:00Z")), "a Sunday");
        assert!(!weekly.is_on(at("2026-11-29T03:01:00Z")));
        assert!(!weekly.is_on(at("2026-11-30T02:30:00Z")), "a Monday");
        let silence = Silence {
            id: "silence-1".into(),
            matchers: Matchers {
                monitors: vec!["db".into()],
                ..Matchers::default()
            },
            starts_at: at("2026-12-01T00:00:00Z"),
            ends_at: at("2026-12-01T01:00:00Z"),
            comment: String::new(),
            created_by: Who::local(),
            created_at: at("2026-12-01T00:00:00Z"),
        };
        let windows = [("sunday-backup", Matchers::default(), weekly)];
        let on = in_force(
            windows.iter().map(|(id, m, w)| (*id, m, w)),
            &[silence],
            at("2026-11-29T02:10:00Z"),
        );
        assert_eq!(
            on.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(),
            ["sunday-backup"]
        );
    }

    fn ending(id: &str, ends_at: &str) -> Silence {
        Silence {
            id: id.into(),
            matchers: Matchers {
                sources: vec!["checkout".into()],
                ..Matchers::default()
            },
            starts_at: at("2026-12-01T00:00:00Z"),
            ends_at: at(ends_at),
            comment: String::new(),
            created_by: Who::local(),
            created_at: at("2026-12-01T00:00:00Z"),
        }
    }

    #[test]
    fn at_the_cap_the_silence_that_ended_longest_ago_makes_room_or_none_is_made() {
        let now = at("2026-12-01T12:00:00Z");
        let kept = [
            ending("in-force", "2026-12-01T13:00:00Z"),
            ending("ended-late", "2026-12-01T11:00:00Z"),
            ending("ended-early", "2026-12-01T10:00:00Z"),
        ];
        assert_eq!(make_room(&kept, 4, now), Room::Free, "below the cap");
        assert_eq!(make_room(&kept, 3, now), Room::Remove("ended-early".into()));
        assert_eq!(make_room(&kept, 2, now), Room::Remove("ended-early".into()));
        let in_force = [
            ending("a", "2026-12-01T13:00:00Z"),
            ending("b", "2026-12-01T12:00:01Z"),
        ];
        assert_eq!(make_room(&in_force, 2, now), Room::Full, "none has ended");
        // One ending this very moment has ended.
        let just = [
            ending("a", "2026-12-01T13:00:00Z"),
            ending("b", "2026-12-01T12:00:00Z"),
        ];
        assert_eq!(make_room(&just, 2, now), Room::Remove("b".into()));
        assert_eq!(
            make_room(&[], 0, now),
            Room::Full,
            "a cap of none holds none"
        );
    }

    #[test]
    fn an_expired_silence_ends_now_and_one_not_begun_never_does() {
        let now = at("2026-12-01T12:00:00Z");
        let running = expired(ending("a", "2026-12-01T13:00:00Z"), now);
        assert_eq!(
            (running.starts_at, running.ends_at),
            (at("2026-12-01T00:00:00Z"), now)
        );
        let over = expired(ending("b", "2026-12-01T10:00:00Z"), now);
        assert_eq!(
            over.ends_at,
            at("2026-12-01T10:00:00Z"),
            "an ended one stays so"
        );
        let mut later = ending("c", "2026-12-02T00:00:00Z");
        later.starts_at = at("2026-12-01T18:00:00Z");
        let later = expired(later, now);
        assert_eq!((later.starts_at, later.ends_at), (now, now), "never begins");
    }
}

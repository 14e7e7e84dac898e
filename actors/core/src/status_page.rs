//! The public status page (`[status_page]`): which components it shows under which public
//! names, and what it says of them — their state in words, a bar of days with each day's
//! uptime, the incidents of the last days in plain language, and a badge. Pure: the page and
//! the badge are built from what the server reads, and nothing internal (errors, hosts, labels,
//! event types, titles) is an input to what they say.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::history::HistoryBucket;
use crate::model::Severity;
use crate::problem::SpecProblem;

/// Most components one page shows.
pub const COMPONENTS_MAX: usize = 50;
/// How many days the bar shows.
pub const DAYS_SHOWN: usize = 90;

/// `[status_page]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatusPageSpec {
    /// The page's heading.
    #[serde(default = "title")]
    pub title: String,
    /// Monitor ids, each alone or with its public name: `"orders-db"` or
    /// `{ id = "orders-db", name = "Orders" }`. None: no status page.
    #[serde(default)]
    pub components: Vec<Component>,
    /// Incidents of this many days are listed.
    #[serde(default = "incident_days")]
    pub incident_days: u32,
}

impl Default for StatusPageSpec {
    fn default() -> Self {
        Self {
            title: title(),
            components: Vec::new(),
            incident_days: incident_days(),
        }
    }
}

fn title() -> String {
    "Service status".to_owned()
}

fn incident_days() -> u32 {
    7
}

/// A component shown: a monitor id, and the name the public sees.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Component {
    Id(String),
    Named { id: String, name: String },
}

impl Component {
    pub fn id(&self) -> &str {
        match self {
            Component::Id(id) | Component::Named { id, .. } => id,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Component::Id(id) => id,
            Component::Named { name, .. } => name,
        }
    }
}

impl StatusPageSpec {
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if self.components.len() > COMPONENTS_MAX {
            problems.push(SpecProblem::new(
                "components",
                format!("at most {COMPONENTS_MAX}"),
            ));
        }
        for (index, component) in self.components.iter().enumerate() {
            if let Some(why) = crate::names::name_problem(component.name()).or_else(|| {
                component
                    .name()
                    .trim()
                    .is_empty()
                    .then(|| "must not be empty".to_owned())
            }) {
                problems.push(SpecProblem::new(format!("components[{index}]"), why));
            }
        }
        if !(1..=DAYS_SHOWN as u32).contains(&self.incident_days) {
            problems.push(SpecProblem::new(
                "incident_days",
                format!("from 1 to {DAYS_SHOWN}"),
            ));
        }
        problems
    }

    /// The component shown under `id`, if it is shown.
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id() == id)
    }
}

/// A component's state, as the public reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Operational,
    Degraded,
    Down,
    Maintenance,
    Unknown,
}

impl State {
    /// From what its monitor says now.
    pub fn of(down: bool, failing: bool, quiet: bool, probed: bool) -> Self {
        match (quiet, probed, down, failing) {
            (true, ..) => State::Maintenance,
            (_, false, ..) => State::Unknown,
            (_, _, true, _) => State::Down,
            (_, _, _, true) => State::Degraded,
            _ => State::Operational,
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            State::Operational => "Operational",
            State::Degraded => "Degraded performance",
            State::Down => "Outage",
            State::Maintenance => "Under maintenance",
            State::Unknown => "No data yet",
        }
    }

    /// A CSS class and badge colour.
    pub fn colour(self) -> &'static str {
        match self {
            State::Operational => "#2da44e",
            State::Degraded => "#d4a72c",
            State::Down => "#cf222e",
            State::Maintenance | State::Unknown => "#8c959f",
        }
    }
}

/// The banner over all the components.
pub fn overall(states: &[State]) -> &'static str {
    if states.contains(&State::Down) {
        "Some services are down"
    } else if states.contains(&State::Degraded) {
        "Some services are degraded"
    } else if states.contains(&State::Maintenance) {
        "Maintenance in progress"
    } else {
        "All systems operational"
    }
}

/// One day of the bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub day: NaiveDate,
    /// The share of good probes; None without probes that day.
    pub uptime: Option<f64>,
    /// Called down at some time that day.
    pub down: bool,
}

/// The `DAYS_SHOWN` days up to `now`'s, oldest first, from a monitor's stored buckets.
pub fn days(rows: &[HistoryBucket], open: Option<&HistoryBucket>, now: DateTime<Utc>) -> Vec<Day> {
    let today = now.date_naive();
    (0..DAYS_SHOWN)
        .rev()
        .map(|back| {
            let day = today - Duration::days(back as i64);
            let of_day = rows
                .iter()
                .filter(|b| open.is_none_or(|o| o.start != b.start))
                .chain(open)
                .filter(|b| b.start.date_naive() == day);
            let (probes, failures, down) = of_day.fold((0u64, 0u64, false), |(p, f, d), b| {
                (
                    p + u64::from(b.probes),
                    f + u64::from(b.failures),
                    d || b.down,
                )
            });
            let uptime = (probes > 0).then(|| (probes - failures) as f64 / probes as f64);
            Day { day, uptime, down }
        })
        .collect()
}

/// The share of good probes over the days that have some.
pub fn uptime(days: &[Day]) -> Option<f64> {
    let known: Vec<f64> = days.iter().filter_map(|d| d.uptime).collect();
    (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
}

/// An incident, as the public reads it: when, what kind of trouble, how long, and whether it
/// is over — never its title, type, error or host.
pub fn incident_words(
    name: &str,
    severity: Severity,
    detected_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> String {
    let trouble = match severity {
        Severity::Critical | Severity::High => "outage",
        Severity::Medium | Severity::Low => "degraded service",
    };
    let when = detected_at.format("%b %-d, %H:%M UTC");
    match resolved_at {
        Some(end) => format!(
            "{when} — {name}: {trouble}, resolved after {}.",
            span(end - detected_at)
        ),
        None => format!(
            "{when} — {name}: {trouble}, ongoing for {}.",
            span(now - detected_at)
        ),
    }
}

fn span(duration: Duration) -> String {
    match duration.num_seconds().max(0) {
        s if s < 60 => "less than a minute".to_owned(),
        s if s < 3_600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3_600, (s % 3_600) / 60),
    }
}

/// A shields-style badge: `name | up 99.9%`.
pub fn badge(name: &str, state: State, uptime: Option<f64>) -> String {
    let value = match (state, uptime) {
        (State::Down, _) => "down".to_owned(),
        (State::Maintenance, _) => "maintenance".to_owned(),
        (State::Unknown, _) => "no data".to_owned(),
        (_, Some(uptime)) => format!("up {}", percent(uptime)),
        (_, None) => "up".to_owned(),
    };
    let width = |text: &str| 10 + 7 * text.chars().count();
    let (left, right) = (width(name), width(&value));
    let (name, value) = (xml(name), xml(&value));
    let colour = state.colour();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{name}: {value}"><title>{name}: {value}</title><rect width="{left}" height="20" fill="#555"/><rect x="{left}" width="{right}" height="20" fill="{colour}"/><g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="14">{name}</text><text x="{rx}" y="14">{value}</text></g></svg>"##,
        total = left + right,
        lx = left / 2,
        rx = left + right / 2,
    )
}

/// 99.95%, 100%, 87.3%.
pub fn percent(share: f64) -> String {
    let value = share * 100.0;
    if value >= 99.995 {
        return "100%".to_owned();
    }
    let text = format!("{value:.2}");
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// `text` safe inside XML and HTML text and attributes.
pub fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn bucket(start: DateTime<Utc>, probes: u32, failures: u32, down: bool) -> HistoryBucket {
        HistoryBucket {
            monitor_id: "db".into(),
            start,
            probes,
            failures,
            down,
            latency_ms_sum: 0,
            latency_ms_max: 0,
        }
    }

    #[test]
    fn the_bar_has_ninety_days_with_each_days_uptime() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
        let rows = [
            bucket(now - Duration::hours(1), 100, 0, false),
            bucket(now - Duration::days(1), 100, 10, true),
        ];
        let bar = days(&rows, None, now);
        assert_eq!(bar.len(), DAYS_SHOWN);
        assert_eq!(bar[89].uptime, Some(1.0));
        assert_eq!((bar[88].uptime, bar[88].down), (Some(0.9), true));
        assert_eq!(bar[0].uptime, None);
        assert_eq!(uptime(&bar), Some(0.95));
        assert_eq!(percent(0.95), "95%");
        assert_eq!(percent(0.99951), "99.95%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.0), "0%");
    }

    #[test]
    fn the_public_reads_words_and_a_badge_never_markup() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
        let said = incident_words(
            "Orders",
            Severity::High,
            now - Duration::minutes(90),
            Some(now - Duration::minutes(86)),
            now,
        );
        assert_eq!(
            said,
            "Dec 7, 10:30 UTC — Orders: outage, resolved after 4 min."
        );
        let svg = badge("<Orders>", State::Operational, Some(0.999));
        assert!(
            svg.contains("&lt;Orders&gt;") && svg.contains("up 99.9%") && !svg.contains("<Orders>")
        );
        assert_eq!(State::of(false, false, true, true), State::Maintenance);
        assert_eq!(
            overall(&[State::Operational, State::Down]),
            "Some services are down"
        );
    }
}

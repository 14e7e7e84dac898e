//! Insights for people: how many incidents lately, how fast they were acknowledged and
//! resolved, how trust moved, and how long a playbook usually takes to heal a kind of incident
//! (the dashboard's "expected recovery in ~30 s").
//!
//! A pure function over recent records, so it is cheap to test and never touches the actors;
//! the kernel feeds it the latest incidents and runs from the store.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::model::{Execution, ExecutionStatus, Incident, IncidentStatus, ResolvedBy};
use crate::time::micros;

/// Incidents and runs read to compute insights: recent history, bounded.
pub const HISTORY_MAX: usize = 500;
/// Trust points kept per component for its trend.
const TREND_POINTS_MAX: usize = 10;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Insights {
    /// The window the counts and means cover: the last 24 hours.
    #[serde(with = "micros")]
    pub since: DateTime<Utc>,
    /// Incidents detected in the window, and how many of them are resolved.
    pub incidents: u64,
    pub resolved: u64,
    /// Incidents active now (whenever they opened).
    pub active: u64,
    /// Mean time to acknowledge (by a person), over the window's acknowledged incidents.
    pub mtta_seconds: Option<f64>,
    /// Mean time to resolve, over the window's resolved incidents.
    pub mttr_seconds: Option<f64>,
    /// How long each playbook has taken to heal each kind of incident.
    pub estimates: Vec<RecoveryEstimate>,
    /// Each component's trust right after each of its recent incidents opened, oldest first.
    pub trust_trends: Vec<TrustTrend>,
    /// Each component's incidents in the window, and how fast they were resolved.
    pub components: Vec<ComponentInsight>,
    /// Incidents detected on each of the last 14 days (UTC), oldest first.
    pub per_day: Vec<DayCount>,
}

/// Days the incidents-per-day chart covers.
const DAYS: i64 = 14;

/// One day of the incidents-per-day chart.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct DayCount {
    /// `2026-12-01`.
    pub day: String,
    /// Null when the newest incidents read (at most 500) do not reach back that far.
    pub incidents: Option<u64>,
}

/// One component's last 24 hours: "2 incidents on orders-db, average recovery 8 s".
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ComponentInsight {
    pub component: String,
    pub incidents: u64,
    /// Mean time to resolve, over its resolved incidents in the window.
    pub mttr_seconds: Option<f64>,
}

/// From detection to resolution, for incidents of `event_type` a run of `playbook_id` healed.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct RecoveryEstimate {
    pub playbook_id: String,
    pub event_type: String,
    pub samples: usize,
    pub median_seconds: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct TrustTrend {
    pub component: String,
    pub points: Vec<f64>,
}

/// Computes insights at `now` from recent incidents (any order) and runs.
pub fn compute(incidents: &[Incident], executions: &[Execution], now: DateTime<Utc>) -> Insights {
    let since = now - Duration::hours(24);
    let recent: Vec<&Incident> = incidents
        .iter()
        .filter(|i| i.detected_at >= since)
        .collect();
    let mtta = mean(recent.iter().filter_map(|i| {
        let ack = i.acknowledged_at?;
        Some((ack - i.detected_at).num_milliseconds() as f64 / 1000.0)
    }));
    let mttr = mean(recent.iter().filter_map(|i| i.resolution_time_seconds));
    let resolved = recent
        .iter()
        .filter(|i| i.status == IncidentStatus::Resolved)
        .count();
    Insights {
        since,
        incidents: recent.len() as u64,
        resolved: resolved as u64,
        active: incidents.iter().filter(|i| i.status.is_active()).count() as u64,
        mtta_seconds: mtta,
        mttr_seconds: mttr,
        estimates: estimates(incidents, &healers(incidents, executions)),
        trust_trends: trust_trends(incidents),
        components: components(&recent),
        per_day: per_day(incidents, now),
    }
}

/// Incidents per day over the last [`DAYS`]; days before the oldest incident read are unknown
/// when the read was cut at [`HISTORY_MAX`].
fn per_day(incidents: &[Incident], now: DateTime<Utc>) -> Vec<DayCount> {
    let cut = incidents.len() >= HISTORY_MAX;
    let oldest = incidents.iter().map(|i| i.detected_at.date_naive()).min();
    let today = now.date_naive();
    (0..DAYS)
        .rev()
        .map(|back| {
            let day = today - Duration::days(back);
            let known = !cut || oldest.is_some_and(|oldest| oldest < day);
            let count = incidents
                .iter()
                .filter(|i| i.detected_at.date_naive() == day)
                .count();
            DayCount {
                day: day.to_string(),
                incidents: known.then_some(count as u64),
            }
        })
        .collect()
}

/// `incidents` grouped by component, in component order.
fn by_component<'a>(
    incidents: impl Iterator<Item = &'a Incident>,
) -> BTreeMap<&'a str, Vec<&'a Incident>> {
    let mut grouped: BTreeMap<&str, Vec<&Incident>> = BTreeMap::new();
    for incident in incidents {
        grouped
            .entry(incident.source.as_str())
            .or_default()
            .push(incident);
    }
    grouped
}

/// Each component's count and mean recovery over `recent` incidents, by component.
fn components(recent: &[&Incident]) -> Vec<ComponentInsight> {
    by_component(recent.iter().copied())
        .into_iter()
        .map(|(component, list)| ComponentInsight {
            component: component.to_owned(),
            incidents: list.len() as u64,
            mttr_seconds: mean(list.iter().filter_map(|i| i.resolution_time_seconds)),
        })
        .collect()
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let values: Vec<f64> = values.collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Which playbook healed which incident: its last succeeded run that ended by the time the
/// incident was resolved (an earlier run on the same incident did not heal it).
fn healers<'a>(incidents: &[Incident], executions: &'a [Execution]) -> HashMap<u64, &'a Execution> {
    let mut healer: HashMap<u64, &Execution> = HashMap::new();
    for execution in executions
        .iter()
        .filter(|e| e.status == ExecutionStatus::Succeeded)
    {
        let Some(incident) = incidents.iter().find(|i| i.id == execution.incident_id) else {
            continue;
        };
        let ended_in_time = match (execution.finished_at, incident.resolved_at) {
            (Some(finished), Some(resolved)) => finished <= resolved,
            _ => false,
        };
        if !ended_in_time || incident.resolved_by != Some(ResolvedBy::Playbook) {
            continue;
        }
        let entry = healer.entry(incident.id).or_insert(execution);
        if execution.finished_at > entry.finished_at {
            *entry = execution;
        }
    }
    healer
}

/// The median recovery of each (playbook, event type) from the incidents it healed.
fn estimates(incidents: &[Incident], healer: &HashMap<u64, &Execution>) -> Vec<RecoveryEstimate> {
    let mut samples: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for incident in incidents {
        let (Some(run), Some(seconds)) =
            (healer.get(&incident.id), incident.resolution_time_seconds)
        else {
            continue;
        };
        samples
            .entry((run.playbook_id.clone(), incident.event_type.clone()))
            .or_default()
            .push(seconds);
    }
    samples
        .into_iter()
        .map(|((playbook_id, event_type), mut seconds)| {
            seconds.sort_by(f64::total_cmp);
            let mid = seconds.len() / 2;
            let median = if seconds.len() % 2 == 0 {
                (seconds[mid - 1] + seconds[mid]) / 2.0
            } else {
                seconds[mid]
            };
            RecoveryEstimate {
                playbook_id,
                event_type,
                samples: seconds.len(),
                median_seconds: median,
            }
        })
        .collect()
}

/// Each component's trust at its last TREND_POINTS_MAX incidents, oldest first.
fn trust_trends(incidents: &[Incident]) -> Vec<TrustTrend> {
    by_component(incidents.iter())
        .into_iter()
        .map(|(component, mut list)| {
            list.sort_by_key(|i| i.detected_at);
            let skip = list.len().saturating_sub(TREND_POINTS_MAX);
            TrustTrend {
                component: component.to_owned(),
                points: list.iter().skip(skip).map(|i| i.trust).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    fn incident(id: u64, age_s: i64, resolved_in: Option<f64>, now: DateTime<Utc>) -> Incident {
        Incident {
            id,
            event_type: "db.connection_lost".into(),
            severity: Severity::High,
            source: "orders-db".into(),
            title: "Database connection lost".into(),
            status: if resolved_in.is_some() {
                IncidentStatus::Resolved
            } else {
                IncidentStatus::Open
            },
            detected_at: now - Duration::seconds(age_s),
            acknowledged_at: Some(now - Duration::seconds(age_s - 4)),
            resolved_at: resolved_in.map(|s| {
                now - Duration::seconds(age_s) + Duration::milliseconds((s * 1000.0) as i64)
            }),
            resolution_time_seconds: resolved_in,
            occurrences: 1,
            trust: 1.0 - id as f64 / 10.0,
            resolved_by: resolved_in.map(|_| ResolvedBy::Playbook),
            active_run_id: None,
            work_order_id: None,
            recovery_seen: false,
            awaiting_alert: false,
            silenced: false,
            event_seqs: Vec::new(),
            symptoms: Vec::new(),
            suggestions: Vec::new(),
            labels: Default::default(),
            alerts_firing: Vec::new(),
            superseded_by: None,
            relapses: 0,
            reopened_at: None,
            maintenance: None,
        }
    }

    fn run(incident: &Incident, playbook: &str, finished_after_s: i64) -> Execution {
        let now = incident.detected_at;
        let incident_id = incident.id;
        Execution {
            run_id: format!("run-{incident_id}-{playbook}").as_str().into(),
            playbook_id: playbook.into(),
            playbook_name: "Reconnect DB".into(),
            incident_id,
            source: incident.source.clone(),
            by_hand: false,
            started_by: None,
            agent_id: "agent".into(),
            status: ExecutionStatus::Succeeded,
            steps_completed: 1,
            steps: Vec::new(),
            started_at: now,
            finished_at: Some(now + Duration::seconds(finished_after_s)),
            duration_seconds: Some(1.0),
            work_order_id: None,
        }
    }

    #[test]
    fn counts_means_medians_and_trends_come_from_the_window_and_the_history() {
        let now = Utc::now();
        let incidents = vec![
            incident(1, 3 * 24 * 3600, Some(30.0), now), // outside the window
            incident(2, 600, Some(6.0), now),
            incident(3, 300, Some(10.0), now),
            incident(4, 60, None, now),
        ];
        let runs = vec![
            run(&incidents[0], "db_reconnect", 1),
            // A first run on incident 2 that did not heal it, then the one that did.
            run(&incidents[1], "poke", 1),
            run(&incidents[1], "db_reconnect", 5),
            run(&incidents[2], "db_reconnect", 2),
            // Ends after incident 3 was resolved: not its healer.
            run(&incidents[2], "late", 60),
        ];
        let insights = compute(&incidents, &runs, now);
        assert_eq!(insights.incidents, 3);
        assert_eq!(insights.resolved, 2);
        assert_eq!(insights.active, 1);
        assert_eq!(insights.mttr_seconds, Some(8.0));
        assert_eq!(insights.mtta_seconds, Some(4.0));
        assert_eq!(
            insights.estimates,
            [RecoveryEstimate {
                playbook_id: "db_reconnect".into(),
                event_type: "db.connection_lost".into(),
                samples: 3,
                median_seconds: 10.0,
            }]
        );
        assert_eq!(insights.trust_trends[0].points, [0.9, 0.8, 0.7, 0.6]);
        let empty = compute(&[], &[], now);
        assert!(empty.mttr_seconds.is_none());
        assert_eq!(empty.per_day.len(), 14);
        assert_eq!(empty.per_day[13].day, now.date_naive().to_string());
        assert_eq!(empty.per_day[0].incidents, Some(0));
    }

    #[test]
    fn each_component_has_its_own_count_and_recovery_over_the_window() {
        let now = Utc::now();
        let mut other = incident(5, 120, Some(2.0), now);
        other.source = "cache".into();
        let incidents = vec![
            incident(1, 3 * 24 * 3600, Some(30.0), now), // outside the window
            incident(2, 600, Some(6.0), now),
            incident(3, 300, Some(10.0), now),
            incident(4, 60, None, now),
            other,
        ];
        let insights = compute(&incidents, &[], now);
        let component = |name: &str| {
            insights
                .components
                .iter()
                .find(|c| c.component == name)
                .cloned()
                .unwrap()
        };
        let db = component("orders-db");
        assert_eq!((db.incidents, db.mttr_seconds), (3, Some(8.0)));
        let cache = component("cache");
        assert_eq!((cache.incidents, cache.mttr_seconds), (1, Some(2.0)));
    }

    #[test]
    fn incidents_are_counted_per_day_and_unknown_days_say_so() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .to_utc();
        let incidents = [
            incident(1, 3_600, None, now),
            incident(2, 86_400, None, now),
        ];
        let days = compute(&incidents, &[], now).per_day;
        assert_eq!(days[13].incidents, Some(1), "{days:?}");
        assert_eq!(days[12].incidents, Some(1));
        assert_eq!(days[12].day, "2026-12-01");
        let many: Vec<Incident> = (0..HISTORY_MAX as u64)
            .map(|id| incident(id, 60, None, now))
            .collect();
        let days = compute(&many, &[], now).per_day;
        assert_eq!(
            days[13].incidents, None,
            "the read was cut on its oldest day"
        );
        assert_eq!(days[0].incidents, None);
    }
}

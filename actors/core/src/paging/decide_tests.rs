//! The paging book on one route: wait, remind, escalate through levels, stop on an
//! acknowledgement or a heal, and start afresh when the incident comes back.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::model::Severity;
use crate::spec::{LevelSpec, RouteMatchers};

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn route() -> RouteSpec {
    RouteSpec {
        id: "db-team".into(),
        matchers: RouteMatchers::default(),
        receivers: vec!["db".into()],
        on: vec![
            Moment::Opened,
            Moment::Escalated,
            Moment::Resolved,
            Moment::Reopened,
        ],
        wait_ms: 120_000,
        repeat_ms: Some(1_800_000),
        levels: vec![LevelSpec {
            after_ms: 600_000,
            receivers: vec!["lead".into()],
        }],
        continue_matching: false,
    }
}

fn facts(status: IncidentStatus) -> Facts {
    Facts {
        id: 7,
        event_type: "db.connection_failed".into(),
        severity: Severity::High,
        source: "orders-db".into(),
        title: "Database down".into(),
        status,
        detected_at: t(0),
        acknowledged_at: None,
        resolved_at: None,
        labels: Default::default(),
        relapses: 0,
        reopened_at: None,
        silenced: false,
        work_order_id: None,
    }
}

fn step(route: &RouteSpec, facts: &Facts, page: &Page, at: i64) -> Decision {
    decide(route, facts, page, t(at))
}

fn reasons(decision: &Decision) -> Vec<(Reason, Vec<String>)> {
    let tells = decision.tells.iter();
    tells
        .map(|tell| (tell.reason, tell.receivers.clone()))
        .collect()
}

#[test]
fn an_incident_healed_within_the_wait_tells_nobody() {
    let route = route();
    let open = facts(IncidentStatus::Open);
    let first = step(&route, &open, &Page::new(7, "db-team", 0), 1);
    assert!(first.tells.is_empty());
    assert_eq!(first.next_at, Some(t(120)));
    let mut healed = open.clone();
    healed.status = IncidentStatus::Resolved;
    let after = step(&route, &healed, &first.page, 60);
    assert!(after.tells.is_empty());
    assert!(after.page.done);
    assert_eq!(after.next_at, None);
}

#[test]
fn nobody_acknowledging_brings_reminders_and_the_next_level() {
    let route = route();
    let open = facts(IncidentStatus::Open);
    let told = step(&route, &open, &Page::new(7, "db-team", 0), 120);
    assert_eq!(reasons(&told), [(Reason::Opened, vec!["db".to_owned()])]);
    assert_eq!(
        told.next_at,
        Some(t(720)),
        "the level comes before the reminder"
    );
    let level = step(&route, &open, &told.page, 720);
    assert_eq!(reasons(&level), [(Reason::Level, vec!["lead".to_owned()])]);
    assert_eq!(level.page.level, 2);
    assert_eq!(level.next_at, Some(t(720 + 1800)));
    let nothing = step(&route, &open, &level.page, 721);
    assert!(nothing.tells.is_empty());
    let reminded = step(&route, &open, &level.page, 2520);
    let both = vec!["db".to_owned(), "lead".to_owned()];
    assert_eq!(reasons(&reminded), [(Reason::Reminder, both.clone())]);
    let mut healed = open.clone();
    healed.status = IncidentStatus::Resolved;
    let resolved = step(&route, &healed, &reminded.page, 2600);
    assert_eq!(reasons(&resolved), [(Reason::Resolved, both)]);
    assert!(resolved.page.done);
}

#[test]
fn an_acknowledgement_stops_reminders_and_levels_at_once() {
    let route = route();
    let open = facts(IncidentStatus::Open);
    let told = step(&route, &open, &Page::new(7, "db-team", 0), 120);
    let mut acked = open.clone();
    acked.status = IncidentStatus::Acknowledged;
    acked.acknowledged_at = Some(t(130));
    let later = step(&route, &acked, &told.page, 10_000);
    assert!(later.tells.is_empty());
    assert_eq!(later.next_at, None);
    let early = step(&route, &acked, &Page::new(7, "db-team", 0), 200);
    assert!(
        early.tells.is_empty(),
        "acknowledged before anyone was told"
    );
}

#[test]
fn an_escalation_waits_like_an_opening_and_is_told_once() {
    let route = route();
    let escalated = facts(IncidentStatus::Escalated);
    let early = step(&route, &escalated, &Page::new(7, "db-team", 0), 5);
    assert!(early.tells.is_empty(), "it may still come back by itself");
    assert_eq!(early.next_at, Some(t(120)));
    let told = step(&route, &escalated, &early.page, 120);
    assert_eq!(reasons(&told), [(Reason::Escalated, vec!["db".to_owned()])]);
    let again = step(&route, &escalated, &told.page, 6);
    assert!(again.tells.is_empty());
    let open = facts(IncidentStatus::Open);
    let opened = step(&route, &open, &Page::new(7, "db-team", 0), 120);
    let then = step(&route, &escalated, &opened.page, 130);
    assert_eq!(reasons(&then), [(Reason::Escalated, vec!["db".to_owned()])]);
}

#[test]
fn a_relapse_is_a_new_episode_told_as_reopened() {
    let route = route();
    let mut healed = facts(IncidentStatus::Resolved);
    let told = step(
        &route,
        &facts(IncidentStatus::Open),
        &Page::new(7, "db-team", 0),
        120,
    );
    let done = step(&route, &healed, &told.page, 200).page;
    healed.status = IncidentStatus::Open;
    healed.relapses = 1;
    healed.reopened_at = Some(t(300));
    let waiting = step(&route, &healed, &done, 301);
    assert!(waiting.tells.is_empty());
    assert_eq!(waiting.next_at, Some(t(420)));
    let reopened = step(&route, &healed, &waiting.page, 420);
    assert_eq!(
        reasons(&reopened),
        [(Reason::Reopened, vec!["db".to_owned()])]
    );
    assert_eq!(reopened.page.episode, 1);
}

#[test]
fn maintenance_and_unwanted_moments_tell_nobody() {
    let mut route = route();
    let mut silenced = facts(IncidentStatus::Open);
    silenced.silenced = true;
    assert!(step(&route, &silenced, &Page::new(7, "db-team", 0), 999)
        .tells
        .is_empty());
    route.on = vec![Moment::Resolved];
    let open = facts(IncidentStatus::Open);
    let decided = step(&route, &open, &Page::new(7, "db-team", 0), 999);
    assert!(decided.tells.is_empty());
    assert_eq!(decided.next_at, None);
}

#[test]
fn routes_take_the_first_match_unless_it_continues() {
    let mut catch_all = route();
    catch_all.id = "all".into();
    let mut db = route();
    db.matchers.event_types = vec!["db.*".into()];
    db.matchers.severities = vec![Severity::High, Severity::Critical];
    let labels = Default::default();
    let routes = [db.clone(), catch_all.clone()];
    let ids = |taken: Vec<&RouteSpec>| taken.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    let high = crate::spec::routes_for(&routes, "x", "db.down", Severity::High, &labels);
    assert_eq!(ids(high), ["db-team"]);
    let low = crate::spec::routes_for(&routes, "x", "db.down", Severity::Low, &labels);
    assert_eq!(ids(low), ["all"]);
    db.continue_matching = true;
    let routes = [db, catch_all];
    let both = crate::spec::routes_for(&routes, "x", "db.down", Severity::High, &labels);
    assert_eq!(ids(both), ["db-team", "all"]);
}

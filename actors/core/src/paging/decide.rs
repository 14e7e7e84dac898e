//! [`decide`]: given a route, what is known of an incident, its page so far and the time,
//! what to tell whom now, the page after it, and when to look again. Pure: the same inputs
//! decide the same way after a restart, which is what makes a page survive a crash.

use chrono::{DateTime, Duration, Utc};

use super::{Facts, Page, Reason, Tell};
use crate::model::IncidentStatus;
use crate::spec::{Moment, RouteSpec};

/// What to do now for one page.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub tells: Vec<Tell>,
    pub page: Page,
    /// When to decide again if nothing is heard before; none: only when the incident changes.
    pub next_at: Option<DateTime<Utc>>,
}

/// Decides one page of `facts`' incident on `route` at `now`.
pub fn decide(route: &RouteSpec, facts: &Facts, page: &Page, now: DateTime<Utc>) -> Decision {
    let mut page = if facts.relapses > page.episode {
        // It came back after it was healed: a new episode, told afresh.
        Page::new(facts.id, &route.id, facts.relapses)
    } else {
        page.clone()
    };
    let mut tells = Vec::new();
    if page.done && facts.status != IncidentStatus::Resolved {
        page.done = false;
    }
    if facts.silenced || page.done {
        page.done = page.done || facts.status == IncidentStatus::Resolved;
        return Decision {
            tells,
            page,
            next_at: None,
        };
    }
    if facts.status == IncidentStatus::Resolved {
        if page.level > 0 && wants(route, Moment::Resolved) {
            let everyone = reached(route, page.level);
            tells.push(tell(&mut page, Moment::Resolved.into(), everyone, now));
            page.told.push(Moment::Resolved);
        }
        page.done = true;
        return Decision {
            tells,
            page,
            next_at: None,
        };
    }
    let next_at = if page.level == 0 {
        first_tell(route, facts, &mut page, &mut tells, now)
    } else {
        later_tells(route, facts, &mut page, &mut tells, now)
    };
    Decision {
        tells,
        page,
        next_at,
    }
}

/// Nobody told yet: tell the first receivers once `wait_ms` has passed (what Grace gave up
/// healing is told as escalated), unless a person has it already.
fn first_tell(
    route: &RouteSpec,
    facts: &Facts,
    page: &mut Page,
    tells: &mut Vec<Tell>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if facts.acknowledged() {
        return None;
    }
    let escalated = is_escalated(facts) && wants(route, Moment::Escalated);
    let opening = if page.episode > 0 && wants(route, Moment::Reopened) {
        Some(Moment::Reopened)
    } else {
        wants(route, Moment::Opened).then_some(Moment::Opened)
    };
    let due = facts.episode_start() + ms(route.wait_ms);
    let moment = match opening {
        // Not healed in time either way: a component may still come back by itself after
        // Grace gave up on it, so an escalation waits as long as an opening.
        _ if now < due && (escalated || opening.is_some()) => return Some(due),
        _ if escalated => Moment::Escalated,
        Some(moment) => moment,
        None => return None,
    };
    page.level = 1;
    page.first_told_at = Some(now);
    tells.push(tell(page, moment.into(), route.receivers.clone(), now));
    page.told.push(moment);
    next_due(route, page)
}

/// Told already: an escalation is news; then, while nobody acknowledges, the next level and
/// reminders, each when due.
fn later_tells(
    route: &RouteSpec,
    facts: &Facts,
    page: &mut Page,
    tells: &mut Vec<Tell>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if is_escalated(facts)
        && wants(route, Moment::Escalated)
        && !page.told.contains(&Moment::Escalated)
    {
        tells.push(tell(
            page,
            Reason::Escalated,
            reached(route, page.level),
            now,
        ));
        page.told.push(Moment::Escalated);
    }
    if facts.acknowledged() {
        return None;
    }
    let next_level = route.levels.get(page.level as usize - 1);
    if let (Some(level), Some(first)) = (next_level, page.first_told_at) {
        if now >= first + ms(level.after_ms) {
            page.level += 1;
            tells.push(tell(page, Reason::Level, level.receivers.clone(), now));
        }
    }
    if let (Some(repeat_ms), Some(last)) = (route.repeat_ms, page.last_told_at) {
        if now >= last + ms(repeat_ms) {
            page.reminders += 1;
            tells.push(tell(
                page,
                Reason::Reminder,
                reached(route, page.level),
                now,
            ));
        }
    }
    next_due(route, page)
}

/// The earliest of the next level and the next reminder.
fn next_due(route: &RouteSpec, page: &Page) -> Option<DateTime<Utc>> {
    let level = route
        .levels
        .get(page.level as usize - 1)
        .zip(page.first_told_at)
        .map(|(level, first)| first + ms(level.after_ms));
    let reminder = route
        .repeat_ms
        .zip(page.last_told_at)
        .map(|(repeat_ms, last)| last + ms(repeat_ms));
    level.into_iter().chain(reminder).min()
}

fn tell(page: &mut Page, reason: Reason, receivers: Vec<String>, now: DateTime<Utc>) -> Tell {
    page.last_told_at = Some(now);
    Tell {
        reason,
        level: page.level,
        receivers,
    }
}

/// The receivers of every level reached, each once.
fn reached(route: &RouteSpec, level: u32) -> Vec<String> {
    let levels = route.levels.iter().take(level.saturating_sub(1) as usize);
    let mut all: Vec<String> = Vec::new();
    for id in route
        .receivers
        .iter()
        .chain(levels.flat_map(|l| l.receivers.iter()))
    {
        if !all.contains(id) {
            all.push(id.clone());
        }
    }
    all
}

fn wants(route: &RouteSpec, moment: Moment) -> bool {
    route.on.contains(&moment)
}

/// Grace gave up healing it: a failed run, or an overdue work order while a run goes on.
fn is_escalated(facts: &Facts) -> bool {
    facts.status == IncidentStatus::Escalated || facts.work_order_id.is_some()
}

fn ms(ms: u64) -> Duration {
    Duration::milliseconds(ms.min(i64::MAX as u64) as i64)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

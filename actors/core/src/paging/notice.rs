//! What each receiver kind is sent for one tell: pure builders, no I/O. The body is recorded
//! with the pending delivery (the outbox), so it never holds a secret: PagerDuty's routing key
//! and Opsgenie's API key are added by the sender.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{Facts, Reason, Tell};
use crate::model::Severity;
use crate::spec::ReceiverKind;

/// What a tell says, in words: a subject line and a few lines of text.
pub struct Words {
    pub subject: String,
    pub text: String,
}

/// The words of `tell` about `facts` on route `route_id` at `now`.
pub fn words(facts: &Facts, tell: &Tell, route_id: &str, now: DateTime<Utc>) -> Words {
    let what = format!("#{} {} on {}", facts.id, facts.title, facts.source);
    let since = now.signed_duration_since(facts.episode_start());
    let for_how_long = human(since.num_seconds().max(0));
    let (head, line) = match tell.reason {
        Reason::Opened => ("Open", format!("Not healed after {for_how_long}.")),
        Reason::Reopened => (
            "Reopened",
            "It came back soon after it was healed.".to_owned(),
        ),
        Reason::Escalated => (
            "Needs a person",
            match &facts.work_order_id {
                Some(id) => format!("Grace could not heal it: work order {id}."),
                None => "Grace could not heal it.".to_owned(),
            },
        ),
        Reason::Resolved => ("Resolved", format!("Healed after {for_how_long}.")),
        Reason::Reminder => (
            "Still open",
            format!("Open for {for_how_long}, not acknowledged."),
        ),
        Reason::Level => (
            "Escalated to you",
            format!(
                "Open for {for_how_long}, and nobody acknowledged it (level {}).",
                tell.level
            ),
        ),
    };
    let text = format!(
        "{line}\nIncident #{} — {}\nComponent: {}\nEvent type: {}\nSeverity: {}\nDetected: {}\nRoute: {route_id}",
        facts.id,
        facts.title,
        facts.source,
        facts.event_type,
        severity_word(facts.severity),
        facts.detected_at.to_rfc3339(),
    );
    Words {
        subject: format!("[Grace] {head}: {what}"),
        text,
    }
}

/// The body one receiver kind is sent.
pub fn body(
    kind: &ReceiverKind,
    facts: &Facts,
    tell: &Tell,
    route_id: &str,
    now: DateTime<Utc>,
) -> Value {
    let words = words(facts, tell, route_id, now);
    match kind {
        ReceiverKind::Webhook { .. } => json!({
            "kind": "page",
            "reason": tell.reason.as_str(),
            "level": tell.level,
            "route": route_id,
            "message": words.subject,
            "incident": incident(facts),
        }),
        ReceiverKind::Slack { .. } => {
            crate::delivery::slack(&format!("*{}*\n{}", words.subject, words.text))
        }
        ReceiverKind::Discord { .. } => json!({
            "content": cut(&format!("**{}**\n{}", words.subject, words.text), 2_000),
            // Titles come from pushed events: they must not ping @everyone.
            "allowed_mentions": { "parse": [] },
        }),
        ReceiverKind::Teams { .. } => teams(&words, facts),
        ReceiverKind::Email(_) => json!({ "subject": words.subject, "text": words.text }),
        ReceiverKind::Pagerduty { .. } => pagerduty(facts, tell, &words, now),
        ReceiverKind::Opsgenie { .. } => opsgenie(facts, tell, &words),
    }
}

/// The alias (Opsgenie) and dedup key (PagerDuty) of an incident: one alert per incident.
pub fn alert_key(incident_id: u64) -> String {
    format!("grace-incident-{incident_id}")
}

fn incident(facts: &Facts) -> Value {
    json!({
        "id": facts.id,
        "title": facts.title,
        "source": facts.source,
        "event_type": facts.event_type,
        "severity": facts.severity,
        "status": facts.status,
        "detected_at": facts.detected_at.to_rfc3339(),
    })
}

/// PagerDuty Events API v2: trigger (repeats fold into the same alert by `dedup_key`), or
/// resolve.
fn pagerduty(facts: &Facts, tell: &Tell, words: &Words, now: DateTime<Utc>) -> Value {
    let dedup_key = alert_key(facts.id);
    if tell.reason == Reason::Resolved {
        return json!({ "event_action": "resolve", "dedup_key": dedup_key });
    }
    let severity = match facts.severity {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "info",
    };
    json!({
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "client": "Grace",
        "payload": {
            "summary": cut(&words.subject, 1_024),
            "source": facts.source,
            "severity": severity,
            "timestamp": now.to_rfc3339(),
            "component": facts.source,
            "class": facts.event_type,
            "custom_details": { "incident": incident(facts), "reason": tell.reason.as_str(), "level": tell.level, "text": words.text },
        },
    })
}

/// Opsgenie's Alert API: which request (`path` under the API's url) with which JSON.
fn opsgenie(facts: &Facts, tell: &Tell, words: &Words) -> Value {
    let alias = alert_key(facts.id);
    if tell.reason == Reason::Resolved {
        return json!({
            "path": format!("/v2/alerts/{alias}/close?identifierType=alias"),
            "json": { "source": "Grace", "note": words.text },
        });
    }
    let priority = match facts.severity {
        Severity::Critical => "P1",
        Severity::High => "P2",
        Severity::Medium => "P3",
        Severity::Low => "P4",
    };
    json!({
        "path": "/v2/alerts",
        "json": {
            "message": cut(&words.subject, 130),
            "alias": alias,
            "description": cut(&words.text, 15_000),
            "entity": facts.source,
            "source": "Grace",
            "priority": priority,
            "tags": ["grace", facts.event_type],
            "details": { "incident": facts.id.to_string(), "reason": tell.reason.as_str(), "level": tell.level.to_string() },
        },
    })
}

/// A Teams message with one Adaptive Card.
fn teams(words: &Words, facts: &Facts) -> Value {
    let fact = |title: &str, value: &str| json!({ "title": title, "value": value });
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    { "type": "TextBlock", "text": words.subject, "weight": "Bolder", "size": "Medium", "wrap": true },
                    { "type": "TextBlock", "text": words.text.lines().next().unwrap_or_default(), "wrap": true },
                    { "type": "FactSet", "facts": [
                        fact("Component", &facts.source),
                        fact("Event type", &facts.event_type),
                        fact("Severity", severity_word(facts.severity)),
                    ]},
                ],
            },
        }],
    })
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// `text` cut to at most `chars_max` characters.
fn cut(text: &str, chars_max: usize) -> String {
    text.chars().take(chars_max).collect()
}

/// 45 s, 3 min, 2 h 5 min.
fn human(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3_600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3_600, (s % 3_600) / 60),
    }
}

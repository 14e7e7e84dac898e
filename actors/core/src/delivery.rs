//! What webhooks receive, as pending [`Delivery`] records: pure builders, no I/O.
//!
//! A delivery is recorded in the same transaction as the work order or `notify` step it tells
//! about (an outbox), with the body it will post, so a crash can lose neither; the notifier
//! then sends every pending delivery, after a restart too.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::model::StoreFailure;

use crate::model::{Delivery, DeliveryStatus, Incident, WorkOrder, WorkOrderReason};
use crate::spec::{WebhookFormat, WebhookSpec};

/// A message for people from a playbook's `notify` step.
#[derive(Debug, Clone)]
pub struct Notification {
    pub notification_id: String,
    pub incident: Incident,
    pub message: String,
    /// Webhook ids to tell; every webhook when empty.
    pub webhooks: Vec<String>,
}

/// Grace about itself, told to every webhook at once and never stored: it is sent when the
/// store cannot take writes, so it cannot wait for the store.
#[derive(Debug, Clone)]
pub enum Alert {
    StoreFailing(StoreFailure),
    StoreRecovered {
        failure: StoreFailure,
        until: DateTime<Utc>,
    },
}

/// What a webhook receives for an alert.
pub fn alert_body(webhook: &WebhookSpec, alert: &Alert) -> Value {
    let (kind, text, failure) = match alert {
        Alert::StoreFailing(failure) => (
            "grace_degraded",
            format!(
                ":warning: Grace cannot write to its store since {}: {}. It keeps probing and \
                 will record what happens once it can write again.",
                failure.since.to_rfc3339(),
                failure.reason
            ),
            failure,
        ),
        Alert::StoreRecovered { failure, until } => (
            "grace_recovered",
            format!(
                ":white_check_mark: Grace writes to its store again (it could not from {} to {}, \
                 {} failed commits).",
                failure.since.to_rfc3339(),
                until.to_rfc3339(),
                failure.failed_commits
            ),
            failure,
        ),
    };
    match webhook.format {
        WebhookFormat::Json => json!({
            "kind": kind,
            "component": "store",
            "since": failure.since.to_rfc3339(),
            "reason": failure.reason,
            "message": text,
        }),
        WebhookFormat::Slack => slack(&text),
    }
}

/// One pending delivery of `work_order` to every webhook.
pub fn for_work_order(
    webhooks: &[WebhookSpec],
    work_order: &WorkOrder,
    incident: &Incident,
) -> Vec<Delivery> {
    webhooks
        .iter()
        .map(|webhook| Delivery {
            work_order_id: Some(work_order.work_order_id.clone()),
            ..pending(
                webhook,
                incident.id,
                work_order_body(webhook, work_order, incident),
            )
        })
        .collect()
}

/// One pending delivery of a `notify` message to each webhook it names (all when none).
pub fn for_notification(webhooks: &[WebhookSpec], notification: &Notification) -> Vec<Delivery> {
    webhooks
        .iter()
        .filter(|w| notification.webhooks.is_empty() || notification.webhooks.contains(&w.id))
        .map(|webhook| {
            let body = match webhook.format {
                WebhookFormat::Json => json!({
                    "kind": "notification",
                    "notification_id": notification.notification_id,
                    "message": notification.message,
                    "incident": incident_summary(&notification.incident),
                }),
                WebhookFormat::Slack => slack(&notification.message),
            };
            Delivery {
                notification_id: Some(notification.notification_id.clone()),
                ..pending(webhook, notification.incident.id, body)
            }
        })
        .collect()
}

/// A delivery record for `body` to `webhook`, not yet sent.
pub fn pending(webhook: &WebhookSpec, incident_id: u64, body: Value) -> Delivery {
    pending_to(&webhook.id, incident_id, body)
}

/// A delivery record for `body` to the receiver or webhook `receiver_id`, not yet sent.
pub fn pending_to(receiver_id: &str, incident_id: u64, body: Value) -> Delivery {
    Delivery {
        delivery_id: format!("dl-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        webhook_id: receiver_id.to_owned(),
        work_order_id: None,
        notification_id: None,
        incident_id,
        status: DeliveryStatus::Pending,
        attempts: 0,
        last_status: None,
        last_error: None,
        created_at: crate::time::now(),
        finished_at: None,
        body,
    }
}

/// The incident as webhooks see it: what it is, never the events' payloads.
fn incident_summary(incident: &Incident) -> Value {
    json!({
        "id": incident.id,
        "title": incident.title,
        "source": incident.source,
        "event_type": incident.event_type,
        "severity": incident.severity,
        "detected_at": incident.detected_at.to_rfc3339(),
    })
}

/// What a webhook receives for a work order.
fn work_order_body(webhook: &WebhookSpec, work_order: &WorkOrder, incident: &Incident) -> Value {
    match webhook.format {
        WebhookFormat::Json => json!({
            "kind": "work_order",
            "work_order": work_order,
            "incident": incident_summary(incident),
        }),
        WebhookFormat::Slack => slack(&slack_text(work_order, incident)),
    }
}

/// A Slack message of `text`, with `&`, `<` and `>` escaped as Slack asks: titles and sources
/// come from pushed events, and unescaped they could ping `<!channel>` or hide a link.
pub fn slack(text: &str) -> Value {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    json!({ "text": escaped })
}

fn slack_text(work_order: &WorkOrder, incident: &Incident) -> String {
    let what = match (&work_order.run_id, work_order.failing_step.as_deref()) {
        _ if matches!(
            work_order.reason,
            WorkOrderReason::Overdue | WorkOrderReason::Relapsing
        ) =>
        {
            work_order.output.clone()
        }
        (None, _) => format!(
            "Playbook `{}` was stopped from running again: {}",
            work_order.playbook_id, work_order.output
        ),
        (Some(_), Some(step)) => {
            format!(
                "Playbook `{}` failed at step `{step}`",
                work_order.playbook_id
            )
        }
        (Some(_), None) => format!("Playbook `{}` failed", work_order.playbook_id),
    };
    format!(
        ":rotating_light: Grace could not heal incident #{} — {}. {what}. Work order {}.",
        incident.id, incident.title, work_order.work_order_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_text_cannot_ping_everyone_or_hide_a_link() {
        let body = slack("db <!channel> down & <http://evil.example|click>");
        assert_eq!(
            body["text"],
            "db &lt;!channel&gt; down &amp; &lt;http://evil.example|click&gt;"
        );
    }
}

//! The notifier: sends every work order to every configured webhook (and a playbook's `notify`
//! messages to the webhooks it names), with retries and backoff, and records each delivery.
//!
//! Each delivery runs as its own task so a slow receiver never holds up another one or the
//! actor; the task reports its outcome back, and this actor, the one writer of deliveries,
//! persists it. Deliveries in flight are bounded: past the bound a work order's delivery is
//! recorded as failed at once instead of queueing without end.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::{json, Value};

use crate::bus_actor::publish;
use crate::context::Ctx;
use crate::event::{types, EventDraft};
use crate::model::{Delivery, Incident, WorkOrder, WorkOrderReason};
use crate::spec::{WebhookFormat, WebhookSpec};

/// Deliveries in flight at once.
const DELIVERIES_IN_FLIGHT_MAX: usize = 256;

pub struct NotifierActor;

pub struct NotifierState {
    ctx: Arc<Ctx>,
    http: reqwest::Client,
    in_flight: usize,
}

pub enum NotifierMsg {
    /// A work order was recorded: send it to every webhook. (Boxed: the incident is large,
    /// and every message in the mailbox would pay for it.)
    Escalated(Box<(WorkOrder, Incident)>),
    /// A playbook's `notify` step: send `message` about the incident to `webhooks` (all when
    /// empty).
    Notify(Box<Notification>),
    /// A delivery task finished.
    Delivered(Delivery),
}

/// A message for people from a playbook's `notify` step.
#[derive(Debug, Clone)]
pub struct Notification {
    pub notification_id: String,
    pub incident: Incident,
    pub message: String,
    pub webhooks: Vec<String>,
}

impl Actor for NotifierActor {
    type Msg = NotifierMsg;
    type State = NotifierState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(NotifierState {
            ctx,
            http: reqwest::Client::new(),
            in_flight: 0,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            NotifierMsg::Escalated(escalation) => {
                let (work_order, incident) = *escalation;
                for webhook in state.ctx.spec().webhooks.iter().cloned() {
                    let body = body(&webhook, &work_order, &incident);
                    let subject = Subject {
                        work_order_id: Some(work_order.work_order_id.clone()),
                        notification_id: None,
                        incident_id: incident.id,
                    };
                    state.send(&myself, webhook, subject, body).await?;
                }
            }
            NotifierMsg::Notify(notification) => {
                let Notification {
                    notification_id,
                    incident,
                    message,
                    webhooks,
                } = *notification;
                let targets = state
                    .ctx
                    .spec()
                    .webhooks
                    .iter()
                    .filter(|w| webhooks.is_empty() || webhooks.contains(&w.id))
                    .cloned()
                    .collect::<Vec<_>>();
                for webhook in targets {
                    let body = match webhook.format {
                        WebhookFormat::Json => json!({
                            "kind": "notification",
                            "notification_id": notification_id,
                            "message": message,
                            "incident": incident_summary(&incident),
                        }),
                        WebhookFormat::Slack => json!({ "text": message }),
                    };
                    let subject = Subject {
                        work_order_id: None,
                        notification_id: Some(notification_id.clone()),
                        incident_id: incident.id,
                    };
                    state.send(&myself, webhook, subject, body).await?;
                }
            }
            NotifierMsg::Delivered(delivery) => {
                state.in_flight = state.in_flight.saturating_sub(1);
                state.record(delivery).await?;
            }
        }
        Ok(())
    }
}

/// What a delivery carries, for its record.
#[derive(Debug, Clone)]
struct Subject {
    work_order_id: Option<String>,
    notification_id: Option<String>,
    incident_id: u64,
}

impl NotifierState {
    /// Starts one delivery task, or records the delivery as failed at once when too many are
    /// in flight.
    async fn send(
        &mut self,
        myself: &ActorRef<NotifierMsg>,
        webhook: WebhookSpec,
        subject: Subject,
        body: Value,
    ) -> Result<(), crate::store::StoreError> {
        if self.in_flight >= DELIVERIES_IN_FLIGHT_MAX {
            let refused = Delivery {
                delivery_id: delivery_id(),
                webhook_id: webhook.id.clone(),
                work_order_id: subject.work_order_id,
                notification_id: subject.notification_id,
                incident_id: subject.incident_id,
                status: "failed".to_owned(),
                attempts: 0,
                last_status: None,
                last_error: Some(format!(
                    "{DELIVERIES_IN_FLIGHT_MAX} deliveries already in flight"
                )),
                finished_at: crate::time::now(),
            };
            return self.record(refused).await;
        }
        self.in_flight += 1;
        let task = DeliveryTask {
            http: self.http.clone(),
            webhook,
            subject,
            body,
        };
        let me = myself.clone();
        tokio::spawn(async move {
            let delivery = task.run().await;
            let _ = me.cast(NotifierMsg::Delivered(delivery));
        });
        Ok(())
    }

    async fn record(&self, delivery: Delivery) -> Result<(), crate::store::StoreError> {
        self.ctx.store.save_delivery(&delivery).await?;
        publish(
            &self.ctx,
            EventDraft::new(types::WEBHOOK_DELIVERED, json!({ "delivery": delivery }))
                .incident(delivery.incident_id),
        );
        Ok(())
    }
}

fn delivery_id() -> String {
    format!("dl-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
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
fn body(webhook: &WebhookSpec, work_order: &WorkOrder, incident: &Incident) -> Value {
    match webhook.format {
        WebhookFormat::Json => json!({
            "kind": "work_order",
            "work_order": work_order,
            "incident": incident_summary(incident),
        }),
        WebhookFormat::Slack => {
            let what = match (&work_order.run_id, work_order.failing_step.as_deref()) {
                _ if work_order.reason == WorkOrderReason::Overdue => work_order.output.clone(),
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
            json!({
                "text": format!(
                    ":rotating_light: Grace could not heal incident #{} — {}. {what}. Work order {}.",
                    incident.id, incident.title, work_order.work_order_id
                ),
            })
        }
    }
}

struct DeliveryTask {
    http: reqwest::Client,
    webhook: WebhookSpec,
    subject: Subject,
    body: Value,
}

impl DeliveryTask {
    /// One try, then one more after each backoff delay, until a 2xx.
    async fn run(self) -> Delivery {
        let timeout = Duration::from_millis(self.webhook.timeout_ms);
        let mut attempts = 0;
        let mut last_status = None;
        let mut last_error = None;
        let delays = std::iter::once(0).chain(self.webhook.backoff_ms.iter().copied());
        for delay_ms in delays {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            attempts += 1;
            let sent = self
                .http
                .post(&self.webhook.url)
                .timeout(timeout)
                .json(&self.body)
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    return self.outcome(
                        "delivered",
                        attempts,
                        Some(response.status().as_u16()),
                        None,
                    )
                }
                Ok(response) => {
                    last_status = Some(response.status().as_u16());
                    last_error = Some(format!("answered {}", response.status()));
                }
                Err(error) => {
                    last_status = None;
                    last_error = Some(error.to_string());
                }
            }
        }
        self.outcome("failed", attempts, last_status, last_error)
    }

    fn outcome(
        &self,
        status: &str,
        attempts: u32,
        last_status: Option<u16>,
        last_error: Option<String>,
    ) -> Delivery {
        Delivery {
            delivery_id: delivery_id(),
            webhook_id: self.webhook.id.clone(),
            work_order_id: self.subject.work_order_id.clone(),
            notification_id: self.subject.notification_id.clone(),
            incident_id: self.subject.incident_id,
            status: status.to_owned(),
            attempts,
            last_status,
            last_error,
            finished_at: crate::time::now(),
        }
    }
}

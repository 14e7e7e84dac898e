//! The notifier: sends every pending webhook delivery, with retries and backoff, and records
//! how each one ended.
//!
//! Deliveries are rows, recorded `pending` with what they tell about (see `delivery.rs`), so
//! this actor keeps no promise only in memory: at start it loads the pending ones, and when its
//! queue is full the rest wait in the store until there is room. Each delivery runs as its own
//! task so a slow receiver never holds up another one or the actor; the task reports back, and
//! this actor commits the outcome with its `webhook.delivered` event. A crash between a
//! receiver's 2xx and that commit sends the delivery again after the restart: at least once.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::context::Ctx;
use crate::delivery::{alert_body, Alert};
use crate::event::EventDraft;
use crate::model::{Delivery, DeliveryStatus};
use crate::payload::WebhookDelivered;
use crate::protocol::notifier::NotifierMsg;
use crate::spec::ReceiverSpec;
use crate::store::{StoreError, Write};

/// Deliveries in flight at once.
const DELIVERIES_IN_FLIGHT_MAX: usize = 256;
/// Pending deliveries held in memory; more wait in the store.
const DELIVERIES_QUEUED_MAX: usize = 4_096;

pub struct NotifierActor;

pub struct NotifierState {
    ctx: Arc<Ctx>,
    http: reqwest::Client,
    /// Pending deliveries not yet started, oldest first.
    queue: VecDeque<Delivery>,
    /// Ids of deliveries being sent.
    in_flight: HashSet<String>,
    /// Pending deliveries were left in the store when the queue was full.
    more_in_store: bool,
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
            queue: VecDeque::new(),
            in_flight: HashSet::new(),
            // What a crash or a full queue left pending is loaded after start.
            more_in_store: true,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.refill().await?;
        state.pump(&myself);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            NotifierMsg::Send(deliveries) => state.enqueue(deliveries),
            NotifierMsg::Alert(alert) => state.alert(&alert),
            NotifierMsg::Delivered(delivery) => {
                state.record(*delivery).await?;
                if state.queue.is_empty() {
                    state.refill().await?;
                }
            }
        }
        state.pump(&myself);
        Ok(())
    }
}

impl NotifierState {
    fn enqueue(&mut self, deliveries: Vec<Delivery>) {
        for delivery in deliveries {
            // A refill may have loaded it from the store before this message came.
            let id = &delivery.delivery_id;
            if self.in_flight.contains(id) || self.queue.iter().any(|d| &d.delivery_id == id) {
                continue;
            }
            if self.queue.len() >= DELIVERIES_QUEUED_MAX {
                // It is pending in the store; `refill` finds it when there is room.
                self.more_in_store = true;
            } else {
                self.queue.push_back(delivery);
            }
        }
    }

    /// Loads pending deliveries the queue had no room for (or a crash left behind).
    async fn refill(&mut self) -> Result<(), StoreError> {
        if !self.more_in_store {
            return Ok(());
        }
        let queued: HashSet<String> = self.queue.iter().map(|d| d.delivery_id.clone()).collect();
        let room = DELIVERIES_QUEUED_MAX - self.queue.len();
        let limit = room + self.in_flight.len() + queued.len();
        let pending = self.ctx.store.pending_deliveries(limit).await?;
        let fetched = pending.len();
        for delivery in pending {
            let id = &delivery.delivery_id;
            if !self.in_flight.contains(id) && !queued.contains(id) {
                self.queue.push_back(delivery);
            }
        }
        self.more_in_store = fetched == limit;
        Ok(())
    }

    /// Starts queued deliveries while fewer than the bound are in flight.
    fn pump(&mut self, myself: &ActorRef<NotifierMsg>) {
        self.started_queued(myself);
        let waiting = self.queue.len();
        self.ctx.metrics.queue("deliveries", waiting);
    }

    fn started_queued(&mut self, myself: &ActorRef<NotifierMsg>) {
        while self.in_flight.len() < DELIVERIES_IN_FLIGHT_MAX {
            let Some(delivery) = self.queue.pop_front() else {
                break;
            };
            let spec = self.ctx.spec();
            let id = &delivery.webhook_id;
            let receiver = crate::spec::find_receiver(&spec.receivers, &spec.webhooks, id);
            self.in_flight.insert(delivery.delivery_id.clone());
            let task = DeliveryTask {
                http: self.http.clone(),
                receiver,
                delivery,
            };
            let me = myself.clone();
            tokio::spawn(async move {
                let delivery = task.run().await;
                let _ = me.cast(NotifierMsg::Delivered(Box::new(delivery)));
            });
        }
    }

    /// Sends `alert` to every webhook, with the webhook's retries, and only logs how it went:
    /// the store is what it may be about.
    fn alert(&self, alert: &Alert) {
        for webhook in self.ctx.spec().webhooks.iter() {
            let delivery = crate::delivery::pending(webhook, 0, alert_body(webhook, alert));
            let task = DeliveryTask {
                http: self.http.clone(),
                receiver: Some(crate::spec::ReceiverSpec::from(webhook)),
                delivery,
            };
            tokio::spawn(async move {
                let sent = task.run().await;
                match sent.status {
                    DeliveryStatus::Delivered => {
                        tracing::info!(webhook = %sent.webhook_id, "alert sent")
                    }
                    _ => {
                        tracing::warn!(webhook = %sent.webhook_id, error = ?sent.last_error, "alert not sent")
                    }
                }
            });
        }
    }

    /// Commits how a delivery ended, with the event announcing it.
    async fn record(&mut self, delivery: Delivery) -> Result<(), StoreError> {
        self.in_flight.remove(&delivery.delivery_id);
        let status = match delivery.status {
            DeliveryStatus::Delivered => "delivered",
            _ => "failed",
        };
        let label = crate::metrics::StatusLabel { status };
        self.ctx.metrics.deliveries.get_or_create(&label).inc();
        let mut announced = delivery.clone();
        announced.body = serde_json::Value::Null;
        let event = EventDraft::of(&WebhookDelivered {
            delivery: announced,
        })
        .incident(delivery.incident_id);
        crate::protocol::bus::commit_in_order(
            &self.ctx.scope,
            vec![event],
            vec![Write::Delivery(Box::new(delivery))],
        )
        .await
        .map(|_| ())
        .map_err(|error| StoreError::Unavailable(error.to_string()))
    }
}

struct DeliveryTask {
    http: reqwest::Client,
    /// None when the receiver is no longer configured (a reload removed it).
    receiver: Option<ReceiverSpec>,
    delivery: Delivery,
}

impl DeliveryTask {
    /// One try, then one more after each backoff delay, until one is delivered.
    async fn run(mut self) -> Delivery {
        let Some(receiver) = self.receiver.take() else {
            let error = format!(
                "receiver {:?} is no longer configured",
                self.delivery.webhook_id
            );
            return self.ended(DeliveryStatus::Failed, None, Some(error));
        };
        let mut last = crate::receivers::Tried::failed(None, "not tried");
        let delays = std::iter::once(0).chain(receiver.backoff_ms.iter().copied());
        for delay_ms in delays {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            self.delivery.attempts += 1;
            last = crate::receivers::send_once(&self.http, &receiver, &self.delivery.body).await;
            if last.error.is_none() {
                return self.ended(DeliveryStatus::Delivered, last.status, None);
            }
        }
        self.ended(DeliveryStatus::Failed, last.status, last.error)
    }

    fn ended(
        mut self,
        status: DeliveryStatus,
        last_status: Option<u16>,
        last_error: Option<String>,
    ) -> Delivery {
        self.delivery.status = status;
        self.delivery.last_status = last_status;
        self.delivery.last_error = last_error;
        self.delivery.finished_at = Some(crate::time::now());
        self.delivery
    }
}

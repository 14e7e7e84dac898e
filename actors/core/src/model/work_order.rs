//! Work orders for people, and the webhook deliveries that carry them (an outbox).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{RunId, WorkOrderId};
use crate::time::{micros, micros_opt};

/// Why a work order was written.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderReason {
    /// A playbook run failed (or was interrupted and could not resume).
    #[default]
    RunFailed,
    /// The circuit breaker stopped a playbook from running again.
    CircuitBreaker,
    /// The incident outlived its component's `escalate_after_ms`.
    Overdue,
    /// The incident came back more than `incidents.relapses_max` times soon after it was
    /// healed: its heals do not hold.
    Relapsing,
}

/// What a person has to do when automation could not heal an incident.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct WorkOrder {
    pub work_order_id: WorkOrderId,
    pub incident_id: u64,
    #[serde(default)]
    #[schema(required = true)]
    pub reason: WorkOrderReason,
    /// The failed run; none when automation was stopped before a run (circuit breaker).
    #[serde(default)]
    pub run_id: Option<RunId>,
    pub playbook_id: String,
    pub failing_step: Option<String>,
    pub output: String,
    #[serde(with = "micros")]
    pub created_at: DateTime<Utc>,
    pub status: WorkOrderStatus,
    /// Who has it; none until someone is assigned.
    #[serde(default)]
    pub assignee: Option<String>,
    /// What people said on it, oldest first (at most [`super::COMMENTS_MAX`]).
    #[serde(default)]
    pub comments: Vec<super::Note>,
    #[serde(default, with = "micros_opt")]
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<DateTime<Utc>>,
    /// The note it was closed with.
    #[serde(default)]
    pub resolution: Option<String>,
}

/// Where a work order stands: Grace opens it; people assign it, comment, close it with a
/// resolution note, and reopen it (see `work_order_life.rs`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderStatus {
    Open,
    Closed,
}

/// One work order (or `notify` message) for one webhook. It is recorded `pending`, with the
/// body to send, in the same transaction as what it tells about (an outbox), and sent from
/// there: a delivery is never lost to a crash, and one still pending is sent after a restart.
/// Every try is counted, the last answer kept.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Delivery {
    pub delivery_id: String,
    pub webhook_id: String,
    /// The work order sent, or none for a notification.
    #[serde(default)]
    pub work_order_id: Option<WorkOrderId>,
    /// The `notify` message sent (`NT-…`), or none for a work order.
    #[serde(default)]
    pub notification_id: Option<String>,
    pub incident_id: u64,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// When it was recorded, to be sent.
    #[serde(default = "crate::time::epoch", with = "micros")]
    #[schema(required = true)]
    pub created_at: DateTime<Utc>,
    /// When the last try ended; none while pending.
    #[serde(default, with = "micros_opt")]
    pub finished_at: Option<DateTime<Utc>>,
    /// What is posted to the webhook.
    #[serde(default)]
    #[schema(value_type = Object, required = true)]
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Recorded, not yet answered with a 2xx nor given up on.
    Pending,
    Delivered,
    /// Every try failed.
    Failed,
}

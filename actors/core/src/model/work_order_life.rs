//! A work order's life after Grace opens it: people assign it, comment on it, close it with a
//! resolution note and reopen it; and the notes people leave on incidents. [`WorkOrder::changed`]
//! decides a change without I/O; the playbook engine, the work orders' one writer, commits
//! what it returns with a `work_order.updated` event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Who, WorkOrder, WorkOrderStatus};
use crate::time::micros;

/// Most comments on one work order.
pub const COMMENTS_MAX: usize = 200;
/// Longest note or comment, in bytes.
pub const NOTE_BYTES_MAX: usize = 4_000;
/// Longest assignee name, in bytes.
const ASSIGNEE_BYTES_MAX: usize = 200;

/// What a person wrote, when, and who.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Note {
    pub by: Who,
    #[serde(with = "micros")]
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
    pub text: String,
}

/// What a person does to a work order.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderAction {
    /// Give it to `assignee` (with an optional `note`).
    Assign,
    /// Add `note` as a comment.
    Comment,
    /// Close it with `note` as its resolution.
    Close,
    /// Open it again (with an optional `note`).
    Reopen,
}

impl WorkOrderAction {
    pub fn parse(action: &str) -> Option<Self> {
        [Self::Assign, Self::Comment, Self::Close, Self::Reopen]
            .into_iter()
            .find(|a| a.as_str() == action)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assign => "assign",
            Self::Comment => "comment",
            Self::Close => "close",
            Self::Reopen => "reopen",
        }
    }
}

/// The body of a change: which fields an action needs is checked by [`WorkOrder::changed`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkOrderRequest {
    /// Who takes it (`assign`).
    #[serde(default)]
    pub assignee: Option<String>,
    /// A comment (`comment`), the resolution (`close`), or a remark with `assign` / `reopen`.
    #[serde(default)]
    pub note: Option<String>,
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChangeRefused {
    /// The request lacks a field or has a bad one: (field, why).
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    /// The work order is not in a state that allows it.
    #[error("{0}")]
    Conflict(String),
}

impl WorkOrder {
    /// The work order after `by` does `action` with `request` at `now`.
    pub fn changed(
        &self,
        action: WorkOrderAction,
        request: &WorkOrderRequest,
        by: &Who,
        now: DateTime<Utc>,
    ) -> Result<WorkOrder, ChangeRefused> {
        let note = checked_note(request.note.as_deref(), action)?;
        let mut order = self.clone();
        let closed = order.status == WorkOrderStatus::Closed;
        match action {
            WorkOrderAction::Assign if closed => {
                return Err(conflict(self, "is closed: reopen it first"))
            }
            WorkOrderAction::Assign => order.assignee = Some(checked_assignee(request)?),
            WorkOrderAction::Comment => {}
            WorkOrderAction::Close if closed => return Err(conflict(self, "is closed already")),
            WorkOrderAction::Close => {
                order.status = WorkOrderStatus::Closed;
                order.closed_at = Some(now);
                order.resolution = note.clone();
                return Ok(order);
            }
            WorkOrderAction::Reopen if !closed => return Err(conflict(self, "is open")),
            WorkOrderAction::Reopen => {
                order.status = WorkOrderStatus::Open;
                order.closed_at = None;
                order.resolution = None;
            }
        }
        if let Some(text) = note {
            if order.comments.len() >= COMMENTS_MAX {
                return Err(conflict(
                    self,
                    &format!("has {COMMENTS_MAX} comments, the most kept"),
                ));
            }
            order.comments.push(Note {
                by: by.clone(),
                at: now,
                text,
            });
        }
        Ok(order)
    }
}

fn conflict(order: &WorkOrder, why: &str) -> ChangeRefused {
    ChangeRefused::Conflict(format!("work order {} {why}", order.work_order_id))
}

/// The note, checked: required to comment and to close.
fn checked_note(
    note: Option<&str>,
    action: WorkOrderAction,
) -> Result<Option<String>, ChangeRefused> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    let needed = matches!(action, WorkOrderAction::Comment | WorkOrderAction::Close);
    match note {
        None if needed => {
            let why = format!("required to {}", action.as_str());
            Err(ChangeRefused::Invalid("note", why))
        }
        Some(text) => note_text(text).map(Some),
        None => Ok(None),
    }
}

/// A note's text, within its bound.
pub fn note_text(text: &str) -> Result<String, ChangeRefused> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ChangeRefused::Invalid("note", "must not be empty".into()));
    }
    if text.len() > NOTE_BYTES_MAX {
        let why = format!("at most {NOTE_BYTES_MAX} bytes");
        return Err(ChangeRefused::Invalid("note", why));
    }
    Ok(text.to_owned())
}

fn checked_assignee(request: &WorkOrderRequest) -> Result<String, ChangeRefused> {
    let assignee = request
        .assignee
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    if assignee.is_empty() {
        return Err(ChangeRefused::Invalid(
            "assignee",
            "required to assign".into(),
        ));
    }
    if assignee.len() > ASSIGNEE_BYTES_MAX {
        let why = format!("at most {ASSIGNEE_BYTES_MAX} bytes");
        return Err(ChangeRefused::Invalid("assignee", why));
    }
    if let Some(why) = crate::names::name_problem(assignee) {
        return Err(ChangeRefused::Invalid("assignee", why));
    }
    Ok(assignee.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::WorkOrderReason;

    fn order() -> WorkOrder {
        WorkOrder {
            work_order_id: "wo-1".into(),
            incident_id: 3,
            reason: WorkOrderReason::RunFailed,
            run_id: None,
            playbook_id: "db_reconnect".into(),
            failing_step: Some("reconnect".into()),
            output: "refused".into(),
            created_at: crate::time::now(),
            status: WorkOrderStatus::Open,
            assignee: None,
            comments: Vec::new(),
            closed_at: None,
            resolution: None,
        }
    }

    fn ask(assignee: Option<&str>, note: Option<&str>) -> WorkOrderRequest {
        WorkOrderRequest {
            assignee: assignee.map(str::to_owned),
            note: note.map(str::to_owned),
        }
    }

    #[test]
    fn a_work_order_is_assigned_commented_closed_and_reopened() {
        let (ann, now) = (Who::new("ann"), crate::time::now());
        let assigned = order()
            .changed(WorkOrderAction::Assign, &ask(Some("bob"), None), &ann, now)
            .unwrap();
        assert_eq!(assigned.assignee.as_deref(), Some("bob"));
        let commented = assigned
            .changed(
                WorkOrderAction::Comment,
                &ask(None, Some("disk full")),
                &ann,
                now,
            )
            .unwrap();
        assert_eq!(commented.comments[0].text, "disk full");
        let closed = commented
            .changed(
                WorkOrderAction::Close,
                &ask(None, Some("grew the volume")),
                &ann,
                now,
            )
            .unwrap();
        assert_eq!(closed.status, WorkOrderStatus::Closed);
        assert_eq!(closed.resolution.as_deref(), Some("grew the volume"));
        let refused = closed.changed(WorkOrderAction::Close, &ask(None, Some("again")), &ann, now);
        assert!(matches!(refused, Err(ChangeRefused::Conflict(_))));
        let reopened = closed
            .changed(WorkOrderAction::Reopen, &ask(None, None), &ann, now)
            .unwrap();
        assert_eq!(reopened.status, WorkOrderStatus::Open);
        assert_eq!(reopened.resolution, None);
        assert_eq!(reopened.assignee.as_deref(), Some("bob"));
    }

    #[test]
    fn a_change_missing_what_it_needs_names_the_field() {
        let (ann, now) = (Who::new("ann"), crate::time::now());
        let cases = [
            (WorkOrderAction::Assign, ask(None, None), "assignee"),
            (WorkOrderAction::Comment, ask(None, Some("  ")), "note"),
            (WorkOrderAction::Close, ask(None, None), "note"),
        ];
        for (action, request, field) in cases {
            let refused = order().changed(action, &request, &ann, now).unwrap_err();
            assert!(
                matches!(refused, ChangeRefused::Invalid(f, _) if f == field),
                "{action:?}"
            );
        }
        let long = "x".repeat(NOTE_BYTES_MAX + 1);
        let refused = order().changed(WorkOrderAction::Comment, &ask(None, Some(&long)), &ann, now);
        assert!(matches!(refused, Err(ChangeRefused::Invalid("note", _))));
    }
}

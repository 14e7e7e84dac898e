//! The incident manager: applies problem and recovery events from the log to incidents, moves
//! incidents through their lifecycle on command, and owns component trust.
//!
//! - `book`, `lifecycle`, `trust`, `changes`: the pure [`IncidentBook`] (dedup, symptom
//!   attach, recovery, the lifecycle commands, overdue selection, component trust) and the
//!   [`Changes`] each decision writes; unit-tested in `tests/`.
//! - `alert_facts` (a leaf: what an alert's event says) and `alerts`: Alertmanager's alerts
//!   in the book (several firing into one incident, alert-only components as parents, an
//!   alert and a monitor on one component as one outage).
//! - `dependencies`: `depends_on` in the book (attach at any depth, fold dependents seen
//!   first into their parent's incident).
//! - `relapses`: a failure soon after a heal reopens its incident; past `relapses_max` the
//!   playbook engine is told.
//! - `actor`: the actor that feeds the book and makes its changes durable.
//! - `catch_up`: the log read a page at a time after the watermark.
//! - `commands`: each command run on the book and committed with its announcements.

mod actor;
mod alert_facts;
mod alerts;
mod book;
mod catch_up;
mod changes;
mod commands;
mod dependencies;
mod lifecycle;
mod relapses;
mod trust;

#[cfg(test)]
mod tests;

pub use actor::{IncidentsActor, IncidentsState};
pub use book::IncidentBook;
pub use changes::{Changes, Effect, Facts, Rules};

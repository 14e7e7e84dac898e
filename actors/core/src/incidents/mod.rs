//! The incident book: the incident manager's pure rules. The actor that feeds it and commits
//! what it decides is `actors::incidents`.
//!
//! - `book`, `lifecycle`, `trust`, `changes`: the [`IncidentBook`] (dedup, symptom attach,
//!   recovery, the lifecycle commands, overdue selection, component trust) and the
//!   [`Changes`] each decision writes; unit-tested in `tests/`.
//! - `alert_facts` (a leaf: what an alert's event says) and `alerts`: Alertmanager's alerts
//!   in the book (several firing into one incident, alert-only components as parents, an
//!   alert and a monitor on one component as one outage).
//! - `dependencies`: `depends_on` in the book (attach at any depth, fold dependents seen
//!   first into their parent's incident).
//! - `relapses`: a failure soon after a heal reopens its incident; past `relapses_max` the
//!   playbook engine is told.

pub mod alert_facts;
pub mod alerts;
pub mod book;
pub mod changes;
pub mod dependencies;
pub mod lifecycle;
pub mod relapses;
pub mod trust;

#[cfg(test)]
mod tests;

pub use book::IncidentBook;
pub use changes::{Changes, Effect, Facts, Refused, Rules, RunOutcome};

//! The incident book: the incident manager's pure rules. The actor that feeds it and commits
//! what it decides is `actors::incidents`.
//!
//! - `book`, `lifecycle`, `trust`, `changes`: the [`IncidentBook`] (dedup, symptom attach,
//!   recovery, the lifecycle commands, overdue selection, component trust) and the
//!   [`Changes`] each decision writes; unit-tested in `tests/`.
//! - The book's state, one type each, with its invariants and its unit tests beside it:
//!   `active_set` ([`ActiveSet`]: the active incidents, indexed by source and event type),
//!   `recently_healed` ([`RecentlyHealed`]: what a relapse is recognised by, bounded) and
//!   `trust_book` ([`TrustBook`]: the component trust known so far, bounded). The rules call
//!   their methods; none reaches into their maps.
//! - `alert_facts` (a leaf: what an alert's event says) and `alerts`: Alertmanager's alerts
//!   in the book (several firing into one incident, alert-only components as parents, an
//!   alert and a monitor on one component as one outage).
//! - `dependencies`: `depends_on` in the book (attach at any depth, fold dependents seen
//!   first into their parent's incident).
//! - `relapses`: a failure soon after a heal reopens its incident; past `relapses_max` the
//!   playbook engine is told.

pub mod active_set;
pub mod alert_facts;
pub mod alerts;
pub mod book;
pub mod changes;
pub mod dependencies;
pub mod lifecycle;
pub mod recently_healed;
pub mod relapses;
pub mod trust;
pub mod trust_book;

#[cfg(test)]
mod tests;

pub use active_set::ActiveSet;
pub use book::IncidentBook;
pub use changes::{Changes, Effect, Facts, Refused, Rules, RunOutcome};
pub use recently_healed::RecentlyHealed;
pub use trust_book::TrustBook;

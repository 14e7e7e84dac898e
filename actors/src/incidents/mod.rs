//! The incident manager: applies problem and recovery events from the log to incidents, moves
//! incidents through their lifecycle on command, and owns component trust.
//!
//! - `book`, `lifecycle`, `trust`, `changes`: the pure [`IncidentBook`] (dedup, symptom
//!   attach, recovery, the lifecycle commands, overdue selection, component trust) and the
//!   [`Changes`] each decision writes; unit-tested in `tests.rs`.
//! - `actor`: the actor that feeds the book and makes its changes durable.
//! - `catch_up`: the log read a page at a time after the watermark.
//! - `commands`: each command run on the book and committed with its announcements.

mod actor;
mod book;
mod catch_up;
mod changes;
mod commands;
mod lifecycle;
mod trust;

#[cfg(test)]
mod tests;

pub use actor::{IncidentsActor, IncidentsState};
pub use book::IncidentBook;
pub use changes::{Changes, Effect, Facts, Rules};

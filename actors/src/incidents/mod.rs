//! The incident manager: applies problem and recovery events from the log to incidents, moves
//! incidents through their lifecycle on command, and owns component trust.
//!
//! What it decides is the pure [`IncidentBook`] of `grace_core::incidents` (dedup, symptom
//! attach, recovery, lifecycle, dependencies, alerts, relapses, trust), each decision a
//! [`Changes`]. Here is the I/O around it:
//!
//! - `actor`: the actor that feeds the book and makes its changes durable.
//! - `catch_up`: the log read a page at a time after the watermark.
//! - `commands`: each command run on the book and committed with its announcements.

mod actor;
mod catch_up;
mod commands;

pub use actor::{IncidentsActor, IncidentsState};
pub use grace_core::incidents::{alert_facts, book, changes};
pub use grace_core::incidents::{Changes, Effect, Facts, IncidentBook, Refused, Rules};

//! The playbook engine and the sub-agents it spawns.
//!
//! What it decides is the pure run book of `grace_core::playbooks` (runs, the sub-agent slots
//! and their queue, which playbook an incident gets, resume, supersede, escalation, the gate
//! and relapses), each decision a `Changes`. Here is the I/O around it:
//!
//! - `actor`: the engine's actor; `commands`: each command reads what its decision needs and
//!   has the book decide; `commit`: the one commit path (one transaction per decision) and the
//!   effects; `handover`: where that transaction lands (the bus, or the incident manager, asked
//!   again while it is away or slow); `restart`: what the engine does as it starts.
//! - `runner` (a leaf: a run's arguments, the `Runner`, a step's outcome), `sub_agent` (the
//!   short-lived actor that carries out one run) and `steps/`, one file per step kind.

mod actor;
mod commands;
mod commit;
mod handover;
mod restart;
mod runner;
mod steps;
mod sub_agent;
mod work_orders;

use grace_core::playbooks::{book, changes, gate, records, runs};

pub use actor::PlaybooksActor;

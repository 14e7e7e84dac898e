//! The playbook engine and the sub-agents it spawns.
//!
//! Pure (no I/O; unit-tested in `tests/`):
//! - `book`: the [`book::RunBook`] — runs in flight, the sub-agent slots and the queue in front
//!   of them, which playbook an incident gets, a person's run — with `runs` (a run started,
//!   its steps, its end, supersede, taken up after a restart) and `escalation` (overdue,
//!   relapsing, a held run: work orders for people). Each decision writes a
//!   [`changes::Changes`].
//! - `records`: a run's records and announcements as the book writes them.
//! - `gate`: the cooldown and circuit-breaker rules ([`gate::RunGate`]).
//! - `relapse`: the rule for incidents that relapsed past `relapses_max` (tell people once,
//!   keep healing with backoff, or hand over).
//! - `resume`: what becomes of runs a stopped Grace left `running` ([`resume::decide_resume`]).
//!
//! With I/O:
//! - `actor`: the engine's actor; `commands`: each command reads what its decision needs and
//!   has the book decide; `commit`: the one commit path (one transaction per decision, through
//!   the bus or the incident manager) and the effects; `restart`: what the engine does as it
//!   starts.
//! - `runner` (a leaf: a run's arguments, the `Runner`, a step's outcome), `sub_agent` (the
//!   short-lived actor that carries out one run) and `steps/`, one file per step kind.

mod actor;
mod book;
mod changes;
mod commands;
mod commit;
mod escalation;
mod gate;
mod records;
mod relapse;
mod restart;
mod resume;
mod runner;
mod runs;
mod steps;
mod sub_agent;
#[cfg(test)]
mod tests;

pub use actor::PlaybooksActor;

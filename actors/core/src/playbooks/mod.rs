//! The run book: the playbook engine's pure rules. The actor that commits what it decides and
//! the sub-agents that carry out runs are `actors::playbooks`.
//!
//! - `book`: the [`book::RunBook`] — runs in flight, the sub-agent slots and the queue in front
//!   of them, which playbook an incident gets, a person's run — with `runs` (a run started,
//!   its steps, its end, supersede, taken up after a restart) and `escalation` (overdue,
//!   relapsing, a held run: work orders for people). Each decision writes a
//!   [`changes::Changes`]; unit-tested in `tests/`.
//! - `records`: a run's records and announcements as the book writes them.
//! - `gate`: the cooldown and circuit-breaker rules ([`gate::RunGate`]).
//! - `relapse`: the rule for incidents that relapsed past `relapses_max` (tell people once,
//!   keep healing with backoff, or hand over).
//! - `resume`: what becomes of runs a stopped Grace left `running` ([`resume::decide_resume`]).

pub mod book;
pub mod changes;
pub mod escalation;
pub mod gate;
pub mod records;
pub mod relapse;
pub mod resume;
pub mod runs;
#[cfg(test)]
mod tests;

//! The playbook engine and the sub-agents it spawns.
//!
//! - `actor`: the engine's actor: which playbook an incident gets, the sub-agent slots and the
//!   queue in front of them, a person's run.
//! - `gate`: the pure cooldown and circuit-breaker rules ([`gate::RunGate`]).
//! - `run`: a run recorded, its steps recorded, its end turned into trust and a work order.
//! - `supersede`: a run stopped because its incident became a symptom of another.
//! - `relapse`: the pure rule for incidents that relapsed past `relapses_max` (tell people
//!   once, keep healing with backoff, or hand over).
//! - `work_orders`: what goes to people when automation cannot heal (an outbox per webhook).
//! - `resume` and `restart`: what becomes of runs a stopped Grace left `running` (the pure
//!   [`resume::decide_resume`]), and incidents left unattended.
//! - `runner` (a leaf: a run's arguments, the `Runner`, a step's outcome), `sub_agent` (the
//!   short-lived actor that carries out one run) and `steps/`, one file per step kind.

mod actor;
mod gate;
mod relapse;
mod restart;
mod resume;
mod run;
mod runner;
mod steps;
mod sub_agent;
mod supersede;
mod work_orders;

pub use actor::PlaybooksActor;

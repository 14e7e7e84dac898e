//! One file per step kind: what each step of a playbook does when a sub-agent carries it out.
//! Each adds a method to the sub-agent's `Runner` (or is a plain function) returning a
//! `StepResult`; `sub_agent.rs` (`Runner::execute`) dispatches on the step's kind.

pub(super) mod check;
pub(super) mod command;
pub(super) mod escalate;
pub(super) mod http;
pub(super) mod notify;
pub(super) mod reconnect;
pub(super) mod rerun_pipelines;
pub(super) mod restart;
pub(super) mod trust;
pub(super) mod verify;
pub(super) mod wait;

//! The pipeline runner: runs the configured `[[pipelines]]` on their schedule, by hand, or as
//! reruns asked for by a healing playbook, and records every run.
//!
//! What is decided is pure and told the time: `schedule` (which pipelines are due) and
//! `reruns` (the bounded, deduplicated queue of reruns) live in `grace_core::pipelines`;
//! `waiters.rs` holds the bounded reply ports of callers waiting for runs. `actor.rs` does the I/O around them (the store, the
//! timer, spawning jobs, publishing) and `job.rs` runs one job: its program or its call.

mod actor;
mod job;
mod waiters;

pub(crate) use actor::PipelinesActor;
pub(crate) use grace_core::pipelines::{new_run, reruns, schedule};

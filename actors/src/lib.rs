//! Grace's supervision tree and every actor in it.
//!
//! ```text
//! kernel (one-for-one supervisor)
//! ├── store       event-log writer; hands out seq; commits, then routes
//! ├── bus         group commit for what is published or pushed in
//! ├── feed        live-feed hub: bounded pattern subscriptions
//! ├── incidents   dedup, lifecycle, component trust
//! ├── notifier    sends pending webhook deliveries, with retries
//! ├── pipelines   runs [[pipelines]] (schedule, by hand, reruns) and records each run
//! ├── playbooks   playbook engine
//! │   └── agent:* one sub-agent per run (temporary)
//! ├── monitors    (one-for-one supervisor)
//! │   └── monitor:* one per configured monitor (in a cluster, each spread one on one node)
//! └── retention   compacts the store in the background
//! ```
//!
//! Invariants (`docs/architecture.md` states each beside the module it governs):
//! - This crate serves no HTTP: it returns domain types and typed errors.
//! - An event is persisted, with its seq, before any subscriber sees it.
//! - Each table has exactly one deciding actor; the changes listed there commit their records
//!   in one transaction with the events announcing them (the exceptions are listed too).
//! - The queues Grace keeps are bounded, and a bound says its unit in its name; ractor's
//!   mailboxes are not bounded.
//! - Playbook commands are argv from config, never shell text.

mod bus_actor;
mod context;
pub use context::Duties;
mod credentials;
pub mod failpoints;
mod feed_actor;
mod hearing;
pub mod incidents;
mod kernel;
pub mod lease_clock;
mod metrics;
mod monitor_actor;
mod notifier_actor;
mod outbound;
mod pager;
mod pipelines;
mod playbooks;
pub mod probe;
mod process_metrics;
mod program;
pub mod protocol;
mod receivers;
mod retention_actor;
mod signals;
pub mod spread;
pub mod store;
mod store_actor;
mod target;
mod ticks;
mod tls;

// The pure core, under the names this crate and the binary have always used.
pub use grace_core::{
    catalog, cluster, event, history, insights, intake, model, names, paging, retention,
};
use grace_core::{damping, delivery, payload, secret};
pub use grace_core::{silence, spec, status_page, time};

pub use kernel::{
    ActorNode, ActorState, DecideError, Decided, Kernel, KernelError, ReloadReport, Stopped,
    SHUTDOWN_TIMEOUT_MS,
};
/// The binary's log writer counts the lines it drops here (`GET /metrics` reports it).
pub use metrics::{CLUSTER, LOG_LINES_DROPPED};

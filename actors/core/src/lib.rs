//! Grace's pure core: what Grace knows and how it decides, with no I/O.
//!
//! The records (`model`), the event log's events and their payloads (`event`, `payload`), the
//! config's typed specs and their checks (`spec`), the catalog of event types, and the books
//! that decide: the incident book (`incidents`), the run book of the playbook engine
//! (`playbooks`), the pipeline schedule and rerun queue (`pipelines`), damping, relapses, retention, silences, insights. A book is handed what it
//! needs (the time, the rules, facts read elsewhere) and answers with what changes; the
//! `actors` crate commits those changes and does the I/O.
//!
//! Why a crate of its own: its `Cargo.toml` holds the layering (no SurrealDB, HTTP client,
//! database driver or actor runtime can be imported here), and its unit tests build in
//! seconds, without the store.

pub mod catalog;
pub mod cluster;
pub mod damping;
pub mod delivery;
pub mod event;
pub mod history;
pub mod incidents;
pub mod insights;
pub mod intake;
pub mod model;
pub mod names;
pub mod paging;
pub mod payload;
pub mod pipelines;
pub mod playbooks;
pub mod problem;
pub mod retention;
pub mod secret;
pub mod silence;
pub mod spec;
pub mod status_page;
pub mod target;
pub mod time;

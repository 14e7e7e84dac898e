//! Grace's end-to-end tests, one module per area, linked as one binary (one link and one copy
//! of `common` instead of one per file). Each test starts what it needs — the real `grace`
//! binary on port 0, real PostgreSQL clusters, Redis, Alertmanager, Chromium — and polls with a
//! deadline, never sleeping to synchronise.
//!
//! Run one area with `cargo test --test it dashboard::`.

mod common;

mod alert_heals;
mod any_node;
mod api;
mod architecture;
mod auth;
mod cli;
mod client;
mod cluster;
mod dashboard;
mod events;
mod feed;
mod flood;
mod full_disk;
mod healing;
mod init;
mod intake;
mod lists;
mod logs_processes;
mod maintenance;
mod monitors;
mod mysql;
mod openapi;
mod operator;
mod paging;
mod pipelines;
mod playbooks;
mod relapses;
mod reload;
mod remote_store;
mod security;
mod spread;
mod stop;
mod tls;
mod work_orders;

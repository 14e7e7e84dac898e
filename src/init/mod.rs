//! `grace init`: looks at this machine and writes a config that works here — its PostgreSQL
//! clusters (each with a playbook that starts it the right way), Redis servers, other TCP
//! services, and the systemd units that failed — each choice explained in a comment. It never
//! overwrites a file, and it checks what it wrote with the same reader `grace serve` uses.
//!
//! - `procs`: the processes running here, from `/proc`.
//! - `postgres`: clusters and how to start each.
//! - `services`: Redis, TCP listeners, failed systemd units.
//! - `render`: the TOML, with its comments.

mod postgres;
mod procs;
mod render;
mod services;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// What `grace init` is told.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub output: PathBuf,
    pub bind: String,
    pub store: String,
}

/// Everything found here.
pub struct Found {
    pub postgres: Vec<postgres::Cluster>,
    pub redis: Vec<services::Redis>,
    pub listeners: Vec<services::Listener>,
    pub ephemeral_listeners: usize,
    pub failed_units: Result<Vec<String>, String>,
}

impl Found {
    /// Looks at the machine; `own_port` is the one the written config serves on (a Grace
    /// running there now is not a service to watch).
    pub fn here(own_port: Option<u16>) -> Self {
        let procs = procs::all();
        let postgres = postgres::clusters(&procs);
        let redis = services::redis(&procs);
        let covered: HashSet<u16> = postgres
            .iter()
            .map(|cluster| cluster.port)
            .chain(redis.iter().map(|redis| redis.port))
            .chain(own_port)
            .collect();
        let (listeners, ephemeral_listeners) = services::listeners(&procs, &covered);
        Self {
            postgres,
            redis,
            listeners,
            ephemeral_listeners,
            failed_units: services::failed_units(),
        }
    }

    /// One line for people: what the config watches.
    pub fn summary(&self) -> String {
        let online = self.postgres.iter().filter(|c| c.online).count();
        let tcp = self.listeners.len().min(services::LISTENERS_MAX);
        format!(
            "{online} PostgreSQL cluster(s) ({} more not running, left commented), {} Redis, {tcp} other TCP service(s)",
            self.postgres.len() - online,
            self.redis.len()
        )
    }
}

/// Writes the config for this machine to `options.output`; what it found.
pub fn run(options: &InitOptions) -> anyhow::Result<Found> {
    if options.output.exists() {
        anyhow::bail!(
            "{} exists; grace init never overwrites a file: choose another --output",
            options.output.display()
        );
    }
    let own_port = options
        .bind
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok());
    let found = Found::here(own_port);
    let text = render::config(&found, options);
    let name = options.output.display().to_string();
    crate::config::parse(&name, &text)
        .with_context(|| format!("grace init wrote a config its own reader refuses:\n{text}"))?;
    write_new(&options.output, &text)?;
    Ok(found)
}

/// Creates `path` with `text`; fails if it exists (even if it appeared just now).
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

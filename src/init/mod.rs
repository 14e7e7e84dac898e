//! `grace init`: looks at this machine and writes a config that works here — its PostgreSQL
//! clusters (each with a playbook that starts it the right way), Redis servers, other TCP
//! services, and the systemd units that failed — each choice explained in a comment. It never
//! overwrites a file, and it checks what it wrote with the same reader `grace serve` uses.
//!
//! - `procs`: the processes running here, from `/proc`.
//! - `postgres`: clusters and how to start each.
//! - `services`: Redis, TCP listeners, failed systemd units.
//! - `look`: each monitor probed once before it is written, and what it answered.
//! - `render`: the TOML, with its comments.

mod look;
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

/// What `grace init` (and `grace serve` with no config) found here and the config for it.
pub struct Discovered {
    pub found: Found,
    pub text: String,
    /// How many monitors answered when probed, of how many.
    pub answered: (usize, usize),
}

impl Discovered {
    /// One line for people: what the config watches and how much of it answered.
    pub fn summary(&self) -> String {
        let (ok, all) = self.answered;
        format!(
            "{}; {ok} of {all} monitor(s) answered",
            self.found.summary()
        )
    }
}

/// Looks at the machine, probes what it found once, and renders the config for it: checked by
/// the reader `grace serve` uses.
pub async fn discover(options: &InitOptions) -> anyhow::Result<Discovered> {
    let own_port = options
        .bind
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok());
    let found = Found::here(own_port);
    let name = options.output.display().to_string();
    let first = render::config(&found, options, &look::Looked::default());
    let config = crate::config::parse(&name, &first)
        .with_context(|| format!("grace init wrote a config its own reader refuses:\n{first}"))?;
    let mut looked = look::Looked {
        answers: look::monitors(&config.tree.monitors).await,
        ..Default::default()
    };
    try_sockets(&found, &mut looked).await;
    let text = render::config(&found, options, &looked);
    crate::config::parse(&name, &text)
        .with_context(|| format!("grace init wrote a config its own reader refuses:\n{text}"))?;
    let answered = look::answered(&looked.answers);
    Ok(Discovered {
        found,
        text,
        answered,
    })
}

/// A running cluster that refused the login over TCP may let its owner in through its Unix
/// socket (Debian's `peer` authentication): where it does, the monitor uses the socket.
async fn try_sockets(found: &Found, looked: &mut look::Looked) {
    for cluster in found.postgres.iter().filter(|c| c.online) {
        let id = render::cluster_id(cluster);
        let refused = matches!(
            looked.answers.get(&id),
            Some(look::Answer::Failed { login: true, .. })
        );
        let Some(dir) = cluster.socket_dir().filter(|_| refused) else {
            continue;
        };
        let host: String = dir.replace('%', "%25").replace('/', "%2F");
        let url = format!(
            "postgres://postgres@{host}:{}/postgres?sslmode=disable",
            cluster.port
        );
        if look::answers_at(&id, &url).await {
            looked.answers.insert(
                id.clone(),
                look::Answer::Answered("through its Unix socket".into()),
            );
            looked.socket_urls.insert(id, url);
        }
    }
}

/// Writes the config for this machine to `options.output`; what it found.
pub async fn run(options: &InitOptions) -> anyhow::Result<Discovered> {
    if options.output.exists() {
        anyhow::bail!(
            "{} exists; grace init never overwrites a file: choose another --output",
            options.output.display()
        );
    }
    let discovered = discover(options).await?;
    write_new(&options.output, &discovered.text)?;
    Ok(discovered)
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

//! What serving the tree needs, on one node or as a cluster's leader (`serve.rs`,
//! `node.rs`): the listener, the line on stdout, what to say about a store that cannot be opened, reloading
//! on SIGHUP, and stopping the tree within a bound.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use actors::store::StoreLocation;

use crate::config::ServerConfig;
use crate::server::App;

/// The bound listener, and how it serves.
pub struct Listening {
    pub listener: tokio::net::TcpListener,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// `http` or `https`.
    pub scheme: &'static str,
    pub addr: std::net::SocketAddr,
}

/// Binds `server.bind`, with TLS when a certificate is configured.
pub async fn listen(server: &ServerConfig) -> anyhow::Result<Listening> {
    use anyhow::Context;
    let tls = match server.tls() {
        Some((cert, key)) => Some(crate::server::tls::acceptor(cert, key)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind(server.bind)
        .await
        .with_context(|| format!("cannot listen on {}", server.bind))?;
    let addr = listener.local_addr()?;
    Ok(Listening {
        listener,
        tls,
        scheme,
        addr,
    })
}

/// What to do about a store that cannot be opened, by what went wrong.
pub fn store_unusable(location: &StoreLocation, error: &actors::store::StoreError) -> String {
    let at = location.describe();
    let text = error.to_string();
    let what_to_do = match location {
        StoreLocation::Remote(_) => remote_unusable(&text),
        _ => embedded_unusable(&text),
    };
    format!("cannot open the store at {at}: {text}\n{what_to_do}")
}

fn embedded_unusable(text: &str) -> &'static str {
    if text.contains("locked") {
        "Another process (another `grace serve`?) has it open: stop that one, or set `[store] \
         path` to another directory."
    } else if text.contains("space") {
        "The disk is full: free some space and start Grace again."
    } else if text.contains("ermission") {
        "This user cannot read or write it: fix its owner or mode, or set `[store] path` to a \
         directory this user owns."
    } else {
        "If the files are damaged, move the directory aside and start Grace again: it creates a \
         new, empty store there (the old one stays for inspection)."
    }
}

fn remote_unusable(text: &str) -> &'static str {
    if text.contains("password") || text.contains("environment variable") {
        "Grace could not read the SurrealDB user's password: check `[store] password_env` or \
         `password_file`."
    } else if text.contains("authenticat") || text.contains("credentials") {
        "The SurrealDB server refused the user: check `[store] username`, `user_level` and the \
         password (`surreal sql --user … --pass …` against the same url tells the same)."
    } else {
        "Is the SurrealDB server running and reachable from here? Check `[store] url` (ws:// or \
         wss://host:port), and for wss:// the CA in `ca_file`."
    }
}

/// Stops `app`'s supervision tree within `left`, committing what is queued first, and says in
/// the log which runs it handed over to the restart rules.
pub async fn stop_tree(app: &App, left: Duration) {
    let stopped = app.kernel.shutdown_within(left).await;
    if !stopped.flushed {
        tracing::warn!("events still queued were not committed before the stop");
    }
    for run in &stopped.handed_over {
        let step = run.steps.iter().find(|step| {
            !matches!(
                step.status,
                actors::model::StepStatus::Succeeded | actors::model::StepStatus::Skipped
            )
        });
        tracing::info!(
            run_id = %run.run_id,
            playbook = %run.playbook_id,
            incident_id = run.incident_id,
            step = step.map_or("", |step| step.name.as_str()),
            "run handed over: left running for the restart rules to resume or end at the next start"
        );
    }
    if stopped.in_time {
        tracing::info!(
            runs_handed_over = stopped.handed_over.len(),
            "supervision tree stopped"
        );
    } else {
        tracing::warn!("the supervision tree did not stop in time; exiting regardless");
    }
}

/// A line on stdout for whoever started `grace serve`. Unlike `println!`, a stdout that cannot
/// be written (closed, its disk full) does not stop Grace: supervising goes on, and the line
/// goes to the log instead.
pub fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        tracing::warn!(%error, "cannot write to stdout: {line}");
    }
}

/// SIGHUP reloads the config, as daemons do; the outcome goes to the log.
pub async fn reload_on_hangup(app: Arc<App>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP; reload with POST /config/reload");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        reload_on_signal(&app).await;
    }
}

/// Reads the config again for `app`'s tree after a SIGHUP, and logs what came of it.
pub async fn reload_on_signal(app: &App) {
    match crate::reload::reload(&app.kernel, &app.started, actors::model::Who::local()).await {
        Ok(report) => tracing::info!(
            added = ?report.added,
            removed = ?report.removed,
            changed = ?report.changed,
            restart_required = ?report.restart_required,
            "config reloaded on SIGHUP"
        ),
        Err(error) => tracing::error!("config not reloaded; the running one stays:\n{error}"),
    }
}

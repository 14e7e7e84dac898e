//! `grace serve`: the config it runs (a file, or what runs on this machine), the store and
//! the supervision tree it starts, the HTTP server in front of them, reloads on SIGHUP, and a
//! bounded stop. Kept apart from the CLI's argument parsing, which only dispatches here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actors::probe::Probes;
use actors::store::StoreLocation;
use actors::{Kernel, KernelError};
use anyhow::Context;

use crate::config::{self, Config};
use crate::lifecycle::{listen, reload_on_hangup, say, stop_tree, store_unusable, Listening};
use crate::reload::{ConfigSource, Started};
use crate::server::{self, App};

/// The config `grace serve` runs: the file it was given, or, with none, one for what runs on
/// this machine, found as `grace init` finds it (and a line for people saying so).
async fn config_to_serve(
    path: Option<PathBuf>,
) -> anyhow::Result<(Config, ConfigSource, Option<String>)> {
    if let Some(path) = path {
        return Ok((config::load(&path)?, ConfigSource::File(path), None));
    }
    let options = crate::init::InitOptions {
        output: PathBuf::from("grace.toml"),
        bind: "127.0.0.1:7878".to_owned(),
        store: "data/grace".to_owned(),
    };
    let discovered = crate::init::discover(&options).await?;
    let config = config::parse(config::DISCOVERED, &discovered.text)?;
    let note = format!(
        "no --config given: watching what runs here — {}. `grace init --output grace.toml` \
         writes this config out to read and keep; config/grace.toml is a documented example",
        discovered.summary()
    );
    Ok((
        config,
        ConfigSource::Discovered(discovered.text),
        Some(note),
    ))
}

pub async fn serve(path: Option<PathBuf>) -> anyhow::Result<()> {
    let (config, source, discovered) = config_to_serve(path).await?;
    let required = config.auth.tokens_required(&config.server.bind);
    warn_at_start(&config, required);
    if let Some(node) = config.node() {
        return crate::node::serve(config, source, node).await;
    }
    let location = config.store.location();
    if let StoreLocation::Path(dir, _) = &location {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the store directory {}", dir.display()))?;
    }
    let Listening {
        listener,
        tls,
        scheme,
        addr,
    } = listen(&config.server).await?;
    let kernel = match Kernel::start(config.tree, &location, Probes::default()).await {
        Ok(kernel) => kernel,
        Err(KernelError::Store(error)) => anyhow::bail!(store_unusable(&location, &error)),
        Err(error) => return Err(error).context("cannot start the supervision tree"),
    };
    let app = Arc::new(App {
        kernel,
        auth: Arc::new(server::Auth {
            required,
            book: crate::tokens::TokenBook::new(PathBuf::from(&config.auth.tokens_path)),
        }),
        started: Started {
            source,
            server: config.server,
            store: config.store,
            auth: config.auth,
            cluster: config.cluster,
        },
        ws_clients: Default::default(),
        node_id: None,
        cluster: None,
        forward: None,
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, app.clone(), tls, async {
        let _ = stop_rx.await;
    }));
    // Tests and scripts wait for this line; it carries the real port when bind used port 0.
    say(&format!("grace listening on {scheme}://{addr}"));
    if let Some(discovered) = discovered {
        say(&discovered);
    }
    tracing::info!(%addr, "serving");

    let hangups = tokio::spawn(reload_on_hangup(app.clone()));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let outcome = tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = terminate.recv() => Ok(()),
        _ = app.kernel.exited() => Err(anyhow::anyhow!(
            "the supervision tree gave up: restart intensity exceeded at the top"
        )),
    };
    hangups.abort(); // no reload may start while the tree stops
    let _ = hangups.await;
    let _ = stop_tx.send(());
    let deadline = stop(&app, server).await;
    drop(app);
    close_store(&location, deadline).await;
    outcome
}

/// The least a clean stop gives the embedded store to close, even when stopping the tree took
/// the whole bound: flushing a small memtable takes well under this.
const STORE_CLOSE_MIN_MS: u64 = 1_000;

/// Waits, until `deadline`, for the embedded store to close once every handle to it is dropped
/// (its memtable flushed, so the next start replays no log), and says in the log how it went.
async fn close_store(location: &StoreLocation, deadline: tokio::time::Instant) {
    let started = std::time::Instant::now();
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    let bound = left.max(Duration::from_millis(STORE_CLOSE_MIN_MS));
    if location.closed_within(bound).await {
        let closed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(closed_ms, "store closed");
    } else {
        tracing::warn!(
            "the store did not close in time (a handle is still held); the next start replays its log"
        );
    }
}

/// Longest the HTTP server may take to finish open requests once it stopped accepting; open
/// WebSockets keep it busy, so it is not waited for beyond this (nor beyond half the bound).
const SERVER_DRAIN_MS: u64 = 2_000;

/// The clean stop, within `server.shutdown_timeout_ms`: the server (no longer accepting) gets
/// a bounded moment to finish what it serves, then the kernel commits what is queued and stops
/// the tree, handing runs in flight over to the restart rules; the log says what happened.
/// Returns the deadline, by which the store should be closed too.
async fn stop(app: &App, mut server: tokio::task::JoinHandle<()>) -> tokio::time::Instant {
    let bound = Duration::from_millis(app.started.server.shutdown_timeout_ms);
    let deadline = tokio::time::Instant::now() + bound;
    tracing::info!(timeout_ms = bound.as_millis() as u64, "shutting down");
    let drain = Duration::from_millis(SERVER_DRAIN_MS).min(bound / 2);
    if tokio::time::timeout(drain, &mut server).await.is_err() {
        // Open connections (a WebSocket) would keep it, and the store, open: ended here.
        server.abort();
    }
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    stop_tree(app, left).await;
    deadline
}

/// Says at start what the config allows but should not say (`config::warnings`), and when
/// Grace listens beyond this machine: without TLS, tokens and everything else cross the
/// network in the clear; without tokens, anyone may act.
fn warn_at_start(config: &Config, tokens_required: bool) {
    for warning in config::warnings(config) {
        tracing::warn!(key = %warning.key, "{}", warning.message);
    }
    let (server, auth) = (&config.server, &config.auth);
    let bind = server.bind;
    if bind.ip().is_loopback() {
        return;
    }
    if server.tls().is_none() {
        tracing::warn!(
            %bind,
            "listening beyond loopback without TLS: tokens and events cross the network in \
             clear text; set server.tls_cert_path and tls_key_path, or put a TLS proxy in front"
        );
    }
    if tokens_required {
        tracing::info!(tokens_path = %auth.tokens_path, "every request needs a token");
    }
}

//! The HTTP and WebSocket server (warp): REST over the kernel's store and actors, and the live
//! event feed at `/ws`.

mod api_docs;
mod auth;
mod cluster;
mod dashboard;
mod error;
mod events;
mod filters;
mod first_read;
pub mod forward;
mod healing;
mod history;
mod incident_filters;
mod incidents;
mod intake;
mod monitors;
mod openapi;
mod origin;
mod people;
mod pipelines;
mod playbooks;
mod route;
mod routes;
mod silences;
pub mod standby;
mod status_page;
mod system;
pub mod tls;
mod wire;
mod work_orders;
mod ws;

use std::future::Future;
use std::sync::Arc;

use actors::Kernel;
use tokio::net::TcpListener;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

pub use auth::Auth;
pub use error::ApiError;

use crate::reload::Started;

/// What every handler shares.
pub struct App {
    pub kernel: Kernel,
    /// The config Grace started with (the server settings in it are the running ones).
    pub started: Started,
    /// Whether tokens are required, and the token file (`[auth]`).
    pub auth: Arc<auth::Auth>,
    /// Feed clients connected now (bounded by `limits.ws_clients_max`).
    pub ws_clients: std::sync::atomic::AtomicUsize,
    /// This node's id in a cluster; None on one node.
    pub node_id: Option<String>,
    /// In a cluster: this node and who leads, as last read. None on one node.
    pub cluster: Option<Arc<standby::Standby>>,
    /// On a standby node, what it forwards to the leader with (what only the leader serves).
    /// None on one node and on the leader.
    pub forward: Option<reqwest::Client>,
}

/// Serves `app` on `listener` until `shutdown`, then lets open connections finish (see
/// [`serve_switched`]).
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = ConnectionLimits::of(&app.started.server);
    serve_switched(listener, limits, Switch::new(routes(app)), tls, shutdown).await
}

/// The bounds on connections, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_timeout: std::time::Duration,
    pub connections_max: usize,
}

impl ConnectionLimits {
    pub fn of(server: &crate::config::ServerConfig) -> Self {
        Self {
            header_timeout: std::time::Duration::from_millis(server.header_read_timeout_ms),
            connections_max: server.connections_max,
        }
    }
}

/// The routes connections are served with, swapped whole when a cluster's node starts or
/// stops leading. A swap ends the connections of the old routes gracefully (requests in flight
/// are answered, then keep-alive connections close), so every client's next request meets the
/// new routes.
#[derive(Clone)]
pub struct Switch(Arc<std::sync::Mutex<Generation>>);

/// One set of routes and the connections served with them.
struct Generation {
    routes: BoxedFilter<(Response,)>,
    connections: hyper_util::server::graceful::GracefulShutdown,
}

impl Switch {
    pub fn new(routes: BoxedFilter<(Response,)>) -> Self {
        let connections = hyper_util::server::graceful::GracefulShutdown::new();
        Self(Arc::new(std::sync::Mutex::new(Generation {
            routes,
            connections,
        })))
    }

    /// New routes from now on; the old ones' connections end gracefully, in the background.
    pub fn set(&self, routes: BoxedFilter<(Response,)>) {
        let fresh = Generation {
            routes,
            connections: hyper_util::server::graceful::GracefulShutdown::new(),
        };
        let old = std::mem::replace(&mut *self.0.lock().expect("routes poisoned"), fresh);
        tokio::spawn(old.connections.shutdown());
    }

    /// The routes for a new connection, and the watcher that ends it at the next swap.
    fn current(
        &self,
    ) -> (
        BoxedFilter<(Response,)>,
        hyper_util::server::graceful::Watcher,
    ) {
        let generation = self.0.lock().expect("routes poisoned");
        (generation.routes.clone(), generation.connections.watcher())
    }

    /// Ends the connections of the routes in use (the server is stopping), waiting for them.
    async fn shutdown(&self) {
        let fresh = hyper_util::server::graceful::GracefulShutdown::new();
        let current = {
            let mut generation = self.0.lock().expect("routes poisoned");
            std::mem::replace(&mut generation.connections, fresh)
        };
        current.shutdown().await;
    }
}

/// Serves the routes `switch` holds on `listener` until `shutdown`, then lets open
/// connections finish. Like warp's own server loop, with three additions: a connection that
/// has not sent a whole request head (or finished its TLS handshake) within
/// `server.header_read_timeout_ms` is closed, so slow clients cannot hold connections open; at
/// most `server.connections_max` are open at once — past it the loop accepts nothing until one
/// closes, and new ones wait in the listen backlog (then are refused by the system), so many
/// clients cannot grow the server without end; and with `tls`, every connection is HTTPS.
pub async fn serve_switched(
    listener: TcpListener,
    limits: ConnectionLimits,
    switch: Switch,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let header_timeout = limits.header_timeout;
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections_max));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A free slot first: without one, nothing is accepted.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(ACCEPT_RETRY_MS)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (routes, watcher) = switch.current();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot; // given back when the connection ends
            let Some(tls) = tls else {
                return connection(stream, routes, header_timeout, watcher).await;
            };
            match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                Ok(Ok(stream)) => connection(stream, routes, header_timeout, watcher).await,
                Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        });
    }
    drop(listener);
    switch.shutdown().await;
}

/// Serves one connection (plain or TLS) with HTTP/1.1 or HTTP/2 and WebSocket upgrades.
async fn connection<I>(
    io: I,
    routes: BoxedFilter<(Response,)>,
    header_timeout: std::time::Duration,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let io = first_read::FirstRead::new(io, header_timeout);
    let service = hyper_util::service::TowerToHyperService::new(warp::service(routes));
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%error, "connection ended");
    }
}

/// How long the server waits after a failed accept before accepting again.
const ACCEPT_RETRY_MS: u64 = 100;

/// Every route of the table (`routes.rs`), with errors recovered into JSON and cross-site
/// requests refused first (`origin.rs`). On a standby node (`app.forward`), the routes only
/// the leader serves are forwarded to it (`forward.rs`).
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let guard = origin::same_origin(&app.started.server);
    let forward = match (&app.cluster, &app.forward) {
        (Some(standby), Some(client)) => Some((standby.clone(), client.clone())),
        _ => None,
    };
    let parts = filters::Filters::new(app);
    let line = |line: &routes::Line| match (&forward, line.served) {
        (Some((standby, client)), routes::Served::ByLeader) => {
            let to_leader = forward::to_leader(standby.clone(), client.clone(), parts.body());
            line.route.matches().and(to_leader).boxed()
        }
        _ => line.filter(&parts),
    };
    let all = filters::any_of(routes::table().iter().map(line).collect());
    guard
        .and(all)
        .recover(error::recover)
        .unify()
        .with(warp::trace::request())
        .map(Reply::into_response)
        .boxed()
}

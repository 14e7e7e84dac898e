//! The HTTP and WebSocket server (warp): REST over the kernel's store and actors, and the live
//! event feed at `/ws`.

mod auth;
mod dashboard;
mod error;
mod intake;
mod openapi;
mod origin;
mod pipelines;
mod playbooks;
pub mod tls;
mod wire;
mod ws;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use actors::model::{component_subject, Agent, Delivery, Execution, IncidentStatus, WorkOrder};
use actors::protocol::incidents::IncidentFilter;
use actors::protocol::monitor::{ControlChange, MonitorStatus};
use actors::Kernel;
use chrono::{DateTime, Utc};
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Deserialize;
use tokio::net::TcpListener;
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

pub use auth::Auth;
pub use error::ApiError;
use error::ErrorBody;
use openapi::{
    BodyErrors, CallerErrors, IncidentsQuery, LimitQuery, NoBody, PostErrors, PublicErrors,
    SilenceRequest, TokenErrors,
};
use wire::{
    ActorCounts, ActorView, EventView, HealthStatus, HealthView, HeartbeatView, IncidentDetail,
    IncidentView, IncidentsProgress, Items, MonitorView, Page, ReloadView, WhoamiView,
};

use crate::reload::{ReloadError, Started};
use crate::tokens::Role;
use auth::Caller;

/// Events shown in an incident's timeline at most.
const TIMELINE_EVENTS_MAX: usize = 1_000;
/// Items in a list when the request names no `limit`.
const PAGE_LIMIT_DEFAULT: usize = 50;

/// What every handler shares.
pub struct App {
    pub kernel: Kernel,
    /// The config Grace started with (the server settings in it are the running ones).
    pub started: Started,
    /// Whether tokens are required, and the token file (`[auth]`).
    pub auth: Arc<auth::Auth>,
    /// Feed clients connected now (bounded by `limits.ws_clients_max`).
    pub ws_clients: std::sync::atomic::AtomicUsize,
}

type Query = HashMap<String, String>;

/// Serves `app` on `listener` until `shutdown`, then lets open connections finish. Like warp's
/// own server loop, with two additions: a connection that has not sent a whole request head
/// (or finished its TLS handshake) within `server.header_read_timeout_ms` is closed, so slow
/// clients cannot hold connections open; and with `tls`, every connection is HTTPS.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let header_timeout =
        std::time::Duration::from_millis(app.started.server.header_read_timeout_ms);
    let routes = routes(app);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
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
        let routes = routes.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
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
    graceful.shutdown().await;
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

fn with_app(
    app: Arc<App>,
) -> impl Filter<Extract = (Arc<App>,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || app.clone())
}

/// Every route, with errors recovered into JSON. Each route matches its path and method first,
/// then checks the caller's role (`auth`), then its body: an unknown path is 404 whoever asks.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let body_limit = app.started.server.body_limit_bytes;
    let app_server = app.started.server.clone();
    let body_timeout_ms = app.started.server.body_read_timeout_ms;
    let access = app.auth.clone();
    let app = with_app(app);
    let query = warp::query::<Query>();
    let read = auth::allow(access.clone(), Role::Read);
    let ingest = auth::allow(access.clone(), Role::Ingest);
    let pusher = auth::require(access.clone(), Role::Ingest);
    let operate = auth::require(access.clone(), Role::Operate);
    let admin = auth::require(access.clone(), Role::Admin);
    let json_post = body_limit_bytes(body_limit).and(json_content_type());
    let body = move || body_bytes(body_limit, body_timeout_ms);
    let guard = origin::same_origin(&app_server);

    let health = warp::path!("health")
        .and(warp::get())
        .and(app.clone())
        .and_then(health);
    let document = warp::path!("openapi.json")
        .and(warp::get())
        .and_then(openapi::document);
    let whoami = warp::path!("whoami")
        .and(warp::get())
        .and(auth::caller(access.clone()))
        .and(app.clone())
        .and_then(whoami);
    let incidents = warp::path!("monitoring" / "incidents")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and(query)
        .and_then(list_incidents);
    let incident = warp::path!("monitoring" / "incidents" / String)
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and_then(get_incident);
    let acknowledge = warp::path!("monitoring" / "incidents" / String / "acknowledge")
        .and(warp::post())
        .and(operate.clone())
        .and(json_post.clone())
        .and(app.clone())
        .and_then(acknowledge);
    let resolve = warp::path!("monitoring" / "incidents" / String / "resolve")
        .and(warp::post())
        .and(operate.clone())
        .and(json_post.clone())
        .and(app.clone())
        .and_then(resolve);
    let executions = warp::path!("monitoring" / "executions")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and(query)
        .and_then(list_executions);
    let execution = warp::path!("monitoring" / "executions" / String)
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and_then(get_execution);
    let agents = warp::path!("monitoring" / "agents")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and(query)
        .and_then(list_agents);
    let work_orders = warp::path!("work-orders")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and(query)
        .and_then(list_work_orders);
    let deliveries = warp::path!("deliveries")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and(query)
        .and_then(list_deliveries);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and_then(metrics);
    let heartbeat = warp::path!("heartbeats" / String)
        .and(warp::post())
        .and(ingest.clone())
        .and(json_post.clone())
        .and(app.clone())
        .and_then(heartbeat);
    let monitor = warp::path!("monitors" / String)
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and_then(get_monitor);
    let control = warp::path!("monitors" / String / String)
        .and(warp::post())
        .and(operate.clone())
        .and(json_post.clone())
        .and(app.clone())
        .and(body())
        .and_then(control_monitor);
    let monitors = warp::path!("monitors")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and_then(list_monitors);
    let events = warp::path!("events")
        .and(warp::post())
        .and(pusher.clone())
        .and(json_post.clone())
        .and(app.clone())
        .and(body())
        .and_then(intake::post_events);
    let alertmanager = warp::path!("integrations" / "alertmanager")
        .and(warp::post())
        .and(pusher.clone())
        .and(json_post.clone())
        .and(app.clone())
        .and(body())
        .and_then(intake::post_alertmanager);
    let decide = warp::path!("monitoring" / "incidents" / String / "suggestions" / String / String)
        .and(warp::post())
        .and(operate.clone())
        .and(json_post.clone())
        .and(app.clone())
        .and_then(playbooks::decide);
    let playbook_list = warp::path!("playbooks")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and_then(playbooks::list);
    let playbook = warp::path!("playbooks" / String)
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and_then(playbooks::get);
    let playbook_run = warp::path!("playbooks" / String / "run")
        .and(warp::post())
        .and(operate.clone())
        .and(json_post.clone())
        .and(app.clone())
        .and(body())
        .and_then(playbooks::run);
    let pipeline_list = warp::path!("pipelines")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and_then(pipelines::list);
    let pipeline_runs = warp::path!("pipelines" / String / "runs")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and(query)
        .and_then(pipelines::runs);
    let pipeline_run = warp::path!("pipelines" / String / "run")
        .and(warp::post())
        .and(operate.clone())
        .and(json_post.clone())
        .and(app.clone())
        .and_then(pipelines::run);
    let dashboard = warp::path::end()
        .and(warp::get())
        .and_then(dashboard::index);
    let script = warp::path!("assets" / "app.js")
        .and(warp::get())
        .and_then(dashboard::script);
    let stylesheet = warp::path!("assets" / "app.css")
        .and(warp::get())
        .and_then(dashboard::stylesheet);
    let catalog = warp::path!("catalog")
        .and(warp::get())
        .and(read.clone())
        .and_then(dashboard::catalog);
    let insights = warp::path!("insights")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and_then(dashboard::insights);
    let reload = warp::path!("config" / "reload")
        .and(warp::post())
        .and(admin.clone())
        .and(json_post.clone())
        .and(app.clone())
        .and_then(reload_config);
    let actors = warp::path!("actors")
        .and(warp::get())
        .and(read.clone())
        .and(app.clone())
        .and_then(actor_tree);
    let feed = warp::path!("ws")
        .and(read.clone())
        .and(app.clone())
        .and(query)
        .and_then(ws::parse)
        .and(warp::header::optional::<String>("sec-websocket-protocol"))
        .and(ws::upgrade_asked())
        .and(warp::ws())
        .and_then(ws::upgrade);

    // Boxed in groups: one long chain of `or`s nests types past the compiler's depth limit.
    let incident_routes = health
        .or(whoami)
        .unify()
        .or(incidents)
        .unify()
        .or(incident)
        .unify()
        .or(acknowledge)
        .unify()
        .or(resolve)
        .unify()
        .or(executions)
        .unify()
        .or(execution)
        .unify()
        .or(agents)
        .unify()
        .or(work_orders)
        .unify()
        .or(deliveries)
        .unify()
        .or(metrics)
        .unify()
        .or(decide)
        .unify()
        .boxed();
    let monitor_routes = monitors
        .or(heartbeat)
        .unify()
        .or(monitor)
        .unify()
        .or(control)
        .unify()
        .or(events)
        .unify()
        .or(alertmanager)
        .unify()
        .or(reload)
        .unify()
        .or(actors)
        .unify()
        .or(feed)
        .unify()
        .boxed();
    let automation_routes = playbook_list
        .or(playbook)
        .unify()
        .or(playbook_run)
        .unify()
        .or(pipeline_list)
        .unify()
        .or(pipeline_runs)
        .unify()
        .or(pipeline_run)
        .unify()
        .boxed();
    let dashboard_routes = dashboard
        .or(script)
        .unify()
        .or(stylesheet)
        .unify()
        .or(insights)
        .unify()
        .or(catalog)
        .unify()
        .or(document)
        .unify()
        .boxed();
    let all = incident_routes
        .or(monitor_routes)
        .unify()
        .or(automation_routes)
        .unify()
        .or(dashboard_routes)
        .unify();
    guard
        .and(all)
        .recover(error::recover)
        .unify()
        .with(warp::trace::request())
        .map(Reply::into_response)
        .boxed()
}

/// Refuses a POST that does not say it is JSON with 415, a body-less one too: a cross-site
/// `<form>` or no-cors `fetch` can only send simple content types, so none reaches a handler.
fn json_content_type() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and_then(|value: Option<String>| async move {
            let json = value.as_deref().is_some_and(|v| {
                let essence = v.split(';').next().unwrap_or("").trim();
                essence.eq_ignore_ascii_case("application/json")
            });
            match json {
                true => Ok(()),
                false => Err(warp::reject::custom(ApiError::NotJson(format!(
                    "a POST must be `Content-Type: application/json`, not {}",
                    value.as_deref().unwrap_or("none")
                )))),
            }
        })
        .untuple_one()
}

/// Refuses a declared body larger than `limit` with 413. Unlike warp's `content_length_limit`
/// it does not require the header, so a bare `curl -X POST` works.
fn body_limit_bytes(limit: u64) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |length: Option<u64>| async move {
            match length {
                Some(length) if length > limit => Err(warp::reject::custom(ApiError::TooLarge(
                    format!("body of {length} bytes exceeds the limit of {limit} bytes"),
                ))),
                _ => Ok(()),
            }
        })
        .untuple_one()
}

/// The whole body, read up to `limit` bytes within `timeout_ms`: a chunked body, which declares
/// no length, is cut off with 413 as soon as it passes the limit rather than buffered whole,
/// and one that trickles in gets 408 instead of holding its connection.
fn body_bytes(
    limit: u64,
    timeout_ms: u64,
) -> impl Filter<Extract = (bytes::Bytes,), Error = Rejection> + Clone {
    warp::body::stream().and_then(move |stream| async move {
        let timeout = std::time::Duration::from_millis(timeout_ms);
        match tokio::time::timeout(timeout, read_body(stream, limit)).await {
            Ok(read) => read,
            Err(_) => Err(warp::reject::custom(ApiError::SlowBody(format!(
                "the body did not arrive within {timeout_ms} ms"
            )))),
        }
    })
}

async fn read_body<S, B>(stream: S, limit: u64) -> Result<bytes::Bytes, Rejection>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: bytes::Buf,
{
    use futures_util::TryStreamExt;
    let mut stream = std::pin::pin!(stream);
    let mut body = bytes::BytesMut::new();
    while let Some(mut chunk) = stream.try_next().await.map_err(|error| {
        warp::reject::custom(ApiError::bad("body", format!("could not read: {error}")))
    })? {
        if (body.len() + chunk.remaining()) as u64 > limit {
            return Err(warp::reject::custom(ApiError::TooLarge(format!(
                "body exceeds the limit of {limit} bytes"
            ))));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            body.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(body.freeze())
}

fn json(value: &impl serde::Serialize) -> Result<Response, Rejection> {
    Ok(warp::reply::json(value).into_response())
}

/// `limit` from the query: 1 to `page_limit_max`, default 50.
fn limit(app: &App, query: &Query) -> Result<usize, ApiError> {
    let max = app.started.server.page_limit_max;
    match query.get("limit") {
        None => Ok(PAGE_LIMIT_DEFAULT.min(max)),
        Some(raw) => match raw.parse::<usize>() {
            Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
            _ => Err(ApiError::bad(
                "limit",
                format!("must be a whole number from 1 to {max}, got {raw:?}"),
            )),
        },
    }
}

/// An optional whole-number query parameter that names a stored id or seq. The store keeps
/// them as signed 64-bit integers, so larger values are refused here rather than failing there.
fn optional_seq(query: &Query, field: &str, what: &str) -> Result<Option<u64>, ApiError> {
    match query.get(field).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|value| *value <= i64::MAX as u64)
            .map(Some)
            .ok_or_else(|| ApiError::bad(field, format!("must be {what}, got {raw:?}"))),
    }
}

/// An enumerated path segment (`pause`, `approve`, …) as the enum that documents it; none for
/// a segment it does not name.
fn segment<T: DeserializeOwned>(raw: &str) -> Option<T> {
    let raw: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        raw.into_deserializer();
    T::deserialize(raw).ok()
}

fn incident_id(raw: &str) -> Result<u64, ApiError> {
    let id: u64 = raw
        .parse()
        .map_err(|_| ApiError::bad("id", format!("must be a whole number, got {raw:?}")))?;
    // Ids are stored as signed 64-bit integers; anything larger cannot exist.
    if id > i64::MAX as u64 {
        return Err(ApiError::NotFound(format!("incident {id} does not exist")));
    }
    Ok(id)
}

/// Whether Grace is healthy.
///
/// `ok` when every actor runs and the store takes writes, `degraded` otherwise; with the event
/// log's position, the incident manager's progress and the feed clients connected.
///
/// Role: none: no token needed.
#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    security(()),
    responses(
        (status = 200, description = "Grace's health (also while degraded)", body = HealthView),
        PublicErrors,
    )
)]
async fn health(app: Arc<App>) -> Result<Response, Rejection> {
    let last_seq = app
        .kernel
        .store()
        .last_seq()
        .await
        .map_err(ApiError::from)?;
    let tree = app.kernel.tree();
    let (mut total, mut running) = (0, 0);
    let mut stack = vec![&tree];
    while let Some(node) = stack.pop() {
        total += 1;
        running += usize::from(node.status == "running");
        stack.extend(node.children.iter());
    }
    let (applied_seq, lag) = app.kernel.incidents_progress();
    let store_failure = app.kernel.store_failure().map(Into::into);
    let healthy = running == total && store_failure.is_none();
    json(&HealthView {
        status: if healthy {
            HealthStatus::Ok
        } else {
            HealthStatus::Degraded
        },
        store_failure,
        version: env!("CARGO_PKG_VERSION"),
        last_seq,
        log_id: app.kernel.store().log_id().to_owned(),
        actors: ActorCounts { total, running },
        incidents: IncidentsProgress { applied_seq, lag },
        ws_clients: ws::clients(&app),
    })
}

/// Prometheus' scrape target, in OpenMetrics text.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Grace's metrics", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        TokenErrors,
    )
)]
async fn metrics(app: Arc<App>) -> Result<Response, Rejection> {
    let text = app.kernel.metrics_text(ws::clients(&app)).await;
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(warp::http::Response::builder()
        .header(warp::http::header::CONTENT_TYPE, content_type)
        .body(text.into())
        .expect("a valid response"))
}

/// Incidents, newest first, a page at a time.
///
/// `next` is the cursor of the following page, null at the end. With `status=active` or an
/// active status, the page also says how many incidents match in all (`total`).
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitoring/incidents",
    tag = "incidents",
    params(IncidentsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of incidents", body = Page<IncidentView>),
        (status = 400, description = "`bad_request`: `limit`, `status` or `cursor` is not one \
            it takes (`field` names it)", body = ErrorBody),
        TokenErrors,
    )
)]
async fn list_incidents(app: Arc<App>, query: Query) -> Result<Response, Rejection> {
    let limit = limit(&app, &query)?;
    let filter = match query.get("status").map(String::as_str) {
        None | Some("") => IncidentFilter::Any,
        Some("active") => IncidentFilter::Active,
        Some(raw) => IncidentFilter::Status(IncidentStatus::parse(raw).ok_or_else(|| {
            ApiError::bad(
                "status",
                format!("must be one of active, open, acknowledged, mitigating, resolved, escalated; got {raw:?}"),
            )
        })?),
    };
    let before = optional_seq(&query, "cursor", "a cursor from `next`")?;
    let page = app
        .kernel
        .incidents(filter, before, limit)
        .await
        .map_err(ApiError::from)?;
    let next = (page.items.len() == limit)
        .then(|| page.items.last().map(|incident| incident.id.to_string()))
        .flatten();
    json(&Page {
        items: page.items.iter().map(IncidentView::from).collect(),
        next,
        total: page.total,
    })
}

/// One incident, with its timeline: the events that concern it, oldest first.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitoring/incidents/{id}",
    tag = "incidents",
    params(("id" = u64, Path, description = "The incident's id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The incident and its timeline", body = IncidentDetail),
        (status = 400, description = "`bad_request`: the id is not a whole number (`field` is \
            `id`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such incident", body = ErrorBody),
        TokenErrors,
    )
)]
async fn get_incident(raw_id: String, app: Arc<App>) -> Result<Response, Rejection> {
    let id = incident_id(&raw_id)?;
    let store = app.kernel.store();
    let incident = store
        .incident(id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::NotFound(format!("incident {id} does not exist")))?;
    let events = store
        .incident_events(&incident, TIMELINE_EVENTS_MAX)
        .await
        .map_err(ApiError::from)?;
    json(&IncidentDetail {
        incident: IncidentView::from(&incident),
        timeline: events.iter().map(EventView::from).collect(),
    })
}

/// Acknowledge an incident: a person is on it.
///
/// Recorded as done by the token's name.
///
/// Role: `operate` (`admin` also does).
#[utoipa::path(
    post,
    path = "/monitoring/incidents/{id}/acknowledge",
    tag = "incidents",
    params(("id" = u64, Path, description = "The incident's id")),
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The incident, acknowledged", body = IncidentView),
        (status = 400, description = "`bad_request`: the id is not a whole number", body = ErrorBody),
        (status = 404, description = "`not_found`: no such incident", body = ErrorBody),
        (status = 409, description = "`conflict`: the incident is resolved, or acknowledged \
            already", body = ErrorBody),
        PostErrors,
    )
)]
async fn acknowledge(raw_id: String, caller: Caller, app: Arc<App>) -> Result<Response, Rejection> {
    let id = incident_id(&raw_id)?;
    let incident = app
        .kernel
        .acknowledge(id, caller.who)
        .await
        .map_err(ApiError::from)?;
    json(&IncidentView::from(&incident))
}

/// Resolve an incident by hand.
///
/// Recorded as done by the token's name (`resolved_by` is `manual`).
///
/// Role: `operate` (`admin` also does).
#[utoipa::path(
    post,
    path = "/monitoring/incidents/{id}/resolve",
    tag = "incidents",
    params(("id" = u64, Path, description = "The incident's id")),
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The incident, resolved", body = IncidentView),
        (status = 400, description = "`bad_request`: the id is not a whole number", body = ErrorBody),
        (status = 404, description = "`not_found`: no such incident", body = ErrorBody),
        (status = 409, description = "`conflict`: the incident is resolved already", body = ErrorBody),
        PostErrors,
    )
)]
async fn resolve(raw_id: String, caller: Caller, app: Arc<App>) -> Result<Response, Rejection> {
    let id = incident_id(&raw_id)?;
    let incident = app
        .kernel
        .resolve(id, caller.who)
        .await
        .map_err(ApiError::from)?;
    json(&IncidentView::from(&incident))
}

/// Playbook runs (executions), newest first.
///
/// Not paged: `next` is always null.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitoring/executions",
    tag = "healing",
    params(LimitQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The latest runs", body = Page<Execution>),
        (status = 400, description = "`bad_request`: `limit` is out of range", body = ErrorBody),
        TokenErrors,
    )
)]
async fn list_executions(app: Arc<App>, query: Query) -> Result<Response, Rejection> {
    let limit = limit(&app, &query)?;
    let executions = app
        .kernel
        .store()
        .executions(limit)
        .await
        .map_err(ApiError::from)?;
    json(&Page {
        items: executions,
        next: None,
        total: None,
    })
}

/// Webhook deliveries of work orders and notifications, newest first.
///
/// Not paged: `next` is always null.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/deliveries",
    tag = "healing",
    params(LimitQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The latest deliveries", body = Page<Delivery>),
        (status = 400, description = "`bad_request`: `limit` is out of range", body = ErrorBody),
        TokenErrors,
    )
)]
async fn list_deliveries(app: Arc<App>, query: Query) -> Result<Response, Rejection> {
    let limit = limit(&app, &query)?;
    let deliveries = app
        .kernel
        .store()
        .deliveries(limit)
        .await
        .map_err(ApiError::from)?;
    json(&Page {
        items: deliveries,
        next: None,
        total: None,
    })
}

/// One playbook run, with the log of each step.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitoring/executions/{run_id}",
    tag = "healing",
    params(("run_id" = String, Path, description = "The run's id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The run", body = Execution),
        (status = 404, description = "`not_found`: no such run", body = ErrorBody),
        TokenErrors,
    )
)]
async fn get_execution(run_id: String, app: Arc<App>) -> Result<Response, Rejection> {
    let execution = app
        .kernel
        .store()
        .execution(&run_id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::NotFound(format!("execution {run_id} does not exist")))?;
    json(&execution)
}

/// Sub-agents, newest first: the supervised actors that carry out runs.
///
/// Not paged: `next` is always null.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitoring/agents",
    tag = "healing",
    params(LimitQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The latest sub-agents", body = Page<Agent>),
        (status = 400, description = "`bad_request`: `limit` is out of range", body = ErrorBody),
        TokenErrors,
    )
)]
async fn list_agents(app: Arc<App>, query: Query) -> Result<Response, Rejection> {
    let limit = limit(&app, &query)?;
    let agents = app
        .kernel
        .store()
        .agents(limit)
        .await
        .map_err(ApiError::from)?;
    json(&Page {
        items: agents,
        next: None,
        total: None,
    })
}

/// Work orders, newest first: what people must do where automation could not heal.
///
/// Not paged: `next` is always null.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/work-orders",
    tag = "healing",
    params(LimitQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The latest work orders", body = Page<WorkOrder>),
        (status = 400, description = "`bad_request`: `limit` is out of range", body = ErrorBody),
        TokenErrors,
    )
)]
async fn list_work_orders(app: Arc<App>, query: Query) -> Result<Response, Rejection> {
    let limit = limit(&app, &query)?;
    let work_orders = app
        .kernel
        .store()
        .work_orders(limit)
        .await
        .map_err(ApiError::from)?;
    json(&Page {
        items: work_orders,
        next: None,
        total: None,
    })
}

async fn monitor_view(app: &App, status: &MonitorStatus) -> Result<MonitorView, ApiError> {
    let trust = app
        .kernel
        .store()
        .trust(&component_subject(&status.id))
        .await?
        .map_or(1.0, |trust| trust.score);
    Ok(MonitorView::new(status, trust))
}

/// Every monitor, with its state, its last probe and its trust.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitors",
    tag = "monitors",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The monitors", body = Items<MonitorView>),
        TokenErrors,
    )
)]
async fn list_monitors(app: Arc<App>) -> Result<Response, Rejection> {
    let mut items = Vec::new();
    for status in app.kernel.monitor_statuses() {
        items.push(monitor_view(&app, &status).await?);
    }
    json(&Items { items })
}

/// One monitor, with its state, its last probe and its trust.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/monitors/{monitor_id}",
    tag = "monitors",
    params(("monitor_id" = String, Path, description = "The monitor's id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The monitor", body = MonitorView),
        (status = 404, description = "`not_found`: no such monitor", body = ErrorBody),
        TokenErrors,
    )
)]
async fn get_monitor(monitor_id: String, app: Arc<App>) -> Result<Response, Rejection> {
    let status = app
        .kernel
        .monitor_status(&monitor_id)
        .map_err(ApiError::from)?;
    json(&monitor_view(&app, &status).await?)
}

/// Longest silence one request may set: a week. Longer quiet is a config change, not a silence.
const SILENCE_MINUTES_MAX: i64 = 7 * 24 * 60;

/// What `POST /monitors/{monitor_id}/{action}` does.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum MonitorAction {
    /// Stop probing it (kept across restarts).
    Pause,
    /// Probe it again.
    Resume,
    /// Keep recording its incidents, but run no playbook for them, for a while.
    Silence,
}

/// Pause, resume or silence a monitor.
///
/// `pause` stops probing it and `resume` starts again; `silence` keeps recording its incidents
/// but runs no playbook for them, for `{"minutes": N}` (0 lifts the silence) or until
/// `{"until": "<RFC 3339>"}`, at most a week. Only `silence` reads the body. Recorded as done
/// by the token's name.
///
/// Role: `operate` (`admin` also does).
#[utoipa::path(
    post,
    path = "/monitors/{monitor_id}/{action}",
    tag = "monitors",
    params(
        ("monitor_id" = String, Path, description = "The monitor's id"),
        ("action" = inline(MonitorAction), Path, description = "What to do"),
    ),
    request_body(content = Option<SilenceRequest>, content_type = "application/json",
        description = "For `silence`: exactly one of `minutes` or `until`. `pause` and `resume` \
            read no body."),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The monitor, changed", body = MonitorView),
        (status = 400, description = "`bad_request`: the silence body is not one it takes \
            (`field` is `body`, `minutes` or `until`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such monitor, or no such action", body = ErrorBody),
        BodyErrors,
    )
)]
async fn control_monitor(
    monitor_id: String,
    action: String,
    caller: Caller,
    app: Arc<App>,
    body: bytes::Bytes,
) -> Result<Response, Rejection> {
    let change = match segment::<MonitorAction>(&action) {
        Some(MonitorAction::Pause) => ControlChange::Pause,
        Some(MonitorAction::Resume) => ControlChange::Resume,
        Some(MonitorAction::Silence) => ControlChange::Silence(silence_until(&body)?),
        None => return Err(warp::reject::not_found()),
    };
    let status = app
        .kernel
        .control_monitor(&monitor_id, change, caller.who)
        .await
        .map_err(ApiError::from)?;
    json(&monitor_view(&app, &status).await?)
}

fn silence_until(body: &[u8]) -> Result<Option<DateTime<Utc>>, ApiError> {
    let request: serde_json::Value = serde_json::from_slice(body).map_err(|error| {
        ApiError::bad(
            "body",
            format!("expected {{\"minutes\": N}} or {{\"until\": \"<RFC 3339>\"}}: {error}"),
        )
    })?;
    let now = Utc::now();
    let latest = now + chrono::Duration::minutes(SILENCE_MINUTES_MAX);
    match (request.get("minutes"), request.get("until")) {
        (Some(minutes), None) => match minutes.as_i64() {
            Some(0) => Ok(None),
            Some(m) if (1..=SILENCE_MINUTES_MAX).contains(&m) => {
                Ok(Some(now + chrono::Duration::minutes(m)))
            }
            _ => Err(ApiError::bad(
                "minutes",
                format!("must be a whole number from 0 (lift) to {SILENCE_MINUTES_MAX}"),
            )),
        },
        (None, Some(until)) => {
            let until = until
                .as_str()
                .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                .map(|until| until.with_timezone(&Utc))
                .ok_or_else(|| ApiError::bad("until", "must be an RFC 3339 time"))?;
            if until <= now || until > latest {
                return Err(ApiError::bad(
                    "until",
                    "must be in the future and at most a week away",
                ));
            }
            Ok(Some(until))
        }
        _ => Err(ApiError::bad(
            "body",
            "give exactly one of `minutes` or `until`",
        )),
    }
}

/// Record a heartbeat of a heartbeat monitor.
///
/// The monitor looks at once, so a job that beats after a miss is up again at once.
///
/// Role: `ingest` (`admin` also does).
#[utoipa::path(
    post,
    path = "/heartbeats/{monitor_id}",
    tag = "monitors",
    params(("monitor_id" = String, Path, description = "The heartbeat monitor's id")),
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The beat was recorded", body = HeartbeatView),
        (status = 404, description = "`not_found`: no heartbeat monitor of that id", body = ErrorBody),
        PostErrors,
    )
)]
async fn heartbeat(monitor_id: String, app: Arc<App>) -> Result<Response, Rejection> {
    app.kernel.beat(&monitor_id).map_err(ApiError::from)?;
    json(&HeartbeatView {
        monitor: monitor_id,
        status: "received",
    })
}

/// Reread the config file and apply it.
///
/// 200 with what changed, or 400 listing every problem of the new config, which is then not
/// applied at all. Settings of `[server]`, `[store]` and `[auth]` take effect at the next
/// start (`restart_required`). Recorded as done by the token's name.
///
/// Role: `admin`.
#[utoipa::path(
    post,
    path = "/config/reload",
    tag = "system",
    request_body(content = Option<NoBody>, content_type = "application/json"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The new config is applied", body = ReloadView),
        (status = 400, description = "`bad_request`: the new config is not valid; `errors` \
            lists every problem with its key, and nothing was applied", body = ErrorBody),
        PostErrors,
    )
)]
async fn reload_config(caller: Caller, app: Arc<App>) -> Result<Response, Rejection> {
    match crate::reload::reload(&app.kernel, &app.started, caller.who).await {
        Ok(report) => json(&ReloadView::from(report)),
        Err(ReloadError::Invalid(error)) => Err(ApiError::Invalid(
            error
                .issues
                .into_iter()
                .map(|issue| {
                    let key = if issue.key.is_empty() {
                        "config".to_owned()
                    } else {
                        issue.key
                    };
                    (key, issue.message)
                })
                .collect(),
        )
        .into()),
        Err(ReloadError::Kernel(error)) => Err(ApiError::from(error).into()),
    }
}

/// Who the token is, and what it may do.
///
/// Whether tokens are required, and the caller's name and role (the dashboard shows a
/// read-only token no action buttons).
///
/// Role: any: a valid token of any role (none when tokens are not required).
#[utoipa::path(
    get,
    path = "/whoami",
    tag = "system",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The caller", body = WhoamiView),
        CallerErrors,
    )
)]
async fn whoami(caller: Caller, app: Arc<App>) -> Result<Response, Rejection> {
    json(&WhoamiView {
        name: caller.who,
        role: caller.role,
        required: app.auth.required,
    })
}

/// The live supervision tree: every actor, its state and its restarts.
///
/// Role: `read` (`operate` and `admin` also do).
#[utoipa::path(
    get,
    path = "/actors",
    tag = "system",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The root of the tree", body = ActorView),
        TokenErrors,
    )
)]
async fn actor_tree(app: Arc<App>) -> Result<Response, Rejection> {
    json(&ActorView::from(&app.kernel.tree()))
}

//! The public status page (`GET /status`) and badges (`GET /badge/{component}.svg`): what
//! customers and other teams may see of the components `[status_page]` names, under their
//! public names — state in words, 90 days of bars, the last days' incidents in plain
//! language. No token is needed, so nothing internal goes in: no error, host, label, event
//! type or title (`grace-core` `status_page` builds every word from the state, the uptime and
//! the severity alone). Served as plain HTML and SVG, with no script.

use std::sync::Arc;

use actors::model::Incident;
use actors::protocol::incidents::IncidentFilter;
use actors::status_page::{self as page, xml, Component, Day, State};
use chrono::{DateTime, Duration, Utc};
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use warp::reply::Response;
use warp::Rejection;

use super::api_docs::PublicErrors;
use super::error::ErrorBody;
use super::incident_filters::{scan, Wanted};
use super::{ApiError, App};

/// Most incidents listed.
const INCIDENTS_SHOWN_MAX: usize = 50;
/// No script, no frames, nothing fetched: the page is text and its own style.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

/// One component as the page shows it.
struct Shown {
    component: Component,
    state: State,
    days: Vec<Day>,
}

/// The public status page.
#[utoipa::path(
    get,
    path = "/status",
    tag = "status",
    security(()),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html; charset=utf-8"),
        (status = 404, description = "`not_found`: no `[status_page]` components configured", body = ErrorBody),
        PublicErrors,
    )
)]
pub(super) async fn status(app: Arc<App>) -> Result<Response, Rejection> {
    let spec = app.kernel.spec().status_page.clone();
    if spec.components.is_empty() {
        return Err(ApiError::NotFound("no status page is configured".into()).into());
    }
    let now = actors::time::now();
    let mut shown = Vec::new();
    for component in &spec.components {
        shown.push(look(&app, component, now).await?);
    }
    let incidents = incidents(&app, &spec, now).await?;
    let html = render(&spec.title, &shown, &incidents, &spec, now);
    Ok(reply(html, "text/html; charset=utf-8"))
}

/// A badge for a README: the component's public name, and up with its uptime, or down.
#[utoipa::path(
    get,
    path = "/badge/{badge}",
    tag = "status",
    params(("badge" = String, Path, description = "A status-page component's id and `.svg`: `orders-db.svg`")),
    security(()),
    responses(
        (status = 200, description = "The badge", body = String, content_type = "image/svg+xml"),
        (status = 404, description = "`not_found`: not a component of the status page", body = ErrorBody),
        PublicErrors,
    )
)]
pub(super) async fn badge([badge]: [String; 1], app: Arc<App>) -> Result<Response, Rejection> {
    let spec = app.kernel.spec().status_page.clone();
    let component = badge.strip_suffix(".svg").and_then(|id| spec.component(id));
    let missing = || ApiError::NotFound(format!("{badge} is not a badge of the status page"));
    let component = component.ok_or_else(missing)?;
    let shown = look(&app, component, actors::time::now()).await?;
    let svg = page::badge(component.name(), shown.state, page::uptime(&shown.days));
    Ok(reply(svg, "image/svg+xml"))
}

/// A component's state now and its days.
async fn look(app: &App, component: &Component, now: DateTime<Utc>) -> Result<Shown, ApiError> {
    let status = app.kernel.monitor_status(component.id())?;
    let quiet = status.control.paused || status.control.silenced_at(now);
    let failing = status.consecutive_failures > 0;
    let state = State::of(status.down, failing, quiet, status.last_probe_at.is_some());
    let since = now - Duration::days(page::DAYS_SHOWN as i64);
    let rows = app.kernel.store().history(component.id(), since).await?;
    let days = page::days(&rows, status.history.as_ref(), now);
    Ok(Shown {
        component: component.clone(),
        state,
        days,
    })
}

/// The incidents of the shown components in the last `incident_days`, newest first.
async fn incidents(
    app: &App,
    spec: &page::StatusPageSpec,
    now: DateTime<Utc>,
) -> Result<Vec<Incident>, ApiError> {
    let wanted = Wanted {
        since: Some(now - Duration::days(i64::from(spec.incident_days))),
        ..Wanted::default()
    };
    let (found, _) = scan(app, IncidentFilter::Any, &wanted, None, 500).await?;
    let shown = found
        .into_iter()
        .filter(|i| spec.component(&i.source).is_some() && !i.silenced);
    Ok(shown.take(INCIDENTS_SHOWN_MAX).collect())
}

fn reply(body: String, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type.parse().expect("static header"));
    headers.insert(CACHE_CONTROL, "max-age=30".parse().expect("static header"));
    headers.insert(
        "x-content-type-options",
        "nosniff".parse().expect("static header"),
    );
    let policy = CONTENT_SECURITY_POLICY.parse().expect("static header");
    headers.insert("content-security-policy", policy);
    response
}

fn render(
    title: &str,
    shown: &[Shown],
    incidents: &[Incident],
    spec: &page::StatusPageSpec,
    now: DateTime<Utc>,
) -> String {
    let states: Vec<State> = shown.iter().map(|s| s.state).collect();
    let overall = page::overall(&states);
    let components: String = shown.iter().map(component_html).collect();
    let listed: String = incidents
        .iter()
        .filter_map(|i| {
            let name = spec.component(&i.source)?.name();
            let words = page::incident_words(name, i.severity, i.detected_at, i.resolved_at, now);
            Some(format!("<li>{}</li>", xml(&words)))
        })
        .collect();
    let listed = match listed.is_empty() {
        true => format!(
            "<p>No incidents in the last {} days.</p>",
            spec.incident_days
        ),
        false => format!("<ul>{listed}</ul>"),
    };
    let title = xml(title);
    let updated = now.format("%Y-%m-%d %H:%M UTC");
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title><style>{STYLE}</style></head><body><main><h1>{title}</h1><p id="overall" class="banner">{overall}</p><section id="components">{components}</section><section id="incidents"><h2>Incidents</h2>{listed}</section><footer>Updated {updated}</footer></main></body></html>"#
    )
}

fn component_html(shown: &Shown) -> String {
    let days: String = shown
        .days
        .iter()
        .map(|day| {
            let (class, words) = match (day.uptime, day.down) {
                (None, _) => ("none", "no data".to_owned()),
                (Some(_), true) => (
                    "down",
                    format!("{} up, an outage", page::percent(day.uptime.unwrap_or(0.0))),
                ),
                (Some(u), false) if u >= 1.0 => ("up", "100% up".to_owned()),
                (Some(u), false) => ("partial", format!("{} up", page::percent(u))),
            };
            format!(
                r#"<span class="day {class}" title="{}: {words}"></span>"#,
                day.day.format("%b %-d")
            )
        })
        .collect();
    let uptime = match page::uptime(&shown.days) {
        Some(share) => format!("{} uptime over the days with data", page::percent(share)),
        None => "No data yet".to_owned(),
    };
    let state = shown.state;
    format!(
        r#"<article class="component" data-component="{id}"><h2>{name}</h2><p class="state" style="color:{colour}">{words}</p><div class="bar" role="img" aria-label="90 days">{days}</div><p class="uptime">{uptime}</p></article>"#,
        id = xml(shown.component.id()),
        name = xml(shown.component.name()),
        colour = state.colour(),
        words = state.words(),
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f8fa;color:#1f2328}\
main{max-width:860px;margin:0 auto;padding:24px}h1{font-size:1.6rem}\
.banner{padding:12px 16px;border-radius:8px;background:#fff;border:1px solid #d0d7de;font-weight:600}\
.component{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;margin:12px 0}\
.component h2{font-size:1.1rem;margin:0}.state{margin:4px 0 8px;font-weight:600}\
.bar{display:flex;gap:2px}.day{flex:1;height:28px;border-radius:2px;background:#d0d7de}\
.day.up{background:#2da44e}.day.partial{background:#d4a72c}.day.down{background:#cf222e}\
.uptime{color:#57606a;font-size:.9rem;margin:6px 0 0}footer{color:#57606a;font-size:.85rem}\
@media (prefers-color-scheme: dark){body{background:#0d1117;color:#e6edf3}.banner,.component{background:#161b22;border-color:#30363d}}";

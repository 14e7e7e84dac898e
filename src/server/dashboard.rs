//! The health dashboard at `/`: one HTML page with its script (`app.js` and the ES modules it
//! imports from `/assets/js/`) and stylesheet, embedded in the binary (no Node build, no separate
//! server), and `GET /insights`, the numbers it shows.
//!
//! The page loads the current state over REST, then follows `/ws` from the `last_seq` it
//! started at; after a disconnect (Grace restarting) it reconnects with `since` set to the last
//! seq it saw, so it misses nothing and shows nothing twice.

use std::sync::Arc;

use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::api_docs::{PublicErrors, TokenErrors};
use super::filters;
use super::{ApiError, App};
use crate::tokens::Role;
use actors::insights::Insights;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
/// The ES modules `app.js` imports, by name under `/assets/js/`: one per part of the page.
const MODULES: &[(&str, &str)] = &[
    ("auth.js", include_str!("assets/js/auth.js")),
    ("details.js", include_str!("assets/js/details.js")),
    ("dom.js", include_str!("assets/js/dom.js")),
    ("feed.js", include_str!("assets/js/feed.js")),
    ("history.js", include_str!("assets/js/history.js")),
    ("incidents.js", include_str!("assets/js/incidents.js")),
    ("load.js", include_str!("assets/js/load.js")),
    ("monitors.js", include_str!("assets/js/monitors.js")),
    ("state.js", include_str!("assets/js/state.js")),
    ("tiles.js", include_str!("assets/js/tiles.js")),
    ("words.js", include_str!("assets/js/words.js")),
];

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, content_type.parse().expect("static header"));
    // Assets change with the binary; always revalidate so an upgrade shows at once.
    response
        .headers_mut()
        .insert(CACHE_CONTROL, "no-cache".parse().expect("static header"));
    // No other site may frame the page (clickjacking), and the page runs only its own script
    // and talks only to this Grace.
    let headers = response.headers_mut();
    headers.insert("x-frame-options", "DENY".parse().expect("static header"));
    headers.insert(
        "x-content-type-options",
        "nosniff".parse().expect("static header"),
    );
    headers.insert(
        "content-security-policy",
        CONTENT_SECURITY_POLICY.parse().expect("static header"),
    );
    headers.insert(
        "referrer-policy",
        "no-referrer".parse().expect("static header"),
    );
    response
}

/// Only the page's own script and stylesheet, connections to this Grace (and its `/ws`), no
/// framing, no plugins, forms nowhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// The dashboard's page.
///
/// It signs in with a token when tokens are required, then reads the REST routes and follows
/// `/ws`.
#[utoipa::path(
    get,
    path = "/",
    tag = "dashboard",
    security(()),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html; charset=utf-8"),
        PublicErrors,
    )
)]
pub async fn index() -> Result<Response, Rejection> {
    Ok(asset(INDEX_HTML, "text/html; charset=utf-8"))
}

/// The dashboard's script.
#[utoipa::path(
    get,
    path = "/assets/app.js",
    tag = "dashboard",
    security(()),
    responses(
        (status = 200, description = "The script", body = String, content_type = "text/javascript; charset=utf-8"),
        PublicErrors,
    )
)]
pub async fn script() -> Result<Response, Rejection> {
    Ok(asset(APP_JS, "text/javascript; charset=utf-8"))
}

/// One of the ES modules the dashboard's script imports (`state.js`, `feed.js`, `tiles.js`, …).
#[utoipa::path(
    get,
    path = "/assets/js/{module}",
    tag = "dashboard",
    security(()),
    params(("module" = String, Path, description = "The module's file name, such as `feed.js`")),
    responses(
        (status = 200, description = "The module", body = String, content_type = "text/javascript; charset=utf-8"),
        PublicErrors,
    )
)]
pub async fn module([module]: [String; 1]) -> Result<Response, Rejection> {
    match MODULES.iter().find(|(name, _)| *name == module) {
        Some((_, body)) => Ok(asset(body, "text/javascript; charset=utf-8")),
        None => Err(warp::reject::not_found()),
    }
}

/// The dashboard's stylesheet.
#[utoipa::path(
    get,
    path = "/assets/app.css",
    tag = "dashboard",
    security(()),
    responses(
        (status = 200, description = "The stylesheet", body = String, content_type = "text/css; charset=utf-8"),
        PublicErrors,
    )
)]
pub async fn stylesheet() -> Result<Response, Rejection> {
    Ok(asset(APP_CSS, "text/css; charset=utf-8"))
}

/// The catalog of event types: what each type Grace publishes means (problem with severity
/// and title, recovery, or info), the words people see for each family of problems, and the
/// last words that make a pushed event a recovery. The dashboard reads its words from here.
#[utoipa::path(
    get,
    path = "/catalog",
    tag = "dashboard",
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The catalog", body = actors::catalog::Catalog),
        TokenErrors,
    )
)]
pub async fn catalog() -> Result<Response, Rejection> {
    filters::json(&actors::catalog::whole())
}

/// The dashboard's numbers.
///
/// Incidents in the last 24 h, MTTA, MTTR, recovery estimates per playbook and kind of
/// incident, and component trust trends.
#[utoipa::path(
    get,
    path = "/insights",
    tag = "dashboard",
    security(("bearerAuth" = [Role::Read])),
    responses(
        (status = 200, description = "The insights", body = Insights),
        TokenErrors,
    )
)]
pub async fn insights(app: Arc<App>) -> Result<Response, Rejection> {
    let insights = app.kernel.insights().await.map_err(ApiError::from)?;
    Ok(warp::reply::json(&insights).into_response())
}

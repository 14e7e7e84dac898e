//! `GET /openapi.json`: an OpenAPI 3.1 description of every route, generated from the code
//! with utoipa, so that clients can be generated and checked against what Grace really speaks.
//!
//! Each handler carries its own `#[utoipa::path]` (method, path, parameters, body, answers,
//! the role it needs), next to the code it describes; the schemas are derived from the very
//! types the handlers send (`wire`, the actors' records, [`ErrorBody`]). This file gathers
//! them, adds what every route shares (the bearer token scheme, the error answers common to
//! all routes) and the query parameters, which the handlers read from a map. The document is
//! built once and served as it is, without a token, like `/health`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use utoipa::openapi::schema::Ref;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, HeaderBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};
use warp::http::header::CONTENT_TYPE;
use warp::reply::Response as Reply;
use warp::Rejection;

use super::error::ErrorBody;

/// The security scheme of every route that needs a token (when `[auth]` requires tokens).
pub const BEARER_AUTH: &str = "bearerAuth";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Grace",
        description = "A self-healing supervisor: it watches dependencies, opens incidents and \
heals them with playbooks.\n\n\
**Tokens.** When `[auth]` requires tokens, every route but `/health`, `/openapi.json` and the \
dashboard's page and assets needs `Authorization: Bearer <token>` (`bearerAuth`); `/ws` also \
takes it as a `Sec-WebSocket-Protocol` entry `grace.token.<token>`. Each operation names the \
role it needs: `read` (every GET and `/ws`), `ingest` (only pushing events, heartbeats and \
alerts), `operate` (what `read` does, and acting on incidents, monitors, playbooks and \
pipelines) or `admin` (everything). A missing or bad token gets 401, a role too low 403. \
Without `[auth]` no token is needed and every request acts as `local` with every role.\n\n\
**POSTs** must say `Content-Type: application/json`, even those that send no body (else 415).\n\n\
**Errors** are JSON: `{\"error\": {\"code\", \"message\", \"field\"?, \"role_needed\"?, \
\"errors\"?}}` (`ErrorBody`).\n\n\
**Timestamps** are RFC 3339 in UTC; those of stored records have exactly six fractional \
digits, so they sort as strings."
    ),
    paths(
        super::system::health,
        super::system::whoami,
        super::incidents::list_incidents,
        super::incidents::get_incident,
        super::incidents::acknowledge,
        super::incidents::resolve,
        super::playbooks::decide,
        super::healing::list_executions,
        super::healing::get_execution,
        super::healing::list_agents,
        super::healing::list_work_orders,
        super::healing::list_deliveries,
        super::system::metrics,
        super::monitors::heartbeat,
        super::monitors::list_monitors,
        super::monitors::get_monitor,
        super::history::monitor_history,
        super::silences::list_silences,
        super::silences::create_silence,
        super::silences::expire_silence,
        super::monitors::control_monitor,
        super::intake::post_events,
        super::intake::post_alertmanager,
        super::playbooks::list,
        super::playbooks::get,
        super::playbooks::run,
        super::pipelines::list,
        super::pipelines::runs,
        super::pipelines::run,
        super::dashboard::insights,
        super::dashboard::catalog,
        super::system::reload_config,
        super::system::actor_tree,
        super::ws::upgrade,
        document,
        super::dashboard::index,
        super::dashboard::script,
        super::dashboard::module,
        super::dashboard::stylesheet,
    ),
    // The common error answers below name it by reference, which utoipa does not follow.
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "system", description = "Health, identity, metrics, the actor tree, config reload and this document."),
        (name = "incidents", description = "Incidents: list, look, acknowledge, resolve, decide on suggested playbooks."),
        (name = "healing", description = "What healing did: playbook runs (executions), sub-agents, work orders and webhook deliveries."),
        (name = "monitors", description = "Monitors: their state, pausing, resuming and silencing them, and heartbeats."),
        (name = "intake", description = "Events pushed in by applications and Prometheus Alertmanager."),
        (name = "playbooks", description = "Playbooks, their trust and runs, and running one by hand."),
        (name = "pipelines", description = "Pipelines, their runs, and starting one by hand."),
        (name = "feed", description = "The live event feed over WebSocket."),
        (name = "dashboard", description = "The health dashboard's page, assets and numbers."),
    )
)]
struct ApiDoc;

/// Adds the bearer token scheme the operations name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A token made by `grace token create`, sent as `Authorization: Bearer <token>`. \
                 Needed only when `[auth]` requires tokens.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER_AUTH, SecurityScheme::Http(scheme));
    }
}

/// The document, as JSON.
pub fn json() -> &'static str {
    static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    });
    &DOCUMENT
}

/// This document: every route, its parameters, bodies and answers.
///
/// Role: none: no token needed.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "system",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI document", body = Object, content_type = "application/json"),
        PublicErrors,
    )
)]
pub async fn document() -> Result<Reply, Rejection> {
    let mut reply = Reply::new(json().into());
    reply.headers_mut().insert(
        CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/json"),
    );
    Ok(reply)
}

// The error answers every route shares, by what the route is: public, needing a token, a POST,
// or a POST whose body is read. Route-specific ones (400, 404, 409, 503) are on each route.

const FORBIDDEN_ORIGIN: &str = "`forbidden`: the `Host` or `Origin` header is not this \
     Grace's (`field` names it), as from another site's page";
const FORBIDDEN: &str = "`forbidden`: the token's role does not allow this (`role_needed` \
     names the role that would), or the `Host` or `Origin` header is not this Grace's \
     (`field` names it)";
const UNAUTHORIZED: &str = "`unauthorized`: no token, or an unknown, revoked or expired one \
     (only when `[auth]` requires tokens)";
const OTHER: &str = "Any other error: `internal` (500) when Grace fails, `unavailable` (503) \
     when a part of it does not answer, `method_not_allowed` (405) …";
const TOO_LARGE: &str = "`payload_too_large`: the body is over `server.body_limit_bytes`, or \
     carries more events or alerts than one request may (1,000)";
const NOT_JSON: &str = "`unsupported_media_type`: the POST does not say `Content-Type: \
     application/json` (`field` is `content-type`)";
const SLOW_BODY: &str =
    "`request_timeout`: the body did not arrive within `server.body_read_timeout_ms`";

/// An answer whose body is an [`ErrorBody`].
fn error(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
    )
}

fn answers(list: Vec<(&str, ResponseBuilder)>) -> BTreeMap<String, RefOr<Response>> {
    list.into_iter()
        .map(|(status, response)| (status.to_owned(), response.build().into()))
        .collect()
}

/// Errors a route that needs no token may answer.
pub struct PublicErrors;

impl IntoResponses for PublicErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(vec![
            ("403", error(FORBIDDEN_ORIGIN)),
            ("default", error(OTHER)),
        ])
    }
}

fn unauthorized() -> ResponseBuilder {
    let challenge = HeaderBuilder::new()
        .description(Some("`Bearer realm=\"grace\"`"))
        .build();
    error(UNAUTHORIZED).header("WWW-Authenticate", challenge)
}

/// Errors `GET /whoami` may answer: it takes any valid token.
pub struct CallerErrors;

impl IntoResponses for CallerErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(vec![
            ("401", unauthorized()),
            ("403", error(FORBIDDEN_ORIGIN)),
            ("default", error(OTHER)),
        ])
    }
}

/// Errors every route that needs a token with a role may answer.
pub struct TokenErrors;

impl IntoResponses for TokenErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(vec![
            ("401", unauthorized()),
            ("403", error(FORBIDDEN)),
            ("default", error(OTHER)),
        ])
    }
}

/// Errors every POST may answer: [`TokenErrors`], and a body too large or not JSON.
pub struct PostErrors;

impl IntoResponses for PostErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = TokenErrors::responses();
        responses.extend(answers(vec![
            ("413", error(TOO_LARGE)),
            ("415", error(NOT_JSON)),
        ]));
        responses
    }
}

/// Errors a POST whose body is read may answer: [`PostErrors`], and a body that trickles in.
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = PostErrors::responses();
        responses.extend(answers(vec![("408", error(SLOW_BODY))]));
        responses
    }
}

/// No body is needed, and none is read: send none, or `{}`. The POST must still say
/// `Content-Type: application/json`.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
pub struct NoBody {}

// The query parameters. The handlers read them from a map (`super::Query`), checking each
// themselves, so that a bad one is a 400 naming it; these types only describe them.

/// `limit` of a list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct LimitQuery {
    /// How many items at most, newest first: a whole number from 1 to `server.page_limit_max`
    /// (500 unless configured). 50 when not given.
    #[param(minimum = 1)]
    limit: Option<usize>,
}

/// The query of `GET /monitoring/executions`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct ExecutionsQuery {
    /// How many runs at most, newest first: a whole number from 1 to `server.page_limit_max`
    /// (500 unless configured). 50 when not given.
    #[param(minimum = 1)]
    limit: Option<usize>,
    /// Only the runs of this incident.
    #[param(minimum = 0, maximum = 9223372036854775807_u64)]
    incident_id: Option<u64>,
}

/// The query of `GET /monitoring/incidents`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct IncidentsQuery {
    /// How many incidents at most: a whole number from 1 to `server.page_limit_max` (500
    /// unless configured). 50 when not given.
    #[param(minimum = 1)]
    limit: Option<usize>,
    /// Only incidents in this status; `active` is every status but `resolved`. With `active`
    /// or an active status the page also has `total`, how many match. Empty or not given:
    /// any status.
    #[param(inline)]
    status: Option<IncidentFilter>,
    /// The `next` of the page before: the incidents older than it.
    cursor: Option<u64>,
}

/// The statuses `GET /monitoring/incidents?status=` takes.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // documentation only
pub enum IncidentFilter {
    Active,
    Open,
    Acknowledged,
    Mitigating,
    Resolved,
    Escalated,
}

/// The query of `GET /ws`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct FeedQuery {
    /// Replay every logged event after this seq first, then go on live, with no gap and no
    /// duplicate at the seam. At most the log's `last_seq` (see `/health`). Not given: live
    /// events only.
    since: Option<u64>,
    /// Only events whose type matches one of these comma-separated patterns (`db.*,incident.*`):
    /// at most 32, each at most 128 bytes. Not given: every event.
    #[param(example = "db.*,incident.*")]
    types: Option<String>,
}

/// The body of `POST /monitors/{monitor_id}/silence`: exactly one of `minutes` or `until`.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documentation only: `super::silence_until` reads the body
pub enum SilenceRequest {
    /// Silence it for this many minutes from now (at most a week); 0 lifts the silence.
    Minutes {
        #[schema(minimum = 0, maximum = 10080)]
        minutes: i64,
    },
    /// Silence it until then: in the future, at most a week away.
    Until { until: DateTime<Utc> },
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::from_str(super::json()).expect("the document is JSON")
    }

    #[test]
    fn the_silence_limit_documented_is_the_one_enforced() {
        let doc = document();
        let minutes = doc["components"]["schemas"]["SilenceRequest"]["oneOf"]
            .as_array()
            .expect("SilenceRequest is oneOf")
            .iter()
            .find_map(|variant| variant["properties"].get("minutes"))
            .cloned()
            .expect("a `minutes` variant");
        assert_eq!(
            minutes["maximum"],
            super::super::monitors::SILENCE_MINUTES_MAX
        );
    }
}

//! What the OpenAPI document says that many routes share, kept apart from the document so
//! each route can name it without naming the document that names every route: the error
//! answers by kind of route (public, needing a token, a POST, a POST with a body), the empty
//! body, and the silence body. Each route's query is described by the type it is read into,
//! beside its handler.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use utoipa::openapi::schema::Ref;
use utoipa::openapi::{Content, HeaderBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, ToSchema};

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
     when a part of it does not answer, `busy` (503 with `Retry-After`) when the part it asks \
     has `limits.actor_requests_max` requests in flight, `method_not_allowed` (405) …";
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

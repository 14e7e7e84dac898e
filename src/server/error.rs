//! Every HTTP error, mapped to a status and a JSON body in one place:
//! `{"error": {"code": "...", "message": "...", "field": "..."}}` (`field` only for bad input).
//! [`ErrorBody`] describes that body for `GET /openapi.json`; a test checks that every body
//! [`recover`] writes is one.

use std::convert::Infallible;

use actors::model::ChangeRefused;
use actors::protocol::incidents::{IncidentError, Refused};
use actors::protocol::pipelines::PipelineError;
use actors::protocol::playbooks::{RunError, WorkOrderError};
use actors::protocol::Unavailable;
use actors::store::StoreError;
use actors::{DecideError, KernelError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reject::Reject;
use warp::{Rejection, Reply};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    /// Several things wrong with one body, each with the field it concerns. Nothing of the
    /// body was accepted.
    #[error("{} problems, first: {}: {}", .0.len(), .0[0].0, .0[0].1)]
    Invalid(Vec<(String, String)>),
    #[error("{0}")]
    TooLarge(String),
    /// The body did not arrive in time: 408.
    #[error("{0}")]
    SlowBody(String),
    /// A request from somewhere Grace does not serve (another site's page, a rebound DNS
    /// name): 403 naming the header.
    #[error("{message}")]
    Forbidden { field: String, message: String },
    /// No token, or one that is unknown, revoked or expired, where tokens are required: 401
    /// with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token whose role does not allow this: 403 naming the role needed.
    #[error("this needs a token with the {needed} role (or admin); {name} has {has}")]
    NeedsRole {
        needed: crate::tokens::Role,
        name: String,
        has: crate::tokens::Role,
    },
    /// A POST that is not JSON: 415 naming `content-type`.
    #[error("{0}")]
    NotJson(String),
    #[error("{0}")]
    Unavailable(String),
    /// Overloaded for a moment: 503 with `Retry-After`, so a sender slows down and retries.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Internal(String),
}

impl Reject for ApiError {}

/// The body of every error answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, and with which part of the request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
    /// The part of the request it concerns: a query parameter (`limit`), a path segment
    /// (`id`), a field of the body (`[2].type`, `alerts[0].status`, `body` for all of it), a
    /// header (`content-type`, `origin`, `host`) or `config` for the reloaded config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// The role that would do, when the token's role does not allow the request (`forbidden`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub role_needed: Option<crate::tokens::Role>,
    /// Every problem of a body (or a reloaded config) when it has several: nothing of it was
    /// accepted. `field` names the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub errors: Option<Vec<FieldError>>,
}

/// One problem of a body, with the field it concerns.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// What kind of error, for programs to tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: a parameter, header or body is malformed or breaks a rule.
    BadRequest,
    /// 401: no token, or an unknown, revoked or expired one, where tokens are required.
    Unauthorized,
    /// 403: a request from another site, or a token whose role does not allow it.
    Forbidden,
    /// 404: no such route, or no such incident, monitor, playbook, run …
    NotFound,
    /// 405: the route exists, not with this method.
    MethodNotAllowed,
    /// 408: the body did not arrive in time.
    RequestTimeout,
    /// 409: not now: already resolved or decided, a run in progress, held by a cooldown …
    Conflict,
    /// 411: a length is required.
    LengthRequired,
    /// 413: the body, or the number of events in it, is over the limit.
    PayloadTooLarge,
    /// 415: a POST that does not say `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 500: Grace failed (the store, most likely).
    Internal,
    /// 503: a part of Grace is not answering, or its queue is full.
    Unavailable,
    /// 503 with `Retry-After`: overloaded for a moment; retry.
    Busy,
}

/// What a busy answer's `Retry-After` says, in seconds: the pipeline drains a full lag in well
/// under a second.
const BUSY_RETRY_AFTER_S: &str = "1";

impl From<KernelError> for ApiError {
    fn from(error: KernelError) -> Self {
        let message = error.to_string();
        match error {
            KernelError::NoSuchMonitor(_)
            | KernelError::NoSuchHeartbeat(_)
            | KernelError::NoSuchSilence(_) => ApiError::NotFound(message),
            KernelError::TooManySilences(_) => ApiError::Conflict(message),
            KernelError::NotAnswering(unavailable) => unavailable.into(),
            KernelError::Unavailable(_) => ApiError::Unavailable(message),
            KernelError::Busy { .. } => ApiError::Busy(message),
            KernelError::Store(_)
            | KernelError::Spawn(_)
            | KernelError::Save(_)
            | KernelError::NotRecorded(_) => ApiError::Internal(message),
        }
    }
}

impl From<Unavailable> for ApiError {
    /// A busy actor (its gate full, `limits.actor_requests_max`) is 503 with `Retry-After`;
    /// one that is not there or not answering, 503 without.
    fn from(error: Unavailable) -> Self {
        match error.busy {
            true => ApiError::Busy(error.to_string()),
            false => ApiError::Unavailable(error.to_string()),
        }
    }
}

impl ApiError {
    pub fn bad(field: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store error while serving a request");
        ApiError::Internal(format!("store error: {error}"))
    }
}

impl From<RunError> for ApiError {
    fn from(error: RunError) -> Self {
        let message = error.to_string();
        match error {
            RunError::NoSuchPlaybook(_) | RunError::NoSuchIncident(_) => {
                ApiError::NotFound(message)
            }
            RunError::Resolved(_)
            | RunError::Busy { .. }
            | RunError::NotTriggered(_)
            | RunError::Held(_) => ApiError::Conflict(message),
            RunError::Full(_) => ApiError::Unavailable(message),
            RunError::Store(_) => ApiError::Internal(message),
        }
    }
}

impl From<WorkOrderError> for ApiError {
    fn from(error: WorkOrderError) -> Self {
        let message = error.to_string();
        match error {
            WorkOrderError::NotFound(_) => ApiError::NotFound(message),
            WorkOrderError::Refused(ChangeRefused::Invalid(field, why)) => {
                ApiError::bad(field, why)
            }
            WorkOrderError::Refused(ChangeRefused::Conflict(why)) => ApiError::Conflict(why),
            WorkOrderError::Unavailable(unavailable) => unavailable.into(),
            WorkOrderError::Store(_) => ApiError::Internal(message),
        }
    }
}

impl From<PipelineError> for ApiError {
    fn from(error: PipelineError) -> Self {
        let message = error.to_string();
        match error {
            PipelineError::NoSuchPipeline(_) => ApiError::NotFound(message),
            PipelineError::Busy { .. } => ApiError::Conflict(message),
            PipelineError::TooManyWaiting { .. } => ApiError::Unavailable(message),
            PipelineError::Store(_) => ApiError::Internal(message),
        }
    }
}

impl From<DecideError> for ApiError {
    fn from(error: DecideError) -> Self {
        match error {
            DecideError::Incident(error) => error.into(),
            DecideError::Run(error) => error.into(),
            DecideError::Kernel(error) => error.into(),
        }
    }
}

impl From<IncidentError> for ApiError {
    fn from(error: IncidentError) -> Self {
        match error {
            IncidentError::Refused(Refused::NotFound(_) | Refused::NoSuchSuggestion { .. }) => {
                ApiError::NotFound(error.to_string())
            }
            IncidentError::Refused(Refused::Conflict { .. }) => {
                ApiError::Conflict(error.to_string())
            }
            IncidentError::Unavailable(unavailable) => unavailable.into(),
            IncidentError::Store(_) => ApiError::Internal(error.to_string()),
        }
    }
}

fn body(
    status: StatusCode,
    code: &str,
    message: String,
    field: Option<&str>,
) -> warp::reply::Response {
    let mut error = json!({ "code": code, "message": message });
    if let Some(field) = field {
        error["field"] = json!(field);
    }
    warp::reply::with_status(warp::reply::json(&json!({ "error": error })), status).into_response()
}

/// A missing or malformed header (e.g. a plain GET on `/ws`): its name and what is wrong.
fn header_problem(rejection: &Rejection) -> Option<(String, String)> {
    if let Some(error) = rejection.find::<warp::reject::InvalidHeader>() {
        return Some((error.name().to_owned(), error.to_string()));
    }
    let error = rejection.find::<warp::reject::MissingHeader>()?;
    Some((error.name().to_owned(), error.to_string()))
}

/// Turns any rejection — ours or warp's — into the JSON error shape.
pub async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    if let Some(error) = rejection.find::<ApiError>() {
        return Ok(error.reply());
    }
    let (status, code, message, field) = warp_problem(&rejection);
    Ok(body(status, code, message, field.as_deref()))
}

impl ApiError {
    /// The answer to this error: its status and body, and the header a 401 or a busy 503
    /// needs.
    fn reply(&self) -> warp::reply::Response {
        use StatusCode as S;
        let message = self.to_string();
        let simple = |status, code, field: Option<&str>| body(status, code, message.clone(), field);
        match self {
            ApiError::NotFound(_) => simple(S::NOT_FOUND, "not_found", None),
            ApiError::Conflict(_) => simple(S::CONFLICT, "conflict", None),
            ApiError::BadRequest { field, .. } => {
                simple(S::BAD_REQUEST, "bad_request", Some(field))
            }
            ApiError::Invalid(problems) => invalid(&message, problems),
            ApiError::TooLarge(_) => simple(S::PAYLOAD_TOO_LARGE, "payload_too_large", None),
            ApiError::Forbidden { field, .. } => simple(S::FORBIDDEN, "forbidden", Some(field)),
            ApiError::Unauthorized(_) => with_header(
                simple(S::UNAUTHORIZED, "unauthorized", None),
                warp::http::header::WWW_AUTHENTICATE,
                "Bearer realm=\"grace\"",
            ),
            ApiError::NeedsRole { needed, .. } => {
                let reply = json!({ "error": {
                    "code": "forbidden",
                    "message": message,
                    "role_needed": needed.as_str(),
                }});
                warp::reply::with_status(warp::reply::json(&reply), S::FORBIDDEN).into_response()
            }
            ApiError::NotJson(_) => simple(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Some("content-type"),
            ),
            ApiError::SlowBody(_) => simple(S::REQUEST_TIMEOUT, "request_timeout", Some("body")),
            ApiError::Unavailable(_) => simple(S::SERVICE_UNAVAILABLE, "unavailable", None),
            ApiError::Busy(_) => with_header(
                simple(S::SERVICE_UNAVAILABLE, "busy", None),
                warp::http::header::RETRY_AFTER,
                BUSY_RETRY_AFTER_S,
            ),
            ApiError::Internal(_) => {
                tracing::error!(%message, "request failed");
                simple(S::INTERNAL_SERVER_ERROR, "internal", None)
            }
        }
    }
}

/// 400 listing every problem of one body, each with its field; `field` names the first.
fn invalid(message: &str, problems: &[(String, String)]) -> warp::reply::Response {
    let errors: Vec<_> = problems
        .iter()
        .map(|(field, message)| json!({ "field": field, "message": message }))
        .collect();
    let reply = json!({ "error": {
        "code": "bad_request",
        "message": message,
        "field": problems[0].0,
        "errors": errors,
    }});
    warp::reply::with_status(warp::reply::json(&reply), StatusCode::BAD_REQUEST).into_response()
}

fn with_header(
    mut reply: warp::reply::Response,
    name: warp::http::header::HeaderName,
    value: &'static str,
) -> warp::reply::Response {
    let value = warp::http::HeaderValue::from_static(value);
    reply.headers_mut().insert(name, value);
    reply
}

/// The status, code, message and field of one of warp's own rejections.
fn warp_problem(rejection: &Rejection) -> (StatusCode, &'static str, String, Option<String>) {
    use warp::reject::{
        InvalidQuery, LengthRequired, MethodNotAllowed, PayloadTooLarge, UnsupportedMediaType,
    };
    use StatusCode as S;
    if rejection.is_not_found() {
        return (S::NOT_FOUND, "not_found", "no such route".to_owned(), None);
    }
    let field = |name: &str| Some(name.to_owned());
    if let Some(error) = rejection.find::<PayloadTooLarge>() {
        (
            S::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            error.to_string(),
            None,
        )
    } else if let Some(error) = rejection.find::<warp::filters::body::BodyDeserializeError>() {
        (
            S::BAD_REQUEST,
            "bad_request",
            error.to_string(),
            field("body"),
        )
    } else if let Some(error) = rejection.find::<InvalidQuery>() {
        (
            S::BAD_REQUEST,
            "bad_request",
            error.to_string(),
            field("query"),
        )
    } else if let Some((name, message)) = header_problem(rejection) {
        (S::BAD_REQUEST, "bad_request", message, Some(name))
    } else if let Some(error) = rejection.find::<LengthRequired>() {
        (
            S::LENGTH_REQUIRED,
            "length_required",
            error.to_string(),
            None,
        )
    } else if let Some(error) = rejection.find::<UnsupportedMediaType>() {
        let code = "unsupported_media_type";
        (S::UNSUPPORTED_MEDIA_TYPE, code, error.to_string(), None)
    } else if let Some(error) = rejection.find::<MethodNotAllowed>() {
        let code = "method_not_allowed";
        (S::METHOD_NOT_ALLOWED, code, error.to_string(), None)
    } else {
        tracing::error!(?rejection, "unhandled rejection");
        let message = "the request could not be handled".to_owned();
        (S::INTERNAL_SERVER_ERROR, "internal", message, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Role;
    use warp::hyper::body::Body as _;

    async fn answer(rejection: Rejection) -> (u16, serde_json::Value) {
        let response = recover(rejection).await.unwrap();
        let status = response.status().as_u16();
        let mut body = std::pin::pin!(response.into_body());
        let mut bytes = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            if let Ok(data) = frame.expect("a body frame").into_data() {
                bytes.extend_from_slice(&data);
            }
        }
        (
            status,
            serde_json::from_slice(&bytes).expect("an error body is JSON"),
        )
    }

    /// `GET /openapi.json` promises [`ErrorBody`] for every error: each body `recover` writes
    /// must read as one, losing nothing.
    #[tokio::test]
    async fn every_error_body_is_the_documented_shape() {
        let errors = vec![
            ApiError::NotFound("no incident 9".into()),
            ApiError::Conflict("already resolved".into()),
            ApiError::bad("limit", "must be a whole number"),
            ApiError::Invalid(vec![
                ("[0].type".into(), "missing".into()),
                ("[1].source".into(), "empty".into()),
            ]),
            ApiError::TooLarge("too large".into()),
            ApiError::SlowBody("slow".into()),
            ApiError::Forbidden {
                field: "origin".into(),
                message: "another site".into(),
            },
            ApiError::Unauthorized("a token is required".into()),
            ApiError::NeedsRole {
                needed: Role::Operate,
                name: "ci".into(),
                has: Role::Read,
            },
            ApiError::NotJson("not JSON".into()),
            ApiError::Unavailable("down".into()),
            ApiError::Busy("busy".into()),
            ApiError::Internal("store error".into()),
        ];
        let mut rejections: Vec<Rejection> = errors.into_iter().map(warp::reject::custom).collect();
        rejections.push(warp::reject::not_found());
        for rejection in rejections {
            let (status, body) = answer(rejection).await;
            assert!(status >= 400, "{status}: {body}");
            let parsed: ErrorBody = serde_json::from_value(body.clone())
                .unwrap_or_else(|error| panic!("{body} is not an ErrorBody: {error}"));
            assert_eq!(serde_json::to_value(&parsed).unwrap(), body);
        }
    }
}

//! Every HTTP error, mapped to a status and a JSON body in one place:
//! `{"error": {"code": "...", "message": "...", "field": "..."}}` (`field` only for bad input).

use std::convert::Infallible;

use actors::incidents_actor::IncidentError;
use actors::store::StoreError;
use serde_json::json;
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
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl Reject for ApiError {}

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

impl From<IncidentError> for ApiError {
    fn from(error: IncidentError) -> Self {
        match error {
            IncidentError::NotFound(_) => ApiError::NotFound(error.to_string()),
            IncidentError::Conflict { .. } => ApiError::Conflict(error.to_string()),
            IncidentError::Unavailable(_) => ApiError::Unavailable(error.to_string()),
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

/// Turns any rejection — ours or warp's — into the JSON error shape.
pub async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    if let Some(error) = rejection.find::<ApiError>() {
        let message = error.to_string();
        return Ok(match error {
            ApiError::NotFound(_) => body(StatusCode::NOT_FOUND, "not_found", message, None),
            ApiError::Conflict(_) => body(StatusCode::CONFLICT, "conflict", message, None),
            ApiError::BadRequest { field, message } => body(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("{field}: {message}"),
                Some(field),
            ),
            ApiError::TooLarge(_) => body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                message,
                None,
            ),
            ApiError::Unavailable(_) => body(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                message,
                None,
            ),
            ApiError::Internal(_) => {
                body(StatusCode::INTERNAL_SERVER_ERROR, "internal", message, None)
            }
        });
    }
    let reply = if rejection.is_not_found() {
        body(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route".into(),
            None,
        )
    } else if let Some(error) = rejection.find::<warp::reject::PayloadTooLarge>() {
        body(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            error.to_string(),
            None,
        )
    } else if let Some(error) = rejection.find::<warp::filters::body::BodyDeserializeError>() {
        body(
            StatusCode::BAD_REQUEST,
            "bad_request",
            error.to_string(),
            Some("body"),
        )
    } else if let Some(error) = rejection.find::<warp::reject::InvalidQuery>() {
        body(
            StatusCode::BAD_REQUEST,
            "bad_request",
            error.to_string(),
            Some("query"),
        )
    } else if let Some(error) = rejection.find::<warp::reject::LengthRequired>() {
        body(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            error.to_string(),
            None,
        )
    } else if let Some(error) = rejection.find::<warp::reject::UnsupportedMediaType>() {
        body(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            error.to_string(),
            None,
        )
    } else if let Some(error) = rejection.find::<warp::reject::InvalidHeader>() {
        let field = error.name().to_owned();
        body(
            StatusCode::BAD_REQUEST,
            "bad_request",
            error.to_string(),
            Some(&field),
        )
    } else if let Some(error) = rejection.find::<warp::reject::MissingHeader>() {
        let field = error.name().to_owned();
        body(
            StatusCode::BAD_REQUEST,
            "bad_request",
            error.to_string(),
            Some(&field),
        )
    } else if let Some(error) = rejection.find::<warp::reject::MethodNotAllowed>() {
        body(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            error.to_string(),
            None,
        )
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        body(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("{rejection:?}"),
            None,
        )
    };
    Ok(reply)
}

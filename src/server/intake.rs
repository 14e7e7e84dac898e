//! Events pushed in over HTTP: `POST /events` from instrumented apps and
//! `POST /integrations/alertmanager` from Prometheus Alertmanager.
//!
//! A request is all or nothing: every item is checked first and every problem is reported with
//! its field (`[2].type`); only a body with none is recorded, in one transaction, and the
//! answer (202) comes after it is durable.

use std::sync::Arc;

use actors::event::EventDraft;
use actors::intake::{Alert, PushedEvent};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::api_docs::BodyErrors;
use super::auth::Caller;
use super::error::ErrorBody;
use super::wire::IngestView;
use super::{ApiError, App};
use crate::tokens::Role;

/// Most events one `POST /events` may carry: bounds the transaction and the reply.
pub const EVENTS_BATCH_MAX: usize = 1_000;
/// Most alerts one Alertmanager notification may carry (Alertmanager's own `max_alerts`
/// setting is unlimited by default; a receiver should still bound what it takes).
pub const ALERTS_BATCH_MAX: usize = 1_000;

/// The body of `POST /events`: one event, or an array of 1 to 1,000 of them.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documentation only: `post_events` reads the body item by item
enum EventsBody {
    One(PushedEvent),
    Many(Vec<PushedEvent>),
}

/// Push events in: one event object, or an array of them.
///
/// All or nothing: every event is checked first, and a body with any problem is refused whole
/// with every problem and its field (`[2].type`). Otherwise every event is recorded in one
/// transaction and the answer comes once it is durable. A problem opens or bumps the incident
/// of its source and type; a recovery resolves it. A source that is a monitor is refused: its
/// state is what its probes say.
#[utoipa::path(
    post,
    path = "/events",
    tag = "intake",
    request_body(content = EventsBody, content_type = "application/json"),
    security(("bearerAuth" = [Role::Ingest])),
    responses(
        (status = 202, description = "Every event was recorded", body = IngestView),
        (status = 400, description = "`bad_request`: not JSON, an empty array, or events that \
            break the rules; `errors` lists every problem with its field", body = ErrorBody),
        (status = 503, description = "`busy`: the incident manager is too far behind; retry \
            after `Retry-After` seconds", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
        BodyErrors,
    )
)]
pub async fn post_events(
    caller: Caller,
    app: Arc<App>,
    body: bytes::Bytes,
) -> Result<Response, Rejection> {
    let value = parse_json(&body)?;
    let (items, batch) = match value {
        Value::Array(items) => (items, true),
        single => (vec![single], false),
    };
    if items.is_empty() {
        return Err(ApiError::bad("body", "an empty array carries no events").into());
    }
    if items.len() > EVENTS_BATCH_MAX {
        return Err(ApiError::TooLarge(format!(
            "{} events in one request; at most {EVENTS_BATCH_MAX}",
            items.len()
        ))
        .into());
    }
    let mut problems = Vec::new();
    let mut drafts = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let at = |field: &str| match (batch, field) {
            (true, "") => format!("[{index}]"),
            (true, field) => format!("[{index}].{field}"),
            (false, "") => "body".to_owned(),
            (false, field) => field.to_owned(),
        };
        match typed::<PushedEvent>(item) {
            Err((field, message)) => problems.push((at(&field), message)),
            Ok(event) => {
                let found = app.kernel.pushed_problems(&event);
                if found.is_empty() {
                    drafts.push(event.into_draft());
                }
                problems.extend(found.into_iter().map(|(f, m)| (at(f), m)));
            }
        }
    }
    record(&app, &caller, problems, drafts).await
}

/// Alertmanager's webhook body (version 4); the fields Grace uses. Others are ignored.
#[derive(Deserialize, ToSchema)]
struct AlertmanagerWebhook {
    /// `4`: the only payload version Alertmanager sends.
    #[schema(example = "4")]
    version: String,
    /// At most 1,000.
    #[schema(value_type = Vec<Alert>)]
    alerts: Vec<Value>,
}

/// Receive Prometheus Alertmanager's webhook.
///
/// Each firing alert opens or bumps the incident of its component (the first of
/// `[alertmanager] component_labels` it has, else `alertmanager/<fingerprint>`) and type
/// (`alert.<alertname>.firing`); the incident resolves when every alert that fired into it has
/// resolved. All or nothing, like `POST /events`.
#[utoipa::path(
    post,
    path = "/integrations/alertmanager",
    tag = "intake",
    request_body(content = AlertmanagerWebhook, content_type = "application/json"),
    security(("bearerAuth" = [Role::Ingest])),
    responses(
        (status = 202, description = "Every alert was recorded", body = IngestView),
        (status = 400, description = "`bad_request`: not JSON, a version other than 4, or \
            alerts that break the rules; `errors` lists every problem with its field", body = ErrorBody),
        (status = 503, description = "`busy`: the incident manager is too far behind; retry \
            after `Retry-After` seconds", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
        BodyErrors,
    )
)]
pub async fn post_alertmanager(
    caller: Caller,
    app: Arc<App>,
    body: bytes::Bytes,
) -> Result<Response, Rejection> {
    let notification: AlertmanagerWebhook =
        typed(parse_json(&body)?).map_err(|(field, message)| ApiError::bad(&field, message))?;
    if notification.version != "4" {
        return Err(ApiError::bad(
            "version",
            format!(
                "webhook payload version {:?} is not supported; Alertmanager sends \"4\"",
                notification.version
            ),
        )
        .into());
    }
    if notification.alerts.len() > ALERTS_BATCH_MAX {
        return Err(ApiError::TooLarge(format!(
            "{} alerts in one notification; at most {ALERTS_BATCH_MAX}",
            notification.alerts.len()
        ))
        .into());
    }
    let spec = app.kernel.alertmanager();
    let mut problems = Vec::new();
    let mut drafts = Vec::with_capacity(notification.alerts.len());
    for (index, item) in notification.alerts.into_iter().enumerate() {
        let at = |field: &str| format!("alerts[{index}].{field}");
        match typed::<Alert>(item) {
            Err((field, message)) => problems.push((at(&field), message)),
            Ok(alert) => {
                let found = alert.problems(&spec);
                if found.is_empty() {
                    drafts.push(alert.into_draft(&spec));
                }
                problems.extend(found.into_iter().map(|(f, m)| (at(&f), m)));
            }
        }
    }
    record(&app, &caller, problems, drafts).await
}

/// Records the drafts when nothing was wrong; otherwise refuses the whole body.
/// Records `drafts` when there are no `problems`, each naming who pushed it (`by`).
async fn record(
    app: &App,
    caller: &Caller,
    problems: Vec<(String, String)>,
    mut drafts: Vec<EventDraft>,
) -> Result<Response, Rejection> {
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems).into());
    }
    for draft in &mut drafts {
        if let Some(data) = draft.data.as_object_mut() {
            data.insert("by".to_owned(), serde_json::json!(caller.who));
        }
    }
    let seqs = app.kernel.ingest(drafts).await.map_err(ApiError::from)?;
    let reply = IngestView {
        accepted: seqs.len(),
        seqs,
    };
    Ok(
        warp::reply::with_status(warp::reply::json(&reply), warp::http::StatusCode::ACCEPTED)
            .into_response(),
    )
}

pub(super) fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad("body", format!("not JSON: {error}")))
}

/// Deserializes `value`, naming the field of the first problem: the path for a wrong type, the
/// field itself for a missing or unknown one.
pub(super) fn typed<T: DeserializeOwned>(value: Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let named = message.split('`').nth(1).filter(|_| {
            message.starts_with("missing field") || message.starts_with("unknown field")
        });
        // An unknown field's path already ends with it; a missing one's is its parent's.
        let field = match (named, path.as_str()) {
            (Some(name), ".") => name.to_owned(),
            (Some(name), path) if path == name || path.ends_with(&format!(".{name}")) => {
                path.to_owned()
            }
            (Some(name), path) => format!("{path}.{name}"),
            (None, ".") => String::new(),
            (None, path) => path.to_owned(),
        };
        (field, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_problem_is_named_by_its_field_once() {
        let field = |value: Value| typed::<PushedEvent>(value).unwrap_err().0;
        assert_eq!(field(json!({ "source": "a" })), "type");
        assert_eq!(field(json!({ "type": "a.b", "text": "x" })), "text");
        assert_eq!(field(json!({ "type": 5 })), "type");
    }
}

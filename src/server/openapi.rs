//! `GET /openapi.json`: an OpenAPI 3.1 description of every route, generated from the code
//! with utoipa, so that clients can be generated and checked against what Grace really speaks.
//!
//! Each handler carries its own `#[utoipa::path]` (method, path, parameters, body, answers,
//! the role it needs), next to the code it describes; the schemas are derived from the very
//! types the handlers send (`wire`, the actors' records, [`ErrorBody`]) and the query types
//! they read. This file says what every route shares (the bearer token scheme, the error
//! answers common to all routes); `routes.rs` adds the operations of its table, so the document
//! has every route served and no other. The document is built once and served as it is,
//! without a token, like `/health`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use warp::http::header::CONTENT_TYPE;
use warp::reply::Response as Reply;
use warp::Rejection;

use super::api_docs::PublicErrors;
use super::error::ErrorBody;

/// The security scheme of every route that needs a token (when `[auth]` requires tokens).
pub const BEARER_AUTH: &str = "bearerAuth";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Grace",
        description = "A self-healing supervisor: it watches dependencies, opens incidents and \
heals them with playbooks.\n\n\
**Tokens.** When `[auth]` requires tokens, every operation whose `security` names \
`bearerAuth` needs `Authorization: Bearer <token>`; `/ws` also takes it as a \
`Sec-WebSocket-Protocol` entry `grace.token.<token>`. The scope listed there is the role the \
operation needs (none listed: any valid token), and its description says it too: `read`, \
`ingest` (only pushing events, heartbeats and alerts), `operate` (what `read` does, and acting \
on incidents, monitors, playbooks and pipelines) or `admin` (everything). A missing or bad token gets 401, a role too low 403. \
Without `[auth]` no token is needed and every request acts as `local` with every role.\n\n\
**POSTs** must say `Content-Type: application/json`, even those that send no body (else 415).\n\n\
**Errors** are JSON: `{\"error\": {\"code\", \"message\", \"field\"?, \"role_needed\"?, \
\"errors\"?}}` (`ErrorBody`).\n\n\
**Timestamps** are RFC 3339 in UTC; those of stored records have exactly six fractional \
digits, so they sort as strings."
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
        (name = "events", description = "The event log, read a page at a time."),
        (name = "status", description = "The public status page and badges: no token, nothing internal."),
        (name = "people", description = "Routes that page people about incidents, and the receivers they name."),
        (name = "dashboard", description = "The health dashboard's page, assets and numbers."),
    )
)]
pub(super) struct ApiDoc;

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

/// This document: every route, its parameters, bodies and answers.
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
pub async fn document(json: &'static str) -> Result<Reply, Rejection> {
    let mut reply = Reply::new(json.into());
    reply.headers_mut().insert(
        CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/json"),
    );
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::from_str(super::super::routes::json()).expect("the document is JSON")
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

//! Who is calling, and whether their token's role allows the route.
//!
//! When tokens are required (`[auth]`), every route but the dashboard's page, its assets,
//! `/health` and `/openapi.json` needs `Authorization: Bearer <token>`; `/ws` also takes the token as a
//! `Sec-WebSocket-Protocol` entry `grace.token.<token>` (next to `grace`), because browsers
//! cannot set headers on a WebSocket. A token never travels in a URL, so it never lands in a
//! log. Missing or bad tokens get 401; a role that is too low gets 403 naming the role needed.
//!
//! When tokens are not required, every request acts as `local` with every role.

use std::sync::Arc;

use actors::model::Who;
use warp::{Filter, Rejection};

use super::error::ApiError;
use crate::tokens::{Role, TokenBook, Verdict};

/// The subprotocol a browser's WebSocket names next to its token; Grace answers with it.
pub const WS_PROTOCOL: &str = "grace";
/// What a token entry of `Sec-WebSocket-Protocol` starts with.
const WS_TOKEN_PREFIX: &str = "grace.token.";

/// The caller of a request: who, and with which role.
#[derive(Debug, Clone)]
pub struct Caller {
    pub who: Who,
    pub role: Role,
}

/// Whether tokens are required, and the book to check them in.
pub struct Auth {
    pub required: bool,
    pub book: TokenBook,
}

impl Auth {
    /// Who presents what was `presented`. When tokens are not required, whatever was sent is
    /// ignored and the caller is `local`.
    fn caller(&self, presented: &Presented) -> Result<Caller, ApiError> {
        if !self.required {
            return Ok(Caller {
                who: Who::local(),
                role: Role::Admin,
            });
        }
        let token = presented.token()?;
        let token = token.ok_or_else(|| {
            ApiError::Unauthorized(
                "a token is required: send `Authorization: Bearer <token>` (see `grace token \
                 create`)"
                    .to_owned(),
            )
        })?;
        match self.book.verify(token, actors::time::now()) {
            Verdict::Valid { name, role } => Ok(Caller {
                who: Who::new(name),
                role,
            }),
            Verdict::Expired { name } => Err(ApiError::Unauthorized(format!(
                "token {name:?} has expired: create a new one with `grace token create`"
            ))),
            Verdict::Unknown => Err(ApiError::Unauthorized(
                "unknown or revoked token".to_owned(),
            )),
            Verdict::Unreadable(_) => Err(ApiError::Unauthorized(
                "the token file cannot be read; every token is refused (see Grace's log)"
                    .to_owned(),
            )),
        }
    }
}

/// The filter in front of a route that needs `needed`: extracts who is calling.
pub fn require(
    auth: Arc<Auth>,
    needed: Role,
) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone {
    presented_token().and_then(move |presented: Presented| {
        let auth = auth.clone();
        async move {
            let caller = auth.caller(&presented)?;
            if !caller.role.allows(needed) {
                return Err(warp::reject::custom(ApiError::NeedsRole {
                    needed,
                    name: caller.who.to_string(),
                    has: caller.role,
                }));
            }
            Ok(caller)
        }
    })
}

/// [`require`], for routes that need not know who called.
pub fn allow(
    auth: Arc<Auth>,
    needed: Role,
) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    require(auth, needed).map(|_: Caller| ()).untuple_one()
}

/// The caller's role, for `GET /whoami` (the dashboard asks it what to show).
pub fn caller(auth: Arc<Auth>) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone {
    presented_token().and_then(move |presented: Presented| {
        let auth = auth.clone();
        async move { auth.caller(&presented).map_err(warp::reject::custom) }
    })
}

/// What a request presents as its token: the `Authorization` header and the WebSocket
/// subprotocols, read only when tokens are required.
#[derive(Debug, Default)]
struct Presented {
    authorization: Option<String>,
    protocols: Option<String>,
}

impl Presented {
    /// The token: the Bearer header, else a `grace.token.` WebSocket subprotocol.
    fn token(&self) -> Result<Option<&str>, ApiError> {
        if let Some(value) = &self.authorization {
            return match value.strip_prefix("Bearer ") {
                Some(token) => Ok(Some(token.trim())),
                None => Err(ApiError::Unauthorized(
                    "Authorization must be `Bearer <token>`".to_owned(),
                )),
            };
        }
        Ok(self.protocols.as_deref().and_then(ws_token))
    }
}

fn presented_token() -> impl Filter<Extract = (Presented,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::header::optional::<String>("sec-websocket-protocol"))
        .map(|authorization, protocols| Presented {
            authorization,
            protocols,
        })
}

/// The token in a `Sec-WebSocket-Protocol` list, if one is there.
fn ws_token(protocols: &str) -> Option<&str> {
    protocols
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix(WS_TOKEN_PREFIX))
}

/// Whether a WebSocket client asked for Grace's subprotocol (then the answer must name it, or
/// the browser drops the connection).
pub fn asked_for_protocol(protocols: Option<&str>) -> bool {
    protocols.is_some_and(|list| list.split(',').any(|p| p.trim() == WS_PROTOCOL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_websocket_names_its_token_beside_the_protocol() {
        assert_eq!(ws_token("grace, grace.token.grace_abc"), Some("grace_abc"));
        assert_eq!(ws_token("grace"), None);
        assert!(asked_for_protocol(Some("grace.token.x, grace")));
        assert!(!asked_for_protocol(Some("graceful")));
        assert!(!asked_for_protocol(None));
    }
}

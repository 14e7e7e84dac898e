//! What a line of the route table (`routes.rs`) is made into: a [`Route`] read from its
//! handler's `#[utoipa::path]` (method, path, who may call it) at start, and the warp filters
//! that match it and check its caller. A path, method or role it cannot read stops the server
//! at start, not at a request.

use std::sync::Arc;

use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::RefOr;
use warp::filters::BoxedFilter;
use warp::http::Method;
use warp::Filter;

use super::auth::{self, Caller};
use super::filters::Filters;
use super::openapi::BEARER_AUTH;
use crate::tokens::Role;

/// Who may call a route, as its operation's `security` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// No token needed (`security(())`).
    Public,
    /// Any valid token (`security(("bearerAuth" = []))`): `/whoami`.
    AnyToken,
    /// A token whose role allows this one (`security(("bearerAuth" = [Role::Read]))`).
    Role(Role),
}

impl Access {
    /// The access `security` declares; panics (at start) on anything else, naming `route`.
    fn declared(security: Option<&[SecurityRequirement]>, route: &str) -> Self {
        let none: [&str; 0] = [];
        let found = match security {
            Some([one]) if *one == SecurityRequirement::default() => Some(Access::Public),
            Some([one]) if *one == SecurityRequirement::new(BEARER_AUTH, none) => {
                Some(Access::AnyToken)
            }
            Some([one]) => Role::ALL
                .into_iter()
                .find(|role| *one == SecurityRequirement::new(BEARER_AUTH, [role.as_str()]))
                .map(Access::Role),
            _ => None,
        };
        found.unwrap_or_else(|| {
            panic!(
                "{route}: its #[utoipa::path] must say `security(())`, \
                 `security((\"{BEARER_AUTH}\" = []))` or `security((\"{BEARER_AUTH}\" = \
                 [Role::…]))`"
            )
        })
    }

    /// What the document says about it, in each operation's description.
    fn words(self) -> String {
        match self {
            Access::Public => "Role: none: no token needed.".to_owned(),
            Access::AnyToken => "Role: any: a valid token of any role (none when tokens are \
                                 not required)."
                .to_owned(),
            Access::Role(needed) => {
                let also: Vec<String> = Role::ALL
                    .into_iter()
                    .filter(|role| *role != needed && role.allows(needed))
                    .map(|role| format!("`{role}`"))
                    .collect();
                let also = match also.as_slice() {
                    [] => String::new(),
                    [one] => format!(" ({one} also does)"),
                    many => format!(" ({} also do)", many.join(" and ")),
                };
                format!("Role: `{needed}`{also}.")
            }
        }
    }
}

/// A route as its handler's `#[utoipa::path]` declares it.
pub(super) struct Route {
    pub(super) method: Method,
    /// As the document writes it: `/monitoring/incidents/{id}`.
    pub(super) path: String,
    pub(super) access: Access,
    template: Arc<Template>,
    /// The operation, with its tags; the role it needs is said in its description.
    operation: Operation,
    /// Adds the schemas the operation refers to.
    schemas: fn(&mut Vec<(String, RefOr<Schema>)>),
}

impl Route {
    pub(super) fn of<P>() -> Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>,
    {
        let path = P::path();
        let method = match P::methods().as_slice() {
            [HttpMethod::Get] => Method::GET,
            [HttpMethod::Post] => Method::POST,
            _ => panic!("{path}: one GET or POST per handler"),
        };
        let mut operation = P::operation();
        let name = format!("{method} {path}");
        let access = Access::declared(operation.security.as_deref(), &name);
        let tags = P::tags().into_iter().map(str::to_owned);
        operation.tags.get_or_insert_with(Vec::new).extend(tags);
        let description = operation.description.get_or_insert_with(String::new);
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str(&access.words());
        Self {
            template: Arc::new(Template::parse(&path)),
            method,
            path,
            access,
            operation,
            schemas: P::schemas,
        }
    }

    /// Adds this route's operation, and the schemas it refers to, to the document.
    pub(super) fn describe(
        &self,
        doc: &mut utoipa::openapi::OpenApi,
        schemas: &mut Vec<(String, RefOr<Schema>)>,
    ) {
        let method = match self.method {
            Method::POST => HttpMethod::Post,
            _ => HttpMethod::Get,
        };
        doc.paths
            .add_path_operation(&self.path, vec![method], self.operation.clone());
        (self.schemas)(schemas);
    }

    /// Matches this route (path, then method) and checks the caller; hands over nothing.
    pub(super) fn at(&self, f: &Filters) -> BoxedFilter<()> {
        self.matched::<0>()
            .map(|_: [String; 0]| ())
            .untuple_one()
            .and(self.guard(f))
            .boxed()
    }

    /// [`Route::at`], handing over the path's parameters, in order.
    pub(super) fn with<const N: usize>(&self, f: &Filters) -> BoxedFilter<([String; N],)> {
        self.matched::<N>().and(self.guard(f)).boxed()
    }

    /// [`Route::at`], handing over who calls: for routes that record who did what.
    pub(super) fn by(&self, f: &Filters) -> BoxedFilter<(Caller,)> {
        self.matched::<0>()
            .map(|_: [String; 0]| ())
            .untuple_one()
            .and(self.caller(f))
            .boxed()
    }

    /// [`Route::with`] and [`Route::by`].
    pub(super) fn with_by<const N: usize>(
        &self,
        f: &Filters,
    ) -> BoxedFilter<([String; N], Caller)> {
        self.matched::<N>().and(self.caller(f)).boxed()
    }

    /// Matches this route's path (whatever its parameters) and method; checks nothing else.
    pub(super) fn matches(&self) -> BoxedFilter<()> {
        let template = self.template.clone();
        let path = warp::path::peek().and_then(move |rest: warp::path::Peek| {
            std::future::ready(match template.fits(rest.as_str()) {
                true => Ok(()),
                false => Err(warp::reject::not_found()),
            })
        });
        let method = match self.method {
            Method::POST => warp::post().boxed(),
            _ => warp::get().boxed(),
        };
        path.untuple_one().and(method).boxed()
    }

    /// The path (with its `N` parameters, checked here, at start) and the method.
    fn matched<const N: usize>(&self) -> BoxedFilter<([String; N],)> {
        let params = self.template.params();
        assert_eq!(
            params, N,
            "{} {}: the table hands over {N} path parameters, the path has {params}",
            self.method, self.path
        );
        let template = self.template.clone();
        let path = warp::path::peek().and_then(move |rest: warp::path::Peek| {
            std::future::ready(
                template
                    .captures::<N>(rest.as_str())
                    .ok_or_else(warp::reject::not_found),
            )
        });
        let method = match self.method {
            Method::POST => warp::post().boxed(),
            _ => warp::get().boxed(),
        };
        path.and(method).boxed()
    }

    /// Lets in callers this route's access allows.
    fn guard(&self, f: &Filters) -> BoxedFilter<()> {
        match self.access {
            Access::Public => warp::any().boxed(),
            Access::AnyToken => auth::caller(f.auth())
                .map(|_: Caller| ())
                .untuple_one()
                .boxed(),
            Access::Role(needed) => auth::allow(f.auth(), needed).boxed(),
        }
    }

    /// Lets in callers this route's access allows, and names them.
    fn caller(&self, f: &Filters) -> BoxedFilter<(Caller,)> {
        match self.access {
            Access::Public => panic!(
                "{} {}: a route open to all has no caller to hand over",
                self.method, self.path
            ),
            Access::AnyToken => auth::caller(f.auth()).boxed(),
            Access::Role(needed) => auth::require(f.auth(), needed).boxed(),
        }
    }
}

/// A path as the document writes it, split into segments: `/monitors/{monitor_id}/history`.
#[derive(Debug)]
struct Template {
    segments: Vec<Segment>,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    Param,
}

impl Template {
    fn parse(path: &str) -> Self {
        let rest = path
            .strip_prefix('/')
            .unwrap_or_else(|| panic!("{path}: a path starts with `/`"));
        let segments = match rest {
            "" => Vec::new(),
            rest => rest
                .split('/')
                .map(|segment| match segment {
                    "" => panic!("{path}: an empty segment"),
                    s if s.starts_with('{') && s.ends_with('}') => Segment::Param,
                    s if s.contains(['{', '}']) => panic!("{path}: {s} is half a parameter"),
                    s => Segment::Literal(s.to_owned()),
                })
                .collect(),
        };
        Self { segments }
    }

    fn params(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| **s == Segment::Param)
            .count()
    }

    /// The parameters of `rest` (the request's path after its first `/`) when it is this
    /// path, matched as warp's `path!(…)` would: segments as sent (percent-encoded), exactly,
    /// a parameter never empty, one trailing `/` allowed.
    /// Whether `rest` (the request's path after its first `/`) is this path, matched as
    /// warp's `path!(…)` would: segments as sent (percent-encoded), exactly, a parameter never
    /// empty, one trailing `/` allowed.
    fn fits(&self, rest: &str) -> bool {
        let sent = Self::segments_of(rest);
        sent.len() == self.segments.len()
            && self
                .segments
                .iter()
                .zip(sent)
                .all(|(segment, part)| match segment {
                    Segment::Literal(literal) => literal == part,
                    Segment::Param => !part.is_empty(),
                })
    }

    /// The parameters of `rest` when it [`fits`](Self::fits) this path.
    fn captures<const N: usize>(&self, rest: &str) -> Option<[String; N]> {
        if !self.fits(rest) {
            return None;
        }
        let mut found: [String; N] = std::array::from_fn(|_| String::new());
        let params = Self::segments_of(rest)
            .into_iter()
            .zip(&self.segments)
            .filter(|(_, segment)| **segment == Segment::Param);
        for (slot, (part, _)) in found.iter_mut().zip(params) {
            *slot = part.to_owned();
        }
        Some(found)
    }

    /// `rest` split at `/`, without one trailing `/`; none for the root.
    fn segments_of(rest: &str) -> Vec<&str> {
        let rest = match rest.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => rest,
        };
        match rest {
            "" => Vec::new(),
            rest => rest.split('/').collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::routes::table;

    #[test]
    fn every_route_declares_one_method_a_path_and_who_may_call() {
        let lines = table();
        let mut seen = std::collections::BTreeSet::new();
        for line in &lines {
            let route = &line.route;
            assert!(
                seen.insert((route.method.to_string(), route.path.clone())),
                "{} {} is twice in the table",
                route.method,
                route.path
            );
        }
        let access = |method: Method, path: &str| {
            lines
                .iter()
                .find(|l| l.route.method == method && l.route.path == path)
                .map(|l| l.route.access)
        };
        assert_eq!(access(Method::GET, "/health"), Some(Access::Public));
        assert_eq!(access(Method::GET, "/whoami"), Some(Access::AnyToken));
        assert_eq!(
            access(Method::POST, "/config/reload"),
            Some(Access::Role(Role::Admin))
        );
        assert_eq!(
            access(Method::POST, "/events"),
            Some(Access::Role(Role::Ingest))
        );
    }

    /// The template matches what warp's `path!` matches, and nothing else.
    #[tokio::test]
    async fn a_template_matches_as_warp_path_does() {
        let template = Template::parse("/monitors/{monitor_id}/history");
        let warp_route = warp::path!("monitors" / String / "history");
        let root = Template::parse("/");
        for sent in [
            "/monitors/db/history",
            "/monitors/db/history/",
            "/monitors/db/history//",
            "/monitors//history",
            "/monitors/db",
            "/monitors/db/history/x",
            "/monitors/a%2Fb/history",
            "/",
            "//",
            "/x",
        ] {
            let ours = template.captures::<1>(&sent[1..]).map(|[id]| id);
            let theirs = warp::test::request()
                .path(sent)
                .filter(&warp_route)
                .await
                .ok();
            assert_eq!(ours, theirs, "{sent}");
            let ours = root.captures::<0>(&sent[1..]).is_some();
            let theirs = warp::test::request()
                .path(sent)
                .filter(&warp::path::end())
                .await
                .is_ok();
            assert_eq!(ours, theirs, "{sent} at the root");
        }
    }
}

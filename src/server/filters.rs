//! What every route is built from ([`Filters`]), and what its handlers share: the checks a
//! POST passes before a handler runs, the body read within bounds, and the query, read into
//! the type that documents it.

use std::sync::Arc;

use serde::de::{DeserializeOwned, IntoDeserializer};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::auth::Auth;
use super::{ApiError, App};

/// Items in a list when the request names no `limit`.
const PAGE_LIMIT_DEFAULT: usize = 50;

/// The filters routes are made of, built once. Each route matches its path and method first,
/// then checks the caller's role (`routes.rs`), then its body: an unknown path is 404 whoever
/// asks.
#[derive(Clone)]
pub(super) struct Filters {
    app: BoxedFilter<(Arc<App>,)>,
    auth: Arc<Auth>,
    /// A POST's declared length and content type.
    json_post: BoxedFilter<()>,
    /// The whole body, bounded in size and in time.
    body: BoxedFilter<(bytes::Bytes,)>,
}

impl Filters {
    pub(super) fn new(app: Arc<App>) -> Self {
        let server = &app.started.server;
        let (limit, timeout_ms) = (server.body_limit_bytes, server.body_read_timeout_ms);
        Self {
            auth: app.auth.clone(),
            json_post: body_limit_bytes(limit).and(json_content_type()).boxed(),
            body: body_bytes(limit, timeout_ms).boxed(),
            app: warp::any().map(move || app.clone()).boxed(),
        }
    }

    pub(super) fn app(&self) -> BoxedFilter<(Arc<App>,)> {
        self.app.clone()
    }

    /// Whether tokens are required, and the book to check them in.
    pub(super) fn auth(&self) -> Arc<Auth> {
        self.auth.clone()
    }

    pub(super) fn json_post(&self) -> BoxedFilter<()> {
        self.json_post.clone()
    }

    pub(super) fn body(&self) -> BoxedFilter<(bytes::Bytes,)> {
        self.body.clone()
    }

    /// The query, read into `T` (see [`query`]).
    pub(super) fn query<T: DeserializeOwned + Send + 'static>(&self) -> BoxedFilter<(T,)> {
        warp::query::<Vec<(String, String)>>()
            .and_then(|pairs| std::future::ready(query(pairs).map_err(warp::reject::custom)))
            .boxed()
    }
}

/// Routes tried in order, as one.
pub(super) fn any_of(routes: Vec<BoxedFilter<(Response,)>>) -> BoxedFilter<(Response,)> {
    routes
        .into_iter()
        .reduce(|all, route| all.or(route).unify().boxed())
        .expect("at least one route")
}

/// Refuses a POST that does not say it is JSON with 415, a body-less one too: a cross-site
/// `<form>` or no-cors `fetch` can only send simple content types, so none reaches a handler.
fn json_content_type() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and_then(|value: Option<String>| async move {
            let json = value.as_deref().is_some_and(|v| {
                let essence = v.split(';').next().unwrap_or("").trim();
                essence.eq_ignore_ascii_case("application/json")
            });
            match json {
                true => Ok(()),
                false => Err(warp::reject::custom(ApiError::NotJson(format!(
                    "a POST must be `Content-Type: application/json`, not {}",
                    value.as_deref().unwrap_or("none")
                )))),
            }
        })
        .untuple_one()
}

/// Refuses a declared body larger than `limit` with 413. Unlike warp's `content_length_limit`
/// it does not require the header, so a bare `curl -X POST` works.
fn body_limit_bytes(limit: u64) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |length: Option<u64>| async move {
            match length {
                Some(length) if length > limit => Err(warp::reject::custom(ApiError::TooLarge(
                    format!("body of {length} bytes exceeds the limit of {limit} bytes"),
                ))),
                _ => Ok(()),
            }
        })
        .untuple_one()
}

/// The whole body, read up to `limit` bytes within `timeout_ms`: a chunked body, which declares
/// no length, is cut off with 413 as soon as it passes the limit rather than buffered whole,
/// and one that trickles in gets 408 instead of holding its connection.
fn body_bytes(
    limit: u64,
    timeout_ms: u64,
) -> impl Filter<Extract = (bytes::Bytes,), Error = Rejection> + Clone {
    warp::body::stream().and_then(move |stream| async move {
        let timeout = std::time::Duration::from_millis(timeout_ms);
        match tokio::time::timeout(timeout, read_body(stream, limit)).await {
            Ok(read) => read,
            Err(_) => Err(warp::reject::custom(ApiError::SlowBody(format!(
                "the body did not arrive within {timeout_ms} ms"
            )))),
        }
    })
}

async fn read_body<S, B>(stream: S, limit: u64) -> Result<bytes::Bytes, Rejection>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: bytes::Buf,
{
    use futures_util::TryStreamExt;
    let mut stream = std::pin::pin!(stream);
    let mut body = bytes::BytesMut::new();
    while let Some(mut chunk) = stream.try_next().await.map_err(|error| {
        warp::reject::custom(ApiError::bad("body", format!("could not read: {error}")))
    })? {
        if (body.len() + chunk.remaining()) as u64 > limit {
            return Err(warp::reject::custom(ApiError::TooLarge(format!(
                "body exceeds the limit of {limit} bytes"
            ))));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            body.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(body.freeze())
}

/// `value` as a JSON answer.
pub(super) fn json(value: &impl serde::Serialize) -> Result<Response, Rejection> {
    Ok(warp::reply::json(value).into_response())
}

/// The query's `pairs` as `T`, the type whose `IntoParams` documents them: a value that is not
/// one `T` takes is a 400 naming its parameter. A parameter sent empty (`?cursor=`) is as if
/// not sent; one `T` does not name is ignored.
pub(super) fn query<T: DeserializeOwned>(pairs: Vec<(String, String)>) -> Result<T, ApiError> {
    let sent = pairs
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name, QueryValue(value)));
    let map = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(sent);
    serde_path_to_error::deserialize(map).map_err(|error| {
        let field = match error.path().to_string() {
            path if path == "." => "query".to_owned(),
            path => path,
        };
        ApiError::bad(&field, error.inner().to_string())
    })
}

/// One query parameter's value: text that numbers, enums and strings are read from.
struct QueryValue(String);

impl<'de> IntoDeserializer<'de, serde::de::value::Error> for QueryValue {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// Reading a number from a query value, naming the value when it is not one.
macro_rules! query_number {
    ($($method:ident => $visit:ident $type:ty,)*) => {$(
        fn $method<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            match self.0.parse::<$type>() {
                Ok(number) => visitor.$visit(number),
                Err(_) => Err(serde::de::Error::custom(format!(
                    "must be a whole number, got {:?}", self.0
                ))),
            }
        }
    )*};
}

impl<'de> serde::Deserializer<'de> for QueryValue {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_string(self.0)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let value: serde::de::value::StringDeserializer<Self::Error> = self.0.into_deserializer();
        serde::Deserializer::deserialize_enum(value, name, variants, visitor)
    }

    query_number! {
        deserialize_u32 => visit_u32 u32,
        deserialize_u64 => visit_u64 u64,
        deserialize_i64 => visit_i64 i64,
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i128 u8 u16 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// `limit` of a list: 1 to `server.page_limit_max`, 50 when not given.
pub(super) fn limit(app: &App, limit: Option<usize>) -> Result<usize, ApiError> {
    let max = app.started.server.page_limit_max;
    match limit {
        None => Ok(PAGE_LIMIT_DEFAULT.min(max)),
        Some(limit) if (1..=max).contains(&limit) => Ok(limit),
        Some(limit) => Err(ApiError::bad(
            "limit",
            format!("must be a whole number from 1 to {max}, got {limit}"),
        )),
    }
}

/// The query of a list paged by cursor: `limit`, and where the page before ended.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// How many items at most, newest first: a whole number from 1 to `server.page_limit_max`
    /// (500 unless configured). 50 when not given.
    #[param(minimum = 1)]
    pub(super) limit: Option<usize>,
    /// The `next` of the page before (`<time>~<id>`): the items older than its last one.
    pub(super) cursor: Option<String>,
}

/// The cursor a query names, or a 400 naming `cursor`.
pub(super) fn cursor(text: Option<&str>) -> Result<Option<actors::store::Cursor>, ApiError> {
    text.map(|text| {
        actors::store::Cursor::parse(text).ok_or_else(|| {
            ApiError::bad(
                "cursor",
                "must be the `next` of a page before (`<time>~<id>`)",
            )
        })
    })
    .transpose()
}

/// A page of `items` (at most `limit`): `next` is where the last one is, when the page is full.
pub(super) fn paged<T>(
    items: Vec<T>,
    limit: usize,
    at: impl Fn(&T) -> actors::store::Cursor,
) -> super::wire::Page<T> {
    let next = (items.len() == limit)
        .then(|| items.last().map(|last| at(last).encode()))
        .flatten();
    super::wire::Page {
        items,
        next,
        total: None,
    }
}

/// A stored id or seq named in a query (`cursor`, `incident_id`, `since`). The store keeps
/// them as signed 64-bit integers, so larger values are refused here rather than failing there.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seq(pub(super) u64);

impl<'de> serde::Deserialize<'de> for Seq {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(deserializer)?;
        match value <= i64::MAX as u64 {
            true => Ok(Seq(value)),
            false => Err(serde::de::Error::custom(format!(
                "must be at most {}, got {value}",
                i64::MAX
            ))),
        }
    }
}

/// An enumerated path segment (`pause`, `approve`, …) as the enum that documents it; none for
/// a segment it does not name.
pub(super) fn segment<T: DeserializeOwned>(raw: &str) -> Option<T> {
    let raw: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        raw.into_deserializer();
    T::deserialize(raw).ok()
}

/// An incident id from the path.
pub(super) fn incident_id(raw: &str) -> Result<u64, ApiError> {
    let id: u64 = raw
        .parse()
        .map_err(|_| ApiError::bad("id", format!("must be a whole number, got {raw:?}")))?;
    // Ids are stored as signed 64-bit integers; anything larger cannot exist.
    if id > i64::MAX as u64 {
        return Err(ApiError::NotFound(format!("incident {id} does not exist")));
    }
    Ok(id)
}

/// A name from the path (a heartbeat's monitor id): as sent it is percent-encoded
/// (`orders%E2%80%AE`); decoded, it may not hold characters that hide or reorder text.
pub(super) fn name_in_path(field: &str, raw: &str) -> Result<(), ApiError> {
    match actors::names::name_problem(&percent_decoded(raw)) {
        Some(why) => Err(ApiError::bad(field, why)),
        None => Ok(()),
    }
}

/// `raw` with each `%XX` turned back into its byte (invalid UTF-8 replaced).
fn percent_decoded(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_in_the_path_is_judged_decoded() {
        assert_eq!(
            percent_decoded("orders%E2%80%AE-db%2"),
            "orders\u{202e}-db%2"
        );
        assert_eq!(percent_decoded("a%zz%41"), "a%zzA");
        assert!(name_in_path("monitor_id", "nightly-job").is_ok());
        assert!(name_in_path("monitor_id", "n%C3%A4chtlich").is_ok());
        for spoof in ["orders%E2%80%AE-db", "job%00", "job%E2%80%8B"] {
            let error = name_in_path("monitor_id", spoof).unwrap_err();
            assert!(
                matches!(&error, ApiError::BadRequest { field, .. } if field == "monitor_id"),
                "{spoof}: {error}"
            );
        }
    }
}

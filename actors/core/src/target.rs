//! Where and how a monitor connects, parsed from the URLs in its config: a PostgreSQL target
//! (libpq's `sslmode` and `sslrootcert` included), a Redis target, and how much of a server's
//! certificate to verify. Config checks (`spec.rs`) and probes (`probe/`) both read them, so
//! they live apart from either.
//!
//! A URL may hold a password; it is kept as a [`Secret`], and whatever Grace says about a URL
//! (a config error) shows it [`redact`]ed.

use crate::secret::Secret;

/// How much of the server's certificate to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// Encrypt, trust any certificate.
    Nothing,
    /// The chain must lead to a CA of `ca_path` (or the system's, when None); any name.
    Chain { ca_path: Option<String> },
    /// The chain, and the certificate must name the host connected to.
    Full { ca_path: Option<String> },
}

/// libpq's `sslmode`, as far as the connection goes: `verify-ca` and `verify-full` are
/// `Require` with more of the certificate checked ([`Verify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgTls {
    Prefer,
    Require,
}

/// A PostgreSQL URL (`postgres://…?sslmode=…&sslrootcert=…`) or key=value string, read
/// without a driver: what config checks need (is it one, does it hold a password) and what the
/// probe hands its driver (`rest`, the settings the driver knows, and the TLS mode).
#[derive(Debug, Clone, PartialEq)]
pub struct PgUrl {
    /// The URL without `sslmode` and `sslrootcert`.
    pub rest: String,
    /// None: `disable`.
    pub tls: Option<(PgTls, Verify)>,
    pub has_password: bool,
}

impl PgUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let (rest, params) = split_ssl_params(url);
        let mode = params
            .iter()
            .find(|(k, _)| k == "sslmode")
            .map(|(_, v)| v.as_str());
        let ca_path = params
            .iter()
            .find(|(k, _)| k == "sslrootcert")
            .map(|(_, v)| v.clone());
        let tls = match (mode.unwrap_or("prefer"), ca_path) {
            ("disable", _) => None,
            ("prefer", _) => Some((PgTls::Prefer, Verify::Nothing)),
            ("require", None) => Some((PgTls::Require, Verify::Nothing)),
            // As libpq: a root certificate given makes `require` check the chain.
            ("require" | "verify-ca", ca_path) => Some((PgTls::Require, Verify::Chain { ca_path })),
            ("verify-full", ca_path) => Some((PgTls::Require, Verify::Full { ca_path })),
            (other, _) => {
                return Err(format!(
                    "sslmode {other:?} is not one of disable, prefer, require, verify-ca, \
                     verify-full"
                ))
            }
        };
        let has_password = pg_settings(&rest)
            .map_err(|error| format!("not a PostgreSQL URL: {error}"))?
            .iter()
            .any(|(key, _)| key == "password");
        Ok(Self {
            rest,
            tls,
            has_password,
        })
    }
}

/// The settings a libpq URL or key=value string makes, as (key, value), each checked as
/// libpq (and the driver) would: a known key, a port that is a number. A URL's user and
/// password are `user` and `password`.
fn pg_settings(text: &str) -> Result<Vec<(String, String)>, String> {
    let settings = match ["postgres://", "postgresql://"]
        .iter()
        .find_map(|scheme| text.strip_prefix(scheme))
    {
        Some(rest) => pg_url_settings(rest)?,
        None => pg_word_settings(text)?,
    };
    for (key, value) in &settings {
        check_pg_setting(key, value)?;
    }
    Ok(settings)
}

/// `[user[:password]@][host[:port][,…]][/dbname][?key=value&…]`, percent-decoded.
fn pg_url_settings(rest: &str) -> Result<Vec<(String, String)>, String> {
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, dbname) = rest.split_once('/').unwrap_or((rest, ""));
    let mut settings = Vec::new();
    let hosts = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            settings.push(("user".to_owned(), percent_decode(user)?));
            if let Some(password) = password {
                let password = percent_decode(password).map_err(|_| "a bad password escape")?;
                settings.push(("password".to_owned(), password));
            }
            hosts
        }
        None => authority,
    };
    for host in hosts.split(',').filter(|host| !host.is_empty()) {
        let port = match host.strip_prefix('[') {
            Some(v6) => v6.split_once("]:").map(|(_, port)| port),
            None => host.rsplit_once(':').map(|(_, port)| port),
        };
        if let Some(port) = port {
            settings.push(("port".to_owned(), port.to_owned()));
        }
    }
    if !dbname.is_empty() {
        settings.push(("dbname".to_owned(), percent_decode(dbname)?));
    }
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or(format!("{pair:?} has no `=`"))?;
        settings.push((percent_decode(key)?, percent_decode(value)?));
    }
    Ok(settings)
}

/// `key=value key='quoted \' value'`.
fn pg_word_settings(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut settings = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or(format!("{rest:?} has no `=`"))?;
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("{key:?} is not a key"));
        }
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('\'') {
            Some(quoted) => {
                let close = closing_quote(quoted).ok_or("a quote that does not close")?;
                (quoted[..close].replace("\\'", "'"), &quoted[close + 1..])
            }
            None => {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (after[..end].to_owned(), &after[end..])
            }
        };
        settings.push((key.to_owned(), value));
        rest = next.trim_start();
    }
    Ok(settings)
}

/// The keys libpq takes that the driver knows, and the values it checks.
fn check_pg_setting(key: &str, value: &str) -> Result<(), String> {
    const KNOWN: &[&str] = &[
        "user",
        "password",
        "dbname",
        "options",
        "application_name",
        "sslmode",
        "sslnegotiation",
        "host",
        "hostaddr",
        "port",
        "connect_timeout",
        "tcp_user_timeout",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_retries",
        "target_session_attrs",
        "channel_binding",
        "load_balance_hosts",
        "replication",
    ];
    if !KNOWN.contains(&key) {
        return Err(format!("unknown setting {key:?}"));
    }
    let number = |what: &str| match value.parse::<i64>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("{what} {value:?} is not a number")),
    };
    match key {
        "port" => value
            .split(',')
            .filter(|port| !port.is_empty())
            .try_for_each(|port| match port.parse::<u16>() {
                Ok(_) => Ok(()),
                Err(_) => Err(format!("port {port:?} is not a port")),
            }),
        "connect_timeout"
        | "tcp_user_timeout"
        | "keepalives_idle"
        | "keepalives_interval"
        | "keepalives_retries" => number(key),
        "keepalives" => match value {
            "0" | "1" => Ok(()),
            _ => Err(format!("keepalives {value:?} is not 0 or 1")),
        },
        _ => Ok(()),
    }
}

/// The URL without `sslmode` and `sslrootcert` (tokio-postgres knows neither
/// `verify-*` nor root certificates), and those two as (key, value).
fn split_ssl_params(url: &str) -> (String, Vec<(String, String)>) {
    let is_ssl = |key: &str| key == "sslmode" || key == "sslrootcert";
    let mut taken = Vec::new();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), taken);
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some((key, value)) if is_ssl(key) => taken.push((key.to_owned(), value.to_owned())),
                _ => kept.push(pair),
            }
        }
        let rest = match kept.is_empty() {
            true => base.to_owned(),
            false => format!("{base}?{}", kept.join("&")),
        };
        return (rest, taken);
    }
    let mut kept = Vec::new();
    for word in url.split_whitespace() {
        match word.split_once('=') {
            Some((key, value)) if is_ssl(key) => taken.push((key.to_owned(), value.to_owned())),
            _ => kept.push(word),
        }
    }
    (kept.join(" "), taken)
}

/// Where and how to connect, from `redis://[user:password@]host[:port][/db]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisTarget {
    pub address: String,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// `rediss://`: TLS, with the server's name checked.
    pub tls: bool,
}

impl RedisTarget {
    pub fn parse(url: &str) -> Result<Self, String> {
        let (tls, rest) = match (url.strip_prefix("redis://"), url.strip_prefix("rediss://")) {
            (Some(rest), _) => (false, rest),
            (_, Some(rest)) => (true, rest),
            _ => {
                return Err(format!(
                    "must start with redis:// or rediss://, got {:?}",
                    redact(url)
                ))
            }
        };
        let rest = rest.split('/').next().unwrap_or_default();
        let (userinfo, host) = match rest.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, rest),
        };
        if host.is_empty() {
            return Err(format!("has no host: {:?}", redact(url)));
        }
        let address = match host.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_err() => {
                return Err(format!("has a bad port: {:?}", redact(url)))
            }
            Some(_) => host.to_owned(),
            None => format!("{host}:6379"),
        };
        let (user, password) = match userinfo.map(|u| u.split_once(':')) {
            None => (None, None),
            Some(Some((user, password))) => (
                (!user.is_empty()).then(|| user.to_owned()),
                Some(Secret::new(password)),
            ),
            Some(None) => (None, userinfo.map(Secret::new)),
        };
        Ok(Self {
            address,
            user,
            password,
            tls,
        })
    }
}

/// Where and how to connect, from `mysql://user[:password]@host[:port][/database]` (MySQL
/// and MariaDB; no TLS). The user and password may be percent-encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct MysqlTarget {
    pub address: String,
    pub user: String,
    /// Empty: none.
    pub password: Secret,
    pub database: Option<String>,
}

impl MysqlTarget {
    pub fn parse(url: &str) -> Result<Self, String> {
        let Some(rest) = url.strip_prefix("mysql://") else {
            return Err(format!("must start with mysql://, got {:?}", redact(url)));
        };
        let (authority, database) = match rest.split_once('/') {
            Some((authority, database)) => (authority, database.split('?').next().unwrap_or("")),
            None => (rest, ""),
        };
        let Some((userinfo, host)) = authority.rsplit_once('@') else {
            return Err(format!(
                "names no user (mysql://user:password@host): {:?}",
                redact(url)
            ));
        };
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        if user.is_empty() || host.is_empty() {
            return Err(format!("names no user or no host: {:?}", redact(url)));
        }
        let address = match host.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_err() => {
                return Err(format!("has a bad port: {:?}", redact(url)))
            }
            Some(_) => host.to_owned(),
            None => format!("{host}:3306"),
        };
        Ok(Self {
            address,
            user: percent_decode(user)?,
            password: Secret::new(
                percent_decode(password)
                    .map_err(|_| "a bad percent escape or non-UTF-8 in the password".to_owned())?,
            ),
            database: (!database.is_empty()).then(|| database.to_owned()),
        })
    }
}

/// `url` with any password in it replaced by `***`: the one in `scheme://user:password@host`
/// and a `password=` parameter (of a URL's query or a key=value string). What Grace shows of a
/// URL. Where it cannot tell, it hides more rather than less.
pub fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let start = scheme_end + 3;
        // The last `@`: a password may hold an unencoded one; hiding too much is safe.
        if let Some(at) = out[start..].rfind('@') {
            if let Some(colon) = out[start..start + at].find(':') {
                out.replace_range(start + colon + 1..start + at, "***");
            }
        }
    }
    redact_parameter(&out)
}

/// `password=…` hidden, wherever a parameter may start: the string's start, `?`, `&` or a
/// space. A value runs to the next `&` or space, or, quoted, to its closing quote.
fn redact_parameter(text: &str) -> String {
    const KEY: &str = "password=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find(KEY) {
        let before = rest[..found].chars().last().or_else(|| out.chars().last());
        let starts_parameter = before.is_none_or(|c| matches!(c, '?' | '&' | ' ' | '\t'));
        out.push_str(&rest[..found + KEY.len()]);
        rest = &rest[found + KEY.len()..];
        if !starts_parameter {
            continue;
        }
        let end = match rest.strip_prefix('\'') {
            Some(quoted) => closing_quote(quoted).map_or(rest.len(), |close| close + 2),
            None => rest.find(['&', ' ', '\t']).unwrap_or(rest.len()),
        };
        out.push_str("***");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Where a quoted key=value string's value ends: the first quote not escaped by `\\`.
fn closing_quote(quoted: &str) -> Option<usize> {
    let mut escaped = false;
    for (at, c) in quoted.char_indices() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, '\'') => return Some(at),
            _ => escaped = false,
        }
    }
    None
}

/// `%40` is `@`, and so on: what a URL's user and password may hold.
pub fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).unwrap_or("");
            let byte = u8::from_str_radix(hex, 16)
                .map_err(|_| format!("a bad percent escape in {text:?}"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mysql_url_names_user_password_host_and_database() {
        let target = MysqlTarget::parse("mysql://grace:p%40ss@127.0.0.1:3307/shop").unwrap();
        assert_eq!(target.address, "127.0.0.1:3307");
        assert_eq!(
            (target.user.as_str(), target.password.expose()),
            ("grace", "p@ss")
        );
        assert_eq!(target.database.as_deref(), Some("shop"));
        let plain = MysqlTarget::parse("mysql://monitor@db").unwrap();
        assert_eq!(
            (plain.address.as_str(), plain.password.expose()),
            ("db:3306", "")
        );
        assert!(MysqlTarget::parse("mysql://db:3306").is_err(), "no user");
        assert!(MysqlTarget::parse("postgres://u@db").is_err());
    }

    #[test]
    fn urls_parse_with_defaults_and_credentials() {
        let plain = RedisTarget::parse("redis://127.0.0.1").unwrap();
        assert_eq!(plain.address, "127.0.0.1:6379");
        assert_eq!((plain.user, plain.password), (None, None));
        let auth = RedisTarget::parse("redis://:secret@cache:6380/2").unwrap();
        assert_eq!(auth.address, "cache:6380");
        assert_eq!(
            (auth.user, auth.password.as_ref().map(Secret::expose)),
            (None, Some("secret"))
        );
        let acl = RedisTarget::parse("redis://app:pw@cache:6380").unwrap();
        assert_eq!(acl.user.as_deref(), Some("app"));
        assert!(RedisTarget::parse("rediss://cache:6380").unwrap().tls);
        assert!(!acl.tls);
        assert!(RedisTarget::parse("http://cache").is_err());
        assert!(RedisTarget::parse("redis://cache:port").is_err());
        assert!(RedisTarget::parse("redis://").is_err());
    }

    #[test]
    fn a_url_shown_hides_its_password_and_a_bad_one_is_refused_without_it() {
        let hidden = [
            (
                "postgres://grace:s3cret@db:5432/app",
                "postgres://grace:***@db:5432/app",
            ),
            ("mysql://u:p%40ss@h/db", "mysql://u:***@h/db"),
            ("redis://:s3cret@cache", "redis://:***@cache"),
            ("redis://cache:6379", "redis://cache:6379"),
            (
                "postgres://u@h/db?password=s3cret&x=1",
                "postgres://u@h/db?password=***&x=1",
            ),
            (
                "host=h password=s3cret user=u",
                "host=h password=*** user=u",
            ),
            (
                "host=h password='a b\\'c' user=u",
                "host=h password=*** user=u",
            ),
            ("host=h password=s3cret", "host=h password=***"),
            ("host=h app_password=x", "host=h app_password=x"),
        ];
        for (url, shown) in hidden {
            assert_eq!(redact(url), shown, "{url}");
        }
        let errors = [
            RedisTarget::parse("redis://:s3cret@cache:port").unwrap_err(),
            MysqlTarget::parse("mysql://u:s3cret@h:port/db").unwrap_err(),
            MysqlTarget::parse("mysql://u:s3cret%zz@h/db").unwrap_err(),
            MysqlTarget::parse("mariadb://u:s3cret@h/db").unwrap_err(),
        ];
        for error in errors {
            assert!(!error.contains("s3cret"), "{error}");
        }
        let debug = format!("{:?}", MysqlTarget::parse("mysql://u:s3cret@h/db").unwrap());
        assert!(!debug.contains("s3cret"), "{debug}");
    }
}

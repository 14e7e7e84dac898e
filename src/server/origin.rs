//! Same-origin only: refuses requests a web page on another site could make through the
//! operator's browser, whether or not tokens are required.
//!
//! - `Host` must name this Grace: the bound address, `localhost`, `127.0.0.1`, `[::1]`, or one
//!   of `server.allowed_hosts`. A page that rebinds its own DNS name to 127.0.0.1 (DNS
//!   rebinding) sends its own name, and is refused.
//! - An `Origin`, when a browser sends one, must be Grace's own (`http://` or `https://` +
//!   that `Host`): a cross-site `fetch`, form or WebSocket upgrade is refused.
//!
//! Both are 403 naming the header. Clients that are not browsers (curl, Alertmanager, the
//! tests) send no `Origin` and the host they connected to, so they pass.

use std::sync::Arc;

use warp::{Filter, Rejection};

use super::error::ApiError;
use crate::config::ServerConfig;

/// The filter in front of every route.
pub fn same_origin(server: &ServerConfig) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    let hosts = Arc::new(allowed_hosts(server));
    warp::header::optional::<String>("host")
        .and(warp::header::optional::<String>("origin"))
        .and_then(move |host: Option<String>, origin: Option<String>| {
            let hosts = hosts.clone();
            async move {
                check(&hosts, host.as_deref(), origin.as_deref()).map_err(warp::reject::custom)
            }
        })
        .untuple_one()
}

fn allowed_hosts(server: &ServerConfig) -> Vec<String> {
    let bound = match server.bind.ip() {
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "[::1]".to_owned(),
    ];
    hosts.push(bound);
    hosts.extend(server.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()));
    hosts
}

fn check(hosts: &[String], host: Option<&str>, origin: Option<&str>) -> Result<(), ApiError> {
    let forbidden = |field: &str, message: String| ApiError::Forbidden {
        field: field.to_owned(),
        message,
    };
    let host = host.ok_or_else(|| forbidden("host", "a request must name its Host".into()))?;
    let name = name_of(host).to_ascii_lowercase();
    if !hosts.contains(&name) {
        let message = format!("{name} is not a host this Grace serves (see server.allowed_hosts)");
        return Err(forbidden("host", message));
    }
    match origin {
        None => Ok(()),
        // https too: a proxy in front of Grace may end TLS and pass the Host on.
        Some(origin)
            if origin.eq_ignore_ascii_case(&format!("http://{host}"))
                || origin.eq_ignore_ascii_case(&format!("https://{host}")) =>
        {
            Ok(())
        }
        Some(origin) => Err(forbidden(
            "origin",
            format!("requests from {origin} are refused: only Grace's own pages may call it"),
        )),
    }
}

/// The host name of a `Host` header, without its port (`[::1]:7878` → `[::1]`).
fn name_of(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        let server = ServerConfig {
            allowed_hosts: vec!["Grace.Example".into()],
            ..ServerConfig::default()
        };
        allowed_hosts(&server)
    }

    fn refused(host: Option<&str>, origin: Option<&str>) -> Option<String> {
        match check(&hosts(), host, origin) {
            Err(ApiError::Forbidden { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn only_this_graces_hosts_and_its_own_pages_pass() {
        assert_eq!(refused(Some("127.0.0.1:7878"), None), None);
        assert_eq!(
            refused(Some("localhost:7878"), Some("http://localhost:7878")),
            None
        );
        assert_eq!(refused(Some("[::1]:7878"), None), None);
        let proxied = Some("https://grace.example");
        assert_eq!(refused(Some("grace.example"), proxied), None);
        assert_eq!(refused(Some("grace.example"), None), None);
        assert_eq!(
            refused(Some("evil.example:7878"), None).as_deref(),
            Some("host")
        );
        assert_eq!(refused(None, None).as_deref(), Some("host"));
        let other_site = Some("https://evil.example");
        assert_eq!(
            refused(Some("127.0.0.1:7878"), other_site).as_deref(),
            Some("origin")
        );
        // Another port on the same machine is another origin.
        let other_port = Some("http://127.0.0.1:9999");
        assert_eq!(
            refused(Some("127.0.0.1:7878"), other_port).as_deref(),
            Some("origin")
        );
        assert_eq!(
            refused(Some("127.0.0.1:7878"), Some("null")).as_deref(),
            Some("origin")
        );
    }
}

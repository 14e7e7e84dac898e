//! What is wrong with `[store]`, every problem at once, each with its key: an embedded store
//! (`path`) or a SurrealDB server (`url` with its user), not both; a server's password from a
//! file or a variable, never written in the config; the keys of a server only with one.

use actors::spec::SpecProblem;

use super::StoreConfig;

/// Longest url, namespace, database or user name accepted.
const NAME_BYTES_MAX: usize = 1_024;

/// Every problem of `store`, keyed within `[store]`.
pub(super) fn problems(store: &StoreConfig) -> Vec<SpecProblem> {
    let mut found = Vec::new();
    if store.password.is_some() {
        let why = "a password is never written in the config: name an environment variable \
                   in password_env, or a file whose first line is the password in password_file";
        found.push(SpecProblem::new("password", why));
    }
    if let Some(path) = &store.path {
        if path.trim().is_empty() {
            found.push(SpecProblem::new(
                "path",
                "must be a directory or \"memory\"",
            ));
        }
    }
    match &store.url {
        Some(url) => server_problems(store, url, &mut found),
        None => embedded_problems(store, &mut found),
    }
    found
}

/// A server's keys: the url's shape, who signs in and where the password is.
fn server_problems(store: &StoreConfig, url: &str, found: &mut Vec<SpecProblem>) {
    if store.path.is_some() {
        let one = "give path (an embedded store) or url (a SurrealDB server), not both";
        found.push(SpecProblem::new("url", one));
    }
    if !is_server_url(url) {
        let shape = "must be ws://host:port or wss://host:port, SurrealDB's WebSocket endpoint";
        found.push(SpecProblem::new("url", shape));
    }
    for (key, value) in [
        ("namespace", &store.namespace),
        ("database", &store.database),
    ] {
        if !is_name(value) {
            found.push(SpecProblem::new(key, name_rule()));
        }
    }
    if !store.username.as_deref().is_some_and(is_name) {
        let who = format!(
            "names the SurrealDB user Grace signs in as ({})",
            name_rule()
        );
        found.push(SpecProblem::new("username", who));
    }
    let password = store.password_spec();
    if password.source().is_none() {
        let wanted = "give password_env (an environment variable's name) or password_file (a \
                      file whose first line is the password) for the SurrealDB user";
        found.push(SpecProblem::new("password_env", wanted));
    }
    password.problems(false, found);
    if store.ca_file.is_some() && !url.starts_with("wss://") {
        found.push(SpecProblem::new("ca_file", "is for a wss:// url"));
    }
}

/// Least memtable: SurrealKV refuses a transaction larger than its memtable, and a page of
/// the incident manager's commits can be a few MiB.
const MEMTABLE_BYTES_MIN: u64 = 8 * 1024 * 1024;
/// Least read cache.
const CACHE_BYTES_MIN: u64 = 1024 * 1024;

/// Keys that mean something only for a server, given without one; the engine's memory bounds.
fn embedded_problems(store: &StoreConfig, found: &mut Vec<SpecProblem>) {
    if store.memtable_bytes_max < MEMTABLE_BYTES_MIN {
        let why =
            format!("at least {MEMTABLE_BYTES_MIN} (8 MiB): a larger transaction would be refused");
        found.push(SpecProblem::new("memtable_bytes_max", why));
    }
    if store.cache_bytes_max < CACHE_BYTES_MIN {
        let why = format!("at least {CACHE_BYTES_MIN} (1 MiB)");
        found.push(SpecProblem::new("cache_bytes_max", why));
    }
    let given = [
        ("username", store.username.is_some()),
        ("password_file", store.password_file.is_some()),
        ("password_env", store.password_env.is_some()),
        ("ca_file", store.ca_file.is_some()),
        (
            "namespace",
            store.namespace != super::defaults::store_names(),
        ),
        ("database", store.database != super::defaults::store_names()),
    ];
    for (key, _) in given.into_iter().filter(|(_, given)| *given) {
        let why = "is for a SurrealDB server: give url too, or leave it out for the embedded store";
        found.push(SpecProblem::new(key, why));
    }
}

/// `ws://host:port/…` or `wss://…` with a host.
fn is_server_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"));
    let host = rest.map(|rest| rest.split(['/', ':']).next().unwrap_or(""));
    url.len() <= NAME_BYTES_MAX
        && host.is_some_and(|host| !host.is_empty())
        && !url.chars().any(char::is_whitespace)
}

/// A SurrealDB identifier Grace can use unquoted: letters, digits, `_` and `-`.
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_BYTES_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn name_rule() -> String {
    format!("must be letters, digits, _ and -, at most {NAME_BYTES_MAX} bytes")
}

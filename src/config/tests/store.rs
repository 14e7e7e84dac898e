//! `[store]`: the embedded store by default, or a SurrealDB server with who Grace signs in as;
//! a password never in the config; every problem with its key.

use actors::spec::PasswordSource;
use actors::store::{RemoteStore, StoreLocation, UserLevel};

use super::super::*;

fn keys(text: &str) -> Vec<String> {
    let error = parse("store.toml", text).unwrap_err();
    error.issues.iter().map(|issue| issue.key.clone()).collect()
}

#[test]
fn a_server_is_read_with_its_user_and_where_its_password_is() {
    let text = r#"
[store]
url = "wss://db.internal:8000"
namespace = "ops"
database = "grace"
username = "grace"
user_level = "database"
password_file = "/run/credentials/grace.service/surreal"
ca_file = "/etc/grace/surreal-ca.pem"
"#;
    let config = parse("store.toml", text).unwrap();
    let expected = RemoteStore {
        url: "wss://db.internal:8000".to_owned(),
        namespace: "ops".to_owned(),
        database: "grace".to_owned(),
        username: "grace".to_owned(),
        level: UserLevel::Database,
        password: PasswordSource::File("/run/credentials/grace.service/surreal".into()),
        ca_file: Some("/etc/grace/surreal-ca.pem".to_owned()),
    };
    assert_eq!(config.store.location(), StoreLocation::Remote(expected));
}

#[test]
fn a_password_in_the_config_is_refused_saying_where_it_goes() {
    let text = "[store]\nurl = \"ws://127.0.0.1:8000\"\nusername = \"root\"\npassword = \"root\"\n";
    let error = parse("store.toml", text).unwrap_err();
    let found = error
        .issues
        .iter()
        .find(|issue| issue.key == "store.password")
        .unwrap_or_else(|| panic!("no store.password in {error}"));
    assert!(found.message.contains("password_env"), "{}", found.message);
    assert!(!error.to_string().contains("\"root\"\n"), "{error}");
    // And the missing place for it is the next problem, in the same report.
    assert!(keys(text).contains(&"store.password_env".to_owned()));
}

#[test]
fn every_problem_of_a_server_is_named_at_once() {
    let text = r#"
[store]
path = "data/grace"
url = "http://127.0.0.1:8000"
namespace = "has space"
password_env = "1BAD"
ca_file = "ca.pem"
"#;
    let found = keys(text);
    for expected in [
        "store.url",
        "store.namespace",
        "store.username",
        "store.password_env",
        "store.ca_file",
    ] {
        assert!(
            found.contains(&expected.to_owned()),
            "missing {expected} in {found:?}"
        );
    }
}

#[test]
fn keys_of_a_server_without_a_url_are_named() {
    let text = "[store]\npath = \"memory\"\nusername = \"root\"\npassword_env = \"PASS\"\n";
    assert_eq!(keys(text), ["store.username", "store.password_env"]);
}

#[test]
fn the_embedded_store_stays_the_default() {
    let config = parse("store.toml", "").unwrap();
    assert_eq!(
        config.store.location(),
        StoreLocation::Path("data/grace".into(), Default::default())
    );
    let config = parse("store.toml", "[store]\npath = \"memory\"\n").unwrap();
    assert_eq!(config.store.location(), StoreLocation::Memory);
}

#[test]
fn a_store_on_a_server_makes_a_node_of_a_cluster_named_by_the_host_by_default() {
    let head =
        "[store]\nurl = \"ws://127.0.0.1:8000\"\nusername = \"root\"\npassword_env = \"P\"\n";
    let config = parse("store.toml", head).unwrap();
    let node = config.node().expect("a node");
    assert_eq!(node.node_id.as_str(), crate::config::host_name());
    assert_eq!(node.lease_ms, 10_000);
    let text = format!("{head}[cluster]\nnode_id = \"grace-b\"\nlease_ms = 6000\n");
    let node = parse("store.toml", &text).unwrap().node().unwrap();
    assert_eq!((node.node_id.as_str(), node.lease_ms), ("grace-b", 6_000));
    assert_eq!(
        parse("store.toml", "").unwrap().node(),
        None,
        "embedded: one node"
    );
}

#[test]
fn a_cluster_needs_a_shared_store_and_a_lease_within_bounds() {
    let text = "[cluster]\nnode_id = \"\"\nlease_ms = 100\nadvertise_url = \"10.0.0.5:7878\"\n";
    assert_eq!(
        keys(text),
        [
            "cluster",
            "cluster.lease_ms",
            "cluster.node_id",
            "cluster.advertise_url"
        ]
    );
}

#[test]
fn the_embedded_engines_memory_bounds_are_read_and_checked() {
    let config = parse(
        "t",
        "[store]\npath = \"db\"\nmemtable_bytes_max = 16777216\ncache_bytes_max = 2097152\n",
    )
    .unwrap();
    let StoreLocation::Path(_, limits) = config.store.location() else {
        panic!("an embedded store");
    };
    assert_eq!(
        (limits.memtable_bytes_max, limits.cache_bytes_max),
        (16_777_216, 2_097_152)
    );
    let error = parse(
        "t",
        "[store]\nmemtable_bytes_max = 1024\ncache_bytes_max = 0\n",
    )
    .unwrap_err();
    let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
    assert!(
        keys.contains(&"store.memtable_bytes_max") && keys.contains(&"store.cache_bytes_max"),
        "{keys:?}"
    );
}

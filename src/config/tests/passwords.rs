//! Database passwords: taken from elsewhere than the url, their keys checked, never shown.

use actors::spec::MonitorKind;

use super::super::*;

#[test]
fn database_monitors_take_a_password_elsewhere_and_a_password_in_a_url_is_a_warning() {
    let text = r#"
[[monitors]]
id = "pg"
kind = "postgres"
url = "postgres://grace@127.0.0.1/app"
passfile = "/etc/grace/pgpass"

[[monitors]]
id = "shop"
kind = "mysql"
url = "mysql://grace@127.0.0.1/"
password_file = "/run/credentials/grace.service/shop"

[[monitors]]
id = "cache"
kind = "redis"
url = "redis://:s3cret@127.0.0.1"

[[playbooks]]
id = "restart_all"
on = ["db.*", "redis.unavailable"]
steps = [{ kind = "command", argv = ["true"] }]
"#;
    let config = parse("t", text).unwrap();
    let MonitorKind::Postgres { passfile, .. } = &config.tree.monitors[0].kind else {
        panic!("a postgres monitor");
    };
    assert_eq!(passfile.as_deref(), Some("/etc/grace/pgpass"));
    let MonitorKind::Mysql { password, .. } = &config.tree.monitors[1].kind else {
        panic!("a mysql monitor");
    };
    assert!(password.source().is_some());
    let warned: Vec<(String, String)> = warnings(&config)
        .into_iter()
        .map(|w| (w.key, w.message))
        .collect();
    let keys: Vec<&str> = warned.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["monitors[2].url", "playbooks[0].on"], "{warned:?}");
    assert!(
        warned.iter().all(|(_, m)| !m.contains("s3cret")),
        "{warned:?}"
    );
    assert!(warned[1].1.contains("db.auth_failed"), "{warned:?}");
    assert!(warnings(&parse("default", DEFAULT_CONFIG).unwrap()).is_empty());
}

#[test]
fn password_keys_are_checked_with_their_keys_and_a_bad_url_never_shows_its_password() {
    let text = r#"
[[monitors]]
id = "pg"
kind = "postgres"
url = "postgres://grace:inline@127.0.0.1/app"
password_file = ""
password_env = "1BAD"
passfile = "/etc/pgpass"
pasword_file = "typo"

[[monitors]]
id = "cache"
kind = "redis"
url = "redis://:s3cret@cache:port"
password_env = "CACHE_PW"

[[monitors]]
id = "tcp"
kind = "tcp"
address = "127.0.0.1:1"
password_env = "NOT_FOR_TCP"
"#;
    let error = parse("t", text).unwrap_err();
    let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
    for key in [
        "monitors[0].pasword_file",
        "monitors[0].password_file",
        "monitors[0].password_env",
        "monitors[0].url",
        "monitors[0].passfile",
        "monitors[1].url",
        "monitors[2].password_env",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert!(!error.to_string().contains("s3cret"), "{error}");
    assert!(!error.to_string().contains("inline"), "{error}");
}

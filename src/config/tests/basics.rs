//! Reading a config: the shipped one valid, an empty one all defaults, every error with its key,
//! and the server and auth settings.

use actors::spec::StepSpec;

use super::super::*;

#[test]
fn auth_off_beyond_loopback_is_an_error_and_auto_requires_tokens_there() {
    let open = "[server]\nbind = \"0.0.0.0:7878\"\n[auth]\nmode = \"off\"\n";
    let error = parse("t", open).unwrap_err();
    assert_eq!(error.issues[0].key, "auth.mode");
    let auto = parse("t", "[server]\nbind = \"0.0.0.0:7878\"\n").unwrap();
    assert!(auto.auth.tokens_required(&auto.server.bind));
    let local = parse("t", "").unwrap();
    assert!(!local.auth.tokens_required(&local.server.bind));
    let required = parse("t", "[auth]\nmode = \"required\"\n").unwrap();
    assert!(required.auth.tokens_required(&required.server.bind));
    let half_tls = "[server]\ntls_cert_path = \"cert.pem\"\n";
    assert_eq!(
        parse("t", half_tls).unwrap_err().issues[0].key,
        "server.tls_key_path"
    );
}

#[test]
fn the_shipped_default_config_is_valid() {
    let config = parse("default", DEFAULT_CONFIG).unwrap();
    assert_eq!(config.server.bind.to_string(), "127.0.0.1:7878");
    assert_eq!(config.tree.monitors[0].id, "orders-db");
    assert_eq!(config.tree.monitors[0].interval_ms, 500);
    let playbook = &config.tree.playbooks[0];
    assert_eq!(playbook.id, "db_reconnect");
    let names: Vec<&str> = playbook.steps.iter().map(StepSpec::name).collect();
    assert_eq!(
        names,
        [
            "check",
            "command",
            "reconnect",
            "verify",
            "rerun_pipelines",
            "restore_trust"
        ]
    );
    let built_in = built_in().unwrap();
    let ids: Vec<&str> = built_in
        .tree
        .playbooks
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "db_reconnect",
            "api_backoff",
            "log_error_triage",
            "restart_process"
        ]
    );
}

#[test]
fn every_error_is_reported_with_its_key() {
    let text = r#"
        [server]
        bind = "not an address"
        [store]
        path = ""
        [trust]
        drop_on_incident = 2.0
        [[monitors]]
        id = "a"
        kind = "postgres"
        url = "postgres://x@127.0.0.1/db"
        interval_ms = 0
        colour = "red"
        [[monitors]]
        id = "a"
        kind = "postgres"
        url = "postgres://x@127.0.0.1/db"
        [[monitors]]
        id = "b"
        kind = "carrier-pigeon"
        [[monitors]]
        id = "c"
        kind = "tcp"
        address = "no-port"
        [[playbooks]]
        id = "p"
        on = []
        steps = [
          { kind = "check" },
          { kind = "command", argv = [] },
          { kind = "reconnect", backoff_ms = "soon" },
          { kind = "teleport" },
        ]
        [bogus]
    "#;
    let error = parse("test.toml", text).unwrap_err();
    let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
    for expected in [
        "bogus",
        "server.bind",
        "store.path",
        "trust.drop_on_incident",
        "monitors[0].interval_ms",
        "monitors[0].colour",
        "monitors[1].id",
        "monitors[2]",
        "monitors[3].address",
        "playbooks[0].on",
        "playbooks[0].steps[1].argv",
        "playbooks[0].steps[2]",
        "playbooks[0].steps[3].kind",
    ] {
        assert!(keys.contains(&expected), "missing {expected} in {error}");
    }
    let text = error.to_string();
    assert!(text.starts_with("test.toml: "), "{text}");
}

#[test]
fn syntax_errors_are_reported() {
    let error = parse("x", "[server\nbind=").unwrap_err();
    assert_eq!(error.issues.len(), 1);
    assert!(error.issues[0].message.contains("not valid TOML"));
}

#[test]
fn an_empty_file_is_a_valid_config_with_defaults() {
    let config = parse("empty", "").unwrap();
    assert!(config.tree.monitors.is_empty());
    assert_eq!(
        config.store.location(),
        StoreLocation::Path("data/grace".into(), Default::default())
    );
}

#[test]
fn connections_max_defaults_to_1024_and_zero_is_refused_with_its_key() {
    assert_eq!(parse("t", "").unwrap().server.connections_max, 1_024);
    let shipped = parse("default", DEFAULT_CONFIG).unwrap();
    assert_eq!(shipped.server.connections_max, 1_024);
    let none = parse("t", "[server]\nconnections_max = 0\n").unwrap_err();
    assert_eq!(none.issues[0].key, "server.connections_max");
    let some = parse("t", "[server]\nconnections_max = 2\n").unwrap();
    assert_eq!(some.server.connections_max, 2);
}

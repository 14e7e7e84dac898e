//! Unit tests of config reading: every error with its key, the shipped config valid.

use actors::spec::{MonitorKind, PipelineJob, ProcessSource, StepSpec, WaitFor, WaitUntil};

use super::*;

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
fn pipelines_selectors_and_placeholders_are_checked_by_name() {
    let text = r#"
        [[monitors]]
        id = "db"
        kind = "postgres"
        url = "postgres://x@127.0.0.1/db"
        [[pipelines]]
        id = "export"
        argv = ["export"]
        url = "http://127.0.0.1:1/"
        depends_on = ["db", "cache"]
        every_ms = 10
        [[playbooks]]
        id = "p"
        on = ["db.*"]
        monitors = ["dbb"]
        steps = [
          { kind = "command", argv = ["kill", "{incident.payload}"], retries = 99 },
          { kind = "notify", message = "", webhooks = ["pager"] },
          { kind = "rerun_pipelines", runs_max = 0 },
        ]
    "#;
    let error = parse("test.toml", text).unwrap_err();
    let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
    for expected in [
        "pipelines[0].argv",
        "pipelines[0].depends_on",
        "pipelines[0].every_ms",
        "playbooks[0].monitors",
        "playbooks[0].steps[0].argv[1]",
        "playbooks[0].steps[0].retries",
        "playbooks[0].steps[1].message",
        "playbooks[0].steps[1].webhooks",
        "playbooks[0].steps[2].runs_max",
    ] {
        assert!(keys.contains(&expected), "missing {expected} in {error}");
    }
    let text = error.to_string();
    assert!(text.contains("no monitor named \"cache\""), "{text}");
    assert!(
        text.contains("{incident.payload} cannot be filled in"),
        "{text}"
    );
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
        StoreLocation::Path("data/grace".into())
    );
}

#[test]
fn either_or_settings_are_one_or_the_other_by_type() {
    let both = r#"
        [[monitors]]
        id = "worker"
        kind = "process"
        argv = ["sleep", "60"]
        pidfile = "/run/worker.pid"
        [[playbooks]]
        id = "p"
        on = ["db.*"]
        steps = [{ kind = "wait", ms = 10, until = "healthy" }]
        [[pipelines]]
        id = "export"
        every_ms = 10
    "#;
    let error = parse("t", both).unwrap_err();
    let issues: Vec<String> = error
        .issues
        .iter()
        .map(|i| format!("{} => {}", i.key, i.message))
        .collect();
    let says = |key: &str, words: &str| {
        issues
            .iter()
            .any(|issue| issue.starts_with(&format!("{key} =>")) && issue.contains(words))
    };
    assert!(says("monitors[0]", "exactly one of `argv`"), "{issues:#?}");
    assert!(
        says("playbooks[0].steps[0]", "exactly one of `ms`"),
        "{issues:#?}"
    );
    // A top-level entry still reports every problem at once, the either-or among them.
    assert!(
        says("pipelines[0].argv", "exactly one of `argv`"),
        "{issues:#?}"
    );
    assert!(says("pipelines[0].every_ms", "between"), "{issues:#?}");

    let one = parse(
        "t",
        &both
            .replace("argv = [\"sleep\", \"60\"]\n", "")
            .replace("ms = 10, ", "")
            .replace("every_ms = 10", "argv = [\"true\"]"),
    )
    .unwrap();
    let MonitorKind::Process(process) = &one.tree.monitors[0].kind else {
        panic!("not a process monitor");
    };
    assert_eq!(
        process.source,
        ProcessSource::Pidfile("/run/worker.pid".into())
    );
    let StepSpec::Wait(wait) = &one.tree.playbooks[0].steps[0] else {
        panic!("not a wait step");
    };
    assert_eq!(wait.until, WaitFor::Event(WaitUntil::Healthy));
    assert!(matches!(
        one.tree.pipelines[0].job,
        PipelineJob::Program { .. }
    ));
}

#[test]
fn maintenance_windows_are_one_off_or_recurring_and_say_what_is_wrong() {
    let text = r#"
        [[maintenance]]
        id = "sunday-backup"
        matchers = { monitors = ["orders-db"] }
        cron = "0 2 * * SUN"
        duration_ms = 3600000

        [[maintenance]]
        id = "upgrade"
        matchers = { sources = ["checkout/*"] }
        start = "2026-12-24T22:00:00Z"
        end = "2026-12-24T23:00:00Z"

        [[maintenance]]
        id = "broken"
        cron = "every sunday"
        duration_ms = 1000

        [[maintenance]]
        id = "both"
        matchers = { labels = { team = "db" } }
        start = "2026-12-24T22:00:00Z"
        cron = "0 2 * * SUN"
    "#;
    let error = parse("test.toml", text).unwrap_err();
    let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
    assert!(
        keys.contains(&"maintenance[2].matchers"),
        "no matchers: {keys:?}"
    );
    assert!(keys.contains(&"maintenance[2].cron"), "{keys:?}");
    assert!(keys.contains(&"maintenance[3].start"), "{keys:?}");
    assert_eq!(keys.len(), 3, "the first two are fine: {error}");
}

#[test]
fn expect_status_is_one_status_or_a_list_and_a_bad_one_is_named_by_its_key() {
    let good = r#"
        [[monitors]]
        id = "api"
        kind = "http"
        url = "http://127.0.0.1:1/health"
        expect_status = 204
        [[playbooks]]
        id = "p"
        on = ["api.*"]
        steps = [
          { kind = "http", url = "http://127.0.0.1:1/a", expect_status = 200 },
          { kind = "http", url = "http://127.0.0.1:1/b", expect_status = [200, 202] },
        ]
        [[pipelines]]
        id = "export"
        url = "http://127.0.0.1:1/export"
        expect_status = 201
    "#;
    let config = parse("t", good).unwrap();
    let MonitorKind::Http(http) = &config.tree.monitors[0].kind else {
        panic!("not an http monitor");
    };
    assert_eq!(http.expect_status, [204]);
    let statuses: Vec<Vec<u16>> = config.tree.playbooks[0]
        .steps
        .iter()
        .map(|step| match step {
            StepSpec::Http { expect_status, .. } => expect_status.clone(),
            _ => panic!("not an http step"),
        })
        .collect();
    assert_eq!(statuses, [vec![200], vec![200, 202]]);
    let PipelineJob::Call { expect_status, .. } = &config.tree.pipelines[0].job else {
        panic!("not a call");
    };
    assert_eq!(expect_status, &[201]);

    let bad = good
        .replace("expect_status = 204", "expect_status = \"ok\"")
        .replace("expect_status = 200 ", "expect_status = 70000 ")
        .replace("[200, 202]", "[200, \"x\"]")
        .replace("expect_status = 201", "expect_status = 99");
    let error = parse("t", &bad).unwrap_err();
    let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "monitors[0].expect_status",
            "pipelines[0].expect_status",
            "playbooks[0].steps[0].expect_status",
            "playbooks[0].steps[1].expect_status",
        ],
        "{error}"
    );
}

#[test]
fn ids_that_hide_or_reorder_text_are_refused_with_their_key() {
    let text = "
        [[monitors]]
        id = \"orders\u{202e}-db\"
        kind = \"tcp\"
        address = \"127.0.0.1:1\"
        depends_on = [\"cache\u{200b}\"]
        [[playbooks]]
        id = \"heal\u{0}\"
        on = [\"tcp.*\"]
        steps = [{ kind = \"escalate\" }]
    ";
    // TOML itself refuses a raw NUL in a string; written as an escape it reads.
    let text = text.replace('\u{0}', "\\u0000");
    let error = parse("t", &text).unwrap_err();
    let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "monitors[0].id",
            "monitors[0].depends_on[0]",
            "playbooks[0].id"
        ],
        "{error}"
    );
    assert!(error.to_string().contains("U+202E"), "{error}");
}

#[test]
fn flapping_is_on_by_default_and_either_setting_at_zero_turns_it_off() {
    let monitor = |extra: &str| {
        format!(
            "[[monitors]]\nid = \"queue\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\n{extra}\n"
        )
    };
    let config = parse("t", &monitor("")).unwrap();
    let spec = &config.tree.monitors[0];
    assert_eq!((spec.flap_window, spec.flap_threshold), (20, 8));
    assert!(spec.flapping_detected());
    for off in ["flap_window = 0", "flap_threshold = 0"] {
        let config = parse("t", &monitor(off)).unwrap();
        assert!(!config.tree.monitors[0].flapping_detected(), "{off}");
    }
    // A window too small for the default threshold says which to change.
    let error = parse("t", &monitor("flap_window = 6")).unwrap_err();
    assert_eq!(error.issues[0].key, "monitors[0].flap_threshold", "{error}");
    let error = parse("t", &monitor("flap_window = 200")).unwrap_err();
    assert_eq!(error.issues[0].key, "monitors[0].flap_window", "{error}");
}

#[test]
fn steps_that_can_never_work_on_a_playbooks_sources_are_refused() {
    let text = r#"
        [[playbooks]]
        id = "pushed_only"
        on = ["payment.*"]
        sources = ["pushed"]
        steps = [{ kind = "verify" }, { kind = "wait", until = "healthy" }, { kind = "command", argv = ["true"] }]

        [[playbooks]]
        id = "alerts_only"
        on = ["alert.*"]
        sources = ["alertmanager"]
        steps = [{ kind = "restart" }, { kind = "verify", timeout_ms = 60000 }]

        [incidents]
        relapse_backoff_ms = 10000
        relapse_backoff_max_ms = 1000
    "#;
    let error = parse("test.toml", text).unwrap_err();
    let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "incidents.relapse_backoff_max_ms",
            "playbooks[0].steps[0]",
            "playbooks[0].steps[1]",
            "playbooks[1].steps[0]",
        ],
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("check with an `http` or `command` step"),
        "{text}"
    );
    assert!(text.contains("a restart starts a process"), "{text}");
}

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

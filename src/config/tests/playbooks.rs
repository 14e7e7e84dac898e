//! Playbooks and pipelines: selectors and placeholders checked by name, and steps that can
//! never work on a playbook's sources refused.

use super::super::*;

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

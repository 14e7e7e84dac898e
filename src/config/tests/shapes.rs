//! Settings written in more than one shape: either-or settings by type, maintenance windows
//! one-off or recurring, `expect_status` one status or a list.

use actors::spec::{MonitorKind, PipelineJob, ProcessSource, StepSpec, WaitFor, WaitUntil};

use super::super::*;

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

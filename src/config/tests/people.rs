//! `[[receivers]]` and `[[routes]]`: every mistake reported at once with its key, and a good
//! pair read as written.

use super::super::*;

#[test]
fn receivers_and_routes_report_every_mistake_with_its_key() {
    let text = r#"
[[webhooks]]
id = "ops"
url = "http://127.0.0.1:9/ops"

[[receivers]]
id = "ops"
kind = "slack"
url = "ftp://x"

[[receivers]]
id = "pd"
kind = "pagerduty"
routing_key = "in-the-clear"

[[receivers]]
id = "mail"
kind = "email"
to = ["not-an-address"]
from = "grace@example.com"
smtp = "mail.example.com"
tls = "none"
username = "grace"
password_env = "MAIL_PW"

[[receivers]]
id = "pager"
kind = "carrier_pigeon"

[[routes]]
id = "db"
receivers = ["nobody"]
on = []
repeat_ms = 10
levels = [{ after_ms = 0, receivers = [] }, { after_ms = 60000, receivers = ["ghost"] }]

[[routes]]
id = "db"
receivers = ["ops"]
"#;
    let error = parse("t", text).unwrap_err();
    let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
    for key in [
        "receivers[0].id",
        "receivers[0].url",
        "receivers[1].routing_key",
        "receivers[1].routing_key_env",
        "receivers[2].to[0]",
        "receivers[2].smtp",
        "receivers[2].tls",
        "receivers[3].kind",
        "routes[0].receivers",
        "routes[0].on",
        "routes[0].repeat_ms",
        "routes[0].levels[0].after_ms",
        "routes[0].levels[0].receivers",
        "routes[0].levels[1].receivers",
        "routes[1].id",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert!(!error.to_string().contains("in-the-clear"), "{error}");
}

#[test]
fn a_route_and_its_receivers_read_as_written() {
    let text = r#"
[[receivers]]
id = "db-team"
kind = "email"
to = ["db@example.com"]
from = "grace@example.com"
smtp = "mail.example.com:587"
username = "grace"
password_file = "/run/secrets/smtp"

[[receivers]]
id = "lead"
kind = "pagerduty"
routing_key_env = "PD_KEY"

[[routes]]
id = "databases"
matchers = { event_types = ["db.*"], severities = ["high", "critical"] }
receivers = ["db-team"]
on = ["opened", "resolved"]
wait_ms = 120000
repeat_ms = 1800000
levels = [{ after_ms = 600000, receivers = ["lead"] }]
"#;
    let config = parse("t", text).unwrap();
    let route = &config.tree.routes[0];
    assert_eq!(route.wait_ms, 120_000);
    assert_eq!(route.levels[0].receivers, ["lead"]);
    assert_eq!(config.tree.receivers.len(), 2);
    assert_eq!(config.tree.receivers[1].kind.name(), "pagerduty");
}

#[test]
fn a_status_page_names_configured_monitors_only() {
    let text = r#"
[[monitors]]
id = "web"
kind = "tcp"
address = "127.0.0.1:80"

[status_page]
components = ["web", { id = "ghost", name = "Ghost" }, { id = "web", name = "" }]
incident_days = 0
"#;
    let error = parse("t", text).unwrap_err();
    let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
    for key in [
        "status_page.components[1]",
        "status_page.components[2]",
        "status_page.incident_days",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
}

//! The public status page in Chromium, with tokens required and none given: each component's
//! state in words under its public name, 90 day bars, the incident in plain language — and
//! nothing a `read` token would show of the incident (its title, type, error, address) nor a
//! component not listed. Badges: up with its uptime, down, 404 for anything else.

use serde_json::Value;

use super::TIMEOUT;
use crate::common::browser::Browser;
use crate::common::{eventually, free_port, spawn_app, TOKENS_HEAD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_states_in_words_and_days_and_reveals_nothing_internal() {
    let dir = tempfile::tempdir().unwrap();
    let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open_port = open.local_addr().unwrap().port();
    let closed_port = free_port();
    let config = format!(
        r#"{TOKENS_HEAD}
[[monitors]]
id = "web"
kind = "tcp"
address = "127.0.0.1:{open_port}"
interval_ms = 200

[[monitors]]
id = "api"
kind = "tcp"
address = "127.0.0.1:{closed_port}"
interval_ms = 200
failures_before_down = 1

[[monitors]]
id = "secret-db"
kind = "tcp"
address = "127.0.0.1:{closed_port}"
interval_ms = 200
failures_before_down = 1

[status_page]
title = "Example Co. status"
components = [{{ id = "web", name = "Website" }}, {{ id = "api", name = "Public API" }}]
"#
    );
    let app = spawn_app(dir.path(), &config);
    let reader = app.create_token("reader", "read", &[]);
    let incident = eventually("the API's incident", TIMEOUT, || async {
        let (_, page) = app
            .call(
                "GET",
                "/monitoring/incidents?source=api",
                Some(&reader),
                None,
            )
            .await;
        page["items"].as_array()?.first().cloned()
    })
    .await;
    let (_, detail) = app
        .call(
            "GET",
            &format!("/monitoring/incidents/{}", incident["id"]),
            Some(&reader),
            None,
        )
        .await;
    let (_, monitor) = app.call("GET", "/monitors/api", Some(&reader), None).await;

    let browser = Browser::start("status-page").await;
    browser.goto(&app.url("/status")).await;
    browser
        .wait_for(
            "the page",
            "document.getElementById('overall')?.innerText === 'Some services are down'",
        )
        .await;
    let text = browser.text("main").await.unwrap();
    for words in [
        "Example Co. status",
        "Website",
        "Operational",
        "100% uptime",
        "Public API",
        "Outage",
        "Public API: outage, ongoing",
    ] {
        assert!(text.contains(words), "{words:?} missing from {text}");
    }
    let days = browser
        .eval("document.querySelectorAll('[data-component=\"api\"] .day').length")
        .await;
    assert_eq!(days, Value::from(90));
    let today = browser
        .eval("document.querySelector('[data-component=\"api\"] .day:last-child').className")
        .await;
    assert_eq!(today, Value::from("day down"));
    browser.screenshot("status-page").await;

    // Nothing a read token shows of the incident or the monitor is on the page.
    let html = reqwest::get(app.url("/status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let internal = [
        detail["title"].as_str().unwrap().to_owned(),
        detail["event_type"].as_str().unwrap().to_owned(),
        monitor["last_error"]
            .as_str()
            .unwrap_or("refused")
            .to_owned(),
        format!("127.0.0.1:{closed_port}"),
        closed_port.to_string(),
        "secret-db".to_owned(),
    ];
    for secret in &internal {
        assert!(!html.contains(secret.as_str()), "the page shows {secret:?}");
    }
    assert!(!html.contains("<script"), "no script on the status page");

    let badge = |name: &'static str| {
        let app = &app;
        async move {
            let response = reqwest::get(app.url(&format!("/badge/{name}")))
                .await
                .unwrap();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                response.status().as_u16(),
                kind,
                response.text().await.unwrap(),
            )
        }
    };
    let (status, kind, svg) = badge("web.svg").await;
    assert_eq!((status, kind.as_deref()), (200, Some("image/svg+xml")));
    assert!(svg.contains("Website") && svg.contains("up"), "{svg}");
    let (_, _, svg) = badge("api.svg").await;
    assert!(svg.contains("Public API") && svg.contains("down"), "{svg}");
    assert_eq!(badge("secret-db.svg").await.0, 404);
    assert_eq!(badge("web").await.0, 404);
    let errors = browser.errors();
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
    drop(open);
}

//! Maintenance: a recurring `[[maintenance]]` window over a real failing TCP service, and
//! people's silences (`POST /silences`) over pushed events and an Alertmanager alert. What
//! they cover is recorded *in maintenance* — no playbook runs, the tile is grey — and an
//! expired silence covers nothing.

use std::time::Duration;

use serde_json::json;

use crate::common::browser::Browser;
use crate::common::{free_port, holds_for, spawn_app};

const TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_and_silences_keep_what_they_cover_out_of_healing_and_grey() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("healed");
    let config = format!(
        r#"[server]
bind = "127.0.0.1:0"
[store]
path = "memory"

# On every minute, for two: always on.
[[maintenance]]
id = "cache-migration"
matchers = {{ monitors = ["cache"] }}
cron = "* * * * *"
duration_ms = 120000

[[monitors]]
id = "cache"
kind = "tcp"
address = "127.0.0.1:{closed}"
interval_ms = 100
failures_before_down = 1

[[playbooks]]
id = "restart_anything"
on = ["tcp.unreachable", "payment.*", "alert.*"]
sources = ["monitors", "pushed", "alertmanager"]
steps = [{{ kind = "command", argv = ["touch", "{marker}"] }}]
"#,
        closed = free_port(),
        marker = marker.display()
    );
    let app = spawn_app(dir.path(), &config);

    // The window: the outage is recorded, in maintenance, and nothing runs for it.
    let cache = app
        .incident_where("the cache incident", TIMEOUT, |i| i["source"] == "cache")
        .await;
    assert_eq!(cache["maintenance"], "cache-migration", "{cache}");
    assert_eq!(cache["silenced"], true);
    holds_for(
        "no run for what maintenance covers",
        Duration::from_secs(2),
        || async { !marker.exists() },
    )
    .await;

    // A person's silence over a pushed source.
    let (status, silence) = app
        .post_json(
            "/silences",
            &json!({ "matchers": { "sources": ["checkout"] }, "duration_ms": 600000, "comment": "deploy" }),
        )
        .await;
    assert_eq!(status, 201, "{silence}");
    assert_eq!(silence["state"], "active");
    assert_eq!(silence["created_by"], "local");
    let id = silence["id"].as_str().unwrap().to_owned();
    let push = |event_type: &str| json!({ "type": event_type, "source": "checkout" });
    assert_eq!(
        app.post_json("/events", &push("payment.timeout")).await.0,
        202
    );
    let quiet = app
        .incident_where("the silenced incident", TIMEOUT, |i| {
            i["event_type"] == "payment.timeout"
        })
        .await;
    assert_eq!(quiet["maintenance"], id.as_str());

    // And over an alert's labels.
    let (status, _) = app
        .post_json(
            "/silences",
            &json!({ "matchers": { "labels": { "team": "db" } }, "duration_ms": 600000 }),
        )
        .await;
    assert_eq!(status, 201);
    let alert = json!({ "version": "4", "alerts": [{
        "status": "firing", "fingerprint": "abc123",
        "labels": { "alertname": "DiskFull", "team": "db", "service": "orders-db" },
    }]});
    assert_eq!(
        app.post_json("/integrations/alertmanager", &alert).await.0,
        202
    );
    let disk = app
        .incident_where("the silenced alert", TIMEOUT, |i| {
            i["event_type"] == "alert.disk_full.firing"
        })
        .await;
    assert!(
        disk["maintenance"]
            .as_str()
            .unwrap()
            .starts_with("silence-"),
        "{disk}"
    );
    assert!(!marker.exists(), "nothing silenced ran");

    // The dashboard: grey tiles that say so, and no red count for them.
    let browser = Browser::start("maintenance").await;
    browser.goto(&app.url("/")).await;
    let tile = browser
        .wait_for(
            "a tile in maintenance",
            "document.querySelector('#tiles .in-maintenance')?.innerText",
        )
        .await;
    assert!(
        tile.as_str()
            .unwrap()
            .contains("In maintenance (cache-migration)")
            || tile.as_str().unwrap().contains("In maintenance (silence-"),
        "{tile}"
    );
    let summary = browser.wait_for("the summary", "document.getElementById('summary').innerText.includes('3 in maintenance') && document.getElementById('summary').innerText").await;
    assert!(!summary.as_str().unwrap().contains("high"), "{summary}");
    browser.screenshot("maintenance").await;

    // Expired early, it covers nothing more: the next failure is healed.
    let (status, expired) = app
        .post_json(&format!("/silences/{id}/expire"), &json!({}))
        .await;
    assert_eq!(
        (status, expired["state"].as_str()),
        (200, Some("expired")),
        "{expired}"
    );
    assert_eq!(
        app.post_json("/events", &push("payment.declined")).await.0,
        202
    );
    let loud = app
        .incident_where("the incident after the silence", TIMEOUT, |i| {
            i["event_type"] == "payment.declined"
        })
        .await;
    assert!(loud["maintenance"].is_null(), "{loud}");
    crate::common::eventually("its run", TIMEOUT, || async {
        marker.exists().then_some(())
    })
    .await;
    let listed = app.get_ok("/silences").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    // Each one read by its id, as the list has it; an unknown id is 404.
    for silence in listed["items"].as_array().unwrap() {
        let id = silence["id"].as_str().unwrap();
        assert_eq!(&app.get_ok(&format!("/silences/{id}")).await, silence);
    }
    let (status, body) = app.get("/silences/nope").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_that_is_not_one_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), crate::common::CONFIG_HEAD);
    for (body, field) in [
        (json!({ "matchers": {}, "duration_ms": 1000 }), "matchers"),
        (
            json!({ "matchers": { "sources": ["x"] }, "duration_ms": 0 }),
            "duration_ms",
        ),
        (json!({ "matchers": { "sources": ["x"] } }), "ends_at"),
        (
            json!({ "matchers": { "sources": ["x"] }, "ends_at": "tomorrow" }),
            "ends_at",
        ),
        (
            json!({ "matchers": { "colour": ["x"] }, "duration_ms": 1000 }),
            "matchers.colour",
        ),
    ] {
        let (status, error) = app.post_json("/silences", &body).await;
        assert_eq!(status, 400, "{body} → {error}");
        assert_eq!(error["error"]["field"], field, "{body} → {error}");
    }
    let (status, _) = app
        .post_json("/silences/silence-nope/expire", &json!({}))
        .await;
    assert_eq!(status, 404);
    assert!(app.get_ok("/silences").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// Most silences Grace keeps (`silence::SILENCES_MAX`).
const SILENCES_MAX: usize = 1_000;

/// `count` silences asked for at once; the statuses Grace answered.
async fn silences_at_once(app: &crate::common::TestApp, count: usize) -> Vec<u16> {
    let body = json!({ "matchers": { "sources": ["checkout"] }, "duration_ms": 600000 });
    let posts = (0..count).map(|_| app.post_json("/silences", &body));
    let answers = futures_util::future::join_all(posts).await;
    answers.into_iter().map(|(status, _)| status).collect()
}

/// The cap on silences is decided by one owner: fifty `POST /silences` at once, ten short of
/// the cap, make exactly ten; at the cap, with one expired, exactly one more is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_silences_at_the_cap_never_exceed_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(
        dir.path(),
        "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n",
    );
    let count = |listed: serde_json::Value| listed["items"].as_array().unwrap().len();
    for _ in 0..(SILENCES_MAX - 10) / 50 {
        let statuses = silences_at_once(&app, 50).await;
        assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    }
    let last = (SILENCES_MAX - 10) % 50;
    assert!(silences_at_once(&app, last).await.iter().all(|s| *s == 201));
    assert_eq!(count(app.get_ok("/silences").await), SILENCES_MAX - 10);

    let statuses = silences_at_once(&app, 50).await;
    let made = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(made, 10, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    let listed = app.get_ok("/silences").await;
    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(count(listed), SILENCES_MAX);

    // One ended: it alone makes room, for one of fifty.
    let (status, _) = app
        .post_json(&format!("/silences/{id}/expire"), &json!({}))
        .await;
    assert_eq!(status, 200);
    let statuses = silences_at_once(&app, 50).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    let listed = app.get_ok("/silences").await;
    assert_eq!(count(listed.clone()), SILENCES_MAX);
    let gone = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["id"] != id.as_str());
    assert!(gone, "the expired silence made room");
}

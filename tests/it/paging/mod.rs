//! Reaching people along `[[routes]]`: a real PostgreSQL outage that nothing heals pages the
//! first receivers after `wait_ms`, reminds them, climbs to the next level, and stops when a
//! person acknowledges — across a `kill -9` of Grace, with nothing told twice or forgotten;
//! an incident healed within the wait tells nobody; every receiver kind gets its documented
//! shape (email through a real SMTP server with STARTTLS); a receiver that is down is retried
//! and its failure recorded.

mod receivers;

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{eventually, holds_for, receiver, spawn_app, PgCluster, CONFIG_HEAD};

const TIMEOUT: Duration = Duration::from_secs(30);

type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>;

/// The bodies posted to `path`, oldest first.
fn posted(seen: &Seen, path: &str) -> Vec<Value> {
    let seen = seen.lock().unwrap();
    seen.iter()
        .filter(|(p, _)| p == path)
        .map(|(_, body)| body.clone())
        .collect()
}

fn reasons(seen: &Seen, path: &str) -> Vec<String> {
    posted(seen, path)
        .iter()
        .map(|b| b["reason"].as_str().unwrap_or("?").to_owned())
        .collect()
}

async fn wait_for_reason(seen: &Seen, path: &str, reason: &str) -> Value {
    let what = format!("a {reason} page at {path}");
    eventually(&what, TIMEOUT, || async {
        posted(seen, path)
            .into_iter()
            .find(|b| b["reason"] == reason)
    })
    .await
}

fn pg_config(pg: &PgCluster, receiver: std::net::SocketAddr) -> String {
    format!(
        r#"
[server]
bind = "127.0.0.1:0"

[store]
path = "store"

[[monitors]]
id = "orders-db"
kind = "postgres"
url = "{url}"
interval_ms = 200
timeout_ms = 1000
failures_before_down = 2

[[receivers]]
id = "db-team"
kind = "webhook"
url = "http://{receiver}/db"

[[receivers]]
id = "lead"
kind = "webhook"
url = "http://{receiver}/lead"

[[routes]]
id = "databases"
matchers = {{ event_types = ["db.*"] }}
receivers = ["db-team"]
wait_ms = 2000
repeat_ms = 3000
levels = [{{ after_ms = 6000, receivers = ["lead"] }}]
"#,
        url = pg.url()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_waits_reminds_and_climbs_a_level_until_acknowledged_across_a_kill_9() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let (addr, seen) = receiver(0).await;
    let config = pg_config(&pg, addr);
    let app = spawn_app(dir.path(), &config);
    app.monitor_state("orders-db", "up", TIMEOUT).await;

    pg.stop();
    let incident = app
        .incident_where("the outage", TIMEOUT, |i| i["source"] == "orders-db")
        .await;
    let detected =
        chrono::DateTime::parse_from_rfc3339(incident["detected_at"].as_str().unwrap()).unwrap();
    let opened = wait_for_reason(&seen, "/db", "opened").await;
    let told_after = chrono::Utc::now().signed_duration_since(detected);
    assert!(
        told_after >= chrono::Duration::milliseconds(1_900),
        "told after {told_after}, before wait_ms"
    );
    assert_eq!(opened["route"], "databases");
    assert_eq!(opened["incident"]["id"], incident["id"]);
    assert_eq!(opened["level"], 1);

    // Killed once the first page is recorded as delivered: after the restart it is neither
    // sent again nor is the rest of the page forgotten.
    eventually("the first page recorded as delivered", TIMEOUT, || async {
        let deliveries = app.get_ok("/deliveries").await;
        deliveries["items"]
            .as_array()?
            .iter()
            .any(|d| d["status"] == "delivered")
            .then_some(())
    })
    .await;
    app.kill_9();
    let app = spawn_app(dir.path(), &config);
    wait_for_reason(&seen, "/db", "reminder").await;
    let level = wait_for_reason(&seen, "/lead", "level").await;
    assert_eq!(level["level"], 2);
    assert_eq!(
        reasons(&seen, "/db")
            .iter()
            .filter(|r| *r == "opened")
            .count(),
        1,
        "{:?}",
        reasons(&seen, "/db")
    );
    assert!(reasons(&seen, "/lead").iter().all(|r| r != "opened"));

    let id = incident["id"].as_u64().unwrap();
    let route = app.get_ok("/routes/databases").await;
    assert_eq!(route["wait_ms"], 2000);
    assert_eq!(route["pages"][0]["incident_id"], id);
    assert_eq!(route["pages"][0]["level"], 2, "{route}");
    let receivers = app.get_ok("/receivers").await.to_string();
    assert!(
        receivers.contains("db-team") && !receivers.contains("http://"),
        "{receivers}"
    );
    let (status, body) = app
        .post(&format!("/monitoring/incidents/{id}/acknowledge"))
        .await;
    assert_eq!(status, 200, "{body}");
    let count = || seen.lock().unwrap().len();
    let before = count();
    holds_for(
        "no page after the acknowledgement",
        Duration::from_millis(4_000),
        || async { count() == before },
    )
    .await;

    let detail = app.get_ok(&format!("/monitoring/incidents/{id}")).await;
    let notified: Vec<&Value> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "incident.notified")
        .collect();
    let told: Vec<&str> = notified
        .iter()
        .map(|e| e["data"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(told[0], "opened", "{told:?}");
    assert!(
        told.contains(&"level") && told.contains(&"reminder"),
        "{told:?}"
    );
    assert_eq!(
        told.iter().filter(|r| **r == "opened").count(),
        1,
        "{told:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incident_healed_within_the_wait_tells_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, seen) = receiver(0).await;
    let config = format!(
        r#"{CONFIG_HEAD}
[[receivers]]
id = "team"
kind = "webhook"
url = "http://{addr}/team"

[[routes]]
id = "everything"
receivers = ["team"]
wait_ms = 2000
"#
    );
    let app = spawn_app(dir.path(), &config);
    let push = |event: Value| {
        let app = &app;
        async move { assert_eq!(app.post_json("/events", &event).await.0, 202) }
    };
    push(json!({ "type": "search.stale", "source": "search-1" })).await;
    push(json!({ "type": "queue.stuck", "source": "jobs" })).await;
    push(json!({ "type": "search.restored", "source": "search-1" })).await;
    app.incident_where("search-1 to heal by itself", TIMEOUT, |i| {
        i["source"] == "search-1" && i["status"] == "resolved"
    })
    .await;
    // The other one, not healed, is told once its wait is over: the route works.
    let told = eventually("the unhealed incident told", TIMEOUT, || async {
        posted(&seen, "/team").into_iter().next()
    })
    .await;
    assert_eq!(told["incident"]["source"], "jobs");
    holds_for(
        "nobody told of search-1",
        Duration::from_millis(1_500),
        || async {
            posted(&seen, "/team")
                .iter()
                .all(|b| b["incident"]["source"] == "jobs")
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storm_of_incidents_is_paged_once_each_in_bounded_commits() {
    const STORM: usize = 600; // more than two commits' worth of pages
    let dir = tempfile::tempdir().unwrap();
    let (addr, seen) = receiver(0).await;
    let config = format!(
        r#"{CONFIG_HEAD}
[[receivers]]
id = "team"
kind = "webhook"
url = "http://{addr}/team"
backoff_ms = []

[[routes]]
id = "everything"
receivers = ["team"]
on = ["opened"]
"#
    );
    let app = spawn_app(dir.path(), &config);
    let storm: Vec<Value> = (0..STORM)
        .map(|i| json!({ "type": "queue.stuck", "source": format!("worker-{i}") }))
        .collect();
    assert_eq!(app.post_json("/events", &json!(storm)).await.0, 202);
    eventually("every incident paged", TIMEOUT, || async {
        (posted(&seen, "/team").len() >= STORM).then_some(())
    })
    .await;
    holds_for(
        "nobody paged twice",
        Duration::from_millis(1_000),
        || async { posted(&seen, "/team").len() == STORM },
    )
    .await;
    let mut ids: Vec<u64> = posted(&seen, "/team")
        .iter()
        .map(|b| b["incident"]["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), STORM);
}

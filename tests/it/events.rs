//! `GET /events`: the log read a page at a time — every event once, in seq order, across pages
//! that follow `next`; a `types` filter; bad input answered 400 naming the field.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{eventually, spawn_app, TestApp};

const TIMEOUT: Duration = Duration::from_secs(30);

const CONFIG: &str = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"store\"\n";

/// Every page from `since` on, following `next` until it is null.
async fn all_pages(app: &TestApp, query: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut since = 0;
    for _ in 0..100 {
        let page = app.get_ok(&format!("/events?since={since}&{query}")).await;
        events.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => since = next.parse().unwrap(),
            None => return events,
        }
    }
    panic!("more than 100 pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_reads_a_page_at_a_time_each_event_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), CONFIG);
    let notes: Vec<Value> = (0..30)
        .map(|n| json!({ "type": "app.note", "source": format!("app-{n}"), "kind": "info" }))
        .collect();
    let (status, body) = app.post_json("/events", &json!(notes)).await;
    assert_eq!(status, 202, "{body}");
    let problem = json!({ "type": "db.connection_lost", "source": "orders-db" });
    let (status, body) = app.post_json("/events", &problem).await;
    assert_eq!(status, 202, "{body}");
    // The problem's incident is announced too: the log's head is past the 31 pushed.
    let head = eventually("the incident to be announced", TIMEOUT, || async {
        let head = app.get_ok("/health").await["last_seq"].as_u64()?;
        let page = app.get_ok("/events?types=incident.*").await;
        (!page["items"].as_array()?.is_empty()).then_some(head)
    })
    .await;

    let events = all_pages(&app, "limit=7").await;
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.len() as u64 >= head, "{seqs:?}");
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "each once, in order"
    );
    let first = app.get_ok("/events?limit=7").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 7);
    assert_eq!(first["next"], "7");

    // Only the database's: one event, whatever the page size.
    let db = all_pages(&app, "types=db.*&limit=2").await;
    let types: Vec<&str> = db.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["db.connection_lost"]);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("since=-1", "since"),
    ] {
        let (status, body) = app.get(&format!("/events?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let many: Vec<String> = (0..40).map(|n| format!("t{n}.*")).collect();
    let (status, body) = app.get(&format!("/events?types={}", many.join(","))).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("types")),
        "{body}"
    );
}

//! Every list pages by cursor and the incident list filters: incidents by source, event type,
//! severity, time and text (a filtered page says where to go on); work orders, runs and
//! sub-agents a page at a time, each row once; a bad filter or cursor is a 400 naming it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{eventually, spawn_app, TestApp, CONFIG_HEAD, FAILING_PLAYBOOK};

const TIMEOUT: Duration = Duration::from_secs(20);

/// Every item of `path`, following `next`, `limit` at a time.
async fn all_pages(app: &TestApp, path: &str, limit: usize, id: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={}", urlencode(cursor)));
        }
        let page = app.get_ok(&url).await;
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i[id].to_string()),
        );
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test(flavor = "multi_thread")]
async fn incidents_filter_and_every_list_pages_by_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG_HEAD}{FAILING_PLAYBOOK}");
    let app = spawn_app(dir.path(), &config);
    let events = [
        json!({ "type": "payment.gateway_timeout", "source": "checkout-eu", "severity": "high", "title": "EU gateway slow" }),
        json!({ "type": "payment.gateway_timeout", "source": "checkout-us", "severity": "critical" }),
        json!({ "type": "payment.refused", "source": "checkout-us", "severity": "low" }),
        json!({ "type": "search.stale", "source": "search", "severity": "medium" }),
    ];
    for event in &events {
        assert_eq!(app.post_json("/events", event).await.0, 202);
    }
    eventually("three work orders", TIMEOUT, || async {
        let orders = app.get_ok("/work-orders").await;
        (orders["items"].as_array()?.len() == 3).then_some(())
    })
    .await;
    let sources = |query: &'static str| {
        let app = &app;
        async move {
            let items = app.incidents(query).await;
            let mut sources: Vec<String> = items
                .iter()
                .map(|i| i["source"].as_str().unwrap().to_owned())
                .collect();
            sources.sort();
            sources
        }
    };
    assert_eq!(
        sources("source=checkout*").await,
        ["checkout-eu", "checkout-us", "checkout-us"]
    );
    assert_eq!(
        sources("event_type=payment.gateway_*").await,
        ["checkout-eu", "checkout-us"]
    );
    assert_eq!(
        sources("severity=low,critical").await,
        ["checkout-us", "checkout-us"]
    );
    assert_eq!(sources("q=eu%20GATEWAY").await, ["checkout-eu"]);
    assert_eq!(sources("source=search&status=active").await, ["search"]);
    assert!(sources("since=2999-01-01T00:00:00Z").await.is_empty());
    assert_eq!(sources("until=2999-01-01T00:00:00Z").await.len(), 4);
    // A filtered page of one says where to go on; following it finds every match once.
    let filtered = all_pages(&app, "/monitoring/incidents?source=checkout*", 1, "id").await;
    assert_eq!(filtered.len(), 3, "{filtered:?}");
    for (query, field) in [
        ("severity=huge", "severity"),
        ("since=yesterday", "since"),
        ("cursor=x", "cursor"),
    ] {
        let (status, body) = app
            .call("GET", &format!("/monitoring/incidents?{query}"), None, None)
            .await;
        assert_eq!(
            (status, body["error"]["field"].clone()),
            (400, json!(field)),
            "{query}: {body}"
        );
    }

    let orders = all_pages(&app, "/work-orders", 2, "work_order_id").await;
    assert_eq!(orders.len(), 3);
    let runs = all_pages(&app, "/monitoring/executions", 2, "run_id").await;
    assert_eq!(runs.len(), 3);
    let agents = all_pages(&app, "/monitoring/agents", 1, "agent_id").await;
    assert_eq!(agents.len(), 3);
    for list in [&orders, &runs, &agents] {
        let mut unique = list.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(&unique.len(), &list.len(), "a row shown twice: {list:?}");
    }
    let (status, body) = app
        .call("GET", "/deliveries?cursor=nonsense", None, None)
        .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (400, json!("cursor")),
        "{body}"
    );
    let _: Value = app.get_ok("/deliveries?limit=1").await;
}

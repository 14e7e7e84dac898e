//! Many events at once: a burst killed twice is applied exactly once after restart, and the active
//! list is a page of the newest with the count of all.

use std::time::Duration;

use super::{app_with, TIMEOUT};
use crate::common::{eventually, spawn_app, Feed, TestApp};
use serde_json::{json, Value};

/// Every incident, by paging the REST list with its cursor.
async fn all_incidents(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get_ok(&format!("/monitoring/incidents?limit=500{cursor}"))
            .await;
        all.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return all,
        }
    }
}

/// Pushes batches of problem events from distinct sources until Grace stops answering; every
/// source whose batch got a 202 goes into `acked`. A busy 503 is waited out, as its
/// `Retry-After` asks.
async fn push_until_gone(
    addr: String,
    writer: usize,
    acked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let client = reqwest::Client::new();
    for batch in 0.. {
        let sources: Vec<String> = (0..50)
            .map(|k| format!("w{writer}-b{batch}-e{k}"))
            .collect();
        let body: Vec<Value> = sources
            .iter()
            .map(|source| json!({ "type": "burst.failed", "source": source }))
            .collect();
        let Ok(response) = client.post(&addr).json(&body).send().await else {
            return; // killed
        };
        match response.status().as_u16() {
            202 => acked.lock().unwrap().extend(sources),
            503 => {
                let retry_s: u64 = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .expect("a busy answer says when to retry");
                tokio::time::sleep(Duration::from_secs(retry_s)).await;
            }
            status => panic!("unexpected answer {status}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_killed_twice_is_applied_exactly_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"db\"\n";
    let app = spawn_app(dir.path(), config);
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(push_until_gone(app.url("/events"), w, acked.clone())))
        .collect();
    eventually(
        "3,000 events acknowledged",
        Duration::from_secs(120),
        || async { (acked.lock().unwrap().len() >= 3_000).then_some(()) },
    )
    .await;
    app.kill_9(); // mid-burst: the writers are still sending
    for writer in writers {
        writer.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // Started again, it serves at once and catches up in the background; killed again in the
    // middle of that, it keeps what it had committed page by page.
    let app = spawn_app(dir.path(), config);
    app.get_ok("/health").await;
    app.kill_9();
    let app = spawn_app(dir.path(), config);

    let incidents = eventually(
        "every acknowledged event in an incident",
        Duration::from_secs(120),
        || async {
            let incidents = all_incidents(&app).await;
            let seen: std::collections::HashSet<&str> = incidents
                .iter()
                .filter_map(|i| i["source"].as_str())
                .collect();
            acked
                .iter()
                .all(|source| seen.contains(source.as_str()))
                .then_some(incidents)
        },
    )
    .await;
    let mut by_source = std::collections::HashMap::new();
    for incident in &incidents {
        let source = incident["source"].as_str().unwrap().to_owned();
        assert!(
            by_source.insert(source, incident.clone()).is_none(),
            "one incident per source: {incident}"
        );
    }
    for source in &acked {
        let incident = &by_source[source];
        // Applied once: a replay would have made it a repeat, or dropped trust twice.
        assert_eq!(incident["occurrences"], 1, "{incident}");
        assert_eq!(incident["trust"], 0.7, "{incident}");
    }
    let ids: std::collections::HashSet<u64> = incidents
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), incidents.len(), "no incident id is used twice");

    // The log itself: every seq once, no gap, and each acknowledged event in it exactly once.
    let last_seq = app.get_ok("/health").await["last_seq"].as_u64().unwrap();
    let feed = Feed::connect(&app, "?since=0").await;
    let log = eventually(
        "the whole log replayed",
        Duration::from_secs(60),
        || async {
            let log = feed.snapshot();
            (log.len() as u64 >= last_seq).then_some(log)
        },
    )
    .await;
    let seqs: Vec<u64> = log.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=last_seq).collect();
    assert_eq!(
        seqs[..last_seq as usize],
        expected[..],
        "no gap and no duplicate seq"
    );
    let mut pushed = std::collections::HashMap::<&str, usize>::new();
    for event in log.iter().filter(|e| e["type"] == "burst.failed") {
        *pushed
            .entry(event["data"]["source"].as_str().unwrap())
            .or_default() += 1;
    }
    for source in &acked {
        assert_eq!(
            pushed.get(source.as_str()),
            Some(&1),
            "{source} in the log once"
        );
    }
}

/// However many incidents are active, the active list is a page of the newest with a count of
/// them all (the dashboard's tiles), and its cursor walks back through the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_list_is_a_page_of_the_newest_with_the_count_of_all() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), "");
    let problems: Vec<Value> = (1..=7)
        .map(|n| json!({ "type": "payment.gateway_timeout", "source": format!("shop-{n}") }))
        .collect();
    let (status, body) = app.post_json("/events", &json!(problems)).await;
    assert_eq!(status, 202, "{body}");
    let recovered = json!({ "type": "payment.recovered", "source": "shop-6" });
    assert_eq!(app.post_json("/events", &recovered).await.0, 202);
    eventually("six active incidents", TIMEOUT, || async {
        let page = app
            .get_ok("/monitoring/incidents?status=active&limit=1")
            .await;
        (page["total"] == 6).then_some(())
    })
    .await;

    let sources = |page: &Value| -> Vec<String> {
        let items = page["items"].as_array().unwrap();
        items
            .iter()
            .map(|i| i["source"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = app
        .get_ok("/monitoring/incidents?status=active&limit=4")
        .await;
    assert_eq!(sources(&first), ["shop-7", "shop-5", "shop-4", "shop-3"]);
    assert_eq!(first["total"], 6);
    let cursor = first["next"].as_str().expect("a cursor to the rest");
    let rest = app
        .get_ok(&format!(
            "/monitoring/incidents?status=active&limit=4&cursor={cursor}"
        ))
        .await;
    assert_eq!(sources(&rest), ["shop-2", "shop-1"]);
    assert_eq!(rest["next"], Value::Null);
    let open = app
        .get_ok("/monitoring/incidents?status=open&limit=2")
        .await;
    assert_eq!(
        (sources(&open), &open["total"]),
        (vec!["shop-7".to_owned(), "shop-5".to_owned()], &json!(6))
    );
    let resolved = app.get_ok("/monitoring/incidents?status=resolved").await;
    assert_eq!(sources(&resolved), ["shop-6"]);
    let any = app.get_ok("/monitoring/incidents?limit=3").await;
    assert_eq!(sources(&any), ["shop-7", "shop-6", "shop-5"]);
    let (status, body) = app
        .get("/monitoring/incidents?status=active&cursor=soon")
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("cursor"))
    );
}

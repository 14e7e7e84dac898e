//! The page after Grace restarts: it resumes the feed from its last sequence number, missing and
//! repeating nothing.

use super::{open, TIMEOUT};
use crate::common::browser::Browser;
use crate::common::{eventually, spawn_app, Feed};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_grace_restarts_the_page_resumes_from_its_last_seq_missing_and_repeating_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nbind = \"127.0.0.1:{}\"\n[store]\npath = \"store\"\n",
        crate::common::free_port()
    );
    let app = spawn_app(dir.path(), &config);
    let browser = Browser::start("restart").await;
    open(&app, &browser).await;
    // The seq the page's feed started after (the recent events before the load are listed
    // too): it shows every event after it.
    let start_seq = browser.eval("state.feedFrom").await.as_u64().unwrap();
    let log_id = app.get_ok("/health").await["log_id"].clone();
    assert!(log_id.is_string(), "{log_id}");
    let push = |n: u32| json!({ "type": "deploy.step", "source": "ci", "kind": "info", "payload": { "n": n } });
    for n in 0..3 {
        assert_eq!(app.post_json("/events", &push(n)).await.0, 202);
    }
    browser
        .wait_for(
            "the first events",
            "document.querySelectorAll('#activity [data-type=\"deploy.step\"]').length === 3",
        )
        .await;

    // Grace goes away (SIGKILL) and comes back on the same port and store.
    app.kill_9();
    browser
        .wait_for(
            "the page to notice",
            "document.getElementById('connection').innerText.includes('Reconnecting')",
        )
        .await;
    browser.screenshot("reconnecting").await;
    // The page may not reach the new Grace before these events are written: it must catch up
    // on them from the log, not see them live.
    browser.block_urls(&["*/health", "*/ws*"]).await;
    let app = spawn_app(dir.path(), &config);
    for n in 3..6 {
        assert_eq!(app.post_json("/events", &push(n)).await.0, 202);
    }
    let before = browser.eval("state.lastSeq").await;
    assert_eq!(
        app.get_ok("/health").await["log_id"],
        log_id,
        "the same log on disk keeps its id across a restart"
    );
    browser.block_urls(&[]).await;
    open_again(&browser).await;
    browser
        .wait_for(
            "the events after the restart",
            "document.querySelectorAll('#activity [data-type=\"deploy.step\"]').length === 6",
        )
        .await;
    browser.screenshot("resumed").await;
    assert!(
        before.as_u64().unwrap() < app.get_ok("/health").await["last_seq"].as_u64().unwrap(),
        "the events after the restart were written while the page could not see them"
    );

    // Exactly the log after the page opened: every seq once, none missing.
    let feed = Feed::connect(&app, &format!("?since={start_seq}")).await;
    let last = app.get_ok("/health").await["last_seq"].as_u64().unwrap();
    let expected: Vec<u64> = eventually("the whole log on the feed", TIMEOUT, || async {
        let seqs = feed.seqs();
        (seqs.last() == Some(&last)).then_some(seqs)
    })
    .await;
    let shown = eventually("the page to show the whole log", TIMEOUT, || async {
        let mut seqs: Vec<u64> = browser
            .eval("[...document.querySelectorAll('#activity [data-seq]')].map(e => Number(e.dataset.seq))")
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        seqs.sort_unstable();
        (seqs.last() == Some(&last)).then_some(seqs)
    })
    .await;
    assert_eq!(
        shown, expected,
        "the page shows each event once, none missing"
    );

    // Failed connections while Grace was down (or blocked) are expected; nothing else is.
    let unexpected: Vec<String> = browser
        .errors()
        .into_iter()
        .filter(|e| {
            !(e.contains("ERR_CONNECTION_REFUSED")
                || e.contains("ERR_BLOCKED_BY_CLIENT")
                || e.contains("ERR_CONNECTION_RESET")
                || e.contains("ERR_EMPTY_RESPONSE")
                || e.contains("WebSocket connection"))
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}

async fn open_again(browser: &Browser) {
    browser
        .wait_for(
            "the page to reconnect",
            "document.getElementById('connection').innerText.includes('Live')",
        )
        .await;
}

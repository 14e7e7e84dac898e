//! A real PostgreSQL outage on the page: a friendly tile in plain words, acknowledged with a click,
//! healed by the playbook live, and kept in history.

use super::{open, TIMEOUT};
use crate::common::browser::Browser;
use crate::common::{spawn_app, PgCluster};
use serde_json::json;

fn outage_config(pg: &PgCluster, bind: &str, store: &str) -> String {
    let argv: Vec<String> = pg.start_argv().iter().map(|a| format!("{a:?}")).collect();
    format!(
        r#"
[server]
bind = "{bind}"
[store]
path = "{store}"

[[monitors]]
id = "orders-db"
kind = "postgres"
url = "{url}"
interval_ms = 200
timeout_ms = 1000
failures_before_down = 2

[[playbooks]]
id = "db_reconnect"
name = "Reconnect DB"
on = ["db.connection_lost"]
sources = ["monitors", "pushed"]
steps = [
  {{ kind = "wait", ms = 6000 }},
  {{ kind = "command", argv = [{argv}], timeout_ms = 30000 }},
  {{ kind = "reconnect", backoff_ms = [250, 500, 1000, 2000] }},
  {{ kind = "verify" }},
  {{ kind = "restore_trust" }},
]
"#,
        url = pg.url(),
        argv = argv.join(", ")
    )
}

/// Waits for a tile saying a playbook is running; returns its text.
async fn running_tile(browser: &Browser, what: &str) -> String {
    browser
        .wait_for(
            what,
            "document.querySelector('#tiles [data-incident]')?.innerText.includes('Running')",
        )
        .await;
    browser.text("#tiles [data-incident]").await.unwrap()
}

fn is_png(path: &std::path::Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.starts_with(b"\x89PNG"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_shows_as_a_friendly_tile_is_acknowledged_healed_and_kept_in_history() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), &outage_config(&pg, "127.0.0.1:0", "memory"));
    app.monitor_state("orders-db", "up", TIMEOUT).await;
    let browser = Browser::start("outage").await;
    open(&app, &browser).await;
    browser
        .wait_for(
            "the all-clear",
            "document.getElementById('summary').innerText.includes('All systems healthy')",
        )
        .await;
    browser
        .wait_for(
            "the monitor row",
            "document.querySelector('[data-monitor=\"orders-db\"]')?.innerText.includes('up')",
        )
        .await;
    assert!(is_png(&browser.screenshot("healthy").await));

    // The outage: one tile, in plain words, with what is being done about it.
    pg.stop();
    let text = running_tile(&browser, "the outage's tile").await;
    assert!(
        text.contains("Database hiccup — orders-db lost connection at"),
        "{text}"
    );
    assert!(text.contains("Running “Reconnect DB”"), "{text}");
    assert!(
        text.contains("no recovery history yet for “Reconnect DB”"),
        "{text}"
    );
    assert!(text.contains("Severity: high"), "{text}");
    // What the probe said, in its own words.
    browser
        .wait_for(
            "the probe's error on the tile",
            "document.querySelector('#tiles [data-incident] .error-line:not([hidden])')?.innerText.startsWith('Last error: ')",
        )
        .await;
    let summary = browser.text("#summary").await.unwrap();
    assert_eq!(summary, "🔴 1 high");
    // The monitors view and the insights follow by themselves.
    browser
        .wait_for(
            "the monitor row to say down",
            "document.querySelector('[data-monitor=\"orders-db\"]')?.innerText.includes('down')",
        )
        .await;
    browser
        .wait_for(
            "the insights to count it",
            "document.getElementById('insights-summary').innerText.includes('1 active')",
        )
        .await;
    browser.screenshot("outage").await;

    // Acknowledge with a real click: the tile says so at once.
    browser
        .click("#tiles [data-incident] [data-action=\"acknowledge\"]")
        .await;
    browser
        .wait_for(
            "the acknowledgement on the tile",
            "document.querySelector('#tiles [data-incident]')?.innerText.includes('Acknowledged at')",
        )
        .await;
    let hidden = browser
        .eval("document.querySelector('#tiles [data-action=\"acknowledge\"]').hidden")
        .await;
    assert_eq!(hidden, json!(true));
    let incident = app.incidents("").await[0].clone();
    assert!(incident["acknowledged_at"].is_string(), "{incident}");
    browser.screenshot("acknowledged").await;

    // The details: the playbook's steps arrive live while it heals.
    browser
        .click("#tiles [data-incident] [data-action=\"details\"]")
        .await;
    browser
        .wait_for(
            "the timeline",
            "document.getElementById('timeline').innerText.includes('Started “Reconnect DB”')",
        )
        .await;
    // What the pane loaded over REST, and how often it asked: steps that come after must
    // arrive over the feed, with no new request.
    let loaded_up_to = browser
        .eval("Math.max(...[...document.querySelectorAll('#timeline [data-seq]')].map(e => Number(e.dataset.seq)))")
        .await;
    let fetches = "performance.getEntriesByType('resource').filter(e => e.name.includes('/monitoring/incidents/1')).length";
    let fetched = browser.eval(fetches).await;
    assert!(
        browser
            .text("#timeline")
            .await
            .unwrap()
            .contains("wait: running"),
        "the run is still in its wait step when the pane opens"
    );
    let live_step = format!(
        "[...document.querySelectorAll('#timeline [data-seq]')].some(e => \
         Number(e.dataset.seq) > {loaded_up_to} && e.innerText.includes('command: succeeded'))"
    );
    browser
        .wait_for("the command step to arrive live", &live_step)
        .await;
    assert_eq!(
        browser.eval(fetches).await,
        fetched,
        "no new request for the timeline"
    );
    browser.screenshot("details").await;

    // Healed: the tile leaves, the all-clear is back, the top says how it was healed, and
    // history says how long it took.
    browser
        .wait_for(
            "the tile to leave",
            "document.querySelectorAll('#tiles [data-incident]').length === 0 && \
             document.getElementById('summary').innerText.includes('All systems healthy')",
        )
        .await;
    let healed = browser
        .wait_for(
            "the healed note with the trust restored",
            "(t => t.includes('trust restored to') && t)\
             (document.querySelector('#healed [data-incident=\"1\"]')?.innerText || '')",
        )
        .await;
    let healed = healed.as_str().unwrap();
    assert!(
        healed.starts_with("✅ Database reconnected on orders-db automatically ("),
        "{healed}"
    );
    browser.screenshot("healed").await;
    let history = browser
        .wait_for(
            "the incident in history",
            "document.querySelector('#history [data-incident]')?.innerText",
        )
        .await;
    let history = history.as_str().unwrap();
    assert!(history.contains("#1"), "{history}");
    assert!(history.contains("resolved in"), "{history}");
    assert!(history.contains("healed by a playbook"), "{history}");
    let insights = browser
        .wait_for(
            "the insights",
            "document.getElementById('insights-summary').innerText.includes('1 incident in the last 24 h')",
        )
        .await;
    assert_eq!(insights, json!(true));
    // The detail pane's insights are the component's own; its runs are the incident's own.
    browser
        .wait_for(
            "the component's insights",
            "document.getElementById('insights').innerText\
             .includes('1 incident on orders-db in the last 24 h, average recovery')",
        )
        .await;
    browser.screenshot("healed").await;

    // The second outage of the kind has history: the tile gives an estimate.
    let estimates = app.get_ok("/insights").await["estimates"].clone();
    assert_eq!(estimates[0]["playbook_id"], "db_reconnect", "{estimates}");
    assert_eq!(estimates[0]["samples"], 1);
    pg.stop();
    let text = running_tile(&browser, "the second tile").await;
    assert!(
        text.contains("expected recovery in ~") || text.contains("taking longer than usual"),
        "{text}"
    );
    browser.screenshot("estimate").await;
    browser
        .wait_for(
            "the second heal",
            "document.querySelectorAll('#tiles [data-incident]').length === 0",
        )
        .await;

    let errors = browser.errors();
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
}

//! Much at a glance: a flood of incidents shown as the newest tiles with a count of them all, and a
//! monitor's history bar showing its outage and surviving `kill -9`.

use super::{open, TIMEOUT};
use crate::common::browser::Browser;
use crate::common::{eventually, spawn_app, TestApp};
use serde_json::json;

/// A flood of incidents: the page shows the newest 200 as tiles and says how many are active,
/// both live and on a fresh load, rather than fetching and drawing every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_incidents_shows_the_newest_tiles_and_how_many_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n";
    let app = spawn_app(dir.path(), config);
    let browser = Browser::start("flood").await;
    open(&app, &browser).await;
    for batch in 0..3 {
        let problems: Vec<_> = (0..100)
            .map(|n| json!({ "type": "payment.gateway_timeout", "source": format!("shop-{batch}-{n}") }))
            .collect();
        assert_eq!(app.post_json("/events", &json!(problems)).await.0, 202);
    }
    // The count comes from the REST API and the tiles from the feed, so the count can be
    // right a moment before the newest tile has arrived: wait for all three.
    let counted = "document.getElementById('more-alerts').innerText \
        === 'Showing the newest 200 of 300 active incidents.' \
        && document.querySelectorAll('#tiles [data-incident]').length === 200 \
        && document.querySelector('#tiles [data-incident]').dataset.incident === '300'";
    browser
        .wait_for("the newest 200 tiles and the count, live", counted)
        .await;
    assert!(browser
        .text("#summary")
        .await
        .unwrap()
        .contains("300 active in all"));
    browser.screenshot("flood").await;

    browser.goto(&app.url("/")).await;
    browser
        .wait_for("the same after a fresh load", counted)
        .await;
    assert!(browser.errors().is_empty(), "{:#?}", browser.errors());
}

/// The states of `monitor`'s status bar as one letter per cell (`n`one, `u`p, `f`ailing,
/// `d`own), and its history as served.
async fn bar(app: &TestApp, monitor: &str) -> (String, serde_json::Value) {
    let history = app.get_ok(&format!("/monitors/{monitor}/history")).await;
    let letters = history["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap().chars().next().unwrap())
        .collect();
    (letters, history)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitors_history_shows_its_outage_at_a_glance_and_survives_kill_9() {
    use tokio::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let serve = |listener: TcpListener| {
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        })
    };
    let mut server = serve(listener);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nbind = \"127.0.0.1:{}\"\n[store]\npath = \"store\"\n[history]\nbucket_ms = 1000\nkeep_ms = 86400000\n\
         [[monitors]]\nid = \"cache\"\nkind = \"tcp\"\naddress = \"{address}\"\ninterval_ms = 100\nfailures_before_down = 2\n",
        crate::common::free_port()
    );
    let app = spawn_app(dir.path(), &config);
    let ends_with = |pattern: &'static str| {
        let app = &app;
        async move {
            eventually(&format!("a bar ending {pattern}"), TIMEOUT, || async {
                let (letters, _) = bar(app, "cache").await;
                letters
                    .trim_end_matches('n')
                    .contains(pattern)
                    .then_some(letters)
            })
            .await
        }
    };
    ends_with("uu").await;
    server.abort();
    let _ = server.await;
    ends_with("dd").await;
    server = serve(TcpListener::bind(address).await.unwrap());
    let letters = ends_with("duu").await;
    let (_, history) = bar(&app, "cache").await;
    let uptime = history["uptime_24h"].as_f64().unwrap();
    assert!(uptime > 0.0 && uptime < 1.0, "{uptime} for {letters}");
    assert_eq!(history["bucket_ms"], 1000);
    let up = history["cells"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|c| c["state"] == "up")
        .unwrap();
    assert!(up["latency_ms_avg"].is_number(), "{up}");

    // The closed buckets are on disk: a Grace killed and started again still shows the outage.
    app.kill_9();
    let app = spawn_app(dir.path(), &config);
    let (after, _) = bar(&app, "cache").await;
    assert!(after.contains("dd"), "{after}");

    let browser = Browser::start("history").await;
    open(&app, &browser).await;
    let drawn = browser
        .wait_for(
            "the status bar",
            "document.querySelector('[data-monitor=\"cache\"] .status-bar')?.dataset.cells",
        )
        .await;
    assert!(drawn.as_str().unwrap().contains('d'), "{drawn}");
    let uptime_text = browser
        .text("[data-monitor=\"cache\"] .uptime")
        .await
        .unwrap();
    assert!(uptime_text.contains('%'), "{uptime_text}");
    let today = chrono::Utc::now().date_naive().to_string();
    let chart = browser
        .wait_for(
            "the incidents-per-day chart",
            "document.querySelector('#per-day svg')?.getAttribute('aria-label')",
        )
        .await;
    assert!(
        chart.as_str().unwrap().contains(&format!("{today}: 1")),
        "{chart}"
    );
    browser.screenshot("history").await;
    let errors = browser.errors();
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
    server.abort();
}

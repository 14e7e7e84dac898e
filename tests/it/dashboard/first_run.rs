//! A first run as a new user meets it (issue 21): Grace on loopback with no tokens, a heal that
//! happened a few seconds before the page was opened, and a service that is still down. The
//! page must ask for no token, list what happened before it opened, say what was just healed
//! as a page that watched it would, show the probe's own error on the tile, tell the trust
//! trend from the trust now, and show every column of the Monitors table whole at laptop and
//! phone widths. With `auth.mode = "required"` it asks for a token at once.

use serde_json::{json, Value};

use super::{open, TIMEOUT};
use crate::common::browser::Browser;
use crate::common::{free_port, spawn_app, CONFIG_HEAD, TOKENS_HEAD};

/// A database incident pushed and healed by a playbook that restores its trust, a TCP service
/// on a closed port that stays down (no playbook heals it), and one at `up` that answers.
fn first_run_config(up: std::net::SocketAddr) -> String {
    format!(
        r#"{CONFIG_HEAD}
[[monitors]]
id = "cache"
kind = "tcp"
address = "{up}"
interval_ms = 200

[[monitors]]
id = "pg15-main"
kind = "tcp"
address = "127.0.0.1:{closed}"
interval_ms = 200
failures_before_down = 1

[[playbooks]]
id = "db_reconnect"
name = "Reconnect DB"
on = ["db.*"]
sources = ["pushed"]
steps = [{{ kind = "command", argv = ["true"] }}, {{ kind = "restore_trust" }}]
"#,
        closed = free_port()
    )
}

/// Whether the sign-in form takes up any room on the page.
const LOGIN_SHOWN: &str = "document.getElementById('login').getClientRects().length > 0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_opened_after_a_heal_shows_it_the_events_before_it_and_the_probes_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), &first_run_config(up));
    assert_eq!(app.get_ok("/health").await["tokens_required"], false);
    let problem =
        json!({ "type": "db.connection_lost", "source": "orders-db", "severity": "high" });
    assert_eq!(app.post_json("/events", &problem).await.0, 202);
    let healed = app
        .incident_where("the heal", TIMEOUT, |i| {
            i["source"] == "orders-db" && i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook", "{healed}");
    app.incident_where("pg15-main's outage", TIMEOUT, |i| {
        i["source"] == "pg15-main"
    })
    .await;
    let opened_at = app.get_ok("/health").await["last_seq"].as_u64().unwrap();

    let browser = Browser::start("first-run").await;
    browser.viewport(1300, 900, false).await;
    open(&app, &browser).await;

    // No token is needed on loopback: no sign-in box, no "signed in as".
    assert_eq!(browser.eval(LOGIN_SHOWN).await, json!(false));
    assert_eq!(browser.text("#whoami").await.unwrap(), "");

    // What was just healed is said at the top, as on a page that watched it.
    let note = format!("#healed [data-incident=\"{}\"]", healed["id"]);
    let text = browser
        .wait_for(
            "the note of the heal before the page opened",
            &format!(
                "(t => t.includes('trust restored to') && t)\
                 (document.querySelector({})?.innerText || '')",
                json!(note)
            ),
        )
        .await;
    let text = text.as_str().unwrap();
    assert!(
        text.starts_with("✅ Database reconnected on orders-db automatically ("),
        "{text}"
    );

    // The activity lists what happened before the page opened, in words.
    let before = format!(
        "[...document.querySelectorAll('#activity [data-seq]')]\
         .filter(e => Number(e.dataset.seq) <= {opened_at}).map(e => e.dataset.type)"
    );
    let listed = browser
        .wait_for(
            "the events from before the page opened",
            &format!("(types => types.includes('incident.resolved') && types)({before})"),
        )
        .await;
    for kind in ["incident.opened", "playbook.started", "trust.changed"] {
        assert!(
            listed.as_array().unwrap().contains(&json!(kind)),
            "{listed}"
        );
    }
    assert!(browser
        .text("#activity")
        .await
        .unwrap()
        .contains("resolved in"));

    probe_error_on_tile(&app, &browser).await;
    let restored = text.rsplit("trust restored to ").next().unwrap().to_owned();
    trust_then_and_now(&browser, &restored).await;
    browser.screenshot("first-run-1300").await;
    every_column_whole(&browser).await;
    let errors = browser.errors();
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
    server.abort();
}

/// The down service's tile says what its probe said, in the probe's words.
async fn probe_error_on_tile(app: &crate::common::TestApp, browser: &Browser) {
    let monitor = app.get_ok("/monitors/pg15-main").await;
    let error = monitor["last_error"]
        .as_str()
        .expect("a probe error")
        .to_owned();
    let tile = browser
        .wait_for(
            "the probe's error on the tile",
            "[...document.querySelectorAll('#tiles [data-incident]')]\
             .map(t => t.innerText).find(t => t.includes('pg15-main') && t.includes('Last error:'))",
        )
        .await;
    let tile = tile.as_str().unwrap();
    assert!(tile.contains(&format!("Last error: {error}")), "{tile}");
}

/// History's trust trend says it is the trust then, next to the trust now (a monitor's as the
/// Monitors table shows it, another component's as the heal `restored` it); the Monitors
/// table's column says it is the trust now.
async fn trust_then_and_now(browser: &Browser, restored: &str) {
    let summary = browser
        .wait_for(
            "the trust trends",
            "(t => t.includes('pg15-main: trust then') && t.includes('orders-db: trust then') \
             && t.split('opened), now ').length === 3 && t)\
             (document.getElementById('insights-summary').innerText)",
        )
        .await;
    let summary = summary.as_str().unwrap();
    let trend = |component: &str| {
        let start = summary.find(&format!("{component}: trust then")).unwrap();
        summary[start..].split("; ").next().unwrap().to_owned()
    };
    assert!(
        trend("orders-db").ends_with(&format!("(as its last incident opened), now {restored}")),
        "orders-db's trust now is the one its heal restored: {summary}"
    );
    let now = browser
        .text("[data-monitor=\"pg15-main\"] .trust")
        .await
        .unwrap();
    assert!(
        trend("pg15-main").ends_with(&format!("(as its last incident opened), now {now}")),
        "{summary}"
    );
    let header = browser.text("#monitors-section thead").await.unwrap();
    assert!(header.contains("Trust now"), "{header}");
}

/// Cells of the Monitors table cut off, or out of sight of their scroll box, and how far the
/// table overflows that box: `{cut: [...], overflow: px}`.
const CUT_CELLS: &str = "(() => {
  const wrap = document.querySelector('#monitors-section .table-wrap');
  const box = wrap.getBoundingClientRect();
  const cut = [...wrap.querySelectorAll('tbody th, tbody td')].filter((cell) => {
    const text = document.createRange();
    text.selectNodeContents(cell);
    const r = text.getBoundingClientRect();
    return cell.scrollWidth > cell.clientWidth + 1 || r.right > box.right + 0.5 || r.left < box.left - 0.5;
  }).map((cell) => `${cell.dataset.label || 'component'}: ${cell.innerText}`);
  return { cut, overflow: wrap.scrollWidth - wrap.clientWidth };
})()";

/// At a laptop's widths and a phone's, every cell of the Monitors table shows whole.
async fn every_column_whole(browser: &Browser) {
    browser
        .wait_for(
            "the uptime",
            "document.querySelector('[data-monitor=\"pg15-main\"] .uptime')?.innerText.includes('%')",
        )
        .await;
    for (width, mobile) in [(1300, false), (1024, false), (390, true)] {
        browser.viewport(width, 900, mobile).await;
        let measured = browser.eval(CUT_CELLS).await;
        assert_eq!(
            measured,
            json!({ "cut": [], "overflow": 0 }),
            "the Monitors table at {width} px"
        );
        let page: Value = browser
            .eval("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            .await;
        assert_eq!(page, json!(0), "the page is wider than {width} px");
        browser.screenshot(&format!("monitors-{width}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tokens_required_the_page_asks_for_one_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), TOKENS_HEAD);
    assert_eq!(app.get_ok("/health").await["tokens_required"], true);
    let browser = Browser::start("tokens-required").await;
    browser.goto(&app.url("/")).await;
    browser.wait_for("the sign-in box", LOGIN_SHOWN).await;
    assert_eq!(
        browser.text("#login-why").await.unwrap(),
        "This Grace needs a token."
    );
    // It knew from /health: it did not have to be refused first.
    let refused = browser
        .eval(
            "performance.getEntriesByType('resource')\
             .filter(e => !e.name.endsWith('/health') && !e.name.includes('/assets/')).length",
        )
        .await;
    assert_eq!(
        refused,
        json!(0),
        "no request but /health before signing in"
    );
    browser.screenshot("sign-in").await;
    let errors = browser.errors();
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
}

//! The health dashboard in a real headless Chromium: a real PostgreSQL outage seen as a tile in
//! plain words, acknowledged with a click, healed by the playbook live, and left in history;
//! the page resuming after Grace restarts without losing or repeating an event; and the page
//! at phone width, in dark mode, driven by keyboard alone. Screenshots of every state go to
//! `target/dashboard-screenshots/`. A first run as a new user meets it is in `first_run`.

mod first_run;

use std::time::Duration;

use crate::common::browser::Browser;
use crate::common::{eventually, spawn_app, Feed, PgCluster, TestApp, CONFIG_HEAD, TOKENS_HEAD};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(30);

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

async fn open(app: &TestApp, browser: &Browser) {
    browser.goto(&app.url("/")).await;
    browser
        .wait_for(
            "the live feed",
            "document.getElementById('connection').innerText.includes('Live')",
        )
        .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_phone_width_in_dark_mode_a_person_approves_a_suggestion_by_keyboard_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{CONFIG_HEAD}
[[playbooks]]
id = "switch_gateway"
name = "Switch payment gateway"
on = ["payment.*"]
sources = ["monitors", "pushed"]
auto_run_min_trust = 0.9
steps = [{{ kind = "command", argv = ["true"] }}]
"#
    );
    let app = spawn_app(dir.path(), &config);
    let browser = Browser::start("phone").await;
    browser.viewport(390, 844, true).await;
    browser.dark_mode(true).await;
    open(&app, &browser).await;
    let event = json!({
        "type": "payment.gateway_timeout",
        "source": "checkout",
        "severity": "high",
        "title": "Gateway timeouts <script>alert(1)</script>",
    });
    assert_eq!(app.post_json("/events", &event).await.0, 202);
    browser
        .wait_for(
            "the suggestion on the tile",
            "document.querySelector('#tiles [data-incident]')?.innerText.includes('waiting for your approval')",
        )
        .await;
    let text = browser.text("#tiles [data-incident]").await.unwrap();
    assert!(
        text.contains("Suggested: “Switch payment gateway”"),
        "{text}"
    );

    // Readable at phone width in dark mode: nothing wider than the screen, dark background.
    let overflow = browser
        .eval("document.documentElement.scrollWidth - window.innerWidth")
        .await;
    assert_eq!(overflow, json!(0), "the page is wider than a phone");
    let background = browser
        .eval("getComputedStyle(document.body).backgroundColor")
        .await;
    assert_eq!(background, json!("rgb(13, 17, 23)"));
    // Text from events is text, never markup: shown as typed, and no script element added.
    assert!(text.contains("<script>alert(1)</script>"), "{text}");
    let scripts = browser
        .eval("document.querySelectorAll('script').length")
        .await;
    assert_eq!(scripts, json!(1), "only the page's own script");
    browser.screenshot("phone-dark").await;

    // Keyboard only: Tab to the tile's "View details", Enter, Tab to "Approve", Enter.
    tab_to(&browser, "[data-action=\"details\"]").await;
    browser.press("Enter", false).await;
    browser
        .wait_for(
            "the detail pane",
            "!document.getElementById('detail').hidden && document.querySelector('#actions button')",
        )
        .await;
    tab_to(&browser, "[data-action=\"approve-s1\"]").await;
    browser.press("Enter", false).await;
    let result = browser
        .wait_for(
            "the approval's result",
            "document.getElementById('action-result').innerText",
        )
        .await;
    assert!(result.as_str().unwrap().contains("Approved"), "{result}");
    browser
        .wait_for(
            "the approved playbook to heal it",
            "document.querySelectorAll('#tiles [data-incident]').length === 0",
        )
        .await;
    browser.screenshot("phone-dark-approved").await;
    let incident = app.incidents("").await[0].clone();
    assert_eq!(incident["status"], "resolved", "{incident}");
    assert_eq!(incident["suggestions"][0]["status"], "approved");
    let errors = browser.errors();
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
}

/// Presses Tab until the focused element matches `selector` (at most 60 times).
async fn tab_to(browser: &Browser, selector: &str) {
    let check = format!(
        "document.activeElement && document.activeElement.matches({})",
        json!(selector)
    );
    for _ in 0..60 {
        if browser.eval(&check).await == json!(true) {
            return;
        }
        browser.press("Tab", false).await;
    }
    panic!(
        "Tab never reached {selector}; focus is on {}",
        browser.eval("document.activeElement.outerHTML").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_steps_silence_run_a_playbook_and_resolve_with_one_click_each() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{CONFIG_HEAD}
[[monitors]]
id = "nightly-job"
kind = "heartbeat"
grace_ms = 300
interval_ms = 100

[[playbooks]]
id = "rerun_job"
name = "Rerun the job"
on = ["heartbeat.*"]
auto_run_min_trust = 0.99    # never by itself: people run it
steps = [{{ kind = "set_trust", value = 0.9 }}]
"#
    );
    let app = spawn_app(dir.path(), &config);
    let browser = Browser::start("next-steps").await;
    open(&app, &browser).await;
    browser
        .wait_for(
            "the missed check-in's tile",
            "document.querySelector('#tiles [data-incident]')?.innerText.includes('Missed check-in')",
        )
        .await;
    browser
        .click("#tiles [data-incident] [data-action=\"details\"]")
        .await;
    browser
        .wait_for(
            "the next steps",
            "document.querySelector('#actions [data-action=\"silence\"]')",
        )
        .await;

    // Silence: said at once, and the monitors view shows it.
    browser.click("#actions [data-action=\"silence\"]").await;
    browser
        .wait_for(
            "the silence's result",
            "document.getElementById('action-result').innerText.includes('Silenced nightly-job for 30 minutes')",
        )
        .await;
    browser
        .wait_for(
            "the monitor row to say silenced",
            "document.querySelector('[data-monitor=\"nightly-job\"]')?.innerText.includes('silenced')",
        )
        .await;

    // Run a playbook picked by hand: it ends the incident, but the job is still silent, so
    // the same incident is back at once — a relapse, silenced this time, so nothing heals
    // it — and a person resolves it.
    let first = app.incidents("").await[0]["id"].clone();
    browser.click("#actions [data-action=\"run\"]").await;
    let second = browser
        .wait_for(
            "the relapsed, silenced incident's tile",
            "document.querySelector('#tiles [data-incident]')?.innerText.includes('Silenced: no automatic healing') \
             && document.querySelector('#tiles [data-incident]').innerText.includes('back once soon after it was healed') \
             && document.querySelector('#tiles [data-incident]').dataset.incident",
        )
        .await;
    assert_eq!(
        second.as_str().unwrap(),
        first.to_string(),
        "the same incident"
    );
    browser.screenshot("ran-playbook").await;
    browser
        .click("#tiles [data-incident] [data-action=\"details\"]")
        .await;
    browser
        .wait_for(
            "the relapsed incident's next steps",
            &format!(
                "document.getElementById('detail-title').innerText.startsWith('#{}') && \
                 document.querySelector('#actions [data-action=\"resolve\"]')",
                second.as_str().unwrap()
            ),
        )
        .await;
    browser.click("#actions [data-action=\"resolve\"]").await;
    browser
        .wait_for(
            "the manual resolution in history",
            &format!(
                "document.querySelector('#history [data-incident={}]')?.innerText.includes('resolved by a person')",
                json!(second.as_str().unwrap())
            ),
        )
        .await;
    browser.screenshot("resolved-by-hand").await;
    let errors = browser.errors();
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
}

/// A Grace that requires tokens, with a heartbeat that misses its check-in at once.
fn token_config() -> String {
    let monitor = r#"
[[monitors]]
id = "nightly-job"
kind = "heartbeat"
grace_ms = 300
interval_ms = 100
"#;
    format!("{TOKENS_HEAD}{monitor}")
}

/// Signs in on the page's form with `token`, typed as a person would.
async fn sign_in(browser: &Browser, token: &str) {
    browser
        .wait_for(
            "the sign-in form",
            "document.getElementById('login')?.hidden === false",
        )
        .await;
    browser.click("#token").await;
    browser.insert_text(token).await;
    browser.click("#login button[type=submit]").await;
}

/// The actions shown on the first tile, by `data-action`.
const TILE_ACTIONS: &str = "[...document.querySelectorAll('#tiles [data-incident] button')]\
     .filter((b) => !b.hidden).map((b) => b.dataset.action).join(',')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_asks_for_a_token_and_a_read_token_gets_no_action_buttons() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), &token_config());
    let viewer = app.create_token("viewer", "read", &[]);
    let operator = app.create_token("olga", "operate", &[]);
    let browser = Browser::start("tokens").await;
    browser.goto(&app.url("/")).await;
    sign_in(&browser, "grace_not_a_token").await;
    browser
        .wait_for(
            "the refusal",
            "document.getElementById('login-why').innerText.includes('refused')",
        )
        .await;
    browser.screenshot("token-refused").await;

    sign_in(&browser, &viewer).await;
    browser
        .wait_for(
            "the live feed",
            "document.getElementById('connection').innerText.includes('Live')",
        )
        .await;
    browser
        .wait_for(
            "the missed check-in's tile",
            "document.querySelector('#tiles [data-incident]')?.innerText.includes('Missed check-in')",
        )
        .await;
    assert_eq!(browser.eval(TILE_ACTIONS).await, "details");
    browser
        .click("#tiles [data-incident] [data-action=\"details\"]")
        .await;
    browser
        .wait_for(
            "the read-only next steps",
            "document.getElementById('actions').innerText.includes('may only look')",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#actions button').length")
            .await,
        0
    );
    browser.screenshot("read-only").await;
    // The token is kept for this tab only, never where other tabs or a restart find it.
    assert_eq!(
        browser
            .eval("[sessionStorage.getItem('grace.token') !== null, localStorage.length, document.cookie]")
            .await,
        json!([true, 0, ""])
    );

    // Another person signs in with an operate token and acknowledges with one click.
    browser
        .eval("sessionStorage.clear(); location.reload()")
        .await;
    sign_in(&browser, &operator).await;
    browser
        .wait_for(
            "the acknowledge button",
            "document.querySelector('#tiles [data-incident] [data-action=\"acknowledge\"]:not([hidden])')",
        )
        .await;
    browser
        .click("#tiles [data-incident] [data-action=\"acknowledge\"]")
        .await;
    let incident = eventually("the acknowledgement", TIMEOUT, || async {
        let (_, list) = app
            .call("GET", "/monitoring/incidents", Some(&viewer), None)
            .await;
        let first = list["items"][0].clone();
        (first["status"] == "acknowledged").then_some(first)
    })
    .await;
    let path = format!("/monitoring/incidents/{}", incident["id"]);
    let (_, detail) = app.call("GET", &path, Some(&viewer), None).await;
    let by: Vec<&serde_json::Value> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["data"].get("by"))
        .collect();
    assert_eq!(by, [&json!("olga")]);
}

/// Serves one HTML page on 127.0.0.1, another origin than Grace's: the attacker's site.
async fn serve_page(html: String) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sites_page_can_neither_change_nor_read_grace() {
    let dir = tempfile::tempdir().unwrap();
    // No tokens (loopback quick start): browser safety alone must hold.
    let config = format!(
        "{CONFIG_HEAD}\n[[monitors]]\nid = \"nightly-job\"\nkind = \"heartbeat\"\ngrace_ms = 300\ninterval_ms = 100\n"
    );
    let app = spawn_app(dir.path(), &config);
    let incident = app
        .incident_where("the missed check-in", TIMEOUT, |i| i["status"] == "open")
        .await;
    let id = incident["id"].as_u64().unwrap();
    let grace = format!("http://{}", app.addr);
    // Everything a page may do without CORS: a form post (text/plain), a no-cors fetch with
    // a text body, a WebSocket read of the whole history.
    let page = format!(
        r#"<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" enctype="text/plain" target="sink"
      action="{grace}/monitoring/incidents/{id}/resolve">
  <input name='{{"x":"' value='"}}'>
</form>
<script>
window.results = {{ ws: "pending", messages: 0 }};
document.getElementById("f").submit();
fetch("{grace}/monitors/nightly-job/pause", {{ method: "POST", mode: "no-cors",
  headers: {{ "content-type": "text/plain" }}, body: "{{}}" }})
  .then(() => window.results.fetch = "sent", () => window.results.fetch = "failed");
fetch("{grace}/monitoring/incidents/{id}/acknowledge", {{ method: "POST", mode: "no-cors" }})
  .then(() => window.results.bare = "sent", () => window.results.bare = "failed");
const ws = new WebSocket("ws://{addr}/ws?since=0");
ws.onmessage = () => window.results.messages++;
ws.onopen = () => window.results.ws = "open";
ws.onerror = () => window.results.ws = "refused";
</script></body></html>"#,
        addr = app.addr,
    );
    let evil = serve_page(page).await;
    // `rebound.test` resolves to 127.0.0.1, as a rebinding attacker's name would.
    let browser = Browser::start_with(
        "cross-site",
        &["--host-resolver-rules=MAP rebound.test 127.0.0.1"],
    )
    .await;
    browser.goto(&format!("http://{evil}/")).await;
    browser
        .wait_for(
            "every attempt to end",
            "window.results.ws !== 'pending' && window.results.fetch && window.results.bare",
        )
        .await;
    assert_eq!(
        browser
            .eval("[window.results.ws, window.results.messages]")
            .await,
        json!(["refused", 0])
    );

    // A rebinding page: same name and port as Grace in the browser's eyes, so same-origin
    // reads would be allowed — Grace refuses the Host.
    let rebound = format!("http://rebound.test:{}/health", app.addr.port());
    browser.goto(&rebound).await;
    let read = browser
        .eval("fetch('/monitoring/incidents').then((r) => r.status)")
        .await;
    assert_eq!(read, 403);

    crate::common::holds_for("nothing changed", Duration::from_secs(1), || async {
        let incident = app.get_ok(&format!("/monitoring/incidents/{id}")).await;
        let monitor = app.get_ok("/monitors/nightly-job").await;
        incident["status"] == "open" && monitor["paused"] == false
    })
    .await;
    let feed_clients = app.get_ok("/health").await["ws_clients"].clone();
    assert_eq!(feed_clients, 0);
}

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

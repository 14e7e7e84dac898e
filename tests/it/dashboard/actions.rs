//! Acting on an incident from the page: approving a suggestion by keyboard alone at phone width in
//! dark mode, and silencing, running a playbook and resolving with one click each, then a note.

use super::open;
use crate::common::browser::Browser;
use crate::common::{spawn_app, CONFIG_HEAD};
use serde_json::json;

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

    // A note, even on a resolved incident: typed in, on the timeline as written, by whom.
    browser.click("#actions #note-text").await;
    browser
        .insert_text("Restarted the cron daemon by hand")
        .await;
    browser.click("#actions [data-action=\"note\"]").await;
    browser
        .wait_for(
            "the note on the timeline",
            "document.getElementById('timeline').innerText.includes('📝 local: Restarted the cron daemon by hand')",
        )
        .await;
    let errors = browser.errors();
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
}

//! Who may see and act: the page asks for a token and a read token gets no action buttons, and
//! another site's page can neither change nor read Grace.

use std::time::Duration;

use super::TIMEOUT;
use crate::common::browser::Browser;
use crate::common::{eventually, spawn_app, CONFIG_HEAD, TOKENS_HEAD};
use serde_json::json;

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

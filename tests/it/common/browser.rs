//! A real headless Chromium, driven over the Chrome DevTools Protocol (a WebSocket speaking
//! JSON): open a page, read the DOM, click with real mouse events, type real keys, emulate a
//! phone or dark mode, take screenshots, and collect every console error and uncaught
//! exception the page produced.
//!
//! Chromium comes from the system (`apt-get install -y chromium chromium-driver`); a missing
//! one fails the test with that command, it is never skipped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

/// How long Chromium may take to start and print its DevTools address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one DevTools command may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;
type Sink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// Chromium's process, killed (and reaped) when dropped — also when starting it fails halfway.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Browser {
    _process: Process,
    _profile: TempDir,
    sink: tokio::sync::Mutex<Sink>,
    next_id: AtomicU64,
    pending: Pending,
    /// Console errors, uncaught exceptions and error log entries, as text.
    errors: Arc<Mutex<Vec<String>>>,
    shots: PathBuf,
    shot_count: AtomicU64,
}

fn chromium_binary() -> String {
    for candidate in ["chromium", "chromium-browser", "google-chrome"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {candidate}")])
            .output()
            .is_ok_and(|output| output.status.success());
        if found {
            return candidate.to_owned();
        }
    }
    panic!(
        "no Chromium found: the dashboard tests need a real browser. Install it with \
         `apt-get install -y chromium chromium-driver` (.ci/test does this)"
    );
}

impl Browser {
    /// Starts a headless Chromium with a fresh profile; screenshots go to
    /// `target/dashboard-screenshots/<name>/`.
    pub async fn start(name: &str) -> Self {
        Self::start_with(name, &[]).await
    }

    /// [`start`](Self::start) with more Chromium switches (`--host-resolver-rules=…`).
    pub async fn start_with(name: &str, extra_args: &[&str]) -> Self {
        let profile = tempfile::Builder::new()
            .prefix("grace-chromium-")
            .tempdir()
            .expect("profile dir");
        let child = Command::new(chromium_binary())
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .args(extra_args)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let mut process = Process(child);
        let stderr = process.0.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let browser_url = rx.recv_timeout(START_TIMEOUT).unwrap_or_else(|_| {
            panic!("Chromium did not print its DevTools address within {START_TIMEOUT:?}")
        });
        // ws://127.0.0.1:PORT/devtools/browser/ID → the page target's own socket.
        let host = browser_url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("host:port")
            .to_owned();
        let page_url = super::eventually("Chromium's page target", START_TIMEOUT, || {
            let host = host.clone();
            async move {
                let targets: Value = reqwest::get(format!("http://{host}/json/list"))
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                targets.as_array()?.iter().find_map(|t| {
                    (t["type"] == "page")
                        .then(|| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
                        .flatten()
                })
            }
        })
        .await;
        let (socket, _) = tokio_tungstenite::connect_async(&page_url)
            .await
            .expect("connect to the page's DevTools socket");
        let (sink, mut stream) = socket.split();
        let pending: Pending = Arc::default();
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let (reader_pending, reader_errors) = (pending.clone(), errors.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if let Some(id) = value["id"].as_u64() {
                    if let Some(reply) = reader_pending.lock().unwrap().remove(&id) {
                        let _ = reply.send(value);
                    }
                    continue;
                }
                let params = &value["params"];
                let error = match value["method"].as_str() {
                    Some("Runtime.exceptionThrown") => Some(format!(
                        "exception: {}",
                        params["exceptionDetails"]["exception"]["description"]
                            .as_str()
                            .or(params["exceptionDetails"]["text"].as_str())
                            .unwrap_or_default()
                    )),
                    Some("Runtime.consoleAPICalled") if params["type"] == "error" => Some(format!(
                        "console.error: {}",
                        params["args"]
                            .as_array()
                            .map(|args| args
                                .iter()
                                .map(|a| {
                                    a["value"]
                                        .as_str()
                                        .map(str::to_owned)
                                        .or(a["description"].as_str().map(str::to_owned))
                                        .unwrap_or_else(|| a["value"].to_string())
                                })
                                .collect::<Vec<_>>()
                                .join(" "))
                            .unwrap_or_default()
                    )),
                    Some("Log.entryAdded") if params["entry"]["level"] == "error" => Some(format!(
                        "log ({}): {} {}",
                        params["entry"]["source"].as_str().unwrap_or_default(),
                        params["entry"]["text"].as_str().unwrap_or_default(),
                        params["entry"]["url"].as_str().unwrap_or_default()
                    )),
                    _ => None,
                };
                if let Some(error) = error {
                    reader_errors.lock().unwrap().push(error);
                }
            }
            // Chromium is gone: calls still waiting fail now instead of timing out.
            reader_pending.lock().unwrap().clear();
        });
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("dashboard-screenshots")
            .join(name);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        let browser = Self {
            _process: process,
            _profile: profile,
            sink: tokio::sync::Mutex::new(sink),
            next_id: AtomicU64::new(1),
            pending,
            errors,
            shots,
            shot_count: AtomicU64::new(0),
        };
        for domain in [
            "Runtime.enable",
            "Log.enable",
            "Page.enable",
            "Network.enable",
        ] {
            browser.call(domain, json!({})).await;
        }
        browser
    }

    /// Sends one DevTools command and returns its result; panics on a protocol error.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.sink
            .lock()
            .await
            .send(Message::Text(message.into()))
            .await
            .expect("send to Chromium");
        let reply = tokio::time::timeout(CALL_TIMEOUT, rx)
            .await
            .unwrap_or_else(|_| panic!("{method} got no answer within {CALL_TIMEOUT:?}"))
            .expect("Chromium went away");
        assert!(reply["error"].is_null(), "{method} failed: {reply}");
        reply["result"].clone()
    }

    /// Opens `url` and waits until that page (not the one before it) has loaded.
    pub async fn goto(&self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
        let loaded = format!(
            "location.href === {} && document.readyState === 'complete'",
            json!(url)
        );
        self.wait_for("the page to load", &loaded).await;
    }

    /// Makes requests to URLs matching any of `patterns` (`*` wildcards) fail, as if the
    /// server were unreachable; an empty list lets everything through again.
    pub async fn block_urls(&self, patterns: &[&str]) {
        self.call("Network.setBlockedURLs", json!({ "urls": patterns }))
            .await;
    }

    /// Evaluates `expression` in the page and returns its value (promises awaited).
    pub async fn eval(&self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression} threw: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is truthy; returns its value.
    pub async fn wait_for(&self, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let value = self.eval(expression).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!("")
                && value != json!(0);
            if truthy {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} ({expression}); page says: {}",
                self.eval("document.body.innerText").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the first element matching `selector`, or None.
    pub async fn text(&self, selector: &str) -> Option<String> {
        let expression = format!(
            "(() => {{ const e = document.querySelector({}); return e ? e.innerText : null; }})()",
            json!(selector)
        );
        self.eval(&expression).await.as_str().map(str::to_owned)
    }

    /// Clicks the middle of the first element matching `selector` with real mouse events.
    pub async fn click(&self, selector: &str) {
        let expression = format!(
            "(() => {{ const e = document.querySelector({}); \
             if (!e || !e.getClientRects().length) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
            json!(selector)
        );
        let point = self.eval(&expression).await;
        let (x, y) = (
            point[0]
                .as_f64()
                .unwrap_or_else(|| panic!("nothing visible to click at {selector}")),
            point[1].as_f64().unwrap(),
        );
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )
            .await;
        }
    }

    /// Types `text` into the focused element, as an input method would.
    pub async fn insert_text(&self, text: &str) {
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// Presses a key (`Tab`, `Enter`, ` `) as a real keyboard event, with Shift when asked.
    pub async fn press(&self, key: &str, shift: bool) {
        let (code, key_code, text) = match key {
            "Tab" => ("Tab", 9, ""),
            "Enter" => ("Enter", 13, "\r"),
            " " => ("Space", 32, " "),
            other => panic!("no key mapping for {other:?}"),
        };
        let modifiers = if shift { 8 } else { 0 };
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": key_code,
                    "text": text, "modifiers": modifiers }),
        )
        .await;
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": key_code,
                    "modifiers": modifiers }),
        )
        .await;
    }

    /// Emulates a screen `width` CSS pixels wide (a phone when `mobile`).
    pub async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
    }

    /// Emulates the system asking for dark (or light) colours.
    pub async fn dark_mode(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.call(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": value }] }),
        )
        .await;
    }

    /// Saves a PNG of the whole page as `NN-<name>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true }),
            )
            .await;
        let png = decode_base64(shot["data"].as_str().expect("screenshot data"));
        let n = self.shot_count.fetch_add(1, Ordering::Relaxed) + 1;
        let path = self.shots.join(format!("{n:02}-{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Everything the page reported as an error so far.
    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }
}

/// Standard base64 (what DevTools sends screenshots in) to bytes.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        other => panic!("not base64: {other}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}

//! Events pushed in: `POST /events` from instrumented apps, and Prometheus Alertmanager's
//! webhook, driven by a real `prometheus-alertmanager` process on 127.0.0.1.
//!
//! By concept: events pushed to `POST /events` (`events`), Alertmanager's webhook
//! (`alertmanager`), and bursts and many incidents (`volume`).

mod alertmanager;
mod events;
mod volume;

use std::path::Path;
use std::time::Duration;

use crate::common::{spawn_app, TestApp};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(20);

fn app_with(dir: &Path, extra: &str) -> TestApp {
    let config = format!("[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n{extra}");
    spawn_app(dir, &config)
}

fn timeout_event() -> Value {
    json!({
        "type": "payment.gateway_timeout",
        "source": "checkout",
        "severity": "high",
        "title": "Payment gateway timing out",
        "payload": { "gateway": "acme", "elapsed_ms": 5012 }
    })
}

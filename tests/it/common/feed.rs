//! A WebSocket client on `/ws` that collects every event in the background.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::{eventually, TestApp};

/// A WebSocket client on `/ws` that collects every event in the background.
pub struct Feed {
    pub events: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Feed {
    pub async fn connect(app: &TestApp, query: &str) -> Self {
        let url = format!("ws://{}/ws{query}", app.addr);
        let (mut socket, _) = tokio_tungstenite::connect_async(&url)
            .await
            .unwrap_or_else(|error| panic!("cannot open {url}: {error}"));
        let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = events.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    let event: Value = serde_json::from_str(&text).expect("event is JSON");
                    sink.lock().unwrap().push(event);
                }
            }
        });
        Self { events, task }
    }

    pub fn snapshot(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    pub fn seqs(&self) -> Vec<u64> {
        self.snapshot()
            .iter()
            .map(|event| event["seq"].as_u64().expect("seq"))
            .collect()
    }

    pub fn types(&self) -> Vec<String> {
        self.snapshot()
            .iter()
            .map(|event| event["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until an event of `event_type` has arrived, and returns it.
    pub async fn wait_for(&self, event_type: &str, timeout: Duration) -> Value {
        eventually(
            &format!("a {event_type} event on the feed"),
            timeout,
            || async {
                self.snapshot()
                    .into_iter()
                    .find(|event| event["type"] == event_type)
            },
        )
        .await
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

//! The background task that sends what the app reported. Reporting only appends to a bounded
//! queue (the oldest dropped past `queue_max`, and counted), so the app never waits on Grace;
//! this task takes up to `batch_max` events at a time to `POST /events` (a heartbeat on its
//! own), and retries a batch until Grace takes or refuses it: with backoff while Grace cannot
//! be reached, and after exactly as long as Grace's `Retry-After` says when it answers 503 or
//! 429 — a Grace under an event storm is not hammered by its own clients.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::event::Event;

/// Waits before the retries of a batch Grace could not be reached for; the last repeats.
const BACKOFF_MS: [u64; 7] = [250, 500, 1_000, 2_000, 5_000, 10_000, 30_000];
/// Longest `Retry-After` honoured: a larger one is taken as this.
const RETRY_AFTER_MAX_S: u64 = 300;

/// One thing to send.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    Event(Event),
    Heartbeat(String),
}

/// What the client and its sender task share.
pub(crate) struct Shared {
    pub(crate) queue: Mutex<VecDeque<Item>>,
    pub(crate) queue_max: usize,
    pub(crate) batch_max: usize,
    /// Items taken from the queue and not yet sent or given up.
    pub(crate) in_flight: AtomicUsize,
    pub(crate) closed: AtomicBool,
    /// Wakes the sender (something queued, or closing).
    pub(crate) wake: Notify,
    /// Wakes `flush` (a batch done).
    pub(crate) done: Notify,
    pub(crate) sent: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) retries: AtomicU64,
}

impl Shared {
    pub(crate) fn new(queue_max: usize, batch_max: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            queue_max,
            batch_max,
            in_flight: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            wake: Notify::new(),
            done: Notify::new(),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        }
    }

    /// Queues `item`, dropping the oldest when full; never waits.
    pub(crate) fn enqueue(&self, item: Item) {
        let mut queue = self.queue.lock().expect("queue poisoned");
        if queue.len() >= self.queue_max {
            queue.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queue.push_back(item);
        drop(queue);
        self.wake.notify_one();
    }

    /// Whether everything queued has been sent or given up.
    pub(crate) fn is_idle(&self) -> bool {
        self.queue.lock().expect("queue poisoned").is_empty()
            && self.in_flight.load(Ordering::Acquire) == 0
    }

    /// The next batch: a heartbeat alone, or up to `batch_max` events.
    fn take_batch(&self) -> Vec<Item> {
        let mut queue = self.queue.lock().expect("queue poisoned");
        let mut batch = Vec::new();
        if let Some(Item::Heartbeat(_)) = queue.front() {
            batch.extend(queue.pop_front());
        } else {
            while batch.len() < self.batch_max && matches!(queue.front(), Some(Item::Event(_))) {
                batch.extend(queue.pop_front());
            }
        }
        self.in_flight.store(batch.len(), Ordering::Release);
        batch
    }
}

/// Where and how to send.
pub(crate) struct Target {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
    pub(crate) token: Option<String>,
}

/// Sends until the client is dropped and the queue is empty (or Grace stays away).
pub(crate) async fn run(shared: Arc<Shared>, target: Target) {
    loop {
        let batch = shared.take_batch();
        if batch.is_empty() {
            if shared.closed.load(Ordering::Acquire) {
                return;
            }
            shared.wake.notified().await;
            continue;
        }
        deliver(&shared, &target, &batch).await;
        shared.in_flight.store(0, Ordering::Release);
        shared.done.notify_waiters();
    }
}

/// Sends one batch until Grace takes or refuses it, or the client is gone and it failed once.
async fn deliver(shared: &Shared, target: &Target, batch: &[Item]) {
    let count = batch.len() as u64;
    for attempt in 0usize.. {
        match post(target, batch).await {
            Outcome::Taken => {
                shared.sent.fetch_add(count, Ordering::Relaxed);
                return;
            }
            Outcome::Refused(status) => {
                tracing::warn!(status, "Grace refused a report; dropped");
                shared.refused.fetch_add(count, Ordering::Relaxed);
                return;
            }
            Outcome::Later(retry_after) => {
                if shared.closed.load(Ordering::Acquire) {
                    shared.dropped.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                shared.retries.fetch_add(1, Ordering::Relaxed);
                let backoff = BACKOFF_MS[attempt.min(BACKOFF_MS.len() - 1)];
                let wait = retry_after.unwrap_or(Duration::from_millis(backoff));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shared.wake.notified(), if shared.closed.load(Ordering::Acquire) => {}
                }
            }
        }
    }
}

enum Outcome {
    Taken,
    /// A 4xx other than 429: sending it again would not help.
    Refused(u16),
    /// Not now: Grace is away, failing or busy (with its `Retry-After`, if it said).
    Later(Option<Duration>),
}

async fn post(target: &Target, batch: &[Item]) -> Outcome {
    let request = match &batch[0] {
        Item::Heartbeat(id) => {
            let url = format!("{}/heartbeats/{}", target.url, encode(id));
            target.http.post(url).json(&serde_json::json!({}))
        }
        Item::Event(_) => {
            let events: Vec<&Event> = batch
                .iter()
                .filter_map(|item| match item {
                    Item::Event(event) => Some(event),
                    Item::Heartbeat(_) => None,
                })
                .collect();
            target
                .http
                .post(format!("{}/events", target.url))
                .json(&events)
        }
    };
    let request = match &target.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let Ok(response) = request.send().await else {
        return Outcome::Later(None);
    };
    let status = response.status().as_u16();
    match status {
        200..=299 => Outcome::Taken,
        429 | 503 => Outcome::Later(retry_after(&response)),
        400..=499 => Outcome::Refused(status),
        _ => Outcome::Later(None),
    }
}

/// Grace's `Retry-After`, in seconds, bounded.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.min(RETRY_AFTER_MAX_S)))
}

/// A monitor id as one path segment.
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_its_oldest_and_a_heartbeat_goes_alone() {
        let shared = Shared::new(2, 10);
        shared.enqueue(Item::Event(Event::new("a.b", "x")));
        shared.enqueue(Item::Heartbeat("nightly".into()));
        shared.enqueue(Item::Event(Event::new("c.d", "y")));
        assert_eq!(shared.dropped.load(Ordering::Relaxed), 1);
        let batch = shared.take_batch();
        assert!(matches!(&batch[..], [Item::Heartbeat(id)] if id == "nightly"));
        assert_eq!(shared.in_flight.load(Ordering::Relaxed), 1);
        assert!(matches!(&shared.take_batch()[..], [Item::Event(e)] if e.source == "y"));
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}

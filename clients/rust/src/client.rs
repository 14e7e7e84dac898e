//! The client: one Grace server, as seen by one app. Reporting never blocks and never fails
//! (see `sender`); `monitored` wraps a call to a dependency and reports what became of it.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::event::{Event, Kind, FAILED, RECOVERED, SLOW};
use crate::feed::{FeedConfig, Subscription};
use crate::sender::{self, Item, Shared, Target};

/// Longest source Grace takes, in bytes.
const SOURCE_LEN_MAX: usize = 128;

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("url must start with http:// or https://, got {0:?}")]
    Url(String),
    #[error("the CA certificate is not PEM: {0}")]
    Ca(String),
    #[error("no Tokio runtime to run the sender on: build the client inside one")]
    NoRuntime,
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// How reporting went so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Events and heartbeats Grace took.
    pub sent: u64,
    /// Dropped: the queue was full (the oldest go), or the client was dropped with them unsent.
    pub dropped: u64,
    /// Refused by Grace (a 4xx other than 429): a report Grace will never take.
    pub refused: u64,
    /// Batches sent again (Grace away, failing or busy).
    pub retries: u64,
}

/// Settings of a [`Client`].
pub struct Builder {
    url: String,
    token: Option<String>,
    app: Option<String>,
    queue_max: usize,
    batch_max: usize,
    timeout: Duration,
    ca_pem: Option<Vec<u8>>,
}

impl Builder {
    /// A token with the `ingest` role (`read` for the feed). Default: `$GRACE_TOKEN`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The app's name: dependency `name` is reported under source `<app>/<name>`. Default: the
    /// program's file name.
    pub fn app(mut self, app: impl Into<String>) -> Self {
        self.app = Some(app.into());
        self
    }

    /// Most reports waiting to be sent (10,000); past it the oldest are dropped.
    pub fn queue_max(mut self, queue_max: usize) -> Self {
        self.queue_max = queue_max.max(1);
        self
    }

    /// Most events in one request (100; Grace takes up to 1,000).
    pub fn batch_max(mut self, batch_max: usize) -> Self {
        self.batch_max = batch_max.clamp(1, 1_000);
        self
    }

    /// Longest wait for one request to Grace (5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A CA certificate (PEM) Grace's own certificate is signed by, besides the system's.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// The client, its sender started on the current Tokio runtime.
    pub fn build(self) -> Result<Client, BuildError> {
        let url = self.url.trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(BuildError::Url(url));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
        let mut http = reqwest::Client::builder().timeout(self.timeout);
        if let Some(pem) = &self.ca_pem {
            let ca =
                reqwest::Certificate::from_pem(pem).map_err(|e| BuildError::Ca(e.to_string()))?;
            http = http.add_root_certificate(ca);
        }
        let token = self.token.or_else(|| std::env::var("GRACE_TOKEN").ok());
        let shared = Arc::new(Shared::new(self.queue_max, self.batch_max));
        let target = Target {
            http: http.build()?,
            url: url.clone(),
            token: token.clone(),
        };
        runtime.spawn(sender::run(Arc::clone(&shared), target));
        let feed = FeedConfig {
            url,
            token,
            ca_pem: self.ca_pem,
        };
        let app = self.app.unwrap_or_else(program_name);
        Ok(Client {
            inner: Arc::new(Inner {
                shared,
                app,
                feed,
                state: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// What Grace has been told of a dependency, so only news is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    Failed,
    Slow,
}

struct Inner {
    shared: Arc<Shared>,
    app: String,
    feed: FeedConfig,
    state: Mutex<HashMap<String, Told>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

/// A handle on Grace for one app; cheap to clone (clones share the queue).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// A client of the Grace at `url` (`http://127.0.0.1:7878`), with the defaults.
    pub fn new(url: impl Into<String>) -> Result<Self, BuildError> {
        Self::builder(url).build()
    }

    pub fn builder(url: impl Into<String>) -> Builder {
        Builder {
            url: url.into(),
            token: None,
            app: None,
            queue_max: 10_000,
            batch_max: 100,
            timeout: Duration::from_secs(5),
            ca_pem: None,
        }
    }

    /// Queues `event` for `POST /events`; returns at once.
    pub fn push(&self, event: Event) {
        self.inner.shared.enqueue(Item::Event(event));
    }

    /// Queues a heartbeat for Grace's heartbeat monitor `monitor_id`; returns at once.
    pub fn heartbeat(&self, monitor_id: impl Into<String>) {
        self.inner
            .shared
            .enqueue(Item::Heartbeat(monitor_id.into()));
    }

    /// Runs `call`, a call to dependency `name`, and returns its result. An `Err` is reported
    /// as `name` failing (with the error and the latency); the first `Ok` after a failure as
    /// it having recovered.
    pub async fn monitored<T, E: Display>(
        &self,
        name: &str,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.monitored_within(name, None, call).await
    }

    /// [`monitored`](Self::monitored), and an `Ok` slower than `slow` is reported as `name`
    /// being slow.
    pub async fn monitored_within<T, E: Display>(
        &self,
        name: &str,
        slow: Option<Duration>,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let started = Instant::now();
        let result = call.await;
        let latency = started.elapsed();
        match &result {
            Err(error) => self.report_failure(name, error, latency),
            Ok(_) => self.report_success(name, latency, slow),
        }
        result
    }

    /// Tells Grace dependency `name` failed with `error`.
    pub fn report_failure(&self, name: &str, error: &dyn Display, latency: Duration) {
        self.told(name, Some(Told::Failed));
        let app = &self.inner.app;
        let event = Event::new(FAILED, self.source_of(name))
            .kind(Kind::Problem)
            .severity("high")
            .title(format!("{name} failing for {app}"))
            .payload(json!({
                "app": app, "dependency": name, "error": error.to_string(),
                "latency_ms": millis(latency),
            }));
        self.push(event);
    }

    /// Tells Grace a call to `name` went well, or was slower than `slow`, when that is news.
    pub fn report_success(&self, name: &str, latency: Duration, slow: Option<Duration>) {
        let app = &self.inner.app;
        let payload = json!({ "app": app, "dependency": name, "latency_ms": millis(latency) });
        if slow.is_some_and(|slow| latency > slow) {
            if self.told(name, Some(Told::Slow)) != Some(Told::Slow) {
                let event = Event::new(SLOW, self.source_of(name))
                    .kind(Kind::Problem)
                    .severity("medium")
                    .title(format!("{name} slow for {app}"))
                    .payload(payload);
                self.push(event);
            }
        } else if self.told(name, None).is_some() {
            let event = Event::new(RECOVERED, self.source_of(name))
                .kind(Kind::Recovery)
                .payload(payload);
            self.push(event);
        }
    }

    /// Records what Grace is told of `name` now; what it had been told before.
    fn told(&self, name: &str, now: Option<Told>) -> Option<Told> {
        let mut state = self.inner.state.lock().expect("state poisoned");
        match now {
            Some(told) => state.insert(name.to_owned(), told),
            None => state.remove(name),
        }
    }

    /// The source dependency `name` is reported under: `<app>/<name>`, so two apps using one
    /// database are two incidents, and no report passes for one of Grace's own monitors.
    pub fn source_of(&self, name: &str) -> String {
        let mut source = format!("{}/{name}", self.inner.app);
        let mut end = source.len().min(SOURCE_LEN_MAX);
        while !source.is_char_boundary(end) {
            end -= 1;
        }
        source.truncate(end);
        source
    }

    /// Waits until everything reported so far was sent or given up; whether it was in time.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.inner.shared.is_idle() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    pub fn stats(&self) -> Stats {
        let shared = &self.inner.shared;
        Stats {
            sent: shared.sent.load(Ordering::Relaxed),
            dropped: shared.dropped.load(Ordering::Relaxed),
            refused: shared.refused.load(Ordering::Relaxed),
            retries: shared.retries.load(Ordering::Relaxed),
        }
    }

    /// Grace's live feed: events whose type matches one of `patterns` (`incident.*`), from
    /// after `since` (or from now). It reconnects by itself and resumes after the last `seq`
    /// it gave, so nothing is missed and nothing comes twice.
    pub fn subscribe(&self, patterns: &[&str], since: Option<u64>) -> Subscription {
        Subscription::new(self.inner.feed.clone(), patterns, since)
    }
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 10_000.0).round() / 10.0
}

fn program_name() -> String {
    std::env::args()
        .next()
        .and_then(|path| {
            std::path::Path::new(&path)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "app".to_owned())
}

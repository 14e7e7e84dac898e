//! `grace-client`: report what an app sees of the things it depends on to Grace, and follow
//! Grace's live feed, without hand-writing HTTP.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let grace = grace_client::Client::builder("http://127.0.0.1:7878").app("checkout").build()?;
//! // A failure (the future's `Err`) is reported as `orders-db` failing, with the latency; the
//! // first success after it as a recovery. The result is the future's own.
//! let rows = grace.monitored("orders-db", async { Ok::<_, std::io::Error>(42) }).await?;
//! grace.heartbeat("nightly-backup");
//! let mut feed = grace.subscribe(&["incident.*"], None);
//! while let Ok(event) = feed.next().await {
//!     println!("{} {}", event.seq, event.event_type);
//! }
//! # Ok(()) }
//! ```
//!
//! - `client`: the [`Client`] and its [`Builder`]: reporting, never blocking the app.
//! - `sender`: the background task that sends what was reported, in batches, retrying while
//!   Grace is away and waiting as long as Grace says (`Retry-After`) while it is busy.
//! - `event`: what is reported ([`Event`]) and the names Grace gives it.
//! - `feed`: [`Subscription`], the typed live feed that resumes by `seq` when it reconnects.

mod client;
mod event;
mod feed;
mod sender;

pub use client::{BuildError, Builder, Client, Stats};
pub use event::{Event, Kind, FAILED, RECOVERED, SLOW};
pub use feed::{FeedError, FeedEvent, Subscription};

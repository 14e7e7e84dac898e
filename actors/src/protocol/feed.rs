//! What the feed hub takes: committed events to fan out, and subscriptions.

use std::sync::Arc;

use ractor::RpcReplyPort;
use tokio::sync::mpsc;

use crate::event::{Event, Pattern};

pub enum FeedMsg {
    /// A persisted event to fan out.
    Push(Arc<Event>),
    /// The store actor stopped handing events over at `from_seq`, `limits.feed_lag_max` being
    /// in flight: every subscriber is cut off here and resumes from the log.
    Lagged { from_seq: u64 },
    /// Subscribe to events matching any of the patterns (all events when empty).
    Subscribe(Vec<Pattern>, RpcReplyPort<mpsc::Receiver<Arc<Event>>>),
}

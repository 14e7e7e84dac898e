//! Waiting without sleeping to synchronise: poll a condition until a deadline ([`eventually`])
//! or for a whole period ([`holds_for`]), failing with what was waited for.

use std::future::Future;
use std::time::{Duration, Instant};

/// Checks that `what` stays true for all of `period` (polling), for things that must *not*
/// happen: a second work order, a run on an incident that was not selected.
pub async fn holds_for<F, Fut>(what: &str, period: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = Instant::now() + period;
    while Instant::now() < end {
        assert!(check().await, "{what} stopped holding");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `check` until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

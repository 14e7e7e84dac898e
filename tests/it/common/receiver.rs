//! A webhook receiver on 127.0.0.1 that keeps what it was sent.

/// A webhook receiver on 127.0.0.1: answers 500 to the first `fail_first` posts, then 200, and
/// keeps every body it was sent, by path.
pub async fn receiver(
    fail_first: usize,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
) {
    receiver_on(0, fail_first).await
}

/// [`receiver`] on a given port of 127.0.0.1 (0: any free one).
pub async fn receiver_on(
    port: u16,
    fail_first: usize,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
) {
    use std::sync::{Arc, Mutex};
    use warp::Filter;
    let seen: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
    let log = seen.clone();
    let route = warp::post()
        .and(warp::path::full())
        .and(warp::body::json())
        .map(move |path: warp::path::FullPath, body: serde_json::Value| {
            let mut log = log.lock().unwrap();
            log.push((path.as_str().to_owned(), body));
            let failing = log.iter().filter(|(p, _)| p == path.as_str()).count() <= fail_first;
            let status = if failing {
                warp::http::StatusCode::INTERNAL_SERVER_ERROR
            } else {
                warp::http::StatusCode::OK
            };
            warp::reply::with_status("", status)
        });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (addr, seen)
}

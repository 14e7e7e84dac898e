//! Who a standby node is and who leads, as last read; and what it answers when its serving
//! tree cannot run (its store would not start it): `/health` says it stands by and who leads
//! (503), and every other path is 503 naming the leader's url, with `Retry-After`. Otherwise
//! a standby serves every route itself or forwards it to the leader (`forward.rs`).

use std::sync::{Arc, Mutex};

use serde_json::json;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

/// Who this node is, and the leader as last read.
#[derive(Debug)]
pub struct Standby {
    pub node_id: String,
    /// The leader's node id and url, once known.
    pub leader: Mutex<Option<(String, String)>>,
}

impl Standby {
    pub fn new(node_id: String) -> Arc<Self> {
        Arc::new(Self {
            node_id,
            leader: Mutex::new(None),
        })
    }

    /// The leader's node id and url, once known.
    pub fn leader(&self) -> Option<(String, String)> {
        self.leader.lock().expect("standby poisoned").clone()
    }

    fn leader_json(&self) -> serde_json::Value {
        match &*self.leader.lock().expect("standby poisoned") {
            Some((node_id, url)) => json!({ "node_id": node_id, "url": url }),
            None => json!(null),
        }
    }
}

/// The routes of a standby that cannot serve: `GET /health`, and 503 for everything else.
pub fn unserved(standby: Arc<Standby>) -> BoxedFilter<(Response,)> {
    let health = {
        let standby = standby.clone();
        warp::path!("health").and(warp::get()).map(move || {
            let body = json!({
                "status": "standby",
                "node_id": standby.node_id,
                "leader": standby.leader_json(),
            });
            unavailable(body)
        })
    };
    let rest = warp::any().map(move || {
        let leader = standby.leader_json();
        let message = match leader["url"].as_str() {
            Some(url) => format!(
                "node {} stands by; node {} runs the engines: ask {url}",
                standby.node_id, leader["node_id"]
            ),
            None => format!("node {} stands by; no node leads yet", standby.node_id),
        };
        unavailable(json!({ "error": "standby", "message": message, "leader": leader }))
    });
    health.or(rest).unify().boxed()
}

fn unavailable(body: serde_json::Value) -> Response {
    let reply = warp::reply::with_status(warp::reply::json(&body), StatusCode::SERVICE_UNAVAILABLE);
    warp::reply::with_header(reply, "retry-after", "1").into_response()
}

//! Outages that do not stay healed: one back soon after it healed reopens its incident and then
//! goes to people; a service that swings between up and down is one flapping incident until it is
//! steady, with flapping on by default.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{app_with, pong_server, tcp_monitor, TIMEOUT};
use crate::common::{holds_for, Feed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_back_soon_after_it_healed_reopens_its_incident_then_goes_to_people() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let mut server = Some(pong_server(listener).await);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[incidents]\nrelapses_max = 1\n{}",
        tcp_monitor("cache", &address, "")
    );
    let app = app_with(dir.path(), &config);
    app.monitor_state("cache", "up", TIMEOUT).await;

    // Down, back by itself, down again: one incident, reopened.
    let mut id = None;
    for relapses in 0..=2u64 {
        let stopping = server.take().expect("serving");
        stopping.abort();
        let _ = stopping.await;
        let incident = app
            .incident_where(&format!("round {relapses}"), TIMEOUT, |i| {
                i["source"] == "cache" && i["status"] != "resolved" && i["relapses"] == relapses
            })
            .await;
        assert_eq!(
            *id.get_or_insert(incident["id"].clone()),
            incident["id"],
            "{incident}"
        );
        if relapses < 2 {
            server = Some(pong_server(TcpListener::bind(&address).await.unwrap()).await);
            app.incident_where("the heal", TIMEOUT, |i| {
                i["id"] == incident["id"] && i["status"] == "resolved"
            })
            .await;
        }
    }
    // The second relapse is past relapses_max: a work order, not another round of healing.
    let escalated = app
        .incident_where("the escalation", TIMEOUT, |i| i["status"] == "escalated")
        .await;
    assert_eq!(escalated["id"], id.clone().unwrap());
    let work_orders = app.get_ok("/work-orders").await;
    assert_eq!(
        work_orders["items"][0]["reason"], "relapsing",
        "{work_orders}"
    );
    let detail = app
        .get_ok(&format!("/monitoring/incidents/{}", id.unwrap()))
        .await;
    let reopened = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "incident.reopened")
        .count();
    assert_eq!(reopened, 2, "{detail}");
    assert_eq!(app.incidents("").await.len(), 1, "one incident in all");
}

/// A line server that answers `+PONG` on every other connection and `-ERR busy` on the rest,
/// until `steady` is set; then always `+PONG`. Returns its address.
async fn swinging_server(steady: Arc<AtomicBool>) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let mut nth = 0u64;
        while let Ok((mut stream, _)) = listener.accept().await {
            nth += 1;
            let good = steady.load(Ordering::SeqCst) || nth.is_multiple_of(2);
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                if let Ok(n) = stream.read(&mut buf).await {
                    if n > 0 {
                        let answer: &[u8] = if good { b"+PONG\r\n" } else { b"-ERR busy\r\n" };
                        let _ = stream.write_all(answer).await;
                    }
                }
            });
        }
    });
    (address, server)
}

/// A service that answers well on every other connection: without a flap window it would
/// never be an incident (it never fails twice in a row); with one, it is one incident that
/// says "flapping", however long it swings, and it resolves once the service is steady.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_service_is_one_flapping_incident_until_it_is_steady() {
    let steady = Arc::new(AtomicBool::new(false));
    let (address, server) = swinging_server(steady.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "send = \"PING\\r\\n\"\nexpect = \"PONG\"\nflap_window = 10\nflap_threshold = 6";
    let app = app_with(dir.path(), &tcp_monitor("queue", &address, extra));
    let incident = app
        .incident_where("the flapping incident", TIMEOUT, |i| i["status"] == "open")
        .await;
    assert_eq!(incident["event_type"], "monitor.flapping", "{incident}");
    assert_eq!(incident["source"], "queue");
    let timeline = app
        .get_ok(&format!("/monitoring/incidents/{}", incident["id"]))
        .await["timeline"]
        .clone();
    let ratio = timeline[0]["data"]["failure_ratio"].as_f64().unwrap();
    assert!((0.3..=0.7).contains(&ratio), "{timeline}");
    // It keeps swinging: still that one incident, not one per swing.
    holds_for(
        "one incident while it swings",
        Duration::from_secs(2),
        || async { app.incidents("").await.len() == 1 },
    )
    .await;

    steady.store(true, Ordering::SeqCst);
    let resolved = app
        .incident_where("steady again", TIMEOUT, |i| i["status"] == "resolved")
        .await;
    assert_eq!(resolved["id"], incident["id"]);
    assert_eq!(resolved["resolved_by"], "recovery");
    assert_eq!(app.incidents("").await.len(), 1);
    app.monitor_state("queue", "up", TIMEOUT).await;
    server.abort();
}

/// Flapping is on by default: a monitor that says only what to probe (its kind's `send` and
/// `expect` included) and how often, with every damping setting left out, makes a service
/// that fails every other probe one `monitor.flapping` incident, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_default_settings_a_service_failing_every_other_probe_is_one_flapping_incident() {
    let (address, server) = swinging_server(Arc::new(AtomicBool::new(false))).await;
    let dir = tempfile::tempdir().unwrap();
    let monitor = format!(
        "[[monitors]]\nid = \"queue\"\nkind = \"tcp\"\naddress = \"{address}\"\n\
         send = \"PING\\r\\n\"\nexpect = \"PONG\"\ninterval_ms = 100\n"
    );
    let app = app_with(dir.path(), &monitor);
    let incident = app
        .incident_where("the flapping incident", TIMEOUT, |i| i["source"] == "queue")
        .await;
    assert_eq!(incident["event_type"], "monitor.flapping", "{incident}");
    // 20 probes and more of swinging: still that one incident, and no other.
    holds_for(
        "exactly one incident, the flapping one",
        Duration::from_secs(3),
        || async {
            let incidents = app.incidents("").await;
            incidents.len() == 1
                && incidents[0]["id"] == incident["id"]
                && incidents[0]["status"] != "resolved"
        },
    )
    .await;
    // The log agrees: one swing into flapping, no outage announced per swing.
    let feed = Feed::connect(&app, "?since=0").await;
    feed.wait_for("monitor.flapping", TIMEOUT).await;
    let types = feed.types();
    let flapping = types.iter().filter(|t| *t == "monitor.flapping").count();
    assert_eq!(flapping, 1, "{types:?}");
    assert!(!types.iter().any(|t| t.starts_with("tcp.")), "{types:?}");
    server.abort();
}

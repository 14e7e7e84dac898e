//! The live feed's promise: `/ws?since=N` replays the persisted log and continues live with no
//! gap and no duplicate at the seam, whenever the client connects.

use std::time::Duration;

use crate::common::{eventually, free_port, spawn_app, Feed};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(60);
/// Enough monitors failing at once to keep events flowing while clients connect.
const MONITORS: usize = 20;

fn burst_config(failures_before_down: u32) -> String {
    let mut config = String::from(
        r#"
[server]
bind = "127.0.0.1:0"

[store]
path = "store"

[[playbooks]]
id = "db_reconnect"
on = ["db.connection_lost"]
steps = [{ kind = "check" }, { kind = "reconnect", backoff_ms = [30, 30, 30, 30] }, { kind = "verify" }]
"#,
    );
    for n in 0..MONITORS {
        config.push_str(&format!(
            r#"
[[monitors]]
id = "ghost-{n}"
kind = "postgres"
url = "postgres://postgres@127.0.0.1:{port}/postgres"
interval_ms = 50
timeout_ms = 500
failures_before_down = {failures_before_down}
"#,
            port = free_port()
        ));
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_then_live_has_no_gap_and_no_duplicate_whenever_a_client_joins() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), &burst_config(1));
    let live = Feed::connect(&app, "?since=0").await;

    // Join at different points of the burst, each resuming from a different seq.
    let mut joiners = Vec::new();
    for since in [0u64, 3, 10, 25, 60] {
        eventually("the log to grow", TIMEOUT, || async {
            let last = app.get_ok("/health").await["last_seq"].as_u64().unwrap();
            (last >= since).then_some(())
        })
        .await;
        joiners.push((since, Feed::connect(&app, &format!("?since={since}")).await));
    }

    // Quiet: each incident's escalation is its last event, so once all are in the log (which
    // may trail the incidents' own state by a batch), nothing more will come.
    eventually("every incident to escalate", TIMEOUT, || async {
        let escalated = live
            .types()
            .iter()
            .filter(|t| *t == "incident.escalated")
            .count();
        (escalated == MONITORS).then_some(())
    })
    .await;
    let last = app.get_ok("/health").await["last_seq"].as_u64().unwrap();
    let all: Vec<u64> = (1..=last).collect();
    eventually("the live client to catch up", TIMEOUT, || async {
        (live.seqs().last() == Some(&last)).then_some(())
    })
    .await;
    assert_eq!(live.seqs(), all);

    for (since, feed) in &joiners {
        eventually("a joiner to catch up", TIMEOUT, || async {
            (feed.seqs().last() == Some(&last)).then_some(())
        })
        .await;
        let expected: Vec<u64> = (since + 1..=last).collect();
        assert_eq!(
            feed.seqs(),
            expected,
            "client that joined with since={since}"
        );
        // Same events, not just the same numbers.
        let from_live: Vec<_> = live.snapshot().into_iter().skip(*since as usize).collect();
        assert_eq!(feed.snapshot(), from_live);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_since_gets_live_events_of_its_types_only() {
    let dir = tempfile::tempdir().unwrap();
    // Ten failed probes (half a second) before the first incident: the client is subscribed.
    let app = spawn_app(dir.path(), &burst_config(10));
    let live = Feed::connect(&app, "?types=incident.opened").await;
    eventually("every incident to open", TIMEOUT, || async {
        (live.snapshot().len() == MONITORS).then_some(())
    })
    .await;
    let replayed = Feed::connect(&app, "?since=0&types=incident.opened").await;
    eventually("the filtered replay", TIMEOUT, || async {
        (replayed.snapshot().len() == MONITORS).then_some(())
    })
    .await;
    assert_eq!(live.snapshot(), replayed.snapshot());
    assert!(live.types().iter().all(|t| t == "incident.opened"));
    let seqs = live.seqs();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_clients_are_bounded_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n\
                  [limits]\nws_clients_max = 3\n";
    let app = spawn_app(dir.path(), config);
    let url = format!("ws://{}/ws", app.addr);

    // A subscription is a filter, not a program.
    let many: Vec<String> = (0..33).map(|n| format!("t{n}.*")).collect();
    let (status, body) = app.get(&format!("/ws?types={}", many.join(","))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "types", "{body}");

    // Three at once; the fourth is told to come back later.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio_tungstenite::connect_async(&url).await.unwrap().0);
    }
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("a fourth client was let in: {:?}", other.map(|_| ())),
    }
    assert_eq!(app.get_ok("/health").await["ws_clients"], 3);
    drop(held);

    // 1,000 clients come and go: every place is given back.
    for _ in 0..1_000 {
        let connected = eventually("a free place", TIMEOUT, || async {
            tokio_tungstenite::connect_async(&url).await.ok()
        })
        .await;
        let (mut socket, _) = connected;
        socket.close(None).await.unwrap();
    }
    eventually("every client gone", TIMEOUT, || async {
        (app.get_ok("/health").await["ws_clients"] == 0).then_some(())
    })
    .await;
}

/// A client that connects and never reads is cut off once its socket and its buffer are full
/// (close 4000 after `ws_buffer_max` events, or the write timeout), and its place is given
/// back; the other clients and intake are not held up meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_and_its_place_given_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n\
                  [limits]\nws_buffer_max = 64\n";
    let app = spawn_app(dir.path(), config);
    let url = format!("ws://{}/ws", app.addr);
    let (stuck, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_eq!(app.get_ok("/health").await["ws_clients"], 1);

    // Enough events to fill the kernel's socket buffers (megabytes) and then the client's
    // buffer; every batch is still taken at once.
    let padding = "x".repeat(512);
    let mut sent = 0;
    let gone = eventually("the client that never reads cut off", TIMEOUT, || {
        let (app, padding) = (&app, &padding);
        sent += 1;
        let batch = sent;
        async move {
            let events: Vec<Value> = (0..100)
                .map(|n| json!({ "type": "note.logged", "source": format!("b{batch}-{n}"), "kind": "info", "payload": { "text": padding } }))
                .collect();
            let (status, body) = app.post_json("/events", &json!(events)).await;
            assert_eq!(status, 202, "{body}");
            (app.get_ok("/health").await["ws_clients"] == 0).then_some(())
        }
    })
    .await;
    let () = gone;
    drop(stuck);
}

/// `[retention]` compacts in the background: events beyond the count go (a client that asks
/// for them is told `feed.truncated`, then gets the rest), the newest stay; resolved incidents
/// beyond the count go, open ones stay whatever the limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_compacts_old_events_and_resolved_incidents_but_never_open_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n\
                  [retention]\ninterval_ms = 100\n\
                  events = { max_age_ms = 3600000, max_count = 50, keep_min = 20 }\n\
                  records = { max_age_ms = 3600000, max_count = 2, keep_min = 1 }\n";
    let app = spawn_app(dir.path(), config);
    for n in 1..=5 {
        let event =
            json!({ "type": "disk.full", "source": format!("host-{n}"), "kind": "problem" });
        assert_eq!(app.post_json("/events", &event).await.0, 202);
    }
    eventually("five incidents", TIMEOUT, || async {
        (app.incidents("").await.len() == 5).then_some(())
    })
    .await;
    for id in 1..=4 {
        let path = format!("/monitoring/incidents/{id}/resolve");
        assert_eq!(app.post_json(&path, &json!({})).await.0, 200);
    }
    // Twenty commits of ten: retention removes whole commits (the log's chunks).
    for batch in 0..20 {
        let notes: Vec<Value> = (0..10)
            .map(|n| json!({ "type": "note.logged", "source": format!("n{batch}-{n}"), "kind": "info" }))
            .collect();
        assert_eq!(app.post_json("/events", &json!(notes)).await.0, 202);
    }

    let kept = eventually("resolved incidents beyond two removed", TIMEOUT, || async {
        let ids: Vec<u64> = app
            .incidents("")
            .await
            .iter()
            .filter_map(|i| i["id"].as_u64())
            .collect();
        (ids.len() == 3).then_some(ids)
    })
    .await;
    assert_eq!(kept, [5, 4, 3], "the open one and the two newest resolved");

    let last_seq = app.get_ok("/health").await["last_seq"].as_u64().unwrap();
    // Only the newest 50 are kept, rounded up to a whole commit (here at most ten events),
    // once the incident manager has passed the rest.
    let (feed, oldest) = eventually("a replay from 0 truncated to 50", TIMEOUT, || async {
        let feed = Feed::connect(&app, "?since=0").await;
        let first = eventually("the replay", TIMEOUT, || async {
            feed.snapshot().first().cloned()
        })
        .await;
        let oldest = first["data"]["oldest_seq"].as_u64()?;
        (first["type"] == "feed.truncated" && oldest + 50 + 10 > last_seq).then_some((feed, oldest))
    })
    .await;
    assert!(
        oldest + 50 - 1 <= last_seq,
        "oldest kept {oldest} of {last_seq}"
    );
    eventually(
        "the rest replayed after it, without a gap",
        TIMEOUT,
        || async {
            let seqs = feed.seqs();
            let expected: Vec<u64> = (oldest - 1..=last_seq).collect();
            (seqs.len() > expected.len() - 1 && seqs[..expected.len()] == expected[..])
                .then_some(())
        },
    )
    .await;
}

/// What one feed connection got: the seqs, and the `since` its close said to resume from.
struct Connection {
    seqs: Vec<u64>,
    resume_since: Option<u64>,
}

/// Reads `/ws{query}` until it is closed (then the close must be 4000 naming `since=`) or it
/// has seq `until`; `seen` is the newest seq so far.
async fn read_feed(
    app: &crate::common::TestApp,
    query: &str,
    until: u64,
    seen: &std::sync::atomic::AtomicU64,
) -> Connection {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("ws://{}/ws{query}", app.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut seqs = Vec::new();
    loop {
        let message = tokio::time::timeout(TIMEOUT, socket.next())
            .await
            .unwrap_or_else(|_| panic!("{url}: neither closed nor at seq {until}: {seqs:?}"));
        match message {
            Some(Ok(Message::Text(text))) => {
                let event: Value = serde_json::from_str(&text).unwrap();
                seqs.push(event["seq"].as_u64().unwrap());
                seen.store(*seqs.last().unwrap(), std::sync::atomic::Ordering::Release);
                if seqs.last() == Some(&until) {
                    return Connection {
                        seqs,
                        resume_since: None,
                    };
                }
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 4000, "{frame:?}");
                let since = frame
                    .reason
                    .split("since=")
                    .nth(1)
                    .expect("since= in reason");
                return Connection {
                    seqs,
                    resume_since: Some(since.trim().parse().unwrap()),
                };
            }
            Some(Ok(_)) => {}
            other => panic!("{url}: ended without a close frame: {other:?}"),
        }
    }
}

/// The feed hub's mailbox is bounded: with the hub slowed down (a hold point of 20 ms per
/// event) and `limits.feed_lag_max = 16`, a burst of 300 events puts it that far behind; the
/// store actor hands it no more, and the hub cuts its client off with 4000 and the seq to
/// resume from — though the client reads all along, so without the bound it would only have
/// been slow. Resuming with `since` as often as it is cut off, the client ends up with every
/// seq once, in order, and Grace stays healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_that_falls_behind_cuts_its_clients_off_and_they_resume_from_the_log() {
    const BURST_EVENTS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let config = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n\
                  [limits]\nfeed_lag_max = 16\n";
    let env = [("FAILPOINTS", "feed.push=return(20)")];
    let app = crate::common::spawn_app_env(dir.path(), config, &env);
    let note =
        |n: usize| json!({ "type": "note.logged", "source": format!("n{n}"), "kind": "info" });
    // One event first: the client subscribes before it replays the log, so once it has this
    // one, the burst reaches it live.
    assert_eq!(app.post_json("/events", &note(0)).await.0, 202);
    let warm = app.get_ok("/health").await["last_seq"].as_u64().unwrap();
    let last = warm + BURST_EVENTS as u64;
    let seen = std::sync::atomic::AtomicU64::new(0);

    let first = {
        let events: Vec<Value> = (1..=BURST_EVENTS).map(note).collect();
        let (posting, connection) = tokio::join!(
            async {
                eventually("the client subscribed", TIMEOUT, || async {
                    (seen.load(std::sync::atomic::Ordering::Acquire) >= warm).then_some(())
                })
                .await;
                app.post_json("/events", &json!(events)).await
            },
            read_feed(&app, "?since=0", last, &seen)
        );
        assert_eq!(posting.0, 202, "{}", posting.1);
        connection
    };
    let Some(mut since) = first.resume_since else {
        panic!(
            "the client was never cut off: {} events live",
            first.seqs.len()
        );
    };
    assert!(since < last, "cut off at {since}, after the burst");
    let mut seqs = first.seqs;
    for _ in 0..20 {
        let next = read_feed(&app, &format!("?since={since}"), last, &seen).await;
        seqs.extend(next.seqs);
        match next.resume_since {
            Some(again) => since = again,
            None => break,
        }
    }
    let all: Vec<u64> = (1..=last).collect();
    assert_eq!(
        seqs, all,
        "every seq once, in order, across the reconnections"
    );
    assert_eq!(app.get_ok("/health").await["status"], "ok");
}

//! `POST /events` from instrumented apps: pushed events become one incident and a recovery
//! resolves it, a bad batch is refused whole naming every field, spoofing names are refused, and a
//! pushed event triggers its playbook.

use super::{app_with, timeout_event, TIMEOUT};
use crate::common::Feed;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_events_become_one_incident_and_a_recovery_resolves_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), "");
    let feed = Feed::connect(&app, "?types=payment.*").await;

    let (status, body) = app.post_json("/events", &timeout_event()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 1);
    let (status, body) = app
        .post_json(
            "/events",
            &json!([timeout_event(), timeout_event(), timeout_event()]),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["seqs"].as_array().unwrap().len(), 3);

    let incident = app
        .incident_where("the pushed problem, four times", TIMEOUT, |i| {
            i["occurrences"] == 4
        })
        .await;
    assert_eq!(app.incidents("").await.len(), 1, "deduplicated");
    assert_eq!(incident["event_type"], "payment.gateway_timeout");
    assert_eq!(incident["source"], "checkout");
    assert_eq!(incident["severity"], "high");
    assert!(
        incident["title"]
            .as_str()
            .unwrap()
            .starts_with("Payment gateway timing out"),
        "{incident}"
    );
    let pushed = feed.wait_for("payment.gateway_timeout", TIMEOUT).await;
    assert_eq!(pushed["data"]["payload"]["gateway"], "acme");

    let recovered = json!({ "type": "payment.recovered", "source": "checkout" });
    let (status, _) = app.post_json("/events", &recovered).await;
    assert_eq!(status, 202);
    let resolved = app
        .incident_where("the recovery", TIMEOUT, |i| i["status"] == "resolved")
        .await;
    assert_eq!(resolved["id"], incident["id"]);
    assert_eq!(resolved["resolved_by"], "recovery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_batch_is_refused_whole_with_every_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let monitor = "[[monitors]]\nid = \"nightly\"\nkind = \"heartbeat\"\ngrace_ms = 60000\n";
    let app = app_with(dir.path(), monitor);
    let before = app.get_ok("/health").await["last_seq"].clone();

    let batch = json!([
        timeout_event(),
        { "type": "Payment Failed", "source": "" },
        { "source": "checkout" },
        { "type": "incident.opened", "source": "checkout", "severity": "dire" },
        // A monitor's incidents are its probes' business: no forged recovery.
        { "type": "heartbeat.restored", "source": "nightly" },
    ]);
    let (status, body) = app.post_json("/events", &batch).await;
    assert_eq!(status, 400, "{body}");
    let fields = crate::common::error_fields(&body);
    assert_eq!(
        fields,
        [
            "[1].type",
            "[1].source",
            "[2].type",
            "[3].severity",
            "[4].source"
        ],
        "{body}"
    );
    assert_eq!(body["error"]["field"], "[1].type");

    let (status, body) = app
        .post_json(
            "/events",
            &json!({ "type": "incident.opened", "source": "x" }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "type", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Grace's own"));

    // Nothing of the refused bodies was recorded: not even the valid first event.
    assert_eq!(app.get_ok("/health").await["last_seq"], before);
    assert!(app.incidents("").await.is_empty());
}

/// Names that would spoof another on the dashboard or in a notification — a NUL, a bidi
/// override (U+202E), a zero-width space — are refused with a 400 naming the field, wherever a
/// name comes in over HTTP, and nothing of the request is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_control_bidi_or_zero_width_characters_are_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let monitor = "[[monitors]]\nid = \"nightly\"\nkind = \"heartbeat\"\ngrace_ms = 60000\n";
    let app = app_with(dir.path(), monitor);
    let before = app.get_ok("/health").await["last_seq"].clone();
    let spoof = "orders\u{202e}-db\u{0}\u{200b}";

    let event = json!({ "type": "payment.failed", "source": spoof });
    let (status, body) = app.post_json("/events", &event).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "source", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("U+202E"),
        "{body}"
    );
    for source in ["db\u{0}", "d\u{200b}b", "\u{2066}db", "db\u{feff}"] {
        let batch = json!([timeout_event(), { "type": "payment.failed", "source": source }]);
        let (status, body) = app.post_json("/events", &batch).await;
        assert_eq!(status, 400, "{source:?}: {body}");
        assert_eq!(crate::common::error_fields(&body), ["[1].source"], "{body}");
    }

    let alert = json!({
        "version": "4",
        "alerts": [{
            "status": "firing",
            "labels": { "alertname": "OrdersDown", "service": spoof },
            "fingerprint": "abc123"
        }]
    });
    let (status, body) = app.post_json("/integrations/alertmanager", &alert).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "alerts[0].labels.service", "{body}");

    let (status, body) = app.post("/heartbeats/nightly%E2%80%AE").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "monitor_id", "{body}");

    let silence = json!({ "matchers": { "sources": [spoof] }, "duration_ms": 60000 });
    let (status, body) = app.post_json("/silences", &silence).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "matchers.sources[0]", "{body}");

    // Nothing of any of it was recorded; a plain name still is.
    assert_eq!(app.get_ok("/health").await["last_seq"], before);
    assert!(app.incidents("").await.is_empty());
    assert!(app.get_ok("/silences").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(app.post("/heartbeats/nightly").await.0, 200);
    assert_eq!(app.post_json("/events", &timeout_event()).await.0, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_event_triggers_its_playbook() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("gateway-switched");
    let playbook = format!(
        r#"
[[playbooks]]
id = "switch_gateway"
name = "Switch payment gateway"
on = ["payment.gateway_timeout"]
sources = ["monitors", "pushed"]
steps = [{{ kind = "command", argv = ["touch", "{}"] }}]
"#,
        marker.display()
    );
    let app = app_with(dir.path(), &playbook);
    let (status, _) = app.post_json("/events", &timeout_event()).await;
    assert_eq!(status, 202);
    let healed = app
        .incident_where("the playbook to heal it", TIMEOUT, |i| {
            i["status"] == "resolved"
        })
        .await;
    assert_eq!(healed["resolved_by"], "playbook");
    assert!(marker.exists(), "the playbook's command ran");
}

//! The live-feed hub's bound: a subscriber that falls `ws_buffer_max` events behind is cut off,
//! while the bus and every other subscriber carry on, and nothing is lost from the log.

use std::time::Duration;

use actors::event::{EventDraft, Pattern};
use actors::probe::Probes;
use actors::spec::{LimitsSpec, TreeSpec};
use actors::store::StoreLocation;
use actors::Kernel;
use serde_json::json;

const BUFFER_MAX: usize = 4;
const EVENTS: u64 = 20;
const TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_falls_behind_is_cut_off_without_holding_up_others() {
    let spec = TreeSpec {
        limits: LimitsSpec {
            ws_buffer_max: BUFFER_MAX,
            ..LimitsSpec::default()
        },
        ..TreeSpec::default()
    };
    let kernel = Kernel::start(spec, &StoreLocation::Memory, Probes::default())
        .await
        .unwrap();
    let mut slow = kernel.subscribe(vec![]).await.unwrap();
    let mut keeping_up = kernel
        .subscribe(vec![Pattern::new("test.*")])
        .await
        .unwrap();

    for n in 1..=EVENTS {
        kernel.publish(EventDraft::new("test.tick", json!({ "n": n })));
        // The other subscriber reads each event as it comes.
        let event = tokio::time::timeout(TIMEOUT, keeping_up.recv())
            .await
            .expect("the subscriber that keeps up is served")
            .expect("and never cut off");
        assert_eq!(event.seq, n);
    }

    // The slow one got exactly what fitted in its buffer, then its channel closed.
    let mut got = Vec::new();
    while let Some(event) = slow.recv().await {
        got.push(event.seq);
    }
    assert_eq!(got, (1..=BUFFER_MAX as u64).collect::<Vec<_>>());

    // Nothing is lost: it resumes from the log after the last seq it saw.
    let resumed: Vec<u64> = kernel
        .store()
        .events_after(BUFFER_MAX as u64, 100)
        .await
        .unwrap()
        .iter()
        .map(|event| event.seq)
        .collect();
    assert_eq!(
        resumed,
        (BUFFER_MAX as u64 + 1..=EVENTS).collect::<Vec<_>>()
    );
    kernel.shutdown().await;
}

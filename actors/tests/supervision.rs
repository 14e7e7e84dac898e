//! Crash tests: monitors whose probes panic on purpose. A crashed actor is restarted by its
//! supervisor while its siblings keep running; too many crashes within the period and the
//! supervisor gives up and escalates, all the way to the top.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actors::event::{types, Event, Pattern};
use actors::probe::{Probe, ProbeFailure, Probes};
use actors::spec::{MonitorKind, MonitorSpec, SupervisionSpec, TreeSpec};
use actors::store::StoreLocation;
use actors::{ActorState, Kernel};
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

const TIMEOUT: Duration = Duration::from_secs(20);

/// Answers every probe, unless told to panic: once (`panics_left` set) or always.
struct CrashingProbe {
    panic_once: Option<Arc<AtomicBool>>,
    always: bool,
}

impl Probe for CrashingProbe {
    fn probe(&mut self, _timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(async move {
            let first = self
                .panic_once
                .as_ref()
                .is_some_and(|armed| armed.swap(false, Ordering::SeqCst));
            if self.always || first {
                panic!("probe crashed on purpose");
            }
            Ok("fine".to_owned())
        })
    }

    fn verify(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        self.probe(timeout)
    }

    fn recovery_event(&self) -> &'static str {
        types::DB_CONNECTION_RESTORED
    }
}

fn monitor(id: &str) -> MonitorSpec {
    MonitorSpec {
        id: id.to_owned(),
        kind: MonitorKind::Postgres {
            url: "postgres://unused@127.0.0.1:1/unused".to_owned(),
            passfile: None,
            password: Default::default(),
        },
        interval_ms: 20,
        timeout_ms: 1_000,
        failures_before_down: 2,
        successes_before_up: 1,
        flap_window: 0,
        flap_threshold: 0,
        depends_on: Vec::new(),
        escalate_after_ms: None,
    }
}

/// `crashy` panics (once, or always); every other monitor is healthy.
fn factory(crash_always: bool) -> Probes {
    let armed = Arc::new(AtomicBool::new(true));
    Probes::new(move |spec: &MonitorSpec| -> Box<dyn Probe> {
        let crashy = spec.id == "crashy";
        Box::new(CrashingProbe {
            panic_once: crashy.then(|| armed.clone()),
            always: crashy && crash_always,
        })
    })
}

/// A kernel watching `crashy` and `steady`, and a feed of its `actor.*` events.
async fn start(
    supervision: SupervisionSpec,
    crash_always: bool,
) -> (Kernel, mpsc::Receiver<Arc<Event>>) {
    let spec = TreeSpec {
        monitors: vec![monitor("crashy"), monitor("steady")],
        supervision,
        ..TreeSpec::default()
    };
    let kernel = Kernel::start(spec, &StoreLocation::Memory, factory(crash_always))
        .await
        .unwrap();
    let feed = kernel
        .subscribe(vec![Pattern::new("actor.*")])
        .await
        .unwrap();
    (kernel, feed)
}

/// The first `actor.restarted` for `actor`: from the log if it is already there, else live.
/// `feed` was subscribed before the log is read, so nothing falls between the two.
async fn next_restart(
    kernel: &Kernel,
    feed: &mut mpsc::Receiver<Arc<Event>>,
    actor: &str,
) -> Arc<Event> {
    let logged = kernel.store().events_after(0, 10_000).await.unwrap();
    if let Some(event) = logged
        .into_iter()
        .find(|e| e.event_type == types::ACTOR_RESTARTED && e.data["actor"] == actor)
    {
        return Arc::new(event);
    }
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, feed.recv()).await {
            Ok(Some(event)) if event.data["actor"] == actor => return event,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("feed closed before {actor} restarted"),
            Err(_) => panic!("no actor.restarted for {actor} within {TIMEOUT:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_monitor_is_restarted_while_its_siblings_keep_running() {
    let (kernel, mut feed) = start(SupervisionSpec::default(), false).await;
    let steady_before = kernel.tree().find("monitor:steady").unwrap().clone();

    let restarted = next_restart(&kernel, &mut feed, "monitor:crashy").await;
    assert_eq!(restarted.event_type, types::ACTOR_RESTARTED);
    assert_eq!(restarted.data["restarts"], 1);

    let after = kernel.tree();
    let crashy = after.find("monitor:crashy").unwrap();
    assert_eq!((crashy.restarts, crashy.status), (1, ActorState::Running));
    let steady = after.find("monitor:steady").unwrap();
    assert_eq!(steady.restarts, 0);
    assert_eq!(steady.id, steady_before.id, "the sibling was not restarted");
    let monitors = after.find("monitors").unwrap();
    assert_eq!(
        monitors.restarts, 0,
        "one-for-one: the supervisor itself stayed up"
    );
    assert_eq!(after.find("kernel").unwrap().restarts, 0);

    // The restarted monitor probes again, and so does its sibling.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let statuses = kernel.monitor_statuses();
        if statuses.len() == 2 && statuses.iter().all(|s| s.last_probe_at.is_some()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "monitors not probing: {statuses:?}"
        );
        tokio::task::yield_now().await;
    }
    // The restart is in the persisted event log too.
    let logged = kernel.store().events_after(0, 1_000).await.unwrap();
    assert!(logged
        .iter()
        .any(|e| e.seq == restarted.seq && e.event_type == types::ACTOR_RESTARTED));
    kernel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceeding_restart_intensity_escalates_to_the_parent_and_then_the_top() {
    let supervision = SupervisionSpec {
        max_restarts: 2,
        period_ms: 60_000,
    };
    let (kernel, mut feed) = start(supervision, true).await;

    // The monitors supervisor gives up on its crashing child; the kernel restarts it.
    let escalated = next_restart(&kernel, &mut feed, "monitors").await;
    assert_eq!(escalated.data["kind"], "supervisor");

    // It keeps crashing, so the kernel exceeds its own intensity and the tree exits.
    tokio::time::timeout(TIMEOUT, kernel.exited())
        .await
        .expect("the kernel gives up once its restart intensity is exceeded");
    assert_eq!(kernel.tree().status, ActorState::Stopped);
}

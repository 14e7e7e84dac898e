//! What every actor of one kernel shares: its name scope, the store, the specs, the probe
//! factory and the book of spawns and restarts.
//!
//! Actors find each other by registered name, as OTP processes do, so a restarted sibling is
//! found under the same name. Names carry a per-kernel prefix so that several kernels can live
//! in one process (tests do this) without their registries colliding.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::model::StoreFailure;
use crate::probe::Probes;
use crate::protocol::monitor::MonitorStatus;
use crate::protocol::Scope;
use crate::spec::TreeSpec;
use crate::store::Store;

/// Per-actor spawn counts and kinds, kept across restarts. The kernel's tree view reads it.
#[derive(Debug, Default)]
pub struct SpawnBook {
    entries: Mutex<HashMap<String, SpawnEntry>>,
}

#[derive(Debug, Clone, Copy)]
pub struct SpawnEntry {
    pub kind: &'static str,
    pub spawns: u32,
}

impl SpawnBook {
    /// Records one spawn of `role` and returns how many times it has been restarted so far.
    pub fn record(&self, role: &str, kind: &'static str) -> u32 {
        let mut entries = self.entries.lock().expect("spawn book poisoned");
        let entry = entries
            .entry(role.to_owned())
            .or_insert(SpawnEntry { kind, spawns: 0 });
        entry.spawns += 1;
        entry.spawns - 1
    }

    pub fn get(&self, role: &str) -> Option<SpawnEntry> {
        self.entries
            .lock()
            .expect("spawn book poisoned")
            .get(role)
            .copied()
    }

    /// Forgets a role that is gone for good (a finished sub-agent), keeping the book bounded.
    pub fn forget(&self, role: &str) {
        self.entries
            .lock()
            .expect("spawn book poisoned")
            .remove(role);
    }
}

/// How far the event log and the incident manager are, shared without messages: intake reads
/// the lag between them to push back before a backlog grows.
#[derive(Debug, Default)]
pub struct Progress {
    /// The seq of the newest committed event (written by the store actor).
    pub log_head: AtomicU64,
    /// Every event up to this seq is applied to incidents (written by the incidents actor).
    pub incidents_at: AtomicU64,
    /// The incidents actor has been told there is news and has not looked yet; set by the
    /// store actor, cleared by the incidents actor, so its mailbox holds at most one nudge.
    pub incidents_nudged: AtomicBool,
    /// Woken whenever `incidents_at` moves: intake waits on it while the lag is too long.
    pub incidents_advanced: tokio::sync::Notify,
    /// Messages the store actor handed the feed hub that it has not handled yet: added by the
    /// store actor, taken off by the hub (`feed_taken`), at most `limits.feed_lag_max` + 1.
    pub feed_in_flight: AtomicUsize,
    /// Batches of announcements handed to the pager and not yet taken (`protocol::pager`).
    pub pager_in_flight: AtomicUsize,
    /// Announcements were dropped for the pager: it reads the active incidents again.
    pub pager_resync: std::sync::atomic::AtomicBool,
}

impl Progress {
    /// The feed hub has taken one message the store actor counted. Saturating: a restarted hub
    /// starts the count over while the store actor may already have counted one for it.
    pub fn feed_taken(&self) {
        let less = |n: usize| Some(n.saturating_sub(1));
        let _ = (self.feed_in_flight).fetch_update(Ordering::AcqRel, Ordering::Acquire, less);
    }

    /// The pager took one batch handed to it (see `feed_taken`).
    pub fn pager_taken(&self) {
        let less = |n: usize| Some(n.saturating_sub(1));
        let _ = (self.pager_in_flight).fetch_update(Ordering::AcqRel, Ordering::Acquire, less);
    }

    /// Records that the incident manager has applied every event up to `seq`.
    pub fn incidents_applied(&self, seq: u64) {
        self.incidents_at.store(seq, Ordering::Release);
        self.incidents_advanced.notify_waiters();
    }

    /// Waits until the lag is at most `lag_max`, for at most `wait_ms`; false if it is not.
    pub async fn wait_for_lag(&self, lag_max: u64, wait_ms: u64) -> bool {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(wait_ms);
        loop {
            let advanced = self.incidents_advanced.notified();
            if self.incidents_lag() <= lag_max {
                return true;
            }
            if tokio::time::timeout_at(deadline, advanced).await.is_err() {
                return self.incidents_lag() <= lag_max;
            }
        }
    }

    /// Events committed but not yet applied to incidents.
    pub fn incidents_lag(&self) -> u64 {
        let head = self.log_head.load(Ordering::Acquire);
        head.saturating_sub(self.incidents_at.load(Ordering::Acquire))
    }
}

/// Shared by every actor of one kernel.
pub struct Ctx {
    pub scope: Scope,
    pub store: Store,
    /// The running spec; a config reload swaps it whole.
    spec: RwLock<Arc<TreeSpec>>,
    pub probes: Probes,
    pub spawns: SpawnBook,
    pub progress: Progress,
    /// What the store actor just committed, for the incident manager (see `signals.rs`).
    pub signals: Mutex<crate::signals::SignalQueue>,
    /// Whether the store takes writes; written only by the store actor.
    pub store_health: Mutex<Option<StoreFailure>>,
    /// Counters, histograms and gauges for `GET /metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Each monitor's latest view, by monitor id; written only by that monitor.
    statuses: RwLock<HashMap<String, MonitorStatus>>,
    /// People's silences (`POST /silences`), as stored; written only by the kernel.
    pub silences: RwLock<Vec<crate::silence::Silence>>,
    /// Monitors with a `ProbeNow` waiting in their mailbox: however many heartbeats (or
    /// watched-process changes) arrive, a monitor's mailbox holds at most one.
    probes_asked: Mutex<HashSet<String>>,
    /// Set once a clean stop began (`Kernel::shutdown`): a sub-agent ended by the stop is
    /// handed over to the restart rules, not failed.
    pub stopping: std::sync::atomic::AtomicBool,
    /// How long this node may act under the engines' lease (a cluster), or no limit.
    pub lease: crate::lease_clock::LeaseClock,
    /// What this kernel's tree runs.
    pub duties: Duties,
    /// In a cluster, the spread monitors this node holds the leases of (`spread.rs`); none
    /// on one node, which runs every monitor.
    pub spread: Option<crate::spread::Spread>,
}

/// What a kernel's tree runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duties {
    /// Everything: Grace on one node, or a cluster's leader.
    All,
    /// The store actor, the bus and the feed: a cluster's standby node takes intake into the
    /// shared log and serves the log's feed, while the leader's engines act on both.
    Serve,
}

impl Ctx {
    pub fn new(store: Store, spec: TreeSpec, probes: Probes) -> Arc<Self> {
        Self::with_lease(
            store,
            spec,
            probes,
            crate::lease_clock::LeaseClock::unlimited(),
        )
    }

    /// [`Ctx::new`] for the engines of a cluster's leader, limited by `lease`.
    pub fn with_lease(
        store: Store,
        spec: TreeSpec,
        probes: Probes,
        lease: crate::lease_clock::LeaseClock,
    ) -> Arc<Self> {
        let metrics = crate::metrics::Metrics::new(store.is_shared());
        Arc::new(Self {
            scope: Scope::unique(),
            store,
            spec: RwLock::new(Arc::new(spec)),
            probes,
            spawns: SpawnBook::default(),
            progress: Progress::default(),
            signals: Mutex::default(),
            store_health: Mutex::default(),
            metrics,
            statuses: RwLock::new(HashMap::new()),
            silences: RwLock::new(Vec::new()),
            probes_asked: Mutex::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            lease,
            duties: Duties::All,
            spread: None,
        })
    }

    /// Whether this node's tree runs `monitor`: on one node every monitor; in a cluster a
    /// spread one while this node holds its lease, the others on the leader.
    pub fn runs_here(&self, monitor: &crate::spec::MonitorSpec) -> bool {
        match &self.spread {
            None => true,
            Some(_) if !monitor.kind.spreads() => self.duties == Duties::All,
            Some(spread) => spread.epoch_of(&monitor.id).is_some(),
        }
    }

    /// The maintenance windows and silences in force at `now`.
    pub fn quiets(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<crate::silence::Quiet> {
        let spec = self.spec();
        let silences = self.silences.read().expect("silences poisoned");
        let windows = spec
            .maintenance
            .iter()
            .map(|w| (w.id.as_str(), &w.matchers, &w.when));
        crate::silence::in_force(windows, &silences, now)
    }

    /// The running spec. Readers take a snapshot; a reload never changes one under them.
    pub fn spec(&self) -> Arc<TreeSpec> {
        self.spec.read().expect("spec poisoned").clone()
    }

    /// Swaps the running spec (config reload); returns the one it replaces.
    pub fn replace_spec(&self, spec: TreeSpec) -> Arc<TreeSpec> {
        std::mem::replace(
            &mut *self.spec.write().expect("spec poisoned"),
            Arc::new(spec),
        )
    }

    /// Marks that monitor `id` is asked to probe now; false when it is already (nothing more
    /// to send: the probe waiting will see what this ask would have).
    pub fn ask_probe_now(&self, id: &str) -> bool {
        let mut asked = self.probes_asked.lock().expect("probes asked poisoned");
        asked.insert(id.to_owned())
    }

    /// Monitor `id` took its `ProbeNow` (or lost it with a restart): the next ask sends one.
    pub fn probe_now_taken(&self, id: &str) {
        let mut asked = self.probes_asked.lock().expect("probes asked poisoned");
        asked.remove(id);
    }

    /// Takes a removed monitor's view off the board.
    pub fn forget_status(&self, monitor_id: &str) {
        self.statuses
            .write()
            .expect("status board poisoned")
            .remove(monitor_id);
    }

    /// A monitor posts its view after every probe.
    pub fn post_status(&self, status: MonitorStatus) {
        self.statuses
            .write()
            .expect("status board poisoned")
            .insert(status.id.clone(), status);
    }

    /// Every configured monitor's latest view, in config order.
    pub fn statuses(&self) -> Vec<MonitorStatus> {
        let spec = self.spec();
        let board = self.statuses.read().expect("status board poisoned");
        spec.monitors
            .iter()
            .filter_map(|monitor| board.get(&monitor.id).cloned())
            .collect()
    }
}

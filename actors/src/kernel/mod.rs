//! The kernel: opens the store, builds the supervision tree, and is the one handle the outside
//! world (the HTTP server, tests) holds on to.
//!
//! The root is an OTP-style one-for-one supervisor (`ractor-supervisor`). Each child is declared
//! with a spawn function that the supervisor calls again on every restart; the spawn function
//! counts restarts and publishes `actor.restarted`. Too many restarts within the period and a
//! supervisor gives up and fails, which its own parent sees as a crash: escalation.

use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorRef, SpawnErr};
use ractor_supervisor::{
    Supervisor, SupervisorArguments, SupervisorMsg, SupervisorOptions, SupervisorStrategy,
};
use tokio::sync::{mpsc, watch};

mod gates;
mod incidents;
mod people;
mod reload;
mod silences;
mod spread;
mod stop;
mod supervision;
mod tree;

pub use incidents::{DecideError, Decided};
pub use reload::ReloadReport;
pub use stop::{Stopped, SHUTDOWN_TIMEOUT_MS};
pub use tree::{ActorNode, ActorState};

use crate::cluster::NodeId;
use crate::context::{Ctx, Duties};
use crate::event::{Event, EventDraft, Pattern};
use crate::intake::PushedEvent;
use crate::lease_clock::LeaseClock;
use crate::model::PipelineRun;
use crate::model::RunId;
use crate::model::Who;
use crate::probe::Probes;
use crate::protocol::bus::{publish, BusMsg};
use crate::protocol::feed::FeedMsg;
use crate::protocol::incidents::{IncidentQuery, IncidentsMsg};
use crate::protocol::monitor::{ControlChange, MonitorMsg, MonitorStatus};
use crate::protocol::pipelines::{PipelineError, PipelinesMsg};
use crate::protocol::playbooks::{PlaybooksMsg, RunError};
use crate::protocol::{
    roles, Bus, Feed, Incidents, Pipelines, Playbooks, Unavailable, RPC_TIMEOUT_MS,
};
use crate::spec::{MonitorKind, PipelineSpec, PlaybookSpec, TreeSpec};
use crate::spread::Spread;
use crate::store::{Store, StoreError, StoreLocation, StoreView};

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("could not open the store: {0}")]
    Store(#[from] StoreError),
    #[error("could not start the supervision tree: {0}")]
    Spawn(#[from] SpawnErr),
    #[error("{0} is unavailable")]
    Unavailable(&'static str),
    /// A role of the tree did not answer (restarting, or not in time).
    #[error(transparent)]
    NotAnswering(#[from] Unavailable),
    #[error("there is no heartbeat monitor named {0:?}")]
    NoSuchHeartbeat(String),
    #[error("there is no monitor named {0:?}")]
    NoSuchMonitor(String),
    #[error("there is no silence {0:?}")]
    NoSuchSilence(String),
    #[error("{0} silences are in force or pending; expire one first")]
    TooManySilences(usize),
    #[error("could not save: {0}")]
    Save(Arc<StoreError>),
    #[error("events not recorded: {0}")]
    NotRecorded(String),
    /// Intake is ahead of the incident manager by more than `limits.incidents_lag_max`: the
    /// sender should retry after a moment.
    #[error("busy: {lag} events are waiting for the incident manager; retry shortly")]
    Busy { lag: u64 },
}

/// Longest a pushed batch is held while the incident manager is too far behind, before it is
/// refused with 503 and `Retry-After`.
const INGEST_WAIT_MS: u64 = 2_000;

/// A running Grace supervision tree.
pub struct Kernel {
    ctx: Arc<Ctx>,
    root: ActorRef<SupervisorMsg>,
    /// Becomes true when the root supervisor has exited.
    exited: watch::Receiver<bool>,
    /// Reloads run one at a time.
    reloading: Arc<tokio::sync::Mutex<()>>,
    /// The bounded gate in front of each actor the outside world asks (`gates.rs`).
    gates: gates::Gates,
}

impl Kernel {
    /// Opens the store at `location` and starts the tree described by `spec`.
    pub async fn start(
        spec: TreeSpec,
        location: &StoreLocation,
        probes: Probes,
    ) -> Result<Self, KernelError> {
        let store = Store::open(location).await?;
        Self::start_on(spec, store, probes, LeaseClock::unlimited()).await
    }

    /// Starts the tree on a store already open: in a cluster, the leader's, fenced by its
    /// lease, with `lease` saying how long it may still act.
    pub async fn start_on(
        spec: TreeSpec,
        store: Store,
        probes: Probes,
        lease: LeaseClock,
    ) -> Result<Self, KernelError> {
        let ctx = Ctx::with_lease(store, spec, probes, lease);
        Self::start_with(ctx).await
    }

    /// Starts the tree of a cluster's leader, node `me`: [`Kernel::start_on`], running the
    /// monitors that stay with the engines and the spread ones it is given
    /// ([`Kernel::hold_monitors`]).
    pub async fn start_leading(
        spec: TreeSpec,
        store: Store,
        probes: Probes,
        lease: LeaseClock,
        me: NodeId,
    ) -> Result<Self, KernelError> {
        let mut ctx = Ctx::with_lease(store, spec, probes, lease);
        Arc::get_mut(&mut ctx).expect("a new context").spread = Some(Spread::new(me));
        Self::start_with(ctx).await
    }

    /// Starts the tree of a cluster's standby node `me` on the shared store: the store actor,
    /// the bus, the feed and the spread monitors it is given ([`Duties::Serve`]).
    pub async fn start_serving(
        spec: TreeSpec,
        store: Store,
        me: NodeId,
    ) -> Result<Self, KernelError> {
        let mut ctx = Ctx::new(store, spec, Probes::default());
        let fresh = Arc::get_mut(&mut ctx).expect("a new context");
        fresh.duties = Duties::Serve;
        fresh.spread = Some(Spread::new(me));
        Self::start_with(ctx).await
    }

    async fn start_with(ctx: Arc<Ctx>) -> Result<Self, KernelError> {
        // People's silences are in force from the first event applied.
        *ctx.silences.write().expect("silences poisoned") = ctx.store.silences().await?;
        let period = Duration::from_millis(ctx.spec().supervision.period_ms);
        let child_specs = supervision::children(&ctx);
        ctx.spawns.record(roles::KERNEL, "supervisor");
        let (root, exit) = Supervisor::spawn(
            ctx.scope.name(roles::KERNEL),
            SupervisorArguments {
                child_specs,
                options: SupervisorOptions {
                    strategy: SupervisorStrategy::OneForOne,
                    max_restarts: ctx.spec().supervision.max_restarts,
                    max_window: period,
                    reset_after: Some(period),
                },
            },
        )
        .await?;
        // The supervisor spawns its children after it has started; a call is answered only
        // once that is done, so the whole tree is up when `start` returns.
        ractor::call_t!(root, SupervisorMsg::InspectState, RPC_TIMEOUT_MS)
            .map_err(|_| KernelError::Unavailable("the root supervisor"))?;
        let (exited_tx, exited) = watch::channel(false);
        tokio::spawn(async move {
            let _ = exit.await;
            let _ = exited_tx.send(true);
        });
        Ok(Self {
            ctx,
            root,
            exited,
            reloading: Arc::default(),
            gates: gates::Gates::default(),
        })
    }

    /// Read access to everything persisted.
    /// The tree's scope, for the crate's own tests.
    #[cfg(test)]
    pub(crate) fn scope(&self) -> &crate::protocol::Scope {
        &self.ctx.scope
    }

    pub fn store(&self) -> &StoreView {
        &self.ctx.store
    }

    /// One monitor's latest view.
    pub fn monitor_status(&self, monitor_id: &str) -> Result<MonitorStatus, KernelError> {
        self.ctx
            .statuses()
            .into_iter()
            .find(|status| status.id == monitor_id)
            .ok_or_else(|| KernelError::NoSuchMonitor(monitor_id.to_owned()))
    }

    /// Pauses, resumes or silences a monitor; persisted, so it holds across restarts.
    pub async fn control_monitor(
        &self,
        monitor_id: &str,
        change: ControlChange,
        by: Who,
    ) -> Result<MonitorStatus, KernelError> {
        if !self.ctx.spec().monitors.iter().any(|m| m.id == monitor_id) {
            return Err(KernelError::NoSuchMonitor(monitor_id.to_owned()));
        }
        let elsewhere = self.ctx.spread.is_some() && self.ctx.scope.monitor(monitor_id).is_none();
        if elsewhere {
            return self.control_elsewhere(monitor_id, change, by).await;
        }
        let _pass = self.pass(roles::MONITORS, "the monitors")?;
        let control = |reply| MonitorMsg::Control(change, by, reply);
        (self.ctx.scope.ask_monitor(monitor_id, control).await?).map_err(KernelError::Save)
    }

    /// A person's decision on a monitor another node of a cluster runs: stored and announced
    /// here in one commit, as its own monitor would; its node's monitor takes it from the
    /// announcement (`MonitorMsg::Controlled`), and this board shows it at once.
    async fn control_elsewhere(
        &self,
        monitor_id: &str,
        change: ControlChange,
        by: Who,
    ) -> Result<MonitorStatus, KernelError> {
        let stored = self.ctx.store.monitor_control(monitor_id).await?;
        let control = change.applied_to(stored);
        let (announced, saved) = crate::protocol::monitor::control_commit(&control, by);
        crate::protocol::bus::commit_in_order(&self.ctx.scope, vec![announced], vec![saved])
            .await
            .map_err(|error| {
                KernelError::Save(Arc::new(StoreError::Unavailable(error.to_string())))
            })?;
        let mut status = self.monitor_status(monitor_id).unwrap_or_else(|_| {
            let kind = self
                .ctx
                .spec()
                .monitors
                .iter()
                .find(|m| m.id == monitor_id)
                .map_or("", |m| m.kind.name());
            MonitorStatus::new(monitor_id.to_owned(), kind, control.clone())
        });
        status.control = control;
        self.ctx.post_status(status.clone());
        Ok(status)
    }

    /// Records a heartbeat for the heartbeat monitor `monitor_id` and has it look at once, so
    /// a beat that ends a silence resolves its incident without waiting for the next probe.
    pub fn beat(&self, monitor_id: &str) -> Result<(), KernelError> {
        let known = self.ctx.spec().monitors.iter().any(|monitor| {
            monitor.id == monitor_id && matches!(monitor.kind, MonitorKind::Heartbeat { .. })
        });
        if !known {
            return Err(KernelError::NoSuchHeartbeat(monitor_id.to_owned()));
        }
        self.ctx.probes.heartbeats().beat(monitor_id);
        // One `ProbeNow` waits in the monitor's mailbox at most, however many beats arrive.
        if self.ctx.ask_probe_now(monitor_id) {
            let monitor = self.ctx.scope.monitor(monitor_id);
            if monitor.is_none_or(|monitor| monitor.cast(MonitorMsg::ProbeNow).is_err()) {
                self.ctx.probe_now_taken(monitor_id);
            }
        }
        Ok(())
    }

    /// Publishes an event through the bus: persisted, sequenced, then routed like any other.
    pub fn publish(&self, draft: EventDraft) {
        publish(&self.ctx.scope, draft);
    }

    /// The configured playbooks, in config order.
    pub fn playbooks(&self) -> Vec<PlaybookSpec> {
        self.ctx.spec().playbooks.clone()
    }

    /// Runs playbook `playbook_id` on the active incident `incident_id` now, whatever its
    /// trigger says; returns the run id.
    pub async fn run_playbook(
        &self,
        playbook_id: &str,
        incident_id: u64,
        by: Who,
        force: bool,
    ) -> Result<Result<RunId, RunError>, KernelError> {
        let ask = |reply| PlaybooksMsg::RunNow {
            playbook_id: playbook_id.to_owned(),
            incident_id,
            by,
            force,
            reply,
        };
        Ok(self.ask::<Playbooks, _>(ask).await?)
    }

    /// Insights over the recent history (`insights::HISTORY_MAX` incidents and runs).
    pub async fn insights(&self) -> Result<crate::insights::Insights, StoreError> {
        let store = &self.ctx.store;
        let incidents = store.incidents(None, crate::insights::HISTORY_MAX).await?;
        let executions = store.executions(crate::insights::HISTORY_MAX).await?;
        Ok(crate::insights::compute(
            &incidents,
            &executions,
            crate::time::now(),
        ))
    }

    /// The configured pipelines, in config order.
    pub fn pipelines(&self) -> Vec<PipelineSpec> {
        self.ctx.spec().pipelines.clone()
    }

    /// Starts a run of pipeline `pipeline_id` now; returns it as started.
    pub async fn run_pipeline(
        &self,
        pipeline_id: &str,
        by: Who,
    ) -> Result<Result<PipelineRun, PipelineError>, KernelError> {
        let ask = |reply| PipelinesMsg::RunNow {
            pipeline_id: pipeline_id.to_owned(),
            by,
            reply,
        };
        Ok(self.ask::<Pipelines, _>(ask).await?)
    }

    /// Every rule a pushed event breaks, as (field, message): its own, and that its source is
    /// not a monitor. A monitor's state is what its probes say: a pushed event must not open or
    /// resolve its incidents (a forged recovery would hide a real outage).
    pub fn pushed_problems(&self, event: &PushedEvent) -> Vec<(&'static str, String)> {
        let mut found = event.problems();
        if self.has_monitor(&event.source) {
            let why = format!(
                "{:?} is a monitor; report what the app sees under its own source",
                event.source
            );
            found.push(("source", why));
        }
        found
    }

    /// How monitors' history is kept (`[history]`).
    pub fn history(&self) -> crate::history::HistorySpec {
        self.ctx.spec().history
    }

    /// How Alertmanager's alerts are routed (`[alertmanager]`), as configured now.
    pub fn alertmanager(&self) -> crate::spec::AlertmanagerSpec {
        self.ctx.spec().alertmanager.clone()
    }

    /// Whether a monitor named `id` is configured.
    fn has_monitor(&self, id: &str) -> bool {
        self.ctx.spec().monitors.iter().any(|m| m.id == id)
    }

    /// Records events pushed in from outside in one transaction and routes them; returns
    /// their seqs once they are durable.
    /// The running limits (`[limits]`).
    /// Why the store refuses writes, while it does.
    pub fn store_failure(&self) -> Option<crate::model::StoreFailure> {
        self.ctx
            .store_health
            .lock()
            .expect("store health poisoned")
            .clone()
    }

    pub fn limits(&self) -> crate::spec::LimitsSpec {
        self.ctx.spec().limits.clone()
    }

    /// How far the incident manager is: the last seq it applied, and how many committed
    /// events it has yet to read.
    pub fn incidents_progress(&self) -> (u64, u64) {
        let progress = &self.ctx.progress;
        let applied = progress
            .incidents_at
            .load(std::sync::atomic::Ordering::Acquire);
        (applied, progress.incidents_lag())
    }

    /// Held while the incident manager is too far behind, refused with [`KernelError::Busy`]
    /// if it stays so.
    pub async fn ingest(&self, drafts: Vec<EventDraft>) -> Result<Vec<u64>, KernelError> {
        if drafts.is_empty() {
            return Ok(Vec::new()); // nothing to record (an Alertmanager call with no alerts)
        }
        // Slow the sender down first: hold the request while the incident manager catches up,
        // and refuse only when it does not within INGEST_WAIT_MS.
        let lag_max = self.ctx.spec().limits.incidents_lag_max as u64;
        let progress = &self.ctx.progress;
        if !progress.wait_for_lag(lag_max, INGEST_WAIT_MS).await {
            return Err(KernelError::Busy {
                lag: progress.incidents_lag(),
            });
        }
        let ask = |reply| BusMsg::Ingest(drafts, reply);
        let seqs = self
            .ask::<Bus, _>(ask)
            .await?
            .map_err(KernelError::NotRecorded)?;
        self.ctx.metrics.events_pushed.inc_by(seqs.len() as u64);
        Ok(seqs)
    }

    /// Every metric, as OpenMetrics text; levels kept elsewhere are read now.
    pub async fn metrics_text(&self, ws_clients: usize) -> String {
        let metrics = &self.ctx.metrics;
        let lag = i64::try_from(self.ctx.progress.incidents_lag()).unwrap_or(i64::MAX);
        metrics.incidents_lag_events.set(lag);
        metrics
            .ws_clients
            .set(i64::try_from(ws_clients).unwrap_or(i64::MAX));
        if let Ok(counts) = self
            .ask::<Incidents, _>(|reply| IncidentsMsg::Query(IncidentQuery::CountByStatus(reply)))
            .await
        {
            use crate::model::IncidentStatus::*;
            for status in [Open, Acknowledged, Mitigating, Escalated] {
                let count = counts.iter().find(|(s, _)| *s == status).map_or(0, |c| c.1);
                let label = crate::metrics::StatusLabel {
                    status: status.as_str(),
                };
                metrics.incidents.get_or_create(&label).set(count as i64);
            }
        }
        metrics.encode()
    }

    /// Live events matching any pattern (all when empty), from the moment of subscription. The
    /// channel closes when the subscriber falls `limits.ws_buffer_max` events behind.
    pub async fn subscribe(
        &self,
        patterns: Vec<Pattern>,
    ) -> Result<mpsc::Receiver<Arc<Event>>, KernelError> {
        let ask = |reply| FeedMsg::Subscribe(patterns, reply);
        Ok(self.ask::<Feed, _>(ask).await?)
    }

    /// What each monitor saw at its latest probe, in config order.
    /// The spec the tree runs now (a reload replaces it).
    pub fn spec(&self) -> Arc<TreeSpec> {
        self.ctx.spec()
    }

    pub fn monitor_statuses(&self) -> Vec<MonitorStatus> {
        self.ctx.statuses()
    }

    /// Resolves when the root supervisor has exited: after [`Kernel::shutdown`], or when restart
    /// intensity was exceeded all the way up and the tree gave up.
    pub async fn exited(&self) {
        let mut exited = self.exited.clone();
        let _ = exited.wait_for(|exited| *exited).await;
    }
}

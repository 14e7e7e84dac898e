//! The kernel: opens the store, builds the supervision tree, and is the one handle the outside
//! world (the HTTP server, tests) holds on to.
//!
//! The root is an OTP-style one-for-one supervisor (`ractor-supervisor`). Each child is declared
//! with a spawn function that the supervisor calls again on every restart; the spawn function
//! counts restarts and publishes `actor.restarted`. Too many restarts within the period and a
//! supervisor gives up and fails, which its own parent sees as a crash: escalation.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorRef, ActorStatus, SpawnErr};
use ractor_supervisor::{
    ChildBackoffFn, ChildSpec, DynamicSupervisor, DynamicSupervisorMsg, DynamicSupervisorOptions,
    Restart, SpawnFn, Supervisor, SupervisorArguments, SupervisorMsg, SupervisorOptions,
    SupervisorStrategy,
};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::bus_actor::BusActor;
use crate::context::Ctx;
use crate::event::{types, Event, EventDraft, Pattern};
use crate::feed_actor::FeedActor;
use crate::incidents_actor::IncidentsActor;
use crate::intake::PushedEvent;
use crate::model::PipelineRun;
use crate::model::{Incident, IncidentStatus, Suggestion, SuggestionStatus, Who};
use crate::monitor_actor::{MonitorActor, MonitorArgs};
use crate::notifier_actor::NotifierActor;
use crate::pipelines_actor::PipelinesActor;
use crate::playbooks_actor::PlaybooksActor;
use crate::probe::ProbeFactory;
use crate::protocol::bus::{publish, BusMsg};
use crate::protocol::feed::FeedMsg;
use crate::protocol::incidents::{IncidentError, IncidentFilter, IncidentPage, IncidentsMsg};
use crate::protocol::monitor::{ControlChange, MonitorMsg, MonitorStatus};
use crate::protocol::pipelines::{PipelineError, PipelinesMsg};
use crate::protocol::playbooks::{PlaybooksMsg, RunError};
use crate::protocol::{
    roles, Bus, Feed, Incidents, Pipelines, Playbooks, Unavailable, RPC_TIMEOUT_MS,
};
use crate::retention_actor::RetentionActor;
use crate::spec::{MonitorKind, MonitorSpec, PipelineSpec, PlaybookSpec, TreeSpec};
use crate::store::{Store, StoreError, StoreLocation};
use crate::store_actor::StoreActor;

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
    #[error("could not save: {0}")]
    Save(Arc<StoreError>),
    #[error("events not recorded: {0}")]
    NotRecorded(String),
    /// Intake is ahead of the incident manager by more than `limits.incidents_lag_max`: the
    /// sender should retry after a moment.
    #[error("busy: {lag} events are waiting for the incident manager; retry shortly")]
    Busy { lag: u64 },
}

/// What deciding a suggestion did: the suggestion as decided, and the run an approval started.
#[derive(Debug, Clone)]
pub struct Decided {
    pub suggestion: Suggestion,
    pub run_id: Option<String>,
}

/// Why a suggestion could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error(transparent)]
    Incident(#[from] IncidentError),
    /// Approving it could not start its run.
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

/// What a config reload did to the monitors, by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Settings that changed but only take effect when Grace restarts.
    pub restart_required: Vec<String>,
    /// Monitors that could not be stopped or started, with why.
    pub errors: Vec<String>,
}

/// Longest a pushed batch is held while the incident manager is too far behind, before it is
/// refused with 503 and `Retry-After`.
const INGEST_WAIT_MS: u64 = 2_000;

/// How often a stopping monitor is checked for being gone.
const STOP_POLL_MS: u64 = 5;

/// One node of the live actor tree.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorNode {
    /// ractor's id for this incarnation; a restarted actor gets a new one.
    pub id: String,
    /// The actor's role (`kernel`, `monitors`, `monitor:orders-db`, `agent:agent-…`).
    pub name: String,
    /// `supervisor`, `store`, `bus`, `feed`, `incidents`, `playbooks`, `monitor` or `agent`.
    pub kind: &'static str,
    /// `starting`, `running`, `stopping` or `stopped`.
    pub status: &'static str,
    /// Times its supervisor restarted it.
    pub restarts: u32,
    pub children: Vec<ActorNode>,
}

impl ActorNode {
    /// Depth-first search by role.
    pub fn find(&self, name: &str) -> Option<&ActorNode> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|child| child.find(name))
    }
}

/// A running Grace supervision tree.
pub struct Kernel {
    ctx: Arc<Ctx>,
    root: ActorRef<SupervisorMsg>,
    /// Becomes true when the root supervisor has exited.
    exited: watch::Receiver<bool>,
    /// Reloads run one at a time.
    reloading: tokio::sync::Mutex<()>,
}

impl Kernel {
    /// Opens the store at `location` and starts the tree described by `spec`.
    pub async fn start(
        spec: TreeSpec,
        location: &StoreLocation,
        probes: ProbeFactory,
    ) -> Result<Self, KernelError> {
        let store = Store::open(location).await?;
        let ctx = Ctx::new(store, spec, probes);
        let period = Duration::from_millis(ctx.spec().supervision.period_ms);
        let child_specs = vec![
            child(&ctx, roles::STORE, "store", |ctx, name, sup| async move {
                spawn_cell(name, StoreActor, ctx, sup).await
            }),
            child(&ctx, roles::BUS, "bus", |ctx, name, sup| async move {
                spawn_cell(name, BusActor, ctx, sup).await
            }),
            child(&ctx, roles::FEED, "feed", |ctx, name, sup| async move {
                spawn_cell(name, FeedActor, ctx, sup).await
            }),
            child(
                &ctx,
                roles::INCIDENTS,
                "incidents",
                |ctx, name, sup| async move { spawn_cell(name, IncidentsActor, ctx, sup).await },
            ),
            // Before the playbook engine: work orders it records as it starts are sent too.
            child(
                &ctx,
                roles::NOTIFIER,
                "notifier",
                |ctx, name, sup| async move { spawn_cell(name, NotifierActor, ctx, sup).await },
            ),
            // Before the playbook engine: a resumed run may rerun pipelines at once.
            child(
                &ctx,
                roles::PIPELINES,
                "pipelines",
                |ctx, name, sup| async move { spawn_cell(name, PipelinesActor, ctx, sup).await },
            ),
            child(
                &ctx,
                roles::PLAYBOOKS,
                "playbooks",
                |ctx, name, sup| async move { spawn_cell(name, PlaybooksActor, ctx, sup).await },
            ),
            child(&ctx, roles::MONITORS, "supervisor", spawn_monitors),
            child(
                &ctx,
                roles::RETENTION,
                "retention",
                |ctx, name, sup| async move { spawn_cell(name, RetentionActor, ctx, sup).await },
            ),
        ];
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
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// Read access to everything persisted.
    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// `by` acknowledges incident `id`.
    pub async fn acknowledge(&self, id: u64, by: Who) -> Result<Incident, IncidentError> {
        let ask = |reply| IncidentsMsg::Acknowledge(id, by, reply);
        self.ctx.scope.ask::<Incidents, _>(ask).await?
    }

    /// A page of incidents, newest first, below id `before`. Active ones (`Active`, or an
    /// active status) come from the incident manager's memory with how many match in all;
    /// resolved ones from the store, skipping the active ids; any status, from the store's id
    /// ranges. None of these reads costs more with more incidents stored.
    pub async fn incidents(
        &self,
        filter: IncidentFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<IncidentPage, IncidentError> {
        let scope = &self.ctx.scope;
        let status = match filter {
            IncidentFilter::Any => {
                let items = self.ctx.store.incidents(before, limit).await?;
                return Ok(IncidentPage { items, total: None });
            }
            IncidentFilter::Status(IncidentStatus::Resolved) => {
                let below = before.unwrap_or(u64::MAX);
                let ask = |reply| IncidentsMsg::ActiveIdsBelow(below, reply);
                let skip = scope.ask::<Incidents, _>(ask).await?;
                let store = &self.ctx.store;
                let items = store.resolved_incidents(before, limit, &skip).await?;
                return Ok(IncidentPage { items, total: None });
            }
            IncidentFilter::Active => None,
            IncidentFilter::Status(status) => Some(status),
        };
        let ask = |reply| IncidentsMsg::NewestActive {
            before,
            limit,
            status,
            reply,
        };
        Ok(scope.ask::<Incidents, _>(ask).await?)
    }

    /// `by` resolves incident `id` by hand.
    pub async fn resolve(&self, id: u64, by: Who) -> Result<Incident, IncidentError> {
        let ask = |reply| IncidentsMsg::Resolve(id, by, reply);
        self.ctx.scope.ask::<Incidents, _>(ask).await?
    }

    /// `by` approves or dismisses suggestion `suggestion_id` on incident `incident_id`.
    /// Approving starts the run first: a suggestion is marked approved only once its run is
    /// under way, so one that cannot run now (busy, full) can still be approved later.
    pub async fn decide_suggestion(
        &self,
        incident_id: u64,
        suggestion_id: &str,
        approve: bool,
        by: Who,
    ) -> Result<Decided, DecideError> {
        let run_id = match approve {
            true => Some(self.run_suggested(incident_id, suggestion_id, &by).await?),
            false => None,
        };
        let ask = |reply| IncidentsMsg::Decide {
            incident_id,
            suggestion_id: suggestion_id.to_owned(),
            approve,
            by,
            reply,
        };
        let asked = self.ctx.scope.ask::<Incidents, _>(ask).await;
        let suggestion = asked.map_err(IncidentError::from)??;
        Ok(Decided { suggestion, run_id })
    }

    /// Runs the playbook a pending suggestion offers, as a run by hand of `by`; its run id.
    async fn run_suggested(
        &self,
        incident_id: u64,
        suggestion_id: &str,
        by: &Who,
    ) -> Result<String, DecideError> {
        let incident = self.ctx.store.incident(incident_id).await;
        let incident = incident
            .map_err(IncidentError::from)?
            .ok_or(IncidentError::NotFound(incident_id))?;
        let suggestion = incident
            .suggestions
            .iter()
            .find(|s| s.suggestion_id == suggestion_id)
            .ok_or_else(|| IncidentError::NoSuchSuggestion {
                incident_id,
                suggestion_id: suggestion_id.to_owned(),
            })?;
        if suggestion.status != SuggestionStatus::Pending {
            let status = "decided already on this suggestion";
            let conflict = IncidentError::Conflict {
                id: incident_id,
                status,
                action: "approved",
            };
            return Err(conflict.into());
        }
        let run = self.run_playbook(&suggestion.playbook_id, incident_id, by.clone(), false);
        Ok(run.await??)
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
        let monitor = self
            .ctx
            .scope
            .lookup::<MonitorMsg>(&roles::monitor(monitor_id))
            .ok_or(KernelError::Unavailable("the monitor (restarting)"))?;
        ractor::call_t!(monitor, MonitorMsg::Control, RPC_TIMEOUT_MS, change, by)
            .map_err(|_| KernelError::Unavailable("the monitor"))?
            .map_err(KernelError::Save)
    }

    /// Applies a new spec while running: monitors that were added, removed or changed are
    /// started, stopped or restarted under the monitors supervisor; the others keep running
    /// untouched. Playbooks, trust and limits take effect for what happens next. Supervision
    /// settings shape supervisors that are already running, so they wait for a restart (the
    /// report says so). The spec must already be checked.
    pub async fn reload(&self, mut spec: TreeSpec, by: Who) -> Result<ReloadReport, KernelError> {
        let _one_at_a_time = self.reloading.lock().await;
        let old = self.ctx.spec();
        let mut report = ReloadReport::default();
        if spec.supervision != old.supervision {
            report.restart_required.push("supervision".to_owned());
            spec.supervision = old.supervision.clone();
        }
        for monitor in &old.monitors {
            match spec.monitors.iter().find(|m| m.id == monitor.id) {
                None => report.removed.push(monitor.id.clone()),
                Some(new) if new != monitor => report.changed.push(monitor.id.clone()),
                Some(_) => report.unchanged.push(monitor.id.clone()),
            }
        }
        for monitor in &spec.monitors {
            if !old.monitors.iter().any(|m| m.id == monitor.id) {
                report.added.push(monitor.id.clone());
            }
        }
        let supervisor = self
            .ctx
            .scope
            .lookup::<DynamicSupervisorMsg>(roles::MONITORS)
            .ok_or(KernelError::Unavailable(
                "the monitors supervisor (restarting)",
            ))?;
        let new_specs = spec.monitors.clone();
        self.ctx.replace_spec(spec);
        // Keep going past a failure, so one monitor that will not stop or start does not
        // leave the others half-done; every failure is reported.
        for id in &report.removed {
            if let Err(error) = self.stop_monitor(&supervisor, id, true).await {
                report.errors.push(format!("{id}: {error}"));
            }
        }
        for id in &report.changed {
            // A process Grace runs keeps running when only how it is watched changed.
            let old_kind = old.monitors.iter().find(|m| &m.id == id).map(|m| &m.kind);
            let new_kind = new_specs.iter().find(|m| &m.id == id).map(|m| &m.kind);
            if let Err(error) = self
                .stop_monitor(&supervisor, id, old_kind != new_kind)
                .await
            {
                report.errors.push(format!("{id}: {error}"));
            }
        }
        for id in report.changed.iter().chain(&report.added) {
            let monitor = new_specs
                .iter()
                .find(|m| &m.id == id)
                .expect("diffed above");
            let child = monitor_child(&self.ctx, monitor.clone());
            if let Err(error) = DynamicSupervisor::spawn_child(supervisor.clone(), child).await {
                report
                    .errors
                    .push(format!("{id}: could not start: {error}"));
            }
        }
        publish(
            &self.ctx.scope,
            EventDraft::new(
                types::CONFIG_RELOADED,
                json!({
                    "added": report.added,
                    "removed": report.removed,
                    "changed": report.changed,
                    "unchanged": report.unchanged.len(),
                    "restart_required": report.restart_required,
                    "errors": report.errors,
                    "by": by,
                }),
            ),
        );
        Ok(report)
    }

    /// Stops one monitor for good (until it is spawned again) and waits until its name is free.
    /// With `drop_process`, a process Grace started for it ends too (and is gone on return).
    async fn stop_monitor(
        &self,
        supervisor: &ActorRef<DynamicSupervisorMsg>,
        id: &str,
        drop_process: bool,
    ) -> Result<(), String> {
        let role = roles::monitor(id);
        let name = self.ctx.scope.name(&role);
        DynamicSupervisor::terminate_child(supervisor.clone(), name.clone())
            .await
            .map_err(|error| format!("could not stop: {error}"))?;
        let deadline = std::time::Instant::now() + Duration::from_millis(RPC_TIMEOUT_MS);
        while ractor::registry::where_is(name.clone()).is_some() {
            if std::time::Instant::now() > deadline {
                return Err("did not stop in time".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(STOP_POLL_MS)).await;
        }
        // Its view leaves the board; a monitor spawned again under the same id starts a fresh
        // restart count.
        if drop_process {
            self.ctx.probes.processes().remove(id).await;
        }
        self.ctx.forget_status(id);
        self.ctx.spawns.forget(&role);
        Ok(())
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
        if let Some(monitor) = self
            .ctx
            .scope
            .lookup::<MonitorMsg>(&roles::monitor(monitor_id))
        {
            let _ = monitor.cast(MonitorMsg::ProbeNow);
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
    ) -> Result<Result<String, RunError>, KernelError> {
        let ask = |reply| PlaybooksMsg::RunNow {
            playbook_id: playbook_id.to_owned(),
            incident_id,
            by,
            force,
            reply,
        };
        Ok(self.ctx.scope.ask::<Playbooks, _>(ask).await?)
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
        Ok(self.ctx.scope.ask::<Pipelines, _>(ask).await?)
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
            .ctx
            .scope
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
        let scope = &self.ctx.scope;
        if let Ok(counts) = scope.ask::<Incidents, _>(IncidentsMsg::CountByStatus).await {
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
        Ok(self.ctx.scope.ask::<Feed, _>(ask).await?)
    }

    /// What each monitor saw at its latest probe, in config order.
    pub fn monitor_statuses(&self) -> Vec<MonitorStatus> {
        self.ctx.statuses()
    }

    /// The live supervision tree.
    pub fn tree(&self) -> ActorNode {
        self.node(&self.root.get_cell())
    }

    fn node(&self, cell: &ActorCell) -> ActorNode {
        let name = cell.get_name().unwrap_or_default();
        let role = self.ctx.scope.role(&name).to_owned();
        let entry = self.ctx.spawns.get(&role);
        let mut children: Vec<ActorNode> = cell
            .get_children()
            .iter()
            .map(|child| self.node(child))
            .collect();
        children.sort_by(|a, b| a.name.cmp(&b.name));
        ActorNode {
            id: cell.get_id().to_string(),
            kind: entry.map_or("actor", |e| e.kind),
            restarts: entry.map_or(0, |e| e.spawns.saturating_sub(1)),
            status: status_name(cell.get_status()),
            name: role,
            children,
        }
    }

    /// Resolves when the root supervisor has exited: after [`Kernel::shutdown`], or when restart
    /// intensity was exceeded all the way up and the tree gave up.
    pub async fn exited(&self) {
        let mut exited = self.exited.clone();
        let _ = exited.wait_for(|exited| *exited).await;
    }

    /// Stops the whole tree and waits for it.
    pub async fn shutdown(self) {
        self.root.stop(Some("shutdown".to_owned()));
        self.exited().await;
    }
}

fn status_name(status: ActorStatus) -> &'static str {
    match status {
        ActorStatus::Unstarted | ActorStatus::Starting => "starting",
        ActorStatus::Running | ActorStatus::Upgrading | ActorStatus::Draining => "running",
        ActorStatus::Stopping => "stopping",
        ActorStatus::Stopped => "stopped",
    }
}

async fn spawn_cell<A: Actor>(
    name: String,
    actor: A,
    args: A::Arguments,
    supervisor: ActorCell,
) -> Result<ActorCell, SpawnErr> {
    let (actor, _) = Supervisor::spawn_linked(name, actor, args, supervisor).await?;
    Ok(actor.get_cell())
}

/// A permanent child whose (re)spawns are counted, and whose restarts are published.
fn child<F, Fut>(ctx: &Arc<Ctx>, role: &str, kind: &'static str, spawn: F) -> ChildSpec
where
    F: Fn(Arc<Ctx>, String, ActorCell) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ActorCell, SpawnErr>> + Send + 'static,
{
    let spawn = Arc::new(spawn);
    let role = role.to_owned();
    let spec_ctx = ctx.clone();
    ChildSpec {
        id: ctx.scope.name(&role),
        restart: Restart::Permanent,
        spawn_fn: SpawnFn::new(move |supervisor: ActorCell, name: String| {
            let ctx = spec_ctx.clone();
            let spawn = spawn.clone();
            let role = role.clone();
            async move {
                let restarts = ctx.spawns.record(&role, kind);
                let cell = spawn(ctx.clone(), name, supervisor).await?;
                if restarts > 0 {
                    let label = crate::metrics::ActorLabel {
                        kind: kind.to_owned(),
                    };
                    ctx.metrics.actor_restarts.get_or_create(&label).inc();
                    // After the spawn, so a restarted bus or store is there to carry it.
                    publish(
                        &ctx.scope,
                        EventDraft::new(
                            types::ACTOR_RESTARTED,
                            json!({ "actor": role, "kind": kind, "restarts": restarts }),
                        )
                        .source(role.clone()),
                    );
                }
                Ok(cell)
            }
        }),
        backoff_fn: Some(restart_backoff()),
        reset_after: Some(Duration::from_millis(RESTART_BACKOFF_MAX_MS)),
    }
}

/// The first restart of a child waits this long, each further one twice as long as the last.
/// From 250 ms, one child failing over and over restarts at most 5 times in 10 s (the default
/// `supervision`), so a lasting fault in one part (a full disk under one writer) leaves that
/// part retrying while the rest of Grace runs, instead of melting the whole tree down.
const RESTART_BACKOFF_FIRST_MS: u64 = 250;
/// The longest wait between restarts; a child quiet this long starts over at the first wait.
const RESTART_BACKOFF_MAX_MS: u64 = 30_000;

/// Exponential, capped restart delay per child (see the constants).
fn restart_backoff() -> ChildBackoffFn {
    ChildBackoffFn::new(|_child, restarts, _last_failure, _reset_after| {
        Some(Duration::from_millis(restart_delay_ms(restarts)))
    })
}

fn restart_delay_ms(restarts: usize) -> u64 {
    let doublings = restarts.saturating_sub(1).min(16) as u32;
    (RESTART_BACKOFF_FIRST_MS << doublings).min(RESTART_BACKOFF_MAX_MS)
}

/// The monitors supervisor and one child per configured monitor. Called again on its restart,
/// so a restarted supervisor comes back with all its monitors.
async fn spawn_monitors(
    ctx: Arc<Ctx>,
    name: String,
    supervisor: ActorCell,
) -> Result<ActorCell, SpawnErr> {
    let period = Duration::from_millis(ctx.spec().supervision.period_ms);
    let options = DynamicSupervisorOptions {
        max_children: None,
        max_restarts: ctx.spec().supervision.max_restarts,
        max_window: period,
        reset_after: Some(period),
    };
    let (monitors, _) =
        Supervisor::spawn_linked(name, DynamicSupervisor, options, supervisor).await?;
    for spec in &ctx.spec().monitors {
        let child_spec = monitor_child(&ctx, spec.clone());
        DynamicSupervisor::spawn_child(monitors.clone(), child_spec)
            .await
            .map_err(SpawnErr::StartupFailed)?;
    }
    Ok(monitors.get_cell())
}

fn monitor_child(ctx: &Arc<Ctx>, spec: MonitorSpec) -> ChildSpec {
    let role = roles::monitor(&spec.id);
    child(ctx, &role, "monitor", move |ctx, name, sup| {
        let spec = spec.clone();
        async move { spawn_cell(name, MonitorActor, MonitorArgs { ctx, spec }, sup).await }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SupervisionSpec;

    #[test]
    fn restart_delays_double_up_to_the_cap() {
        let delays: Vec<u64> = (1..=9).map(restart_delay_ms).collect();
        assert_eq!(
            delays,
            [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
        );
        assert_eq!(restart_delay_ms(usize::MAX), RESTART_BACKOFF_MAX_MS);
    }

    #[test]
    fn one_child_failing_at_once_stays_within_the_default_restart_intensity() {
        // Restart n happens at the sum of the first n delays; count those in any 10 s window.
        let spec = SupervisionSpec::default();
        let mut at_ms = 0;
        let times: Vec<u64> = (1..=20)
            .map(|n| {
                at_ms += restart_delay_ms(n);
                at_ms
            })
            .collect();
        for (i, start) in times.iter().enumerate() {
            let within = times[i..]
                .iter()
                .take_while(|t| **t < start + spec.period_ms)
                .count();
            assert!(
                within <= spec.max_restarts,
                "{within} restarts within {} ms",
                spec.period_ms
            );
        }
    }
}

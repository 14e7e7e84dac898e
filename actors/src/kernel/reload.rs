//! Applying a reloaded config to the running tree: monitors added, removed and changed one
//! by one, everything else swapped in at once.

use std::time::Duration;

use ractor::ActorRef;
use ractor_supervisor::{DynamicSupervisor, DynamicSupervisorMsg};

use super::supervision::monitor_child;
use super::{Kernel, KernelError};
use crate::event::EventDraft;
use crate::model::Who;
use crate::payload::ConfigReloaded;
use crate::protocol::bus::publish;
use crate::protocol::{roles, RPC_TIMEOUT_MS};
use crate::spec::{MonitorSpec, TreeSpec};

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

/// How often a stopping monitor is checked for being gone.
const STOP_POLL_MS: u64 = 5;

impl Kernel {
    /// Applies a new spec while running: monitors that were added, removed or changed are
    /// started, stopped or restarted under the monitors supervisor; the others keep running
    /// untouched. Playbooks, trust and limits take effect for what happens next. Supervision
    /// settings shape supervisors that are already running, so they wait for a restart (the
    /// report says so). The spec must already be checked.
    pub async fn reload(&self, mut spec: TreeSpec, by: Who) -> Result<ReloadReport, KernelError> {
        let _one_at_a_time = self.reloading.lock().await;
        let old = self.ctx.spec();
        let mut report = diff(&old, &spec);
        if spec.supervision != old.supervision {
            report.restart_required.push("supervision".to_owned());
            spec.supervision = old.supervision.clone();
        }
        let new_specs = spec.monitors.clone();
        let supervisor = self.ctx.scope.monitors().ok_or(KernelError::Unavailable(
            "the monitors supervisor (restarting)",
        ))?;
        self.ctx.replace_spec(spec);
        self.restart_monitors(&supervisor, &old.monitors, &new_specs, &mut report)
            .await;
        let reloaded = ConfigReloaded {
            added: report.added.clone(),
            removed: report.removed.clone(),
            changed: report.changed.clone(),
            unchanged: report.unchanged.len(),
            restart_required: report.restart_required.clone(),
            errors: report.errors.clone(),
            by,
        };
        publish(&self.ctx.scope, EventDraft::of(&reloaded));
        Ok(report)
    }

    /// Stops the removed and changed monitors and starts the changed and added ones. Keeps
    /// going past a failure, so one monitor that will not stop or start does not leave the
    /// others half-done; every failure is in `report.errors`.
    async fn restart_monitors(
        &self,
        supervisor: &ActorRef<DynamicSupervisorMsg>,
        old: &[MonitorSpec],
        new: &[MonitorSpec],
        report: &mut ReloadReport,
    ) {
        let kind = |specs: &[MonitorSpec], id: &str| {
            specs.iter().find(|m| m.id == id).map(|m| m.kind.clone())
        };
        // In a cluster, only what runs here: a spread monitor another node holds is its to
        // restart, and one newly added is started where its lease is taken.
        let here = |specs: &[MonitorSpec], id: &str| {
            specs.iter().any(|m| m.id == id && self.ctx.runs_here(m))
        };
        let stops = report.removed.iter().map(|id| (id, true));
        // A process Grace runs keeps running when only how it is watched changed.
        let changes = report
            .changed
            .iter()
            .map(|id| (id, kind(old, id) != kind(new, id)));
        let stops = stops.chain(changes).filter(|(id, _)| here(old, id));
        let mut errors = Vec::new();
        for (id, drop_process) in stops {
            if let Err(error) = self.stop_monitor(supervisor, id, drop_process).await {
                errors.push(format!("{id}: {error}"));
            }
        }
        for id in report.changed.iter().chain(&report.added) {
            let monitor = new.iter().find(|m| &m.id == id).expect("diffed above");
            if !self.ctx.runs_here(monitor) {
                continue;
            }
            let child = monitor_child(&self.ctx, monitor.clone());
            if let Err(error) = DynamicSupervisor::spawn_child(supervisor.clone(), child).await {
                errors.push(format!("{id}: could not start: {error}"));
            }
        }
        report.errors.extend(errors);
    }

    /// Stops one monitor for good (until it is spawned again) and waits until its name is free.
    /// With `drop_process`, a process Grace started for it ends too (and is gone on return).
    pub(super) async fn stop_monitor(
        &self,
        supervisor: &ActorRef<DynamicSupervisorMsg>,
        id: &str,
        drop_process: bool,
    ) -> Result<(), String> {
        let role = roles::monitor(id);
        let name = self.ctx.scope.name(&role);
        DynamicSupervisor::terminate_child(supervisor.clone(), name)
            .await
            .map_err(|error| format!("could not stop: {error}"))?;
        let deadline = std::time::Instant::now() + Duration::from_millis(RPC_TIMEOUT_MS);
        while self.ctx.scope.monitor(id).is_some() {
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
        self.ctx.metrics.monitor_gone(id);
        self.ctx.spawns.forget(&role);
        Ok(())
    }
}

/// Which monitors a new config adds, removes, changes and leaves as they are.
fn diff(old: &TreeSpec, new: &TreeSpec) -> ReloadReport {
    let mut report = ReloadReport::default();
    for monitor in &old.monitors {
        match new.monitors.iter().find(|m| m.id == monitor.id) {
            None => report.removed.push(monitor.id.clone()),
            Some(changed) if changed != monitor => report.changed.push(monitor.id.clone()),
            Some(_) => report.unchanged.push(monitor.id.clone()),
        }
    }
    for monitor in &new.monitors {
        if !old.monitors.iter().any(|m| m.id == monitor.id) {
            report.added.push(monitor.id.clone());
        }
    }
    report
}

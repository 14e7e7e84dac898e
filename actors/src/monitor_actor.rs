//! A monitor: probes one dependency on its interval and publishes a problem event when it goes
//! down and a recovery event when it comes back, with flap damping in both directions.
//!
//! Probes never overlap: the next one is scheduled only after the previous one has ended, so a
//! slow dependency cannot pile up work in the mailbox. After each probe the monitor posts its
//! view on the kernel's status board, which readers consult without waiting on a probe.
//!
//! A transition (down, or back up) counts only once its event is committed: the monitor waits
//! for the store, and if the commit fails it keeps its old state, so the next probe announces
//! the transition again. An outage is never known to the monitor alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::json;

use crate::context::Ctx;
use crate::damping::{Damping, Transition};
use crate::event::{types, EventDraft};
use crate::history::Recorder;
use crate::model::Who;
use crate::payload::{MonitorFlapping, MonitorSteady};
use crate::probe::{Probe, ProbeFailure};
use crate::protocol::bus::commit_in_order;
use crate::protocol::monitor::{control_commit, ControlChange, MonitorMsg, MonitorStatus};
use crate::spec::MonitorSpec;
use crate::store::{StoreError, Write};

pub struct MonitorActor;

pub struct MonitorArgs {
    pub ctx: Arc<Ctx>,
    pub spec: MonitorSpec,
}

pub struct MonitorState {
    ctx: Arc<Ctx>,
    spec: MonitorSpec,
    probe: Box<dyn Probe>,
    status: MonitorStatus,
    /// When the component is down, up or flapping.
    damping: Damping,
    /// The probe's position as last committed (see `Probe::position`).
    position: Option<serde_json::Value>,
    /// Events a probe found that could not be committed yet; at most UNSENT_EVENTS_MAX.
    unsent: Vec<EventDraft>,
    /// This monitor's probes summed per bucket, for its history (`history.rs`).
    history: Recorder,
    /// The problem type last announced while down (from its open incident after a restart);
    /// None when up.
    announced: Option<String>,
    /// In a cluster, the epoch of this node's lease on a spread monitor as it started: every
    /// commit is guarded by it, and a takeover restarts the monitor elsewhere.
    lease: Option<crate::cluster::Epoch>,
}

/// Found events kept for another try while the store refuses writes; past this the oldest
/// go (log rules are rate limited, so this is many minutes of matches).
const UNSENT_EVENTS_MAX: usize = 1_024;

impl Actor for MonitorActor {
    type Msg = MonitorMsg;
    type State = MonitorState;
    type Arguments = MonitorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        MonitorArgs { ctx, spec }: MonitorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        ctx.probe_now_taken(&spec.id); // a restart lost any waiting in the mailbox
        let mut probe = ctx.probes.build(&spec);
        let position = ctx.store.monitor_position(&spec.id).await?;
        if let Some(position) = position.clone() {
            probe.resume(position);
        }
        // A component with an active incident was down when this monitor last looked (before a
        // restart of the monitor or of Grace): start from there, so its recovery is announced.
        // Only incidents of the probe's own family count: a log rule's incident on the same
        // source says nothing about whether the file can be read.
        let family = crate::event::family(probe.recovery_event());
        let down_as = ctx.store.active_incident_type(&spec.id, family).await?;
        let down = down_as.is_some();
        let flapping_family = crate::event::family(types::MONITOR_FLAPPING);
        let flapping = ctx
            .store
            .has_active_incident(&spec.id, flapping_family)
            .await?;
        let damping = Damping::new(&spec, down, flapping);
        let status = MonitorStatus {
            id: spec.id.clone(),
            kind: spec.kind.name(),
            down,
            refused: down_as.as_deref().is_some_and(crate::event::refuses_grace),
            consecutive_failures: 0,
            last_probe_at: None,
            last_latency_ms: None,
            last_error: None,
            details: serde_json::Value::Null,
            control: ctx.store.monitor_control(&spec.id).await?,
            history: None,
        };
        ctx.post_status(status.clone());
        if let Some(mut wake) = probe.wake() {
            // Probe at once when the dependency reports a change (a watched process exited).
            // The task ends with this actor: the cast fails once it is gone.
            // At most one such probe waits in the mailbox, however often the dependency moves.
            let (me, ctx, id) = (myself.clone(), ctx.clone(), spec.id.clone());
            tokio::spawn(async move {
                while wake.changed().await.is_ok() {
                    if ctx.ask_probe_now(&id) && me.cast(MonitorMsg::ProbeNow).is_err() {
                        ctx.probe_now_taken(&id);
                        break;
                    }
                }
            });
        }
        myself.cast(MonitorMsg::Probe)?;
        Ok(MonitorState {
            status,
            probe,
            damping,
            position,
            unsent: Vec::new(),
            history: Recorder::default(),
            // What its open incident says it was down as, so a change of kind (a refused login
            // after an outage) is announced after a restart too.
            announced: down_as,
            lease: ctx
                .spread
                .as_ref()
                .and_then(|spread| spread.epoch_of(&spec.id)),
            ctx,
            spec,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let MonitorMsg::Control(change, by, reply) = msg {
            let _ = reply.send(state.control(change, &by).await.map_err(Arc::new));
            return Ok(());
        }
        if let MonitorMsg::Controlled(control) = msg {
            // Set on another node: its record and announcement are committed already.
            state.status.control = *control;
            state.ctx.post_status(state.status.clone());
            return Ok(());
        }
        if let MonitorMsg::ProbeNow = msg {
            // Taken before probing: an ask from now on sends another, which sees what this
            // probe may have missed.
            state.ctx.probe_now_taken(&state.spec.id);
        }
        if let MonitorMsg::Recheck { family } = &msg {
            state.recheck(family);
        }
        let interval = Duration::from_millis(state.spec.interval_ms);
        if state.status.control.paused {
            if let MonitorMsg::Probe = msg {
                myself.send_after(interval, || MonitorMsg::Probe);
            }
            return Ok(());
        }
        let started = Instant::now();
        let result = state
            .probe
            .probe(Duration::from_millis(state.spec.timeout_ms))
            .await;
        let took = started.elapsed();
        state.status.last_probe_at = Some(crate::time::now());
        state.status.last_latency_ms = Some(took.as_millis() as u64);
        let (before, announced_before) = (state.damping.clone(), state.announced.clone());
        let ok = result.is_ok();
        let transition = state.on_probe(result);
        let history = state.record_history(ok);
        let transitioned = !transition.is_empty();
        state.status.details = state.probe.details();
        let found = state.probe.take_events();
        if transitioned {
            // Posted before the event is committed, so whoever reads the event (the incident
            // manager deciding whether this component's outage takes its dependents in) finds
            // the board already saying so. Undone below if the commit fails.
            state.ctx.post_status(state.status.clone());
        }
        if let Err(error) = state.commit(found, transition, history).await {
            // A transition counts only once it is on disk: if it cannot be committed, the
            // monitor stays as it was and the next probe announces it again.
            tracing::warn!(%error, monitor = %state.spec.id, "events not recorded; retried at the next probe");
            if transitioned {
                state.damping.undo_transition(&before);
                state.status.down = state.damping.down;
                state.announced = announced_before;
            }
        }
        state.ctx.post_status(state.status.clone());
        let (id, up) = (&state.spec.id, !state.status.down);
        (state.ctx.metrics).monitor_probed(id, took.as_secs_f64(), !ok, up);
        if let MonitorMsg::Probe = msg {
            myself.send_after(state.probe.next_delay(interval), || MonitorMsg::Probe);
        }
        Ok(())
    }
}

impl MonitorState {
    /// Commits what a probe found (log lines), its transition and the probe's new position in
    /// one transaction. On failure the found events are kept for the next try (the position
    /// moved on past them), the transition is dropped (the next probe makes it again).
    async fn commit(
        &mut self,
        found: Vec<EventDraft>,
        transition: Vec<EventDraft>,
        history: Vec<Write>,
    ) -> Result<(), std::sync::Arc<StoreError>> {
        self.unsent.extend(found);
        if self.unsent.len() > UNSENT_EVENTS_MAX {
            let dropped = self.unsent.len() - UNSENT_EVENTS_MAX;
            tracing::warn!(dropped, monitor = %self.spec.id, "store refusing writes; oldest found events dropped");
            self.unsent.drain(..dropped);
        }
        let position = self.probe.position();
        let moved = position.is_some() && position != self.position;
        if self.unsent.is_empty() && transition.is_empty() && !moved && history.is_empty() {
            return Ok(());
        }
        let transitioned = !transition.is_empty();
        let mut drafts = self.unsent.clone();
        drafts.extend(transition);
        let mut writes = history;
        if let (Some(position), true) = (&position, moved) {
            writes.push(Write::MonitorPosition {
                monitor_id: self.spec.id.clone(),
                position: position.clone(),
            });
        }
        if transitioned {
            writes.extend(self.status_row());
        }
        writes.extend(self.guard());
        commit_in_order(&self.ctx.scope, drafts, writes).await?;
        self.unsent.clear();
        self.position = position;
        Ok(())
    }

    async fn control(
        &mut self,
        change: ControlChange,
        by: &Who,
    ) -> Result<MonitorStatus, StoreError> {
        let control = change.applied_to(self.status.control.clone());
        let (announced, saved) = control_commit(&control, by.clone());
        let mut writes = vec![saved];
        writes.extend(self.guard());
        commit_in_order(&self.ctx.scope, vec![announced], writes)
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        self.status.control = control;
        self.ctx.post_status(self.status.clone());
        Ok(self.status.clone())
    }

    /// In a cluster, the guard that this node still holds the monitor's lease at its epoch.
    fn guard(&self) -> Option<Write> {
        let spread = self.ctx.spread.as_ref()?;
        Some(spread.guard(&self.spec.id, self.lease?))
    }

    /// In a cluster, this monitor's view for the other nodes, written with its transition so
    /// the leader's incident manager finds it when it reads the transition's event.
    fn status_row(&self) -> Option<Write> {
        let ran_by = self.ctx.spread.as_ref()?.ran_by(self.lease?);
        let row = crate::spread::status_row(self.status.clone(), ran_by);
        Some(Write::MonitorStatus(Box::new(row)))
    }

    /// Forgets what the closed incident of `family` said: that the component is down (its own
    /// probe's family) or flapping.
    fn recheck(&mut self, family: &str) {
        if family == crate::event::family(types::MONITOR_FLAPPING) {
            self.damping.forget_flapping();
        } else if family == crate::event::family(self.probe.recovery_event()) {
            self.damping.forget_down();
            self.damping.forget_swings();
            self.status.down = false;
            self.status.consecutive_failures = 0;
        }
    }

    /// Counts the probe just made in this monitor's history; the closed bucket to write, if
    /// the probe began a new one (a store that refuses it loses that bucket, nothing else).
    fn record_history(&mut self, ok: bool) -> Vec<Write> {
        let spec = self.ctx.spec().history;
        let at = self.status.last_probe_at.unwrap_or_else(crate::time::now);
        let latency_ms = self.status.last_latency_ms.unwrap_or(0);
        let closed =
            self.history
                .record(&spec, &self.spec.id, at, ok, self.damping.down, latency_ms);
        self.status.history = self.history.open().cloned();
        closed
            .map(|bucket| Write::HistoryBucket {
                slot: spec.slot(bucket.start),
                bucket: Box::new(bucket),
            })
            .into_iter()
            .collect()
    }

    /// Counts a probe; the events of the transition it makes, if any.
    fn on_probe(&mut self, result: Result<String, ProbeFailure>) -> Vec<EventDraft> {
        let failure = result.err();
        let transition = self.damping.record(failure.is_none());
        self.status.consecutive_failures = self.damping.consecutive_failures;
        self.status.down = self.damping.down;
        self.status.last_error = failure.as_ref().map(|f| f.error.clone());
        let drafts = match transition {
            None => self.failing_otherwise(failure).into_iter().collect(),
            Some(Transition::Down) => failure.map(|f| self.down_event(f)).into_iter().collect(),
            Some(Transition::Up) => {
                self.announced = None;
                vec![self.up_event()]
            }
            Some(Transition::FlappingStarted {
                changes,
                failures,
                window,
            }) => vec![EventDraft::of(&MonitorFlapping {
                monitor: self.spec.id.clone(),
                kind: self.status.kind,
                changes,
                failures,
                window,
                failure_ratio: failures as f64 / window.max(1) as f64,
                error: self.status.last_error.clone(),
            })],
            Some(Transition::FlappingEnded { down, was_down }) => {
                let steady = EventDraft::of(&MonitorSteady {
                    monitor: self.spec.id.clone(),
                    kind: self.status.kind,
                });
                let mut drafts = vec![steady];
                match (was_down, down) {
                    (false, true) => drafts.extend(failure.map(|f| self.down_event(f))),
                    (true, false) => drafts.push(self.up_event()),
                    _ => {}
                }
                drafts
            }
        };
        // A server that refuses Grace (its login, its certificate) is not down for what
        // depends on it: that is a configuration problem of Grace's, not an outage of theirs.
        self.status.refused = self.damping.down
            && self
                .announced
                .as_deref()
                .is_some_and(crate::event::refuses_grace);
        let source = self.spec.id.clone();
        drafts
            .into_iter()
            .map(|d| d.source(source.clone()))
            .collect()
    }

    /// The recovery event: the component is back.
    fn up_event(&self) -> EventDraft {
        let data = json!({ "monitor": self.spec.id, "kind": self.status.kind });
        EventDraft::new(self.probe.recovery_event(), data)
    }

    /// A component already down that now fails another way, when one of the two ways is a
    /// refused login: announced again with the new type, so an outage is not hidden behind a
    /// login failure (nor the reverse) — another problem, with another fix and its own incident.
    fn failing_otherwise(&mut self, failure: Option<ProbeFailure>) -> Option<EventDraft> {
        let failure = failure.filter(|_| self.damping.down && !self.damping.flapping)?;
        let announced = self.announced.replace(failure.event_type.to_owned())?;
        let login = crate::event::is_login_failure;
        let otherwise =
            announced != failure.event_type && (login(&announced) || login(failure.event_type));
        otherwise.then(|| self.down_event(failure))
    }

    /// The problem event: the component is down, as the failed probe said.
    fn down_event(&mut self, failure: ProbeFailure) -> EventDraft {
        self.announced = Some(failure.event_type.to_owned());
        let data = json!({
            "monitor": self.spec.id,
            "kind": self.status.kind,
            "severity": failure.severity,
            "error": failure.error,
            "failures": self.status.consecutive_failures,
            "details": self.probe.details(),
        });
        EventDraft::new(failure.event_type, data)
    }
}

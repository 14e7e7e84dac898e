//! The incident manager: applies problem and recovery events from the log to incidents, moves
//! incidents through their lifecycle on command, and owns component trust.
//!
//! The decisions are [`IncidentCore`]'s; this actor feeds it and makes its changes durable.
//! The event log, not the mailbox, is the source of truth: the store actor only nudges
//! (`Observe`: "the log has news"), and the actor takes what follows its watermark a page at a
//! time — from the store actor's queue of what it just committed when that follows on without a
//! gap (`signals.rs`), from the log otherwise. Each page is applied in memory and committed in one transaction: the incidents and
//! trust it changed, the events announcing them, and the new watermark. So a crash between two
//! pages replays nothing twice and loses nothing, and an event routed while this actor was
//! restarting is still handled.
//!
//! Starting never waits on pending work: the active incidents are loaded after the tree is up
//! (`post_start`) and the backlog is caught up a page per message, so commands (acknowledge,
//! resolve) wait at most one page however long the backlog is.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::context::Ctx;
use crate::event::{classify, Event};
use crate::incident_core::{Changes, Effect, Facts, IncidentCore, Rules};
use crate::model::{component_subject, ExecutionStatus, TrustScore};
use crate::protocol::incidents::{IncidentError, IncidentPage, IncidentsMsg, RunOutcome};
use crate::protocol::monitor::MonitorMsg;
use crate::protocol::playbooks::PlaybooksMsg;
use crate::protocol::{roles, Playbooks};
use crate::store::{StoreError, Write};

/// How often the log is checked for news that no nudge announced.
const CATCH_UP_INTERVAL_MS: u64 = 5_000;
/// How often active incidents are checked against their `escalate_after_ms`.
const OVERDUE_CHECK_MS: u64 = 1_000;
/// How long an overdue work order may take to come back before it is asked for again.
const OVERDUE_RETRY_MS: u64 = 30_000;
/// Events read from the log, applied and committed together: large enough to amortise a
/// commit, small enough that a command waits little behind one page (a page of 256 new
/// incidents takes about 80 ms here; 512 kept an acknowledge waiting up to 250 ms).
const CATCH_UP_PAGE_EVENTS: usize = 256;
/// Component trust scores kept in memory; past it the cache starts over (read back on demand).
const TRUST_CACHE_MAX: usize = 200_000;

/// How a commit reaches the store actor.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// Through the bus, after everything published before it (a run's end before the
    /// resolution it causes).
    Bus,
    /// Straight to the store actor.
    Store,
}

pub struct IncidentsActor;

pub struct IncidentsState {
    ctx: Arc<Ctx>,
    myself: ActorRef<IncidentsMsg>,
    core: IncidentCore,
    /// Every event up to this seq has been applied.
    watermark: u64,
    /// A `NextPage` is in the mailbox: nudges meanwhile need no page of their own.
    page_pending: bool,
    /// The core matches what is durable. False only when a failed commit could not be
    /// followed by a reload; the actor then stops and its restart rebuilds from the store.
    consistent: bool,
    /// Overdue incidents whose work order was asked for and has not come back yet, with when,
    /// so one is not asked for twice (but again after OVERDUE_RETRY_MS, should the first ask
    /// have been lost). Bounded by the active incidents.
    overdue_asked: HashMap<u64, std::time::Instant>,
}

impl Actor for IncidentsActor {
    type Msg = IncidentsMsg;
    type State = IncidentsState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        // Only the watermark now (one record), so intake's lag is right from the first
        // request; the active set is loaded after the tree is up.
        let watermark = ctx.store.incidents_progress().await?.watermark;
        ctx.progress.incidents_applied(watermark);
        Ok(IncidentsState {
            ctx,
            myself,
            core: IncidentCore::default(),
            watermark,
            page_pending: false,
            consistent: true,
            overdue_asked: HashMap::new(),
        })
    }

    /// Loads the active incidents after the tree is up, then catches up in the background.
    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.reload().await?;
        state.reconcile_runs().await?;
        state.schedule_page();
        myself.send_interval(Duration::from_millis(CATCH_UP_INTERVAL_MS), || {
            IncidentsMsg::Observe
        });
        myself.send_interval(Duration::from_millis(OVERDUE_CHECK_MS), || {
            IncidentsMsg::CheckOverdue
        });
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if !state.consistent {
            return Err("incidents out of step with the store; restarting from it".into());
        }
        match msg {
            IncidentsMsg::Observe => {
                if !state.page_pending {
                    state.page().await?;
                }
            }
            IncidentsMsg::NextPage => {
                state.page_pending = false;
                state.page().await?;
            }
            IncidentsMsg::Acknowledge(id, by, reply) => {
                let now = crate::time::now();
                let result = state
                    .person_command(|core, out| core.acknowledge(id, &by, now, out))
                    .await;
                let _ = reply.send(state.explain(result, id, "acknowledged").await);
            }
            IncidentsMsg::Resolve(id, by, reply) => {
                let (rules, facts) = state.rules_and_facts();
                let now = crate::time::now();
                let result = state
                    .person_command(|core, out| {
                        core.resolve_by_hand(id, &by, now, &rules, &facts, out)
                    })
                    .await;
                let _ = reply.send(state.explain(result, id, "resolved").await);
            }
            IncidentsMsg::RunStarted {
                incident_id,
                run_id,
            } => {
                state
                    .command(|core, out| {
                        core.run_started(incident_id, run_id, out);
                        Ok(())
                    })
                    .await?;
            }
            IncidentsMsg::RunFinished {
                incident_id,
                run_id,
                outcome,
            } => state.run_finished(incident_id, &run_id, outcome).await?,
            IncidentsMsg::Suggest {
                incident_id,
                suggestion,
            } => {
                state
                    .command(|core, out| {
                        core.suggest(incident_id, suggestion, out);
                        Ok(())
                    })
                    .await?;
            }
            IncidentsMsg::Decide {
                incident_id,
                suggestion_id,
                approve,
                by,
                reply,
            } => {
                let now = crate::time::now();
                let result = state
                    .person_command(|core, out| {
                        core.decide(incident_id, &suggestion_id, approve, &by, now, out)
                    })
                    .await;
                let action = if approve { "approved" } else { "dismissed" };
                let _ = reply.send(state.explain(result, incident_id, action).await);
            }
            IncidentsMsg::Escalate {
                incident_id,
                work_order_id,
                overdue,
            } => {
                state.overdue_asked.remove(&incident_id);
                let (rules, facts) = state.rules_and_facts();
                let now = crate::time::now();
                state
                    .command(|core, out| {
                        core.escalate(
                            incident_id,
                            work_order_id,
                            overdue,
                            now,
                            &rules,
                            &facts,
                            out,
                        );
                        Ok(())
                    })
                    .await?;
            }
            IncidentsMsg::CheckOverdue => state.check_overdue(),
            IncidentsMsg::SetTrust(component, value, reply) => {
                let result = state
                    .move_trust(&component, |current| value - current)
                    .await;
                let _ = reply.send(result);
            }
            IncidentsMsg::RestoreTrust(component, reply) => {
                let restore = state.ctx.spec().trust.restore_on_recovery;
                let result = state.move_trust(&component, |_| restore).await;
                let _ = reply.send(result);
            }
            IncidentsMsg::CountByStatus(reply) => {
                let _ = reply.send(state.core.count_by_status());
            }
            IncidentsMsg::NewestActive {
                before,
                limit,
                status,
                reply,
            } => {
                let (items, total) = state.core.newest_active(before, limit, status);
                let total = Some(total);
                let _ = reply.send(IncidentPage { items, total });
            }
            IncidentsMsg::ActiveIdsBelow(below, reply) => {
                let _ = reply.send(state.core.active_ids_below(below));
            }
        }
        Ok(())
    }
}

impl IncidentsState {
    /// Rebuilds the core from the store: at start, and after a commit failed (the core was
    /// ahead of what is durable).
    async fn reload(&mut self) -> Result<(), StoreError> {
        let progress = self.ctx.store.incidents_progress().await?;
        let active = self.ctx.store.active_incidents().await?;
        self.core = IncidentCore::new(active, progress.next_id);
        self.watermark = progress.watermark;
        self.consistent = true;
        self.publish_progress();
        Ok(())
    }

    fn publish_progress(&self) {
        self.ctx.progress.incidents_applied(self.watermark);
    }

    /// Queues the next page of a catch-up behind whatever is in the mailbox.
    fn schedule_page(&mut self) {
        if !self.page_pending && self.myself.cast(IncidentsMsg::NextPage).is_ok() {
            self.page_pending = true;
        }
    }

    /// One page of catch-up. A store that fails is no reason to stop: the page stays in the log
    /// and is tried again at the next nudge or periodic check (at most CATCH_UP_INTERVAL_MS).
    /// Only a core that could not be rebuilt after a failed commit ends the actor, so its
    /// restart starts from what is durable.
    async fn page(&mut self) -> Result<(), IncidentError> {
        match self.catch_up_page().await {
            Err(error) if self.consistent => {
                tracing::warn!(%error, "incident catch-up failed; retried shortly");
                Ok(())
            }
            other => other,
        }
    }

    /// Applies one page of the log after the watermark and commits it; queues the next page
    /// when there may be more.
    async fn catch_up_page(&mut self) -> Result<(), IncidentError> {
        // Whatever is committed from now on nudges again; what came before is in this read.
        let ctx = self.ctx.clone();
        let progress = &ctx.progress;
        progress.incidents_nudged.store(false, Ordering::Release);
        if progress.log_head.load(Ordering::Acquire) <= self.watermark {
            return Ok(());
        }
        let taken = self
            .ctx
            .signals
            .lock()
            .expect("signal queue poisoned")
            .take(self.watermark, CATCH_UP_PAGE_EVENTS);
        let (page, last) = match taken {
            Some((signals, last)) => (signals, last),
            None => self.read_page().await?,
        };
        if last == self.watermark {
            return Ok(());
        }
        let signals: Vec<&Event> = page.iter().map(|event| event.as_ref()).collect();
        self.learn_trust(&signals).await?;
        let (rules, facts) = self.rules_and_facts();
        let mut changes = Changes::default();
        for event in signals {
            self.core.apply(event, &rules, &facts, &mut changes);
        }
        self.watermark = last;
        if changes.is_empty() {
            self.publish_progress(); // nothing to keep: a replay would change nothing either
        } else {
            self.commit(changes, Via::Bus).await?;
        }
        if progress.log_head.load(Ordering::Acquire) > self.watermark {
            self.schedule_page();
        }
        Ok(())
    }

    /// The problem and recovery events of the next page of the log after the watermark, and
    /// the seq the page ends at: the way back when the queue in memory has a gap.
    async fn read_page(&self) -> Result<(Vec<Arc<Event>>, u64), StoreError> {
        let page = self
            .ctx
            .store
            .events_after(self.watermark, CATCH_UP_PAGE_EVENTS)
            .await?;
        let last = page.last().map_or(self.watermark, |event| event.seq);
        let signals = page
            .into_iter()
            .filter(|event| !classify(&event.event_type, &event.data).is_info())
            .map(Arc::new)
            .collect();
        Ok((signals, last))
    }

    /// Loads the trust of every component a new incident in `events` may need.
    async fn learn_trust(&mut self, events: &[&Event]) -> Result<(), StoreError> {
        self.core.bound_trust_cache(TRUST_CACHE_MAX);
        let needed: HashSet<String> = events
            .iter()
            .filter_map(|event| self.core.trust_needed(event))
            .collect();
        let subjects: Vec<String> = needed.iter().map(|c| component_subject(c)).collect();
        let mut stored: HashMap<String, TrustScore> = self
            .ctx
            .store
            .trusts(&subjects)
            .await?
            .into_iter()
            .map(|score| (score.subject.clone(), score))
            .collect();
        for (component, subject) in needed.iter().zip(&subjects) {
            self.core.learn_trust(component, stored.remove(subject));
        }
        Ok(())
    }

    /// The config's rules, and what the monitors' status board says now: which monitors are
    /// down and which are silenced (each monitor posts its control with its status).
    fn rules_and_facts(&self) -> (Rules, Facts) {
        let rules = Rules::from_spec(&self.ctx.spec());
        let now = crate::time::now();
        let mut facts = Facts::default();
        for status in self.ctx.statuses() {
            if status.control.silenced_at(now) {
                facts.silenced.insert(status.id.clone());
            }
            if status.down {
                facts.down.insert(status.id);
            }
        }
        (rules, facts)
    }

    /// Runs a command on the core and commits what it changed.
    async fn command<T>(
        &mut self,
        decide: impl FnOnce(&mut IncidentCore, &mut Changes) -> Result<T, IncidentError>,
    ) -> Result<T, IncidentError> {
        self.command_via(Via::Bus, decide).await
    }

    /// A person's command (acknowledge, resolve, decide): nothing published before it needs
    /// to land first, so its commit goes straight to the store actor instead of waiting for
    /// the bus to flush a flood of pushed events ahead of it.
    async fn person_command<T>(
        &mut self,
        decide: impl FnOnce(&mut IncidentCore, &mut Changes) -> Result<T, IncidentError>,
    ) -> Result<T, IncidentError> {
        self.command_via(Via::Store, decide).await
    }

    async fn command_via<T>(
        &mut self,
        via: Via,
        decide: impl FnOnce(&mut IncidentCore, &mut Changes) -> Result<T, IncidentError>,
    ) -> Result<T, IncidentError> {
        let mut changes = Changes::default();
        let result = decide(&mut self.core, &mut changes)?;
        if !changes.is_empty() {
            self.commit(changes, via).await?;
        }
        Ok(result)
    }

    /// Commits changes with the watermark in one transaction, then runs their effects. On
    /// failure the core is rebuilt from the store, which still holds the state before them.
    async fn commit(&mut self, mut changes: Changes, via: Via) -> Result<(), IncidentError> {
        changes.finish();
        let Changes {
            incidents,
            trust,
            opened,
            new_trust,
            drafts,
            effects,
            ..
        } = changes;
        let mut writes: Vec<Write> = incidents
            .into_values()
            .map(|incident| match opened.contains(&incident.id) {
                true => Write::NewIncident(Box::new(incident)),
                false => Write::Incident(Box::new(incident)),
            })
            .collect();
        writes.extend(
            trust
                .into_values()
                .map(|score| match new_trust.contains(&score.subject) {
                    true => Write::NewTrust(score),
                    false => Write::Trust(score),
                }),
        );
        writes.push(Write::IncidentsProgress {
            watermark: self.watermark,
            next_id: self.core.next_id(),
        });
        let committed = match via {
            Via::Bus => {
                crate::protocol::bus::commit_in_order(&self.ctx.scope, drafts, writes).await
            }
            Via::Store => crate::protocol::store::commit(&self.ctx.scope, drafts, writes).await,
        };
        let events = match committed {
            Ok(events) => events,
            Err(error) => {
                if let Err(reload) = self.reload().await {
                    tracing::error!(%reload, "could not reload incidents after a failed commit");
                    self.consistent = false;
                }
                return Err(IncidentError::Store(error));
            }
        };
        crate::failpoints::crash_point("incidents.page.after_commit");
        // Its own announcements are all info: when nothing else came in between, there is no
        // need to read them back.
        if let (Some(first), Some(last)) = (events.first(), events.last()) {
            if first.seq == self.watermark + 1 {
                self.watermark = last.seq;
            }
        }
        self.publish_progress();
        for effect in effects {
            self.run_effect(effect);
        }
        Ok(())
    }

    fn run_effect(&self, effect: Effect) {
        let scope = &self.ctx.scope;
        match effect {
            Effect::Trigger(incident) => {
                let _ = scope.tell::<Playbooks>(PlaybooksMsg::Trigger(*incident));
            }
            Effect::Recheck(monitor) => {
                if let Some(monitor) = scope.lookup::<MonitorMsg>(&roles::monitor(&monitor)) {
                    let _ = monitor.cast(MonitorMsg::Recheck);
                }
            }
        }
    }

    /// A refusal for an incident that is not active says whether it is resolved or unknown.
    async fn explain<T>(
        &self,
        result: Result<T, IncidentError>,
        id: u64,
        action: &'static str,
    ) -> Result<T, IncidentError> {
        match result {
            Err(IncidentError::NotFound(_)) => Err(match self.ctx.store.incident(id).await {
                Ok(Some(incident)) => IncidentError::Conflict {
                    id,
                    status: incident.status.as_str(),
                    action,
                },
                Ok(None) => IncidentError::NotFound(id),
                Err(error) => error.into(),
            }),
            other => other,
        }
    }

    /// Incidents whose healing run ended while this actor was not there to hear it.
    async fn reconcile_runs(&mut self) -> Result<(), IncidentError> {
        let healing: Vec<(u64, String)> = self
            .core
            .active()
            .filter_map(|i| Some((i.id, i.active_run_id.clone()?)))
            .collect();
        for (incident_id, run_id) in healing {
            let Some(execution) = self.ctx.store.execution(&run_id).await? else {
                continue;
            };
            let outcome = match (execution.status, execution.work_order_id) {
                (ExecutionStatus::Succeeded, _) => RunOutcome::Succeeded,
                (ExecutionStatus::Failed | ExecutionStatus::Interrupted, Some(work_order_id)) => {
                    RunOutcome::Failed { work_order_id }
                }
                _ => continue, // still running: its end will be reported
            };
            self.run_finished(incident_id, &run_id, outcome).await?;
        }
        Ok(())
    }

    async fn run_finished(
        &mut self,
        incident_id: u64,
        run_id: &str,
        outcome: RunOutcome,
    ) -> Result<(), IncidentError> {
        if !self.core.is_healing(incident_id, run_id) {
            return Ok(()); // resolved meanwhile (by hand or by recovery)
        }
        let resolves = match outcome {
            RunOutcome::Succeeded => self.resolves(run_id).await?,
            RunOutcome::Failed { .. } => false,
        };
        let (rules, facts) = self.rules_and_facts();
        let now = crate::time::now();
        self.command(|core, out| {
            core.run_finished(
                incident_id,
                run_id,
                outcome,
                resolves,
                now,
                &rules,
                &facts,
                out,
            );
            Ok(())
        })
        .await
    }

    /// Whether the playbook of run `run_id` resolves its incident when it succeeds.
    async fn resolves(&self, run_id: &str) -> Result<bool, IncidentError> {
        let Some(execution) = self.ctx.store.execution(run_id).await? else {
            return Ok(true);
        };
        Ok(self
            .ctx
            .spec()
            .playbooks
            .iter()
            .find(|p| p.id == execution.playbook_id)
            .is_none_or(|p| p.resolve_on_success))
    }

    /// Moves a component's trust by `delta(current)`, commits it, returns the new score.
    async fn move_trust(
        &mut self,
        component: &str,
        delta: impl FnOnce(f64) -> f64,
    ) -> Result<f64, IncidentError> {
        if !self.core.knows_trust(component) {
            let stored = self.ctx.store.trust(&component_subject(component)).await?;
            self.core.learn_trust(component, stored);
        }
        self.command(|core, out| {
            let delta = delta(core.trust_of(component));
            Ok(core.adjust_trust(component, delta, out))
        })
        .await
    }

    /// Asks the playbook engine for a work order for every active incident past its
    /// component's `escalate_after_ms` that has none yet.
    fn check_overdue(&mut self) {
        let spec = self.ctx.spec();
        let limits: HashMap<String, u64> = spec
            .monitors
            .iter()
            .filter_map(|m| Some((m.id.clone(), m.escalate_after_ms?)))
            .collect();
        if limits.is_empty() {
            return;
        }
        let retry = Duration::from_millis(OVERDUE_RETRY_MS);
        let core = &self.core;
        self.overdue_asked
            .retain(|id, asked| core.get(*id).is_some() && asked.elapsed() < retry);
        let Ok(engine) = self.ctx.scope.find::<Playbooks>() else {
            return;
        };
        for incident in core.overdue(&limits, crate::time::now()) {
            if self.overdue_asked.contains_key(&incident.id) {
                continue;
            }
            let ask = PlaybooksMsg::Overdue(Box::new(incident.clone()));
            if engine.cast(ask).is_ok() {
                self.overdue_asked
                    .insert(incident.id, std::time::Instant::now());
            }
        }
    }
}

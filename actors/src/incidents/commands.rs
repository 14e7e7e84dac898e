//! The incident manager's commands: each runs one decision of the book and commits what it
//! changed in one transaction, then runs its effects; people's commands answer with the
//! incident, or with why not.

use std::collections::HashMap;
use std::time::Duration;

use super::actor::{IncidentsState, Via};
use super::book::IncidentBook;
use super::changes::{Changes, Effect, Refused};
use crate::event::EventDraft;
use crate::model::{component_subject, ExecutionStatus, StepRecord, Suggestion, Who};
use crate::model::{Delivery, RunId, WorkOrderId};
use crate::protocol::incidents::{
    Handed, IncidentError, IncidentPage, IncidentQuery, IncidentReply, IncidentsMsg, RunOutcome,
    TrustChange, TrustStep,
};
use crate::protocol::monitor::MonitorMsg;
use crate::protocol::playbooks::PlaybooksMsg;
use crate::protocol::Playbooks;
use crate::store::Write;

/// Holds a hand-over up at `point` when a test configures it (`failpoints::hold_ms`), so the
/// engine's ask can time out while the commit is still to come.
async fn hold(point: &str) {
    if let Some(ms) = crate::failpoints::hold_ms(point) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// How long an overdue work order may take to come back before it is asked for again.
const OVERDUE_RETRY_MS: u64 = 30_000;

impl IncidentsState {
    /// A person acknowledges an incident.
    pub(super) async fn acknowledge(&mut self, id: u64, by: Who, reply: IncidentReply) {
        let now = crate::time::now();
        let result = self
            .person_command(|book, out| book.acknowledge(id, &by, now, out))
            .await;
        let _ = reply.send(self.explain(result, id, "acknowledged").await);
    }

    /// A person resolves an incident.
    pub(super) async fn resolve(&mut self, id: u64, by: Who, reply: IncidentReply) {
        let (rules, facts) = self.rules_and_facts();
        let now = crate::time::now();
        let result = self
            .person_command(|book, out| book.resolve_by_hand(id, &by, now, &rules, &facts, out))
            .await;
        let _ = reply.send(self.explain(result, id, "resolved").await);
    }

    /// A person approves or dismisses a suggestion: `(suggestion_id, approve, by)`.
    pub(super) async fn decide(
        &mut self,
        incident_id: u64,
        (suggestion_id, approve, by): (&str, bool, &Who),
        reply: ractor::RpcReplyPort<Result<Suggestion, IncidentError>>,
    ) {
        let now = crate::time::now();
        let result = self
            .person_command(|book, out| {
                book.decide(incident_id, suggestion_id, approve, by, now, out)
            })
            .await;
        let action = if approve { "approved" } else { "dismissed" };
        let _ = reply.send(self.explain(result, incident_id, action).await);
    }

    /// A run's end or an escalation the playbook engine hands over with its records; replies
    /// once committed. A hand-over whose asker stopped waiting (its ask timed out) is dropped:
    /// the engine hands it over again. One taken while its asker still waited may yet land
    /// after the asker gave up; a run's end is guarded on the run still `running`
    /// (`Write::Expect`), so only one of the two commits — the other is `Stale` and writes
    /// nothing.
    pub(super) async fn handed_over(&mut self, msg: IncidentsMsg) {
        match msg {
            IncidentsMsg::RunFinished { reply, .. } if reply.is_closed() => {}
            IncidentsMsg::Escalate { reply, .. } if reply.is_closed() => {}
            IncidentsMsg::RunFinished {
                incident_id,
                run_id,
                outcome,
                handed,
                reply,
            } => {
                hold("incidents.handed_over").await;
                let result = self
                    .run_finished(incident_id, &run_id, outcome, handed)
                    .await;
                let _ = reply.send(result);
            }
            IncidentsMsg::Escalate {
                incident_id,
                work_order_id,
                overdue,
                handed,
                reply,
            } => {
                let escalation = (work_order_id, overdue);
                let _ = reply.send(self.escalate(incident_id, escalation, handed).await);
            }
            _ => {}
        }
    }

    /// The playbook engine decided a work order for the incident: escalate it, committing the
    /// work order (`handed`) with the change. Whether it escalated: nothing is committed when
    /// the incident no longer needs it.
    pub(super) async fn escalate(
        &mut self,
        incident_id: u64,
        (work_order_id, overdue): (WorkOrderId, bool),
        handed: Handed,
    ) -> Result<bool, IncidentError> {
        self.overdue_asked.remove(&incident_id);
        let (rules, facts) = self.rules_and_facts();
        let now = crate::time::now();
        let point = "incidents.escalate";
        self.command_with(Via::Bus, (handed, false, point), |book, out| {
            let escalate = (work_order_id, overdue);
            book.escalate(
                incident_id,
                escalate.0,
                escalate.1,
                now,
                &rules,
                &facts,
                out,
            );
            Ok(!out.is_empty())
        })
        .await
    }

    /// Answers a question from memory.
    pub(super) fn answer(&self, query: IncidentQuery) {
        match query {
            IncidentQuery::CountByStatus(reply) => {
                let _ = reply.send(self.book.count_by_status());
            }
            IncidentQuery::NewestActive {
                before,
                limit,
                status,
                reply,
            } => {
                let (items, total) = self.book.newest_active(before, limit, status);
                let total = Some(total);
                let _ = reply.send(IncidentPage { items, total });
            }
            IncidentQuery::ActiveIdsBelow(below, reply) => {
                let _ = reply.send(self.book.active_ids_below(below));
            }
        }
    }

    /// Runs a command on the core and commits what it changed.
    pub(super) async fn command<T>(
        &mut self,
        decide: impl FnOnce(&mut IncidentBook, &mut Changes) -> Result<T, Refused>,
    ) -> Result<T, IncidentError> {
        self.command_via(Via::Bus, decide).await
    }

    /// A person's command (acknowledge, resolve, decide): nothing published before it needs
    /// to land first, so its commit goes straight to the store actor instead of waiting for
    /// the bus to flush a flood of pushed events ahead of it.
    pub(super) async fn person_command<T>(
        &mut self,
        decide: impl FnOnce(&mut IncidentBook, &mut Changes) -> Result<T, Refused>,
    ) -> Result<T, IncidentError> {
        self.command_via(Via::Store, decide).await
    }

    pub(super) async fn command_via<T>(
        &mut self,
        via: Via,
        decide: impl FnOnce(&mut IncidentBook, &mut Changes) -> Result<T, Refused>,
    ) -> Result<T, IncidentError> {
        let nothing = (Handed::default(), false, "incidents.command");
        self.command_with(via, nothing, decide).await
    }

    /// [`command_via`](Self::command_via) committing the records the playbook engine handed
    /// over with what the command changed, before it; when the command changes nothing, only
    /// if `alone` (a run's end is committed whatever its incident). `point`: the crash points
    /// around the commit.
    pub(super) async fn command_with<T>(
        &mut self,
        via: Via,
        (handed, alone, point): (Handed, bool, &'static str),
        decide: impl FnOnce(&mut IncidentBook, &mut Changes) -> Result<T, Refused>,
    ) -> Result<T, IncidentError> {
        let mut changes = Changes::default();
        let result = decide(&mut self.book, &mut changes)?;
        let handed = match changes.is_empty() && !alone {
            true => Handed::default(),
            false => handed,
        };
        if !changes.is_empty() || !handed.is_empty() {
            crate::failpoints::crash_point(&format!("{point}.before_commit"));
            self.commit(changes, via, handed).await?;
            crate::failpoints::crash_point(&format!("{point}.after_commit"));
        }
        Ok(result)
    }

    /// Commits changes with the watermark in one transaction, then runs their effects. On
    /// failure the core is rebuilt from the store, which still holds the state before them.
    pub(super) async fn commit(
        &mut self,
        mut changes: Changes,
        via: Via,
        handed: Handed,
    ) -> Result<(), IncidentError> {
        changes.finish();
        let effects = std::mem::take(&mut changes.effects);
        let deliveries: Vec<Delivery> = handed
            .writes
            .iter()
            .filter_map(|write| match write {
                Write::Delivery(delivery) => Some((**delivery).clone()),
                _ => None,
            })
            .collect();
        let (drafts, writes) = self.transaction(changes, handed);
        let committed = match via {
            Via::Bus => {
                crate::protocol::bus::commit_in_order(&self.ctx.scope, drafts, writes).await
            }
            Via::Store => crate::protocol::store::commit(&self.ctx.scope, drafts, writes).await,
        };
        let events = match committed {
            Ok(events) => events,
            Err(error) => {
                if error.is_stale() {
                    tracing::info!(%error, "a hand-over landed after the run had ended");
                }
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
        self.send(deliveries);
        for effect in effects {
            self.run_effect(effect);
        }
        Ok(())
    }

    /// The events and records of one commit: the engine's first (a run ended, then what that
    /// did to its incident), then the incidents and trust changed, then the watermark.
    fn transaction(&self, changes: Changes, handed: Handed) -> (Vec<EventDraft>, Vec<Write>) {
        let Changes {
            incidents,
            trust,
            opened,
            new_trust,
            drafts,
            ..
        } = changes;
        let Handed {
            drafts: mut all_drafts,
            mut writes,
        } = handed;
        all_drafts.extend(drafts);
        writes.extend(incidents.into_values().map(
            |incident| match opened.contains(&incident.id) {
                true => Write::NewIncident(Box::new(incident)),
                false => Write::Incident(Box::new(incident)),
            },
        ));
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
            next_id: self.book.next_id(),
        });
        (all_drafts, writes)
    }

    fn send(&self, deliveries: Vec<Delivery>) {
        crate::protocol::notifier::send(&self.ctx.scope, deliveries);
    }

    pub(super) fn run_effect(&self, effect: Effect) {
        let scope = &self.ctx.scope;
        match effect {
            Effect::Trigger(incident) => {
                let _ = scope.tell::<Playbooks>(PlaybooksMsg::Trigger(incident));
            }
            Effect::Relapsing(incident) => {
                let _ = scope.tell::<Playbooks>(PlaybooksMsg::Relapsing(incident));
            }
            Effect::Supersede { incident_id, by } => {
                let _ = scope.tell::<Playbooks>(PlaybooksMsg::Supersede { incident_id, by });
            }
            Effect::Recheck { source, family } => {
                if let Some(monitor) = scope.monitor(&source) {
                    let _ = monitor.cast(MonitorMsg::Recheck { family });
                }
            }
        }
    }

    /// A refusal for an incident that is not active says whether it is resolved or unknown.
    pub(super) async fn explain<T>(
        &self,
        result: Result<T, IncidentError>,
        id: u64,
        action: &'static str,
    ) -> Result<T, IncidentError> {
        match result {
            Err(IncidentError::Refused(Refused::NotFound(_))) => {
                Err(match self.ctx.store.incident(id).await {
                    Ok(Some(incident)) => Refused::Conflict {
                        id,
                        status: incident.status.as_str(),
                        action,
                    }
                    .into(),
                    Ok(None) => Refused::NotFound(id).into(),
                    Err(error) => error.into(),
                })
            }
            other => other,
        }
    }

    /// Incidents whose healing run ended while this actor was not there to hear it.
    pub(super) async fn reconcile_runs(&mut self) -> Result<(), IncidentError> {
        let healing: Vec<(u64, RunId)> = self
            .book
            .active()
            .filter_map(|i| Some((i.id, i.active_run_id.clone()?)))
            .collect();
        for (incident_id, run_id) in healing {
            let Some(execution) = self.ctx.store.execution(run_id.as_str()).await? else {
                continue;
            };
            let outcome = match (execution.status, execution.work_order_id) {
                (ExecutionStatus::Succeeded, _) => RunOutcome::Succeeded,
                (ExecutionStatus::Failed | ExecutionStatus::Interrupted, Some(work_order_id)) => {
                    RunOutcome::Failed { work_order_id }
                }
                _ => continue, // still running: its end will be reported
            };
            self.run_finished(incident_id, &run_id, outcome, Handed::default())
                .await?;
        }
        Ok(())
    }

    /// A run healing incident `incident_id` ended: its records (`handed`) are committed with
    /// what that does to the incident — nothing, when it was resolved meanwhile.
    pub(super) async fn run_finished(
        &mut self,
        incident_id: u64,
        run_id: &RunId,
        outcome: RunOutcome,
        handed: Handed,
    ) -> Result<(), IncidentError> {
        let healing = self.book.is_healing(incident_id, run_id);
        let resolves = match (&outcome, healing) {
            (RunOutcome::Succeeded, true) => self.resolves(run_id).await?,
            _ => false,
        };
        let (rules, facts) = self.rules_and_facts();
        let now = crate::time::now();
        let ended = (handed, true, "incidents.run_finished");
        self.command_with(Via::Bus, ended, |book, out| {
            let how = (outcome, resolves);
            book.run_finished(incident_id, run_id, how.0, how.1, now, &rules, &facts, out);
            Ok(())
        })
        .await
    }

    /// Whether the playbook of run `run_id` resolves its incident when it succeeds.
    pub(super) async fn resolves(&self, run_id: &RunId) -> Result<bool, IncidentError> {
        let Some(execution) = self.ctx.store.execution(run_id.as_str()).await? else {
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

    /// A playbook's trust step: moves the component's trust and ends the step's record in one
    /// commit, announced in that order (`playbook.step`, then `trust.changed`); returns the
    /// record as announced.
    pub(super) async fn trust_step(
        &mut self,
        step: TrustStep,
    ) -> Result<StepRecord, IncidentError> {
        let component = step.component.as_str();
        if !self.book.knows_trust(component) {
            let stored = self.ctx.store.trust(&component_subject(component)).await?;
            self.book.learn_trust(component, stored);
        }
        let restore = self.ctx.spec().trust.restore_on_recovery;
        self.command(|book, out| {
            let delta = match step.change {
                TrustChange::Set(value) => value - book.trust_of(component),
                TrustChange::Restore => restore,
            };
            let score = book.adjust_trust(component, delta, out);
            let record = step.done(score, crate::time::now());
            // `adjust_trust` announced the change last: the step that made it goes before it.
            let changed = out.drafts.len() - 1;
            out.drafts.insert(changed, step.announcement(&record));
            Ok(record)
        })
        .await
    }

    /// Asks the playbook engine for a work order for every active incident past its
    /// component's `escalate_after_ms` that has none yet.
    pub(super) fn check_overdue(&mut self) {
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
        self.overdue_asked
            .retain(|id, asked| self.book.get(*id).is_some() && asked.elapsed() < retry);
        let Ok(engine) = self.ctx.scope.find::<Playbooks>() else {
            return;
        };
        for incident in self.book.overdue(&limits, crate::time::now()) {
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

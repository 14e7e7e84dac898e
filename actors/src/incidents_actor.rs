//! The incident manager: turns problem events into deduplicated, persisted incidents, moves them
//! through their lifecycle, and owns component trust.
//!
//! One active incident per source and event type: a repeat bumps `occurrences` (by the event's
//! `count` when a rate-limited source folded several into one). A recovery event resolves the
//! source's incidents of the same family unless a playbook is healing them, in which case the
//! playbook's verification decides. A failure of a monitor whose `depends_on` parent has an
//! active incident is attached to that incident as a symptom; when the parent's incident
//! resolves, symptoms whose monitors still say down get incidents of their own. Every change is persisted before the event
//! that announces it is published.
//!
//! The event log, not the mailbox, is the source of truth: an `Observe` only says "the log has
//! news up to seq N", and the actor reads every problem and recovery event after its persisted
//! watermark. So an event routed while this actor was restarting, or never routed at all, is
//! still handled — on the next `Observe`, the periodic catch-up, or the next start.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::json;

use crate::bus_actor::publish;
use crate::context::{roles, Ctx};
use crate::event::{classify, family, types, Event, EventClass, EventDraft};
use crate::model::{ExecutionStatus, Incident, IncidentStatus, Suggestion, Symptom, TrustScore};
use crate::monitor_actor::MonitorMsg;
use crate::playbooks_actor::PlaybooksMsg;
use crate::store::StoreError;

/// Why an incident command was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IncidentError {
    #[error("incident {0} does not exist")]
    NotFound(u64),
    #[error("incident {id} is {status}; it cannot be {action}")]
    Conflict {
        id: u64,
        status: &'static str,
        action: &'static str,
    },
    #[error("store error: {0}")]
    Store(Arc<StoreError>),
    #[error("the incident manager is unavailable: {0}")]
    Unavailable(String),
    #[error("incident {incident_id} has no suggestion {suggestion_id:?}")]
    NoSuchSuggestion {
        incident_id: u64,
        suggestion_id: String,
    },
}

/// Suggestions one incident may carry: each is a decision waiting for a person.
const SUGGESTIONS_MAX: usize = 16;

impl From<StoreError> for IncidentError {
    fn from(error: StoreError) -> Self {
        IncidentError::Store(Arc::new(error))
    }
}

pub type IncidentReply = RpcReplyPort<Result<Incident, IncidentError>>;

/// How often the log is checked for problem and recovery events that were never routed here.
const CATCH_UP_INTERVAL_MS: u64 = 5_000;
/// How often active incidents are checked against their `escalate_after_ms`.
const OVERDUE_CHECK_MS: u64 = 1_000;
/// How long an overdue work order may take to come back before it is asked for again.
const OVERDUE_RETRY_MS: u64 = 30_000;
/// Events read from the log per catch-up query.
const CATCH_UP_PAGE_EVENTS: usize = 256;

/// How a playbook run ended, as the incident manager needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Succeeded,
    Failed { work_order_id: String },
}

pub enum IncidentsMsg {
    /// A persisted problem or recovery event: the log has news up to its seq.
    Observe(Arc<Event>),
    /// Periodic: handle whatever the log holds past the watermark.
    CatchUp,
    Acknowledge(u64, IncidentReply),
    Resolve(u64, IncidentReply),
    /// A playbook run started healing the incident.
    RunStarted {
        incident_id: u64,
        run_id: String,
    },
    /// A playbook run ended.
    RunFinished {
        incident_id: u64,
        run_id: String,
        outcome: RunOutcome,
    },
    /// A playbook below its `auto_run_min_trust`: offer it to people on the incident.
    Suggest {
        incident_id: u64,
        suggestion: Suggestion,
    },
    /// A person approves or dismisses a suggestion; replies with the suggestion as decided.
    Decide {
        incident_id: u64,
        suggestion_id: String,
        approve: bool,
        reply: RpcReplyPort<Result<Suggestion, IncidentError>>,
    },
    /// Automation was stopped before a run (an open circuit breaker), or the incident is past
    /// its `escalate_after_ms` (`overdue`): escalate to the work order recorded for it. An
    /// overdue incident keeps the run healing it, if any.
    Escalate {
        incident_id: u64,
        work_order_id: String,
        overdue: bool,
    },
    /// Periodic: find incidents past their component's `escalate_after_ms`.
    CheckOverdue,
    /// A playbook's `set_trust` step: set the component's trust. Replies with the new score.
    SetTrust(String, f64, RpcReplyPort<Result<f64, IncidentError>>),
    /// Verified recovery: give the component back trust. Replies with the new score.
    RestoreTrust(String, RpcReplyPort<Result<f64, IncidentError>>),
}

pub struct IncidentsActor;

pub struct IncidentsState {
    ctx: Arc<Ctx>,
    next_id: u64,
    /// Every incident that is not resolved, by id.
    active: HashMap<u64, Incident>,
    /// Every event up to this seq has been handled.
    watermark: u64,
    /// Overdue incidents whose work order was asked for and has not come back yet, with when,
    /// so one is not asked for twice (but again after OVERDUE_RETRY_MS, should the first ask
    /// have been lost). Bounded by `active`.
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
        let next_id = ctx.store.max_incident_id().await? + 1;
        let watermark = ctx.store.incidents_watermark().await?;
        let active = ctx
            .store
            .active_incidents()
            .await?
            .into_iter()
            .map(|incident| (incident.id, incident))
            .collect();
        let mut state = IncidentsState {
            ctx,
            next_id,
            active,
            watermark,
            overdue_asked: HashMap::new(),
        };
        state.reconcile_runs().await?;
        state.catch_up(u64::MAX).await?;
        myself.send_interval(Duration::from_millis(CATCH_UP_INTERVAL_MS), || {
            IncidentsMsg::CatchUp
        });
        myself.send_interval(Duration::from_millis(OVERDUE_CHECK_MS), || {
            IncidentsMsg::CheckOverdue
        });
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            IncidentsMsg::Observe(event) => state.catch_up(event.seq).await?,
            IncidentsMsg::CatchUp => state.catch_up(u64::MAX).await?,
            IncidentsMsg::Acknowledge(id, reply) => {
                let _ = reply.send(state.acknowledge(id).await);
            }
            IncidentsMsg::Resolve(id, reply) => {
                let result = match state.active.remove(&id) {
                    Some(incident) => state.resolve(incident, "manual").await,
                    None => Err(state.inactive_error(id, "resolved").await),
                };
                let _ = reply.send(result);
            }
            IncidentsMsg::RunStarted {
                incident_id,
                run_id,
            } => {
                if let Some(mut incident) = state.active.remove(&incident_id) {
                    incident.status = IncidentStatus::Mitigating;
                    incident.active_run_id = Some(run_id);
                    state.update(incident, "playbook started").await?;
                }
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
                if let Some(mut incident) = state.active.remove(&incident_id) {
                    // Once offered, a playbook is not offered again on the same incident, even
                    // after a restart: a dismissal stands.
                    let offered = incident
                        .suggestions
                        .iter()
                        .any(|s| s.playbook_id == suggestion.playbook_id);
                    if offered || incident.suggestions.len() >= SUGGESTIONS_MAX {
                        state.active.insert(incident_id, incident);
                    } else {
                        let mut suggestion = suggestion;
                        suggestion.suggestion_id = format!("s{}", incident.suggestions.len() + 1);
                        incident.suggestions.push(suggestion);
                        state.update(incident, "suggestion").await?;
                    }
                }
            }
            IncidentsMsg::Decide {
                incident_id,
                suggestion_id,
                approve,
                reply,
            } => {
                let _ = reply.send(state.decide(incident_id, &suggestion_id, approve).await);
            }
            IncidentsMsg::Escalate {
                incident_id,
                work_order_id,
                overdue,
            } => {
                state.overdue_asked.remove(&incident_id);
                let escalated_already = overdue
                    && state
                        .active
                        .get(&incident_id)
                        .is_some_and(|i| i.work_order_id.is_some());
                if escalated_already {
                    // A failed run escalated it while the overdue work order was on its way.
                } else if let Some(incident) = state.active.remove(&incident_id) {
                    state.escalate(incident, work_order_id, overdue).await?;
                }
            }
            IncidentsMsg::CheckOverdue => state.check_overdue(),
            IncidentsMsg::SetTrust(component, value, reply) => {
                let result = async {
                    let current = state
                        .ctx
                        .store
                        .trust(&crate::model::component_subject(&component))
                        .await?
                        .map_or(1.0, |trust| trust.score);
                    state.adjust_trust(&component, value - current).await
                }
                .await;
                let _ = reply.send(result.map_err(IncidentError::from));
            }
            IncidentsMsg::RestoreTrust(component, reply) => {
                let restore = state.ctx.spec().trust.restore_on_recovery;
                let result = state.adjust_trust(&component, restore).await;
                let _ = reply.send(result.map_err(IncidentError::from));
            }
        }
        Ok(())
    }
}

impl IncidentsState {
    /// Handles every problem and recovery event in the log after the watermark, up to `up_to`.
    async fn catch_up(&mut self, up_to: u64) -> Result<(), IncidentError> {
        let start = self.watermark;
        while self.watermark < up_to {
            let page = self
                .ctx
                .store
                .events_after(self.watermark, CATCH_UP_PAGE_EVENTS)
                .await?;
            if page.is_empty() {
                break;
            }
            for event in page.iter().filter(|event| event.seq <= up_to) {
                if !classify(&event.event_type, &event.data).is_info() {
                    self.observe(event).await?;
                }
                self.watermark = event.seq;
            }
        }
        if self.watermark != start {
            self.ctx
                .store
                .save_incidents_watermark(self.watermark)
                .await?;
        }
        Ok(())
    }

    /// Incidents whose healing run ended while this actor was not there to hear it.
    async fn reconcile_runs(&mut self) -> Result<(), IncidentError> {
        let healing: Vec<(u64, String)> = self
            .active
            .values()
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

    async fn observe(&mut self, event: &Event) -> Result<(), IncidentError> {
        let source = event.source.clone().unwrap_or_else(|| "unknown".to_owned());
        match classify(&event.event_type, &event.data) {
            EventClass::Problem { severity, title } => {
                // A rate-limited source (a log rule) reports how many times it happened.
                let count = event
                    .data
                    .get("count")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(1)
                    .max(1);
                let existing = self
                    .active
                    .values()
                    .find(|i| i.source == source && i.event_type == event.event_type)
                    .map(|i| i.id);
                if let Some(id) = existing {
                    let mut incident = self.active.remove(&id).expect("found above");
                    incident.occurrences = incident.occurrences.saturating_add(count);
                    incident.recovery_seen = false;
                    self.remember(&mut incident, event.seq);
                    return self.update(incident, "repeat").await;
                }
                let symptom = Symptom {
                    source,
                    event_type: event.event_type.clone(),
                    severity,
                    title,
                    at: event.at,
                    seq: event.seq,
                };
                if let Some(parent) = self.down_dependency(&symptom.source) {
                    return self.attach(parent, symptom).await;
                }
                self.open(symptom, count).await?;
            }
            EventClass::Recovery => {
                let recovered_family = family(&event.event_type);
                let recovered: Vec<u64> = self
                    .active
                    .values()
                    .filter(|i| i.source == source && family(&i.event_type) == recovered_family)
                    .map(|i| i.id)
                    .collect();
                for id in recovered {
                    let mut incident = self.active.remove(&id).expect("collected above");
                    self.remember(&mut incident, event.seq);
                    if incident.active_run_id.is_some() {
                        // The healing playbook verifies and resolves; don't race it. If the run
                        // fails, the recovery seen here still resolves the incident.
                        incident.recovery_seen = true;
                        self.update(incident, "recovery observed").await?;
                    } else {
                        self.resolve(incident, "recovery").await?;
                    }
                }
            }
            EventClass::Info => {}
        }
        Ok(())
    }

    /// The active incident of a monitor `source` depends on, if one of them is down. Only a
    /// parent its own monitor calls down hides its dependents' failures: an incident on it
    /// from a log rule or a pushed event does not.
    fn down_dependency(&self, source: &str) -> Option<u64> {
        let spec = self.ctx.spec();
        let monitor = spec.monitors.iter().find(|m| m.id == source)?;
        let board = self.ctx.statuses();
        monitor
            .depends_on
            .iter()
            .filter(|parent| board.iter().any(|s| &s.id == *parent && s.down))
            .find_map(|parent| {
                self.active
                    .values()
                    .filter(|incident| &incident.source == parent)
                    .map(|incident| incident.id)
                    .min()
            })
    }

    /// Attaches a dependent's failure to the incident of what it depends on.
    async fn attach(&mut self, parent_id: u64, symptom: Symptom) -> Result<(), IncidentError> {
        let mut parent = self.active.remove(&parent_id).expect("found active");
        let known = parent
            .symptoms
            .iter()
            .any(|s| s.source == symptom.source && s.event_type == symptom.event_type);
        if known || parent.symptoms.len() >= self.ctx.spec().limits.incident_events_max {
            self.active.insert(parent_id, parent);
            return Ok(());
        }
        parent.symptoms.push(symptom);
        self.update(parent, "symptom").await
    }

    /// After `resolved` ends, its symptoms whose monitors still say down get incidents of
    /// their own: they were hidden behind it, and they are not over.
    async fn reopen_symptoms(&mut self, resolved: &Incident) {
        let board = self.ctx.statuses();
        for symptom in &resolved.symptoms {
            let still_down = board
                .iter()
                .any(|status| status.id == symptom.source && status.down);
            let already = self
                .active
                .values()
                .any(|i| i.source == symptom.source && i.event_type == symptom.event_type);
            if still_down && !already {
                let mut symptom = symptom.clone();
                symptom.at = crate::time::now();
                if let Err(error) = self.open(symptom, 1).await {
                    tracing::error!(%error, "could not open an incident for a symptom");
                }
            }
        }
    }

    async fn open(&mut self, problem: Symptom, count: u64) -> Result<(), IncidentError> {
        let Symptom {
            source,
            event_type,
            severity,
            title,
            at,
            seq,
        } = problem;
        let trust = self
            .adjust_trust(&source, -self.ctx.spec().trust.drop_on_incident)
            .await?;
        let id = self.next_id;
        self.next_id += 1;
        let silenced = self
            .ctx
            .store
            .monitor_control(&source)
            .await?
            .silenced_at(at);
        let incident = Incident {
            id,
            event_type,
            severity,
            title: format!("{title}: {source}"),
            source,
            status: IncidentStatus::Open,
            detected_at: at,
            acknowledged_at: None,
            resolved_at: None,
            resolution_time_seconds: None,
            occurrences: count,
            trust,
            resolved_by: None,
            active_run_id: None,
            work_order_id: None,
            recovery_seen: false,
            silenced,
            event_seqs: vec![seq],
            symptoms: Vec::new(),
            suggestions: Vec::new(),
        };
        self.ctx.store.save_incident(&incident).await?;
        publish(
            &self.ctx,
            EventDraft::new(types::INCIDENT_OPENED, json!({ "incident": incident }))
                .source(incident.source.clone())
                .incident(id),
        );
        // A silenced monitor's incidents are recorded, but nothing is run for them.
        if !silenced {
            if let Some(playbooks) = self.ctx.scope.lookup::<PlaybooksMsg>(roles::PLAYBOOKS) {
                let _ = playbooks.cast(PlaybooksMsg::Trigger(incident.clone()));
            }
        }
        self.active.insert(id, incident);
        Ok(())
    }

    /// Persists an active incident and announces the change.
    async fn update(&mut self, incident: Incident, reason: &str) -> Result<(), IncidentError> {
        self.ctx.store.save_incident(&incident).await?;
        publish(
            &self.ctx,
            EventDraft::new(
                types::INCIDENT_UPDATED,
                json!({ "incident": incident, "reason": reason }),
            )
            .source(incident.source.clone())
            .incident(incident.id),
        );
        self.active.insert(incident.id, incident);
        Ok(())
    }

    async fn resolve(
        &mut self,
        mut incident: Incident,
        by: &str,
    ) -> Result<Incident, IncidentError> {
        let original = incident.clone();
        let now = crate::time::now();
        incident.status = IncidentStatus::Resolved;
        incident.resolved_at = Some(now);
        incident.resolution_time_seconds =
            Some((now - incident.detected_at).num_milliseconds().max(0) as f64 / 1000.0);
        incident.resolved_by = Some(by.to_owned());
        incident.active_run_id = None;
        if let Err(error) = self.ctx.store.save_incident(&incident).await {
            // Not persisted: keep it active, as it was, so nothing is lost.
            self.active.insert(original.id, original);
            return Err(error.into());
        }
        publish(
            &self.ctx,
            EventDraft::new(
                types::INCIDENT_RESOLVED,
                json!({ "incident": incident, "resolved_by": by }),
            )
            .source(incident.source.clone())
            .incident(incident.id),
        );
        if by != "recovery" {
            // Closed without the monitor seeing a recovery: have it look again, so a failure
            // that goes on is announced anew.
            let monitor = self
                .ctx
                .scope
                .lookup::<MonitorMsg>(&roles::monitor(&incident.source));
            if let Some(monitor) = monitor {
                let _ = monitor.cast(MonitorMsg::Recheck);
            }
        }
        self.reopen_symptoms(&incident).await;
        Ok(incident)
    }

    async fn acknowledge(&mut self, id: u64) -> Result<Incident, IncidentError> {
        let Some(incident) = self.active.get(&id) else {
            return Err(self.inactive_error(id, "acknowledged").await);
        };
        if incident.acknowledged_at.is_some() {
            return Err(IncidentError::Conflict {
                id,
                status: "acknowledged already",
                action: "acknowledged again",
            });
        }
        let original = self.active.remove(&id).expect("checked above");
        let mut incident = original.clone();
        incident.acknowledged_at = Some(crate::time::now());
        if incident.status == IncidentStatus::Open {
            incident.status = IncidentStatus::Acknowledged;
        }
        if let Err(error) = self.update(incident.clone(), "acknowledged").await {
            self.active.insert(id, original);
            return Err(error);
        }
        Ok(incident)
    }

    /// The error for a command on an incident that is not active: resolved, or unknown.
    async fn inactive_error(&self, id: u64, action: &'static str) -> IncidentError {
        match self.ctx.store.incident(id).await {
            Ok(Some(incident)) => IncidentError::Conflict {
                id,
                status: incident.status.as_str(),
                action,
            },
            Ok(None) => IncidentError::NotFound(id),
            Err(error) => error.into(),
        }
    }

    async fn run_finished(
        &mut self,
        incident_id: u64,
        run_id: &str,
        outcome: RunOutcome,
    ) -> Result<(), IncidentError> {
        let Some(incident) = self.active.get(&incident_id) else {
            return Ok(()); // resolved meanwhile (by hand or by recovery)
        };
        if incident.active_run_id.as_deref() != Some(run_id) {
            return Ok(());
        }
        let resolves = match outcome {
            RunOutcome::Succeeded => self.resolves(run_id).await?,
            RunOutcome::Failed { .. } => false,
        };
        let incident = self.active.remove(&incident_id).expect("checked above");
        match outcome {
            RunOutcome::Succeeded if !resolves => {
                // A triage playbook: its work is done, the incident stays for people.
                let mut incident = incident;
                incident.active_run_id = None;
                incident.status = if incident.work_order_id.is_some() {
                    IncidentStatus::Escalated // overdue meanwhile: it stays with people
                } else if incident.acknowledged_at.is_some() {
                    IncidentStatus::Acknowledged
                } else {
                    IncidentStatus::Open
                };
                self.update(incident, "playbook done; left for people")
                    .await?;
            }
            RunOutcome::Succeeded => {
                if let Err(error) = self.resolve(incident, "playbook").await {
                    tracing::error!(%error, incident_id, "could not resolve healed incident");
                }
            }
            RunOutcome::Failed { work_order_id } => {
                self.escalate(incident, work_order_id, false).await?;
            }
        }
        Ok(())
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

    /// Records a person's decision on a pending suggestion.
    async fn decide(
        &mut self,
        incident_id: u64,
        suggestion_id: &str,
        approve: bool,
    ) -> Result<Suggestion, IncidentError> {
        let action = if approve { "approved" } else { "dismissed" };
        let Some(incident) = self.active.get(&incident_id) else {
            return Err(self.inactive_error(incident_id, action).await);
        };
        let Some(index) = incident
            .suggestions
            .iter()
            .position(|s| s.suggestion_id == suggestion_id)
        else {
            return Err(IncidentError::NoSuchSuggestion {
                incident_id,
                suggestion_id: suggestion_id.to_owned(),
            });
        };
        if incident.suggestions[index].status != "pending" {
            return Err(IncidentError::Conflict {
                id: incident_id,
                status: "decided already on this suggestion",
                action,
            });
        }
        let original = self.active.remove(&incident_id).expect("checked above");
        let mut incident = original.clone();
        let suggestion = &mut incident.suggestions[index];
        suggestion.status = action.to_owned();
        suggestion.decided_at = Some(crate::time::now());
        let decided = suggestion.clone();
        if let Err(error) = self.update(incident, &format!("suggestion {action}")).await {
            self.active.insert(incident_id, original);
            return Err(error);
        }
        Ok(decided)
    }

    /// Asks the playbook engine for a work order for every active incident past its
    /// component's `escalate_after_ms` that has none yet.
    fn check_overdue(&mut self) {
        let spec = self.ctx.spec();
        let now = crate::time::now();
        let retry = Duration::from_millis(OVERDUE_RETRY_MS);
        self.overdue_asked
            .retain(|id, asked| self.active.contains_key(id) && asked.elapsed() < retry);
        for incident in self.active.values() {
            let Some(after_ms) = spec
                .monitors
                .iter()
                .find(|m| m.id == incident.source)
                .and_then(|m| m.escalate_after_ms)
            else {
                continue;
            };
            let overdue =
                now - incident.detected_at >= chrono::Duration::milliseconds(after_ms as i64);
            // A silenced incident is kept from people on purpose.
            if !overdue
                || incident.silenced
                || incident.work_order_id.is_some()
                || self.overdue_asked.contains_key(&incident.id)
            {
                continue;
            }
            if let Some(engine) = self.ctx.scope.lookup::<PlaybooksMsg>(roles::PLAYBOOKS) {
                if engine
                    .cast(PlaybooksMsg::Overdue(Box::new(incident.clone())))
                    .is_ok()
                {
                    self.overdue_asked
                        .insert(incident.id, std::time::Instant::now());
                }
            }
        }
    }

    /// Marks an active incident escalated to a work order, persists it and announces it.
    /// With `keep_run` (an overdue incident that a playbook is still healing) the run goes on:
    /// the incident keeps its status and run and only gains the work order.
    async fn escalate(
        &mut self,
        mut incident: Incident,
        work_order_id: String,
        keep_run: bool,
    ) -> Result<(), IncidentError> {
        let incident_id = incident.id;
        let keep_run = keep_run && incident.active_run_id.is_some();
        if !keep_run {
            incident.status = IncidentStatus::Escalated;
            incident.active_run_id = None;
        }
        incident.work_order_id = Some(work_order_id.clone());
        self.ctx.store.save_incident(&incident).await?;
        publish(
            &self.ctx,
            EventDraft::new(
                types::INCIDENT_ESCALATED,
                json!({ "incident": incident, "work_order_id": work_order_id }),
            )
            .source(incident.source.clone())
            .incident(incident_id),
        );
        if incident.recovery_seen && !keep_run {
            // The playbook failed, but the component came back meanwhile: the work order
            // stays on record, the incident itself is over.
            self.resolve(incident, "recovery").await?;
        } else {
            self.active.insert(incident_id, incident);
        }
        Ok(())
    }

    /// Moves a component's trust by `delta`, persists it, announces it, returns the new score.
    async fn adjust_trust(&self, component: &str, delta: f64) -> Result<f64, StoreError> {
        let mut trust = match self
            .ctx
            .store
            .trust(&crate::model::component_subject(component))
            .await?
        {
            Some(trust) => trust,
            None => TrustScore::component(component),
        };
        let before = trust.score;
        trust.adjust(delta);
        self.ctx.store.save_trust(&trust).await?;
        publish(
            &self.ctx,
            EventDraft::new(
                types::TRUST_CHANGED,
                json!({ "subject": trust.subject, "from": before, "to": trust.score }),
            )
            .source(component.to_owned()),
        );
        Ok(trust.score)
    }

    fn remember(&self, incident: &mut Incident, seq: u64) {
        if incident.event_seqs.len() < self.ctx.spec().limits.incident_events_max {
            incident.event_seqs.push(seq);
        }
    }
}

//! A run's life in the run book: started (its records, its sub-agent spawned), each step
//! recorded as the sub-agent reports it, ended (trust, a resolution or a work order, handed to
//! the incident manager with the incident's change), superseded, or taken up after a restart
//! as [`decide_resume`] says. Pure.

use chrono::{DateTime, Utc};

use super::book::RunBook;
use super::changes::{Changes, Effect, Handover, Spawn};
use super::records::{close_execution, close_run, finished_payload, finished_report};
use super::records::{interrupted_report, new_run, started_payload, work_order, Run, Started};
use super::resume::{decide_resume, Resume};
use crate::event::EventDraft;
use crate::model::{Agent, AgentStatus, Execution, ExecutionStatus, Incident, RunId, RunOutcome};
use crate::model::{RunReport, StepRecord, StepStatus, TrustScore, WorkOrder, WorkOrderReason};
use crate::payload::{AgentFinished, AgentSpawned, PlaybookResumed, PlaybookStep, TrustChanged};
use crate::spec::{PlaybookSpec, TreeSpec};

impl RunBook {
    /// Records a run of `playbook` on `incident` and has its sub-agent spawned: the run, its
    /// sub-agent and their announcements in one commit, so a crash leaves all of them or none.
    pub fn start(
        &mut self,
        playbook: PlaybookSpec,
        incident: Incident,
        started: Started,
        now: DateTime<Utc>,
        out: &mut Changes,
    ) -> RunId {
        self.gate.remember(&playbook, &incident.source, now, now);
        let trust = self.trust_of(&playbook.id).score;
        let run = new_run(&playbook, &incident, &started, trust, now);
        let run_id = run.execution.run_id.clone();
        let announced = [
            EventDraft::of(&started_payload(&run.execution, &started)),
            EventDraft::of(&AgentSpawned {
                agent: run.agent.clone(),
            }),
        ];
        let on_incident =
            |draft: EventDraft| draft.source(incident.source.clone()).incident(incident.id);
        out.drafts.extend(announced.map(on_incident));
        out.runs.push(run.execution.clone());
        out.agents.push(run.agent.clone());
        out.point = Some("playbooks.start");
        out.effects.push(Effect::RunStarted {
            incident_id: incident.id,
            run_id: run_id.clone(),
        });
        out.effects.push(Effect::Spawn(Box::new(Spawn {
            run_id: run_id.clone(),
            agent_id: run.agent.agent_id.clone(),
            playbook,
            incident,
            first_step: 0,
        })));
        self.runs.insert(run_id.clone(), run);
        run_id
    }

    /// Records a step as the sub-agent reports it, and announces it unless that is done
    /// (`announced`: a trust step's end, committed with its trust change).
    pub fn step(
        &mut self,
        run_id: &RunId,
        index: usize,
        record: StepRecord,
        announced: bool,
        out: &mut Changes,
    ) {
        let Some(execution) = self.runs.get_mut(run_id).map(|run| &mut run.execution) else {
            return;
        };
        let Some(slot) = execution.steps.get_mut(index) else {
            return;
        };
        *slot = record.clone();
        execution.steps_completed = execution
            .steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped))
            .count() as u32;
        if !announced {
            let step = PlaybookStep {
                run_id: run_id.clone(),
                playbook_id: execution.playbook_id.clone(),
                index,
                step: record,
            };
            out.drafts
                .push(EventDraft::of(&step).incident(execution.incident_id));
        }
        out.runs.push(execution.clone());
    }

    /// Ends a run as `report` says: trust, the run and agent records, the work order of a failed
    /// run and their announcements, handed to the incident manager to commit with what the end
    /// does to the incident (resolved, escalated) — so a crash can neither count a run twice,
    /// lose its work order nor leave its incident healing a run that ended.
    pub fn finish(
        &mut self,
        run_id: &RunId,
        report: RunReport,
        spec: &TreeSpec,
        now: DateTime<Utc>,
        out: &mut Changes,
    ) {
        let Some(mut run) = self.runs.remove(run_id) else {
            return;
        };
        let (trust, trust_changed) = self.score(&run.execution, report.succeeded, spec);
        close_run(&mut run, &report, trust.score, now);
        let work_order =
            (!report.succeeded).then(|| failed_run_order(&run.execution, &report, now));
        let Run {
            mut execution,
            agent,
        } = run;
        execution.work_order_id = work_order.as_ref().map(|w| w.work_order_id.clone());
        let incident_id = execution.incident_id;
        out.drafts.extend(trust_changed);
        let ended = [
            EventDraft::of(&finished_payload(&execution, &report)),
            EventDraft::of(&AgentFinished {
                agent: agent.clone(),
            }),
        ];
        out.drafts
            .extend(ended.map(|draft| draft.incident(incident_id)));
        let outcome = match &work_order {
            None => RunOutcome::Succeeded,
            Some(order) => RunOutcome::Failed {
                work_order_id: order.work_order_id.clone(),
            },
        };
        out.handover = Some(Handover::RunFinished {
            incident_id,
            run_id: run_id.clone(),
            outcome,
        });
        out.trust = Some(trust);
        out.work_order = work_order;
        out.point = Some("playbooks.finish");
        out.effects.push(Effect::StopAgent(agent.agent_id.clone()));
        self.ended(execution, agent, out);
    }

    /// The playbook's trust after this run, and the `trust.changed` to announce when it moved.
    /// Only runs on components Grace watches itself, or that a person started, move it: pushed
    /// events come from whoever can reach the port.
    fn score(
        &mut self,
        execution: &Execution,
        succeeded: bool,
        spec: &TreeSpec,
    ) -> (TrustScore, Option<EventDraft>) {
        let mut trust = self.trust_of(&execution.playbook_id);
        let before = trust.score;
        let watched = spec.monitors.iter().any(|m| m.id == execution.source);
        let changed = if watched || execution.by_hand {
            trust.record_run(succeeded);
            Some(EventDraft::of(&TrustChanged {
                subject: trust.subject.clone(),
                from: before,
                to: trust.score,
            }))
        } else {
            trust.record_unscored_run(succeeded);
            None
        };
        self.trust
            .insert(execution.playbook_id.clone(), trust.clone());
        (trust, changed)
    }

    /// Writes an ended run and its sub-agent; the run is counted, and its slot goes to what
    /// waits for one.
    fn ended(&mut self, execution: Execution, agent: Agent, out: &mut Changes) {
        out.expect_running.push(execution.run_id.clone());
        out.effects
            .push(Effect::CountRun(Box::new(execution.clone())));
        out.effects.push(Effect::SlotFree);
        out.runs.push(execution);
        out.agents.push(agent);
    }

    /// Stops the run on `incident_id`, waiting or running, because incident `by` took it in:
    /// what it depends on is down, so healing it here is beside the point. Its sub-agent is
    /// killed, and the run ends `superseded`: no work order, and the playbook's trust does not
    /// move.
    pub fn supersede(&mut self, incident_id: u64, by: u64, now: DateTime<Utc>, out: &mut Changes) {
        self.waiting.retain(|waiting| waiting.id != incident_id);
        let run_id = self
            .runs
            .iter()
            .find(|(_, run)| run.execution.incident_id == incident_id)
            .map(|(run_id, _)| run_id.clone());
        let Some(Run {
            mut execution,
            mut agent,
        }) = run_id.and_then(|id| self.runs.remove(&id))
        else {
            return;
        };
        out.effects.push(Effect::KillAgent(agent.agent_id.clone()));
        close_execution(&mut execution, ExecutionStatus::Superseded, now);
        for step in &mut execution.steps {
            if matches!(step.status, StepStatus::Running | StepStatus::Pending) {
                step.status = StepStatus::Skipped;
                step.finished_at = Some(now);
            }
        }
        agent.status = AgentStatus::Stopped;
        agent.finished_at = Some(now);
        let why = format!("superseded by incident #{by}: what it depends on is down");
        let ended = [
            EventDraft::of(&finished_payload(&execution, &RunReport::failed(why))),
            EventDraft::of(&AgentFinished {
                agent: agent.clone(),
            }),
        ];
        out.drafts
            .extend(ended.map(|draft| draft.incident(incident_id)));
        self.ended(execution, agent, out);
    }
}

/// The work order of a run that failed.
fn failed_run_order(execution: &Execution, report: &RunReport, now: DateTime<Utc>) -> WorkOrder {
    WorkOrder {
        run_id: Some(execution.run_id.clone()),
        failing_step: report.failing_step.clone(),
        ..work_order(
            execution.incident_id,
            WorkOrderReason::RunFailed,
            &execution.playbook_id,
            report.output.clone(),
            now,
        )
    }
}

/// What a restarted engine found of a run a stopped Grace left `running`.
#[derive(Debug, Clone)]
pub struct LeftRunning {
    pub execution: Execution,
    pub agent: Agent,
    /// Its incident as stored, if still active.
    pub incident: Option<Incident>,
}

impl RunBook {
    /// A run a stopped Grace left `running` resumes, or ends and escalates, or closes quietly,
    /// as [`decide_resume`] says, so no run stays `running` forever.
    pub fn take_up(
        &mut self,
        left: LeftRunning,
        spec: &TreeSpec,
        now: DateTime<Utc>,
        out: &mut Changes,
    ) {
        let LeftRunning {
            execution,
            agent,
            incident,
        } = left;
        let playbook = super::resume::unchanged_playbook(&execution, &spec.playbooks).cloned();
        let resume = decide_resume(&execution, playbook.as_ref(), incident.is_some());
        let run_id = execution.run_id.clone();
        self.runs.insert(run_id.clone(), Run { execution, agent });
        match (resume, playbook, incident) {
            (Resume::Finish, _, _) => self.finish(&run_id, finished_report(), spec, now, out),
            (Resume::Continue { at }, Some(playbook), Some(incident)) => {
                self.resume(&run_id, playbook, incident, at, out)
            }
            (Resume::Close, _, _) => self.close_quietly(&run_id, now, out),
            (Resume::Escalate { at } | Resume::Continue { at }, _, _) => {
                let step = self.runs[&run_id].execution.steps[at].name.clone();
                self.finish(&run_id, interrupted_report(step), spec, now, out)
            }
        }
    }

    /// Starts the run's sub-agent again at step `at`, and says so, in one commit.
    fn resume(
        &mut self,
        run_id: &RunId,
        playbook: PlaybookSpec,
        incident: Incident,
        at: usize,
        out: &mut Changes,
    ) {
        let run = self.runs.get_mut(run_id).expect("inserted by the caller");
        let step = &mut run.execution.steps[at];
        step.status = StepStatus::Pending;
        let before = match step.output.as_str() {
            "" => String::new(),
            output => format!(" ({output})"),
        };
        step.output =
            format!("Grace stopped during this step{before}; resumed here after the restart");
        let resumed = PlaybookResumed {
            run_id: run_id.clone(),
            playbook_id: playbook.id.clone(),
            from_step: at,
        };
        let draft = EventDraft::of(&resumed)
            .source(incident.source.clone())
            .incident(incident.id);
        out.drafts.push(draft);
        out.runs.push(run.execution.clone());
        out.point = Some("playbooks.resume");
        out.expect_running.push(run_id.clone());
        // The incident may never have heard of this run (stopped before it did).
        out.effects.push(Effect::RunStarted {
            incident_id: incident.id,
            run_id: run_id.clone(),
        });
        out.effects.push(Effect::Spawn(Box::new(Spawn {
            run_id: run_id.clone(),
            agent_id: run.agent.agent_id.clone(),
            playbook,
            incident,
            first_step: at,
        })));
    }

    /// The run's incident ended meanwhile: the run closes as interrupted, with nothing to
    /// escalate and nothing to learn.
    fn close_quietly(&mut self, run_id: &RunId, now: DateTime<Utc>, out: &mut Changes) {
        let mut run = self.runs.remove(run_id).expect("inserted by the caller");
        close_execution(&mut run.execution, ExecutionStatus::Interrupted, now);
        run.agent.status = AgentStatus::Failed;
        run.agent.finished_at = Some(now);
        out.expect_running.push(run_id.clone());
        out.runs.push(run.execution);
        out.agents.push(run.agent);
        out.point = Some("playbooks.close_quietly");
    }
}

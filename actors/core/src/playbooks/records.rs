//! The records of a run as the run book writes them: a new run and its sub-agent, a run ended,
//! a work order, and the announcements of a run's start and end. Pure.

use chrono::{DateTime, Utc};

use crate::model::{Agent, AgentId, AgentStatus, Execution, ExecutionStatus, Incident, RunId};
use crate::model::{RunReport, StepRecord, StepStatus, Who, WorkOrder, WorkOrderId};
use crate::model::{WorkOrderReason, WorkOrderStatus};
use crate::payload::{PlaybookFinished, PlaybookStarted};
use crate::spec::PlaybookSpec;

/// Who started a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// An incident's trigger matched.
    Automatically,
    /// A person: `POST /playbooks/{id}/run`, or approving a suggestion. `forced`: an admin
    /// ran it past its trigger, cooldown and circuit breaker.
    ByHand { by: Who, forced: bool },
}

/// A run in progress: its record and its sub-agent's.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub execution: Execution,
    pub agent: Agent,
}

/// The records of a new run of `playbook` on `incident` and of its sub-agent.
pub fn new_run(
    playbook: &PlaybookSpec,
    incident: &Incident,
    started: &Started,
    trust_score: f64,
    now: DateTime<Utc>,
) -> Run {
    let steps = playbook.steps.iter().map(|step| StepRecord {
        name: step.name().to_owned(),
        status: StepStatus::Pending,
        attempts: 0,
        started_at: None,
        finished_at: None,
        output: String::new(),
        ran_by: None,
    });
    let execution = Execution {
        run_id: RunId::new(),
        playbook_id: playbook.id.clone(),
        playbook_name: playbook.display_name().to_owned(),
        incident_id: incident.id,
        source: incident.source.clone(),
        by_hand: matches!(started, Started::ByHand { .. }),
        started_by: match started {
            Started::ByHand { by, .. } => Some(by.clone()),
            Started::Automatically => None,
        },
        agent_id: AgentId::new(),
        status: ExecutionStatus::Running,
        steps_completed: 0,
        steps: steps.collect(),
        started_at: now,
        finished_at: None,
        duration_seconds: None,
        work_order_id: None,
    };
    let agent = agent_of(&execution, trust_score);
    Run { execution, agent }
}

/// The sub-agent record of a run, as it is when the run starts (and the stand-in for one a
/// restart finds missing).
pub fn agent_of(execution: &Execution, trust_score: f64) -> Agent {
    let name = &execution.playbook_name;
    Agent {
        agent_id: execution.agent_id.clone(),
        agent_name: format!("{name} agent"),
        task: format!("{name} for incident #{}", execution.incident_id),
        incident_id: execution.incident_id,
        run_id: execution.run_id.clone(),
        trust_score,
        status: AgentStatus::Running,
        started_at: execution.started_at,
        finished_at: None,
    }
}

/// The data of `playbook.started`: the run, its steps, and who started it when a person did.
pub fn started_payload(execution: &Execution, started: &Started) -> PlaybookStarted {
    let (by, forced) = match started {
        Started::ByHand { by, forced } => (Some(by.clone()), Some(*forced)),
        Started::Automatically => (None, None),
    };
    PlaybookStarted {
        run_id: execution.run_id.clone(),
        playbook_id: execution.playbook_id.clone(),
        playbook_name: execution.playbook_name.clone(),
        steps: execution.steps.iter().map(|s| s.name.clone()).collect(),
        by,
        forced,
    }
}

/// The data of `playbook.finished`.
pub fn finished_payload(execution: &Execution, report: &RunReport) -> PlaybookFinished {
    PlaybookFinished {
        run_id: execution.run_id.clone(),
        playbook_id: execution.playbook_id.clone(),
        status: execution.status,
        duration_seconds: execution.duration_seconds,
        failing_step: report.failing_step.clone(),
        output: report.output.clone(),
        work_order_id: execution.work_order_id.clone(),
    }
}

/// Marks a run and its sub-agent ended as `report` says, at `now`.
pub fn close_run(run: &mut Run, report: &RunReport, trust_score: f64, now: DateTime<Utc>) {
    let status = if report.succeeded {
        ExecutionStatus::Succeeded
    } else if report.interrupted {
        ExecutionStatus::Interrupted
    } else {
        ExecutionStatus::Failed
    };
    close_execution(&mut run.execution, status, now);
    // Steps a crashed or interrupted agent never finished are marked failed, not left running.
    for step in &mut run.execution.steps {
        if step.status == StepStatus::Running {
            step.status = StepStatus::Failed;
            step.finished_at = Some(now);
        }
    }
    let agent = &mut run.agent;
    agent.status = match report.succeeded {
        true => AgentStatus::Succeeded,
        false => AgentStatus::Failed,
    };
    agent.finished_at = Some(now);
    agent.trust_score = trust_score;
}

/// Marks `execution` ended with `status` at `now`.
pub fn close_execution(execution: &mut Execution, status: ExecutionStatus, now: DateTime<Utc>) {
    execution.status = status;
    execution.finished_at = Some(now);
    let ms = (now - execution.started_at).num_milliseconds().max(0);
    execution.duration_seconds = Some(ms as f64 / 1000.0);
}

/// A new open work order, naming no run and no step.
pub fn work_order(
    incident_id: u64,
    reason: WorkOrderReason,
    playbook_id: &str,
    output: String,
    now: DateTime<Utc>,
) -> WorkOrder {
    WorkOrder {
        work_order_id: WorkOrderId::new(),
        incident_id,
        reason,
        run_id: None,
        playbook_id: playbook_id.to_owned(),
        failing_step: None,
        output,
        created_at: now,
        status: WorkOrderStatus::Open,
        assignee: None,
        comments: Vec::new(),
        closed_at: None,
        resolution: None,
    }
}

/// The report of a run whose steps had all ended well.
pub fn finished_report() -> RunReport {
    RunReport {
        succeeded: true,
        interrupted: false,
        failing_step: None,
        output: String::new(),
    }
}

/// The report of a run that cannot go on from `step`.
pub fn interrupted_report(step: String) -> RunReport {
    RunReport {
        succeeded: false,
        interrupted: true,
        failing_step: Some(step),
        output: "interrupted: Grace stopped while the run was in a step that is not safe to do \
                 again (not idempotent, on_interrupt = \"escalate\"), or its playbook changed"
            .to_owned(),
    }
}

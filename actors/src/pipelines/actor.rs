//! The `PipelinesActor`: the one writer of pipeline runs, and only I/O — the store, the tick,
//! spawning each run's job as its own task, publishing, answering callers. What to start when
//! is decided by `Schedule` and `Reruns`, told the time.
//!
//! A pipeline is a job that needs some components (a nightly export needs the orders
//! database). When it fails while one of them is down, its failure is not its own: once the
//! component is verified healthy again, the playbook's `rerun_pipelines` step has exactly those
//! failed runs rerun. Each run executes as its own task, so a long job never blocks the actor;
//! at most one run of a pipeline goes at a time, and reruns wait their turn in a bounded queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::reruns::{Plan, Reruns};
use super::schedule::{Due, Schedule};
use super::waiters::Waiters;
use super::{job, new_run};
use crate::context::Ctx;
use crate::event::EventDraft;
use crate::model::{PipelineRun, PipelineRunId, PipelineRunStatus, PipelineTrigger, Who};
use crate::payload::{PipelineFinished, PipelineStarted};
use crate::program;
use crate::protocol::bus::commit_in_order;
use crate::protocol::pipelines::{PipelineError, PipelinesMsg, Rerun};
use crate::spec::PipelineSpec;
use crate::store::{StoreError, Write};
use crate::ticks::Ticker;

/// How often schedules are looked at; the shortest schedule is a few times this.
const TICK_MS: u64 = 250;

/// What a caller waiting for a run is answered.
type RunAnswer = Result<Option<PipelineRun>, PipelineError>;

pub struct PipelinesActor;

pub struct PipelinesState {
    ctx: Arc<Ctx>,
    myself: ActorRef<PipelinesMsg>,
    /// The run going on now, by pipeline id: at most one per pipeline.
    running: HashMap<String, PipelineRun>,
    /// Reruns waiting for their pipeline to be free.
    reruns: Reruns,
    /// Callers waiting for a run to end, bounded.
    waiters: Waiters<RunAnswer>,
    /// When each scheduled pipeline is due next.
    schedule: Schedule,
    /// The task of each run going on, by run id: aborted when this actor stops, so a
    /// restarted runner never finds a run of the old one still going (the program is killed
    /// with its task).
    tasks: HashMap<PipelineRunId, tokio::task::JoinHandle<()>>,
    /// Sends `Tick` every TICK_MS, at most one waiting however long a commit holds the actor.
    ticker: Option<Ticker>,
}

impl Actor for PipelinesActor {
    type Msg = PipelinesMsg;
    type State = PipelinesState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut state = PipelinesState {
            ctx,
            myself: myself.clone(),
            running: HashMap::new(),
            reruns: Reruns::default(),
            waiters: Waiters::default(),
            schedule: Schedule::default(),
            tasks: HashMap::new(),
            ticker: None,
        };
        state.recover().await?;
        let period = Duration::from_millis(TICK_MS);
        state.ticker = Some(Ticker::start(&myself, period, || PipelinesMsg::Tick));
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        for task in state.tasks.values() {
            task.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PipelinesMsg::Tick => {
                state.ticker.iter().for_each(Ticker::taken);
                state.tick().await?
            }
            PipelinesMsg::RunNow {
                pipeline_id,
                by,
                reply,
            } => {
                let _ = reply.send(state.run_now(&pipeline_id, by).await);
            }
            PipelinesMsg::RerunFailed {
                component,
                since,
                runs_max,
                reply,
            } => {
                let _ = reply.send(state.rerun_failed(&component, since, runs_max).await);
            }
            PipelinesMsg::AwaitRun { run_id, reply } => state.await_run(run_id, reply).await?,
            PipelinesMsg::Finished(run) => state.finished(run).await?,
        }
        Ok(())
    }
}

impl PipelinesState {
    /// After a stop: a run that was going is `interrupted` (it is not known how far it got);
    /// reruns that were queued or going are queued again — their failed run is marked as
    /// rerun, so nothing else would ever rerun it.
    async fn recover(&mut self) -> Result<(), StoreError> {
        let mut reruns = Vec::new();
        for mut run in self.ctx.store.unfinished_pipeline_runs().await? {
            if run.status == PipelineRunStatus::Queued || run.trigger == PipelineTrigger::Rerun {
                reruns.push(run);
                continue;
            }
            run.status = PipelineRunStatus::Interrupted;
            run.finished_at = Some(crate::time::now());
            run.output = "Grace stopped while this run was going".to_owned();
            self.ctx.store.save_pipeline_run(&run).await?;
        }
        self.reruns.restore(reruns);
        for pipeline in self.reruns.pipelines() {
            self.start_next(&pipeline).await?;
        }
        Ok(())
    }

    fn spec(&self, pipeline_id: &str) -> Option<PipelineSpec> {
        self.ctx
            .spec()
            .pipelines
            .iter()
            .find(|p| p.id == pipeline_id)
            .cloned()
    }

    async fn tick(&mut self) -> Result<(), StoreError> {
        // Reruns left queued by an earlier failure get their turn.
        for pipeline in self.reruns.pipelines() {
            self.start_next(&pipeline).await?;
        }
        let spec = self.ctx.spec();
        let pipelines = spec.pipelines.iter().map(|p| (p.id.as_str(), p.every_ms));
        // A pipeline going, or with reruns waiting, skips its scheduled run.
        let (running, reruns) = (&self.running, &self.reruns);
        let busy = |id: &str| running.contains_key(id) || reruns.len(id) > 0;
        let due = self.schedule.due(pipelines, Instant::now(), busy);
        for decided in due {
            match decided {
                Due::Skip(id) => {
                    tracing::info!(pipeline = %id, "scheduled run skipped: still running");
                }
                Due::Start(id) => {
                    let Some(pipeline) = self.spec(&id) else {
                        continue;
                    };
                    let run = new_run(&id, PipelineTrigger::Schedule, None, crate::time::now());
                    self.start(pipeline, run).await?;
                }
            }
        }
        Ok(())
    }

    fn busy(&self, pipeline_id: &str) -> bool {
        self.running.contains_key(pipeline_id) || self.reruns.len(pipeline_id) > 0
    }

    async fn run_now(&mut self, pipeline_id: &str, by: Who) -> Result<PipelineRun, PipelineError> {
        let pipeline = self
            .spec(pipeline_id)
            .ok_or_else(|| PipelineError::NoSuchPipeline(pipeline_id.to_owned()))?;
        if let Some(run) = self.running.get(pipeline_id) {
            return Err(PipelineError::Busy {
                pipeline: pipeline_id.to_owned(),
                run: run.run_id.to_string(),
            });
        }
        if self.busy(pipeline_id) {
            return Err(PipelineError::Busy {
                pipeline: pipeline_id.to_owned(),
                run: "reruns are queued".to_owned(),
            });
        }
        let run = PipelineRun {
            started_by: Some(by),
            ..new_run(
                pipeline_id,
                PipelineTrigger::Manual,
                None,
                crate::time::now(),
            )
        };
        Ok(self.start(pipeline, run).await?)
    }

    /// Waits `reply` for `run_id` to end (bounded), or answers now when it is not going.
    async fn await_run(
        &mut self,
        run_id: PipelineRunId,
        reply: RpcReplyPort<RunAnswer>,
    ) -> Result<(), StoreError> {
        let in_progress =
            self.running.values().any(|run| run.run_id == run_id) || self.reruns.contains(&run_id);
        if !in_progress {
            let _ = reply.send(Ok(self.ctx.store.pipeline_run(run_id.as_str()).await?));
            return Ok(());
        }
        if let Err(reply) = self.waiters.wait(run_id, reply) {
            let max = self.waiters.max();
            tracing::warn!(max, "a caller was refused: too many wait for pipeline runs");
            let _ = reply.send(Err(PipelineError::TooManyWaiting { max }));
        }
        Ok(())
    }

    async fn rerun_failed(
        &mut self,
        component: &str,
        since: DateTime<Utc>,
        runs_max: usize,
    ) -> Result<Vec<Rerun>, PipelineError> {
        let dependents: Vec<String> = self
            .ctx
            .spec()
            .pipelines
            .iter()
            .filter(|p| p.depends_on.iter().any(|d| d == component))
            .map(|p| p.id.clone())
            .collect();
        if dependents.is_empty() {
            return Ok(Vec::new());
        }
        // Reruns already queued or going (asked for before a restart, or by an earlier try of
        // the same step) are waited for too.
        let mut reruns: Vec<Rerun> = self
            .running
            .values()
            .chain(self.reruns.runs())
            .filter(|run| dependents.contains(&run.pipeline_id))
            .filter_map(|run| {
                Some(Rerun {
                    failed_run_id: run.rerun_of.clone()?,
                    rerun: run.clone(),
                })
            })
            .collect();
        let since = since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let failed = self
            .ctx
            .store
            .failed_pipeline_runs_since(&dependents, &since, runs_max)
            .await?;
        let plan = self.reruns.plan(failed, crate::time::now());
        let queued = self.queue_reruns(plan, &mut reruns).await;
        // Whatever happened above, what is queued gets started.
        for pipeline in &dependents {
            self.start_next(pipeline).await?;
        }
        queued?;
        Ok(reruns)
    }

    /// Saves and queues each planned rerun; stops at the first store error.
    async fn queue_reruns(
        &mut self,
        plan: Plan,
        reruns: &mut Vec<Rerun>,
    ) -> Result<(), StoreError> {
        for original in &plan.full {
            tracing::warn!(pipeline = %original.pipeline_id, run = %original.run_id, "rerun queue full");
        }
        for planned in plan.queue {
            // One transaction: a rerun is never lost nor queued twice for the same failure.
            self.ctx
                .store
                .queue_rerun(&planned.original, &planned.rerun)
                .await?;
            self.reruns.push(planned.rerun.clone());
            reruns.push(Rerun {
                failed_run_id: planned.original.run_id,
                rerun: planned.rerun,
            });
        }
        Ok(())
    }

    /// Starts the next queued rerun of `pipeline_id` when nothing of it is running.
    async fn start_next(&mut self, pipeline_id: &str) -> Result<(), StoreError> {
        if self.running.contains_key(pipeline_id) {
            return Ok(());
        }
        let Some(pipeline) = self.spec(pipeline_id) else {
            // Removed from config while its reruns waited: they all fail.
            for mut run in self.reruns.take_all(pipeline_id) {
                run.status = PipelineRunStatus::Failed;
                run.output = "the pipeline is no longer configured".to_owned();
                run.finished_at = Some(crate::time::now());
                run.duration_ms = Some(0);
                self.ctx.store.save_pipeline_run(&run).await?;
                self.waiters.answer(&run.run_id, Ok(Some(run.clone())));
            }
            return Ok(());
        };
        let Some(run) = self.reruns.next(pipeline_id, crate::time::now()) else {
            return Ok(());
        };
        self.start(pipeline, run).await?;
        Ok(())
    }

    /// Records `run` as running, announces it, and runs it in its own task.
    async fn start(
        &mut self,
        pipeline: PipelineSpec,
        run: PipelineRun,
    ) -> Result<PipelineRun, StoreError> {
        // The run as it starts and its announcement, in one transaction.
        let started =
            EventDraft::of(&PipelineStarted { run: run.clone() }).source(pipeline.id.clone());
        let write = Write::PipelineRun(Box::new(run.clone()));
        commit_in_order(&self.ctx.scope, vec![started], vec![write])
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        self.running.insert(pipeline.id.clone(), run.clone());
        let me = self.myself.clone();
        let tail_bytes = self.ctx.spec().limits.output_tail_bytes;
        let mut task_run = run.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let (ok, output) = job::execute(&pipeline, &mut task_run).await;
            task_run.status = if ok {
                PipelineRunStatus::Succeeded
            } else {
                PipelineRunStatus::Failed
            };
            task_run.output = program::tail(&output, tail_bytes);
            task_run.finished_at = Some(crate::time::now());
            task_run.duration_ms = Some(started.elapsed().as_millis() as u64);
            let _ = me.cast(PipelinesMsg::Finished(task_run));
        });
        self.tasks.insert(run.run_id.clone(), task);
        Ok(run)
    }

    /// A run's task ended: it is recorded and announced, its waiters answered, and its
    /// pipeline's next rerun (if one waits) is due.
    async fn finished(&mut self, run: PipelineRun) -> Result<(), StoreError> {
        self.tasks.remove(&run.run_id);
        if self
            .running
            .get(&run.pipeline_id)
            .is_some_and(|current| current.run_id == run.run_id)
        {
            self.running.remove(&run.pipeline_id);
        }
        let mut event =
            EventDraft::of(&PipelineFinished { run: run.clone() }).source(run.pipeline_id.clone());
        if run.status == PipelineRunStatus::Failed {
            // A failure while something it needs is down belongs on that incident's timeline.
            if let Some(incident_id) = self.dependency_incident(&run.pipeline_id).await? {
                event = event.incident(incident_id);
            }
        }
        // The run as it ended and its announcement, in one transaction.
        let write = Write::PipelineRun(Box::new(run.clone()));
        commit_in_order(&self.ctx.scope, vec![event], vec![write])
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        self.waiters.answer(&run.run_id, Ok(Some(run.clone())));
        self.start_next(&run.pipeline_id).await
    }

    /// An active incident on a component the pipeline depends on, if there is one.
    async fn dependency_incident(&self, pipeline_id: &str) -> Result<Option<u64>, StoreError> {
        let Some(pipeline) = self.spec(pipeline_id) else {
            return Ok(None);
        };
        if pipeline.depends_on.is_empty() {
            return Ok(None);
        }
        let mut oldest = Vec::new();
        for source in &pipeline.depends_on {
            let active = self.ctx.store.active_incidents_of(source).await?;
            oldest.extend(active.first().map(|incident| incident.id));
        }
        Ok(oldest.into_iter().min())
    }
}

//! The reruns waiting for their pipeline to be free: pure, told the time, unit-tested.
//!
//! A `rerun_pipelines` step asks for the failed runs of the pipelines that depend on a healed
//! component to be rerun. Each failed run is rerun at most once (one already rerun, or with a
//! rerun waiting here, is left alone), each pipeline's queue holds at most
//! `bounds::RERUN_RUNS_MAX` reruns (a failing job cannot grow it without end), and reruns go
//! oldest first, one at a time with the pipeline's other runs: a finished run makes the next
//! rerun of its pipeline due.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};

use super::new_run;
use crate::model::{PipelineRun, PipelineRunId, PipelineRunStatus, PipelineTrigger};
use crate::spec::bounds;

/// A failed run marked as rerun by `rerun`, the queued rerun; both saved in one transaction
/// before the rerun joins the queue.
#[derive(Debug, Clone)]
pub struct Planned {
    pub original: PipelineRun,
    pub rerun: PipelineRun,
}

/// What asking to rerun some failed runs comes to.
#[derive(Debug, Default)]
pub struct Plan {
    /// A rerun for each failed run there is room for, in the order asked.
    pub queue: Vec<Planned>,
    /// The failed runs left out because their pipeline's queue is full.
    pub full: Vec<PipelineRun>,
}

/// Reruns waiting, by pipeline id, oldest first.
#[derive(Debug)]
pub struct Reruns {
    queued: HashMap<String, VecDeque<PipelineRun>>,
    /// Most reruns waiting per pipeline.
    per_pipeline_max: usize,
}

impl Default for Reruns {
    fn default() -> Self {
        Reruns::new(bounds::RERUN_RUNS_MAX)
    }
}

impl Reruns {
    pub fn new(per_pipeline_max: usize) -> Self {
        Reruns {
            queued: HashMap::new(),
            per_pipeline_max,
        }
    }

    /// Reruns found unfinished after a stop are queued again (the failed run they rerun is
    /// marked as rerun, so nothing else would ever rerun it), oldest first.
    pub fn restore(&mut self, runs: Vec<PipelineRun>) {
        for mut run in runs {
            run.status = PipelineRunStatus::Queued;
            self.queued
                .entry(run.pipeline_id.clone())
                .or_default()
                .push_back(run);
        }
        for queue in self.queued.values_mut() {
            queue.make_contiguous().sort_by_key(|run| run.started_at);
        }
    }

    /// A rerun, queued at `now`, of each of the `failed` runs not rerun yet, as far as each
    /// pipeline's queue has room. Nothing is queued until `push`.
    pub fn plan(&self, failed: Vec<PipelineRun>, now: DateTime<Utc>) -> Plan {
        let mut plan = Plan::default();
        let mut seen: HashSet<PipelineRunId> =
            self.runs().filter_map(|r| r.rerun_of.clone()).collect();
        let mut planned: HashMap<String, usize> = HashMap::new();
        for mut original in failed {
            if original.rerun_by.is_some() || !seen.insert(original.run_id.clone()) {
                continue;
            }
            let waiting = self.len(&original.pipeline_id)
                + planned.get(&original.pipeline_id).copied().unwrap_or(0);
            if waiting >= self.per_pipeline_max {
                plan.full.push(original);
                continue;
            }
            *planned.entry(original.pipeline_id.clone()).or_default() += 1;
            let mut rerun = new_run(
                &original.pipeline_id,
                PipelineTrigger::Rerun,
                Some(&original.run_id),
                now,
            );
            rerun.status = PipelineRunStatus::Queued;
            original.rerun_by = Some(rerun.run_id.clone());
            plan.queue.push(Planned { original, rerun });
        }
        plan
    }

    /// Queues a planned rerun once it is saved.
    pub fn push(&mut self, rerun: PipelineRun) {
        self.queued
            .entry(rerun.pipeline_id.clone())
            .or_default()
            .push_back(rerun);
    }

    /// The next rerun of `pipeline_id`, running from `now`, if one waits.
    pub fn next(&mut self, pipeline_id: &str, now: DateTime<Utc>) -> Option<PipelineRun> {
        let mut run = self.queued.get_mut(pipeline_id)?.pop_front()?;
        run.status = PipelineRunStatus::Running;
        run.started_at = now;
        Some(run)
    }

    /// Every rerun of `pipeline_id` waiting, taken out (its pipeline is gone).
    pub fn take_all(&mut self, pipeline_id: &str) -> Vec<PipelineRun> {
        self.queued
            .remove(pipeline_id)
            .map(Vec::from)
            .unwrap_or_default()
    }

    /// How many reruns of `pipeline_id` wait.
    pub fn len(&self, pipeline_id: &str) -> usize {
        self.queued.get(pipeline_id).map_or(0, VecDeque::len)
    }

    /// Whether `run_id` is a rerun waiting here.
    pub fn contains(&self, run_id: &PipelineRunId) -> bool {
        self.runs().any(|run| &run.run_id == run_id)
    }

    /// Every rerun waiting.
    pub fn runs(&self) -> impl Iterator<Item = &PipelineRun> {
        self.queued.values().flatten()
    }

    /// The pipelines with reruns waiting.
    pub fn pipelines(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .queued
            .iter()
            .filter(|(_, queue)| !queue.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(pipeline: &str, minute: u32) -> PipelineRun {
        let at = format!("2025-01-01T10:{minute:02}:00Z").parse().unwrap();
        PipelineRun {
            status: PipelineRunStatus::Failed,
            ..new_run(pipeline, PipelineTrigger::Schedule, None, at)
        }
    }

    fn now() -> DateTime<Utc> {
        "2025-01-01T11:00:00Z".parse().unwrap()
    }

    fn queue_all(reruns: &mut Reruns, runs: Vec<PipelineRun>) -> Plan {
        let plan = reruns.plan(runs, now());
        for planned in &plan.queue {
            reruns.push(planned.rerun.clone());
        }
        plan
    }

    #[test]
    fn each_failed_run_gets_a_queued_rerun_that_links_back_to_it() {
        let mut reruns = Reruns::default();
        let run = failed("export", 1);
        let plan = queue_all(&mut reruns, vec![run.clone()]);
        let Planned { original, rerun } = &plan.queue[0];
        assert_eq!(original.rerun_by.as_ref(), Some(&rerun.run_id));
        assert_eq!(rerun.rerun_of.as_ref(), Some(&run.run_id));
        assert_eq!(rerun.trigger, PipelineTrigger::Rerun);
        assert_eq!(rerun.status, PipelineRunStatus::Queued);
        assert_eq!(rerun.started_at, now());
        assert!(reruns.contains(&rerun.run_id));
    }

    #[test]
    fn a_failed_run_is_rerun_once_however_often_it_is_asked_for() {
        let mut reruns = Reruns::default();
        let run = failed("export", 1);
        assert_eq!(
            queue_all(&mut reruns, vec![run.clone(), run.clone()])
                .queue
                .len(),
            1
        );
        // Asked again while its rerun waits: nothing new.
        assert!(queue_all(&mut reruns, vec![run.clone()]).queue.is_empty());
        // Already marked as rerun (its rerun went): nothing new either.
        let rerun_already = PipelineRun {
            rerun_by: Some(PipelineRunId::new()),
            ..failed("export", 2)
        };
        assert!(queue_all(&mut reruns, vec![rerun_already]).queue.is_empty());
        assert_eq!(reruns.len("export"), 1);
    }

    #[test]
    fn each_pipeline_queue_is_bounded_and_what_is_past_it_is_said() {
        let mut reruns = Reruns::new(2);
        let runs = vec![
            failed("a", 1),
            failed("a", 2),
            failed("a", 3),
            failed("b", 4),
        ];
        let plan = queue_all(&mut reruns, runs.clone());
        assert_eq!(plan.queue.len(), 3);
        assert_eq!(plan.full.len(), 1);
        assert_eq!(plan.full[0].run_id, runs[2].run_id);
        assert_eq!((reruns.len("a"), reruns.len("b")), (2, 1));
    }

    #[test]
    fn reruns_go_oldest_first_and_each_starts_when_it_is_taken() {
        let mut reruns = Reruns::default();
        let (old, new) = (failed("export", 1), failed("export", 2));
        queue_all(&mut reruns, vec![old.clone(), new.clone()]);
        let later: DateTime<Utc> = "2025-01-01T12:00:00Z".parse().unwrap();
        let first = reruns.next("export", later).unwrap();
        assert_eq!(first.rerun_of.as_ref(), Some(&old.run_id));
        assert_eq!(first.status, PipelineRunStatus::Running);
        assert_eq!(first.started_at, later);
        let second = reruns.next("export", later).unwrap();
        assert_eq!(second.rerun_of.as_ref(), Some(&new.run_id));
        assert!(reruns.next("export", later).is_none());
        assert!(reruns.pipelines().is_empty());
    }

    #[test]
    fn reruns_left_by_a_stop_are_queued_again_oldest_first() {
        let mut reruns = Reruns::default();
        let newer = PipelineRun {
            status: PipelineRunStatus::Running,
            ..failed("export", 5)
        };
        let older = failed("export", 3);
        reruns.restore(vec![newer.clone(), older.clone()]);
        assert_eq!(reruns.pipelines(), vec!["export".to_owned()]);
        assert!(reruns.runs().all(|r| r.status == PipelineRunStatus::Queued));
        assert_eq!(reruns.next("export", now()).unwrap().run_id, older.run_id);
        assert_eq!(reruns.next("export", now()).unwrap().run_id, newer.run_id);
    }

    #[test]
    fn a_removed_pipeline_gives_up_all_its_reruns() {
        let mut reruns = Reruns::default();
        queue_all(
            &mut reruns,
            vec![failed("gone", 1), failed("gone", 2), failed("kept", 3)],
        );
        assert_eq!(reruns.take_all("gone").len(), 2);
        assert_eq!(reruns.pipelines(), vec!["kept".to_owned()]);
    }
}

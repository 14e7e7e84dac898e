//! Pipeline runs.

use super::*;

impl StoreView {
    pub(crate) async fn save_pipeline_run(&self, run: &PipelineRun) -> StoreResult<()> {
        self.upsert("pipeline_run", json!(run.run_id), run).await
    }

    pub async fn pipeline_run(&self, run_id: &str) -> StoreResult<Option<PipelineRun>> {
        self.one(
            "SELECT * OMIT id FROM type::record('pipeline_run', $id)",
            json!({ "id": run_id }),
        )
        .await
    }

    /// A pipeline's latest runs, newest first.
    pub async fn pipeline_runs(
        &self,
        pipeline_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<PipelineRun>> {
        let pipeline = json!({ "pipeline": pipeline_id });
        let condition = Some("pipeline_id = $pipeline");
        self.newest_where("pipeline_run", "started_at", condition, pipeline, limit)
            .await
    }

    /// Marks `failed` as rerun by `rerun` and records `rerun`, in one transaction.
    pub(crate) async fn queue_rerun(
        &self,
        failed: &PipelineRun,
        rerun: &PipelineRun,
    ) -> StoreResult<()> {
        let body = "UPSERT type::record('pipeline_run', $failed_id) CONTENT $failed RETURN NONE;
                 UPSERT type::record('pipeline_run', $rerun_id) CONTENT $rerun RETURN NONE;";
        let vars = json!({
            "failed_id": failed.run_id, "failed": failed,
            "rerun_id": rerun.run_id, "rerun": rerun,
        });
        self.write_query(body, vars).await
    }

    /// Failed runs of these pipelines, not rerun yet, that finished at or after `since`
    /// (RFC 3339, as stored), oldest first, at most `limit`.
    pub async fn failed_pipeline_runs_since(
        &self,
        pipeline_ids: &[String],
        since: &str,
        limit: usize,
    ) -> StoreResult<Vec<PipelineRun>> {
        self.rows(
            "SELECT * OMIT id FROM pipeline_run
             WHERE status = 'failed' AND pipeline_id IN $pipelines AND finished_at >= $since
               AND (rerun_by = NONE OR rerun_by = NULL)
             ORDER BY finished_at ASC LIMIT $limit",
            json!({ "pipelines": pipeline_ids, "since": since, "limit": limit }),
        )
        .await
    }

    /// Runs that never reached an end: going or queued when Grace stopped.
    pub async fn unfinished_pipeline_runs(&self) -> StoreResult<Vec<PipelineRun>> {
        self.rows(
            "SELECT * OMIT id FROM pipeline_run WHERE status IN ['running', 'queued']",
            json!({}),
        )
        .await
    }
}

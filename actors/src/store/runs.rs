//! Playbook runs (executions), sub-agents, work orders and webhook deliveries.

use super::*;

/// Most runs of one incident read at once.
const RUNS_READ_MAX: usize = 1_000;

impl StoreView {
    pub async fn execution(&self, run_id: &str) -> StoreResult<Option<Execution>> {
        self.one(
            "SELECT * OMIT id FROM type::record('execution', $id)",
            json!({ "id": run_id }),
        )
        .await
    }

    pub async fn executions(&self, limit: usize) -> StoreResult<Vec<Execution>> {
        self.newest("execution", "started_at", limit).await
    }

    /// A playbook's latest runs, newest first.
    pub async fn playbook_executions(
        &self,
        playbook_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<Execution>> {
        let playbook = json!({ "playbook": playbook_id });
        let condition = Some("playbook_id = $playbook");
        self.newest_where("execution", "started_at", condition, playbook, limit)
            .await
    }

    /// (playbook, component, start) of the runs started after `since`, oldest first, at most
    /// `limit` (the newest of them).
    pub async fn starts_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<(String, String, DateTime<Utc>)>> {
        #[derive(Deserialize)]
        struct Start {
            playbook_id: String,
            #[serde(default)]
            source: String,
            started_at: DateTime<Utc>,
        }
        let since = since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let after = json!({ "after": since });
        let condition = Some("started_at > $after");
        let mut starts: Vec<Start> = self
            .newest_where("execution", "started_at", condition, after, limit)
            .await?;
        starts.reverse();
        Ok(starts
            .into_iter()
            .filter(|s| !s.source.is_empty())
            .map(|s| (s.playbook_id, s.source, s.started_at))
            .collect())
    }

    /// Where monitor `monitor_id`'s probe stood at its last committed probe, if it follows
    /// something.
    pub async fn monitor_position(&self, monitor_id: &str) -> StoreResult<Option<Value>> {
        self.one(
            "SELECT VALUE position FROM type::record('monitor_position', $id)",
            json!({ "id": monitor_id }),
        )
        .await
    }

    /// Whether any playbook run was recorded on incident `incident_id`.
    pub async fn has_run(&self, incident_id: u64) -> StoreResult<bool> {
        let runs: Vec<String> = self
            .rows(
                "SELECT VALUE run_id FROM execution WHERE incident_id = $incident LIMIT 1",
                json!({ "incident": incident_id }),
            )
            .await?;
        Ok(!runs.is_empty())
    }

    /// The runs of incident `incident_id`, newest first, at most `limit` (read through the
    /// incident index: an incident has few runs; the newest of the first RUNS_READ_MAX).
    pub async fn incident_executions(
        &self,
        incident_id: u64,
        limit: usize,
    ) -> StoreResult<Vec<Execution>> {
        let mut runs: Vec<Execution> = self
            .rows(
                "SELECT * FROM execution WHERE incident_id = $incident LIMIT $max",
                json!({ "incident": incident_id, "max": RUNS_READ_MAX }),
            )
            .await?;
        runs.sort_by_key(|run| std::cmp::Reverse(run.started_at));
        runs.truncate(limit);
        Ok(runs)
    }

    /// Runs that never reached an end (Grace stopped while they ran).
    pub async fn running_executions(&self) -> StoreResult<Vec<Execution>> {
        self.rows(
            "SELECT * OMIT id FROM execution WHERE status = 'running'",
            json!({}),
        )
        .await
    }

    /// A sub-agent's record alone, for the store's own tests: the engine commits runs and
    /// their sub-agents together (`Write::Execution`, `Write::Agent`).
    #[cfg(test)]
    pub(crate) async fn save_agent(&self, agent: &Agent) -> StoreResult<()> {
        self.upsert("agent", json!(agent.agent_id), agent).await
    }

    pub async fn agent(&self, agent_id: &str) -> StoreResult<Option<Agent>> {
        self.one(
            "SELECT * OMIT id FROM type::record('agent', $id)",
            json!({ "id": agent_id }),
        )
        .await
    }

    /// The newest `limit` sub-agents, of `status` only when given (`running`: the active ones).
    pub async fn agents(
        &self,
        status: Option<crate::model::AgentStatus>,
        limit: usize,
    ) -> StoreResult<Vec<Agent>> {
        match status {
            None => self.newest("agent", "started_at", limit).await,
            Some(status) => {
                let vars = json!({ "status": status });
                let only = Some("status = $status");
                self.newest_where("agent", "started_at", only, vars, limit)
                    .await
            }
        }
    }

    pub async fn work_order(&self, work_order_id: &str) -> StoreResult<Option<WorkOrder>> {
        self.one(
            "SELECT * OMIT id FROM type::record('work_order', $id)",
            json!({ "id": work_order_id }),
        )
        .await
    }

    pub async fn work_orders(&self, limit: usize) -> StoreResult<Vec<WorkOrder>> {
        self.newest("work_order", "created_at", limit).await
    }

    /// Deliveries newest first.
    pub async fn deliveries(&self, limit: usize) -> StoreResult<Vec<Delivery>> {
        self.newest("delivery", "created_at", limit).await
    }

    /// Deliveries still to be sent, oldest first (indexed by status).
    pub async fn pending_deliveries(&self, limit: usize) -> StoreResult<Vec<Delivery>> {
        self.rows(
            "SELECT * OMIT id FROM delivery WHERE status = 'pending'
             ORDER BY created_at LIMIT $limit",
            json!({ "limit": limit }),
        )
        .await
    }
}

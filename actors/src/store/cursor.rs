//! Cursor paging of the lists kept newest first by a time field (runs, sub-agents, work
//! orders, deliveries): a page ends at its last row, and the next page is what comes strictly
//! before that row in (time, id) order — so rows recorded in the same microsecond are neither
//! skipped nor shown twice. The cursor travels as `<time>~<id>`.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::{StoreResult, StoreView};
use crate::model::{Agent, AgentStatus, Delivery, Execution, WorkOrder};

/// Where a page ends: the time field and the record id of its last row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// RFC 3339 with six fractional digits, as stored (so it compares as text).
    pub at: String,
    pub key: String,
}

impl Cursor {
    pub fn new(at: &chrono::DateTime<chrono::Utc>, key: &str) -> Self {
        Self {
            at: at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            key: key.to_owned(),
        }
    }

    /// `<time>~<id>`, as a page's `next` carries it.
    pub fn encode(&self) -> String {
        format!("{}~{}", self.at, self.key)
    }

    /// A cursor from its text; None when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let (at, key) = text.split_once('~')?;
        let time = chrono::DateTime::parse_from_rfc3339(at).ok()?;
        Some(Self::new(&time.with_timezone(&chrono::Utc), key))
    }
}

impl StoreView {
    /// Up to `limit` rows of `table` meeting `condition`, newest first by `field`, strictly
    /// before `cursor` when given.
    async fn newest_page<T: DeserializeOwned>(
        &self,
        table: &str,
        field: &str,
        condition: Option<&str>,
        mut vars: Value,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<T>> {
        let Some(cursor) = cursor else {
            return self
                .newest_where(table, field, condition, vars, limit)
                .await;
        };
        vars["cursor_at"] = json!(cursor.at);
        vars["cursor_key"] = json!(cursor.key);
        let before = format!(
            "({field} < $cursor_at OR ({field} = $cursor_at AND record::id(id) < $cursor_key))"
        );
        let condition = match condition {
            Some(condition) => format!("{condition} AND {before}"),
            None => before,
        };
        self.newest_where(table, field, Some(&condition), vars, limit)
            .await
    }

    pub async fn executions_page(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<Execution>> {
        self.newest_page("execution", "started_at", None, json!({}), cursor, limit)
            .await
    }

    /// One incident's runs, newest first, before `cursor`.
    pub async fn incident_executions_page(
        &self,
        incident_id: u64,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<Execution>> {
        let condition = Some("incident_id = $incident");
        let vars = json!({ "incident": incident_id });
        self.newest_page("execution", "started_at", condition, vars, cursor, limit)
            .await
    }

    pub async fn agents_page(
        &self,
        status: Option<AgentStatus>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<Agent>> {
        let condition = status.map(|_| "status = $status");
        let vars = json!({ "status": status });
        self.newest_page("agent", "started_at", condition, vars, cursor, limit)
            .await
    }

    pub async fn work_orders_page(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<WorkOrder>> {
        self.newest_page("work_order", "created_at", None, json!({}), cursor, limit)
            .await
    }

    /// One pipeline's runs, newest first, before `cursor`.
    pub async fn pipeline_runs_page(
        &self,
        pipeline_id: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<crate::model::PipelineRun>> {
        let condition = Some("pipeline_id = $pipeline");
        let vars = json!({ "pipeline": pipeline_id });
        self.newest_page("pipeline_run", "started_at", condition, vars, cursor, limit)
            .await
    }

    pub async fn deliveries_page(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>> {
        self.newest_page("delivery", "created_at", None, json!({}), cursor, limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Agent;
    use crate::store::{Store, StoreLocation};

    #[tokio::test]
    async fn pages_by_cursor_cover_every_row_once_even_when_times_tie() {
        let store = Store::open(&StoreLocation::Memory).await.unwrap();
        let now = crate::time::now();
        // Seven agents, three of them in one microsecond, across two windows of newest().
        let ages_s = [0, 0, 0, 60, 7_200, 200_000, 30];
        for (i, age_s) in ages_s.iter().enumerate() {
            let agent = Agent {
                agent_id: format!("a{i}").as_str().into(),
                agent_name: "x".into(),
                task: "x".into(),
                incident_id: 1,
                run_id: format!("r{i}").as_str().into(),
                trust_score: 0.5,
                status: AgentStatus::Succeeded,
                started_at: now - chrono::Duration::seconds(*age_s),
                finished_at: None,
            };
            store.save_agent(&agent).await.unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = store.agents_page(None, cursor.as_ref(), 2).await.unwrap();
            seen.extend(page.iter().map(|a| a.agent_id.as_str().to_owned()));
            match page.last() {
                Some(last) if page.len() == 2 => {
                    let next = Cursor::new(&last.started_at, last.agent_id.as_str()).encode();
                    cursor = Some(Cursor::parse(&next).unwrap());
                }
                _ => break,
            }
        }
        assert_eq!(seen, ["a2", "a1", "a0", "a6", "a3", "a4", "a5"]);
        assert_eq!(Cursor::parse("yesterday~a1"), None);
    }
}

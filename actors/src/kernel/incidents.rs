//! What people and the HTTP layer do to incidents through the kernel: list them, acknowledge,
//! resolve, and decide a suggestion (approving runs the offered playbook first).

use super::{Kernel, KernelError};
use crate::model::{Incident, IncidentStatus, RunId, Suggestion, SuggestionStatus, Who};
use crate::protocol::incidents::{
    IncidentError, IncidentFilter, IncidentPage, IncidentQuery, IncidentsMsg, Refused,
};
use crate::protocol::playbooks::RunError;
use crate::protocol::Incidents;

/// What deciding a suggestion did: the suggestion as decided, and the run an approval started.
#[derive(Debug, Clone)]
pub struct Decided {
    pub suggestion: Suggestion,
    pub run_id: Option<RunId>,
}

/// Why a suggestion could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error(transparent)]
    Incident(#[from] IncidentError),
    /// Approving it could not start its run.
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

impl From<Refused> for DecideError {
    fn from(refused: Refused) -> Self {
        DecideError::Incident(refused.into())
    }
}

impl Kernel {
    /// `by` acknowledges incident `id`.
    pub async fn acknowledge(&self, id: u64, by: Who) -> Result<Incident, IncidentError> {
        let ask = |reply| IncidentsMsg::Acknowledge(id, by, reply);
        self.ask::<Incidents, _>(ask).await?
    }

    /// A page of incidents, newest first, below id `before`. Active ones (`Active`, or an
    /// active status) come from the incident manager's memory with how many match in all;
    /// resolved ones from the store, skipping the active ids; any status, from the store's id
    /// ranges. None of these reads costs more with more incidents stored.
    pub async fn incidents(
        &self,
        filter: IncidentFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<IncidentPage, IncidentError> {
        let status = match filter {
            IncidentFilter::Any => {
                let items = self.ctx.store.incidents(before, limit).await?;
                return Ok(IncidentPage { items, total: None });
            }
            IncidentFilter::Status(IncidentStatus::Resolved) => {
                let below = before.unwrap_or(u64::MAX);
                let ask = |reply| IncidentsMsg::Query(IncidentQuery::ActiveIdsBelow(below, reply));
                let skip = self.ask::<Incidents, _>(ask).await?;
                let store = &self.ctx.store;
                let items = store.resolved_incidents(before, limit, &skip).await?;
                return Ok(IncidentPage { items, total: None });
            }
            IncidentFilter::Active => None,
            IncidentFilter::Status(status) => Some(status),
        };
        let ask = |reply| {
            IncidentsMsg::Query(IncidentQuery::NewestActive {
                before,
                limit,
                status,
                reply,
            })
        };
        Ok(self.ask::<Incidents, _>(ask).await?)
    }

    /// `by` resolves incident `id` by hand.
    pub async fn resolve(&self, id: u64, by: Who) -> Result<Incident, IncidentError> {
        let ask = |reply| IncidentsMsg::Resolve(id, by, reply);
        self.ask::<Incidents, _>(ask).await?
    }

    /// `by` approves or dismisses suggestion `suggestion_id` on incident `incident_id`.
    /// Approving starts the run first: a suggestion is marked approved only once its run is
    /// under way, so one that cannot run now (busy, full) can still be approved later.
    pub async fn decide_suggestion(
        &self,
        incident_id: u64,
        suggestion_id: &str,
        approve: bool,
        by: Who,
    ) -> Result<Decided, DecideError> {
        let run_id = match approve {
            true => Some(self.run_suggested(incident_id, suggestion_id, &by).await?),
            false => None,
        };
        let ask = |reply| IncidentsMsg::Decide {
            incident_id,
            suggestion_id: suggestion_id.to_owned(),
            approve,
            by,
            reply,
        };
        let asked = self.ask::<Incidents, _>(ask).await;
        let suggestion = asked.map_err(IncidentError::from)??;
        Ok(Decided { suggestion, run_id })
    }

    /// Runs the playbook a pending suggestion offers, as a run by hand of `by`; its run id.
    async fn run_suggested(
        &self,
        incident_id: u64,
        suggestion_id: &str,
        by: &Who,
    ) -> Result<RunId, DecideError> {
        let incident = self.ctx.store.incident(incident_id).await;
        let incident = incident
            .map_err(IncidentError::from)?
            .ok_or(Refused::NotFound(incident_id))?;
        let suggestion = incident
            .suggestions
            .iter()
            .find(|s| s.suggestion_id == suggestion_id)
            .ok_or_else(|| Refused::NoSuchSuggestion {
                incident_id,
                suggestion_id: suggestion_id.to_owned(),
            })?;
        if suggestion.status != SuggestionStatus::Pending {
            let status = "decided already on this suggestion";
            let conflict = Refused::Conflict {
                id: incident_id,
                status,
                action: "approved",
            };
            return Err(conflict.into());
        }
        let run = self.run_playbook(&suggestion.playbook_id, incident_id, by.clone(), false);
        Ok(run.await??)
    }
}

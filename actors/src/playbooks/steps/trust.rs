//! `set_trust` and `restore_trust`: move the trust score of the incident's component, through
//! the incident manager, which owns component trust. It commits the change together with the
//! step's end, announced first: the log says the step did it, then that trust changed.

use super::super::runner::{Runner, StepResult};
use crate::model::StepRecord;
use crate::protocol::incidents::{IncidentsMsg, TrustChange, TrustStep};
use crate::protocol::Incidents;

impl Runner<'_> {
    /// Step `index` of the run, started as `started`, moves trust as `change` says.
    pub(in crate::playbooks) async fn trust_step(
        &self,
        change: TrustChange,
        index: usize,
        started: &StepRecord,
    ) -> StepResult {
        let args = self.args;
        let step = TrustStep {
            component: args.incident.source.clone(),
            change,
            run_id: args.run_id.clone(),
            playbook_id: args.playbook.id.clone(),
            incident_id: args.incident.id,
            index,
            started: started.clone(),
        };
        let ask = |reply| IncidentsMsg::TrustStep(Box::new(step), reply);
        let error = match args.ctx.scope.ask::<Incidents, _>(ask).await {
            Ok(Ok(record)) => {
                let mut result = StepResult::new(true, record.attempts, record.output.clone());
                result.announced = Some(record);
                return result;
            }
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        let what = match change {
            TrustChange::Set(_) => "set",
            TrustChange::Restore => "restore",
        };
        StepResult::new(false, 1, format!("could not {what} trust: {error}"))
    }
}

//! `set_trust` and `restore_trust`: move the trust score of the incident's component, through
//! the incident manager, which owns component trust.

use super::super::sub_agent::{Runner, StepResult};
use crate::protocol::incidents::IncidentsMsg;
use crate::protocol::Incidents;

impl Runner<'_> {
    pub(in crate::playbooks) async fn set_trust(&self, value: f64) -> StepResult {
        let component = self.args.incident.source.clone();
        let ask = |reply| IncidentsMsg::SetTrust(component.clone(), value, reply);
        let result = match self.args.ctx.scope.ask::<Incidents, _>(ask).await {
            Ok(Ok(score)) => Ok(format!("trust in {component} set to {score:.2}")),
            Ok(Err(error)) => Err(error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        let ok = result.is_ok();
        StepResult::new(
            ok,
            1,
            result.unwrap_or_else(|e| format!("could not set trust: {e}")),
        )
    }

    pub(in crate::playbooks) async fn restore_trust(&self) -> StepResult {
        let component = self.args.incident.source.clone();
        let ask = |reply| IncidentsMsg::RestoreTrust(component.clone(), reply);
        let result = match self.args.ctx.scope.ask::<Incidents, _>(ask).await {
            Ok(Ok(score)) => Ok(format!("trust in {component} restored to {score:.2}")),
            Ok(Err(error)) => Err(error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        StepResult::new(
            result.is_ok(),
            1,
            result.unwrap_or_else(|error| format!("could not restore trust: {error}")),
        )
    }
}

//! People's changes to work orders — assign, comment, close, reopen — decided by the work
//! order itself (`WorkOrder::changed`, pure) and committed by the engine, the work orders' one
//! writer, with the `work_order.updated` that puts the change on the incident's timeline.

use super::actor::PlaybooksState;
use crate::event::EventDraft;
use crate::model::{Who, WorkOrder, WorkOrderAction, WorkOrderRequest};
use crate::payload::WorkOrderUpdated;
use crate::protocol::playbooks::WorkOrderError;
use crate::store::Write;

impl PlaybooksState {
    /// `by` does `action` to work order `work_order_id`.
    pub(super) async fn change_work_order(
        &mut self,
        work_order_id: &str,
        action: WorkOrderAction,
        request: &WorkOrderRequest,
        by: Who,
    ) -> Result<WorkOrder, WorkOrderError> {
        let store = |error: crate::store::StoreError| WorkOrderError::Store(error.to_string());
        let stored = self
            .ctx
            .store
            .work_order(work_order_id)
            .await
            .map_err(store)?;
        let stored = stored.ok_or_else(|| WorkOrderError::NotFound(work_order_id.to_owned()))?;
        let changed = stored.changed(action, request, &by, crate::time::now())?;
        let updated = WorkOrderUpdated {
            action,
            work_order: changed.clone(),
            by,
        };
        let draft = EventDraft::of(&updated).incident(changed.incident_id);
        let write = Write::WorkOrder(Box::new(changed.clone()));
        crate::protocol::bus::commit_in_order(&self.ctx.scope, vec![draft], vec![write])
            .await
            .map_err(|error| WorkOrderError::Store(error.to_string()))?;
        Ok(changed)
    }
}

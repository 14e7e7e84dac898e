//! What people do to work orders and incidents besides acknowledging and resolving: change a
//! work order (through the playbook engine, its one writer) and leave a note on an incident
//! (an `incident.note` on its timeline: the log is where it is kept).

use super::Kernel;
use crate::event::EventDraft;
use crate::model::{note_text, Note, Who, WorkOrder, WorkOrderAction, WorkOrderRequest};
use crate::payload::IncidentNote;
use crate::protocol::playbooks::{PlaybooksMsg, WorkOrderError};
use crate::protocol::Playbooks;

impl Kernel {
    /// `by` does `action` to work order `work_order_id`.
    pub async fn change_work_order(
        &self,
        work_order_id: &str,
        action: WorkOrderAction,
        request: WorkOrderRequest,
        by: Who,
    ) -> Result<WorkOrder, WorkOrderError> {
        let ask = |reply| PlaybooksMsg::ChangeWorkOrder {
            work_order_id: work_order_id.to_owned(),
            action,
            request,
            by,
            reply,
        };
        self.ask::<Playbooks, _>(ask).await?
    }

    /// `by` leaves `text` on incident `id`; None when there is no such incident.
    pub async fn note_incident(
        &self,
        id: u64,
        text: &str,
        by: Who,
    ) -> Result<Option<Note>, WorkOrderError> {
        let text = note_text(text)?;
        let store = |error: crate::store::StoreError| WorkOrderError::Store(error.to_string());
        if self.ctx.store.incident(id).await.map_err(store)?.is_none() {
            return Ok(None);
        }
        let note = Note {
            by,
            at: crate::time::now(),
            text,
        };
        let noted = IncidentNote {
            incident_id: id,
            note: note.clone(),
        };
        let draft = EventDraft::of(&noted).incident(id);
        crate::protocol::bus::commit_in_order(&self.ctx.scope, vec![draft], Vec::new())
            .await
            .map_err(|error| WorkOrderError::Store(error.to_string()))?;
        Ok(Some(note))
    }
}

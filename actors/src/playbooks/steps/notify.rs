//! `notify`: a message for people, recorded with one pending delivery per webhook.

use super::super::runner::{Runner, StepResult};
use crate::delivery::Notification;
use crate::event::EventDraft;
use crate::payload::NotificationSent;
use crate::store::Write;

impl Runner<'_> {
    /// Records a message for people, one pending delivery per webhook, with its
    /// `notification.sent` event, and hands the deliveries to the notifier; never waits for
    /// the delivery itself.
    pub(in crate::playbooks) async fn notify(
        &self,
        message: &str,
        webhooks: &[String],
    ) -> StepResult {
        let ctx = &self.args.ctx;
        let text = crate::spec::substitute(message, |name| self.field(name));
        let notification_id = format!("NT-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let notification = Notification {
            notification_id: notification_id.clone(),
            incident: self.args.incident.clone(),
            message: text.clone(),
            webhooks: webhooks.to_vec(),
        };
        let deliveries = crate::delivery::for_notification(&ctx.spec().webhooks, &notification);
        let sent = EventDraft::of(&NotificationSent {
            notification_id: notification_id.clone(),
            message: text.clone(),
        })
        .source(self.args.incident.source.clone())
        .incident(self.args.incident.id);
        let writes = deliveries
            .iter()
            .cloned()
            .map(|d| Write::Delivery(Box::new(d)))
            .collect();
        if let Err(error) =
            crate::protocol::bus::commit_in_order(&ctx.scope, vec![sent], writes).await
        {
            return StepResult::new(
                false,
                1,
                format!("the notification was not recorded: {error}"),
            );
        }
        crate::protocol::notifier::send(&ctx.scope, deliveries);
        StepResult::new(true, 1, format!("{notification_id} queued: {text}"))
    }
}

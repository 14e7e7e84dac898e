//! What the notifier takes: deliveries to send, and alerts about Grace itself.

use crate::delivery::Alert;
use crate::model::Delivery;

pub enum NotifierMsg {
    /// Deliveries just committed as pending: send them.
    Send(Vec<Delivery>),
    /// A delivery task finished (boxed: the body can be large).
    Delivered(Box<Delivery>),
    /// Tell every webhook about Grace itself, now, without the store (see [`Alert`]).
    Alert(Box<Alert>),
}

/// Has the notifier send deliveries just committed as pending: whoever commits a pending
/// delivery tells the notifier, so none waits for its next start. A notifier that is away finds
/// them in the store when it is back.
pub fn send(scope: &super::Scope, deliveries: Vec<Delivery>) {
    if deliveries.is_empty() {
        return;
    }
    if let Err(error) = scope.tell::<super::Notifier>(NotifierMsg::Send(deliveries)) {
        tracing::warn!(%error, "deliveries wait in the store");
    }
}

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

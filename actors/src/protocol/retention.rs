//! What the retention actor takes: a round on its interval, then a chunk at a time.

pub enum RetentionMsg {
    /// Start a round (on the interval).
    Round,
    /// Do the next chunk of the round.
    Next,
}

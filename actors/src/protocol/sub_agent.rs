//! What a sub-agent takes: the order to carry out its run.

pub enum SubAgentMsg {
    /// Carry out the whole run (sent to itself once, on start).
    Run,
}

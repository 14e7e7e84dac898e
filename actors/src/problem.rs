//! A problem found in config: the key it is at and what is wrong. Every part of the config
//! (`spec.rs`, `retention.rs`) reports its problems this way, all at once, so a person fixes
//! a file in one go.

/// A problem with one field of a spec: the field's key (relative to the spec) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    pub field: String,
    pub message: String,
}

impl SpecProblem {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

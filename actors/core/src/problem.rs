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
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every problem of one spec, as the error of turning what was written into a checked spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblems(pub Vec<SpecProblem>);

impl std::fmt::Display for SpecProblems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let listed: Vec<String> = self
            .0
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        f.write_str(&listed.join("; "))
    }
}

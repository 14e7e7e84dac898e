//! Typed ids of what Grace makes: playbook runs, their sub-agents, work orders and pipeline
//! runs. Each
//! kind is its own type, made in one place (`new`), so a run's id cannot be passed where a
//! work order's is meant. They are strings on the wire and in the store (`run-…`, `agent-…`,
//! `WO-…`, `pl-…`: a prefix and twelve hex digits of a random UUID, unique enough and short enough to
//! read out loud).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        // A new id is a new identity each time: not a `Default` value.
        #[allow(clippy::new_without_default)]
        impl $name {
            /// A new, unique id.
            pub fn new() -> Self {
                let hex = uuid::Uuid::new_v4().simple().to_string();
                Self(format!("{}-{}", $prefix, &hex[..12]))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// For tests: an id written out.
        /// Tests name ids as they like; Grace itself only makes new ones or reads them.
        #[cfg(any(test, feature = "test-support"))]
        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id!(
    /// A playbook run (an execution).
    RunId,
    "run"
);
string_id!(
    /// The sub-agent that carries out one run.
    AgentId,
    "agent"
);
string_id!(
    /// A work order handed to people.
    WorkOrderId,
    "WO"
);

string_id!(
    /// A run of a `[[pipelines]]` job (a different thing from a playbook run, though both
    /// are `run_id` on the wire).
    PipelineRunId,
    "pl"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_prefixed_and_plain_strings_on_the_wire() {
        let (a, b) = (RunId::new(), RunId::new());
        assert_ne!(a, b);
        assert!(
            a.as_str().starts_with("run-") && a.as_str().len() == 16,
            "{a}"
        );
        assert!(WorkOrderId::new().as_str().starts_with("WO-"));
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!(a.as_str())
        );
    }
}

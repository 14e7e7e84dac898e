//! `[alertmanager]`: how an Alertmanager alert is routed to a component. Prometheus names what
//! an alert is about in its labels, not in one fixed field, so the labels to look in (and their
//! order) are the user's to choose.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;

/// Most labels `component_labels` may list.
pub const COMPONENT_LABELS_MAX: usize = 8;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSpec {
    /// Where an alert's component comes from: the first of these labels the alert has. An
    /// alert with none of them is its own component, `alertmanager/<fingerprint>`.
    #[serde(default = "defaults::component_labels")]
    pub component_labels: Vec<String>,
}

impl Default for AlertmanagerSpec {
    fn default() -> Self {
        Self {
            component_labels: defaults::component_labels(),
        }
    }
}

impl AlertmanagerSpec {
    /// The component an alert with these labels is about, if one of `component_labels` names
    /// it, with the label it came from.
    pub fn component<'a>(
        &'a self,
        labels: &'a BTreeMap<String, String>,
    ) -> Option<(&'a str, &'a str)> {
        self.component_labels.iter().find_map(|label| {
            labels
                .get(label)
                .filter(|value| !value.trim().is_empty())
                .map(|value| (label.as_str(), value.as_str()))
        })
    }

    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        if self.component_labels.len() > COMPONENT_LABELS_MAX {
            problems.push(SpecProblem::new(
                "component_labels",
                format!("at most {COMPONENT_LABELS_MAX} labels"),
            ));
        }
        for (index, label) in self.component_labels.iter().enumerate() {
            if !is_label_name(label) {
                problems.push(SpecProblem::new(
                    format!("component_labels[{index}]"),
                    format!("{label:?} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
                ));
            }
        }
        problems
    }
}

/// Prometheus's label-name rule.
pub fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_label_present_names_the_component() {
        let spec = AlertmanagerSpec::default();
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let both = labels(&[("job", "node"), ("service", "orders-db")]);
        assert_eq!(spec.component(&both), Some(("service", "orders-db")));
        let blank_service = labels(&[("job", "node"), ("service", " ")]);
        assert_eq!(spec.component(&blank_service), Some(("job", "node")));
        assert_eq!(spec.component(&labels(&[("team", "db")])), None);
        let bad = AlertmanagerSpec {
            component_labels: vec!["service".into(), "9lives".into()],
        };
        assert_eq!(bad.problems()[0].field, "component_labels[1]");
    }
}

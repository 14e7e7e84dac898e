//! What a config allows but should not say: `grace check-config` prints these and `grace
//! serve` logs them at start, keyed like errors, and neither refuses the file for them.
//!
//! - a password in clear text in a monitor's url (accepted as before; moved elsewhere, it is
//!   not in a file people copy around);
//! - a playbook that restarts or runs a command on a wildcard (`db.*`) that also matches a
//!   refused login (`db.auth_failed`), which no restart fixes.

use actors::event::{is_login_failure, types, Pattern};
use actors::spec::StepSpec;

use super::{Config, ConfigIssue};

/// Every warning about `config`, with its key.
pub fn warnings(config: &Config) -> Vec<ConfigIssue> {
    let mut found = Vec::new();
    for (index, monitor) in config.tree.monitors.iter().enumerate() {
        for warning in monitor.kind.warnings() {
            found.push(ConfigIssue {
                key: format!("monitors[{index}].{}", warning.field),
                message: warning.message,
            });
        }
    }
    for (index, playbook) in config.tree.playbooks.iter().enumerate() {
        let acts = playbook
            .steps
            .iter()
            .any(|step| matches!(step, StepSpec::Command { .. } | StepSpec::Restart { .. }));
        for pattern in playbook.on.iter().filter(|p| p.ends_with('*')) {
            let covered: Vec<&str> = types::ALL
                .into_iter()
                .filter(|t| is_login_failure(t) && Pattern::new(pattern.as_str()).matches(t))
                .collect();
            if acts && !covered.is_empty() {
                found.push(ConfigIssue {
                    key: format!("playbooks[{index}].on"),
                    message: format!(
                        "{pattern:?} also matches {}, a login Grace could not make, which no \
                         restart fixes: list the outage types instead (db.connection_lost, \
                         redis.unavailable)",
                        covered.join(" and ")
                    ),
                });
            }
        }
    }
    found
}

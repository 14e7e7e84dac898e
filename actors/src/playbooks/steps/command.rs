//! `command`: runs a remediation program as argv from config, never through a shell, with its
//! placeholders filled from the incident only when the values are plain identifiers (and, for
//! an incident someone pushed, listed in `allowed_values`). It succeeds when it exits 0.

use std::collections::BTreeMap;
use std::time::Duration;

use super::super::runner::{Runner, StepResult};
use crate::program;

impl Runner<'_> {
    pub(in crate::playbooks) async fn command(
        &self,
        argv: &[String],
        allowed_values: &[String],
        env: &BTreeMap<String, String>,
        timeout_ms: u64,
    ) -> StepResult {
        // A program cannot be fenced once it runs: none starts near the end of the lease.
        if let Err(refused) = self.args.ctx.lease.may_start_command() {
            return StepResult::new(false, 1, refused);
        }
        match self.command_argv(argv, allowed_values) {
            Ok(argv) => run_command(&argv, env, timeout_ms).await,
            Err(refused) => StepResult::new(false, 1, refused),
        }
    }

    /// The value of a whitelisted field (see `spec::ARG_FIELDS`) for this run.
    pub(in crate::playbooks) fn field(&self, name: &str) -> String {
        let incident = &self.args.incident;
        match name {
            "incident.id" => incident.id.to_string(),
            "incident.source" => incident.source.clone(),
            "incident.event_type" => incident.event_type.clone(),
            "incident.severity" => serde_json::to_value(incident.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            "incident.title" => incident.title.clone(),
            "monitor.path" => self
                .args
                .ctx
                .spec()
                .monitors
                .iter()
                .find(|m| m.id == incident.source)
                .and_then(|m| match &m.kind {
                    crate::spec::MonitorKind::Log(log) => Some(log.path.clone()),
                    _ => None,
                })
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// `argv` with its placeholders filled in. Values that come from incidents must look like
    /// identifiers (see [`plain_identifier`]); `monitor.path` comes from config. When the
    /// incident is not a configured monitor's, whoever pushed its event chose its source, type
    /// and title: those run only when `allowed_values` lists them.
    fn command_argv(
        &self,
        argv: &[String],
        allowed_values: &[String],
    ) -> Result<Vec<String>, String> {
        let spec = self.args.ctx.spec();
        let origin = crate::spec::TriggerSource::of(
            &self.args.incident.source,
            &self.args.incident.event_type,
            &spec.monitors,
        );
        let mut out = Vec::with_capacity(argv.len());
        for arg in argv {
            for name in crate::spec::placeholders(arg) {
                let value = self.field(name);
                let chosen_outside = matches!(
                    name,
                    "incident.source" | "incident.event_type" | "incident.title"
                );
                if chosen_outside
                    && origin != crate::spec::TriggerSource::Monitors
                    && !allowed_values.contains(&value)
                {
                    return Err(format!(
                        "refused to run: {{{name}}} is {value:?}, which came from {} and is not \
                         in this step's allowed_values",
                        origin.as_str()
                    ));
                }
                let from_config = name == "monitor.path";
                if !from_config && !plain_identifier(&value) {
                    return Err(format!(
                        "refused to run: {{{name}}} is {value:?}, which is not a plain identifier"
                    ));
                }
                if value.is_empty() {
                    return Err(format!("refused to run: {{{name}}} has no value here"));
                }
            }
            out.push(crate::spec::substitute(arg, |name| self.field(name)));
        }
        Ok(out)
    }
}

/// Whether a value from an incident may go into a command argument: letters, digits and
/// `._:-` only, not starting with `-` (an option) or `.`, and no `..`. No `/` (a path that could
/// climb out of where the config put it), no `@` (response files, `curl -d @file`), no spaces
/// or shell characters (harmless without a shell, but never needed in an identifier).
fn plain_identifier(value: &str) -> bool {
    !value.is_empty()
        && !value.starts_with('-')
        && !value.starts_with('.')
        && !value.contains("..")
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c))
}

/// Runs a remediation program; the step succeeds when it exits 0.
async fn run_command(
    argv: &[String],
    env: &std::collections::BTreeMap<String, String>,
    timeout_ms: u64,
) -> StepResult {
    let timeout = Duration::from_millis(timeout_ms);
    let outcome = program::run(argv, env, timeout).await;
    let program = argv.first().map_or("command", String::as_str);
    StepResult::new(outcome.success(), 1, outcome.describe(program, timeout))
}

#[cfg(test)]
mod tests {
    use super::plain_identifier;

    #[test]
    fn only_plain_identifiers_reach_a_command() {
        for ok in ["orders-db", "db.connection_lost", "42", "host:5432", "a_b"] {
            assert!(plain_identifier(ok), "{ok}");
        }
        for refused in [
            "", "-rf", "--all", "../etc", "a/b", "@file", ".hidden", "a b", "x;y", "$(x)", "é",
        ] {
            assert!(!plain_identifier(refused), "{refused}");
        }
    }
}

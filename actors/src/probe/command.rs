//! The check-command probe: runs a program with the Nagios plugin convention, so the thousands
//! of existing check plugins work as monitors. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 (or
//! anything else) UNKNOWN; the first output line is the summary; performance data after `|` is
//! parsed and kept with the monitor's status.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};

use super::{Probe, ProbeFailure};
use crate::event::types;
use crate::model::Severity;
use crate::program::{self, Exit};

/// Perfdata items kept from one run; plugins rarely print more than a handful.
const PERFDATA_ITEMS_MAX: usize = 64;

pub struct CommandProbe {
    argv: Vec<String>,
    env: std::collections::BTreeMap<String, String>,
    /// The last run's exit code, summary and perfdata.
    details: Value,
}

impl CommandProbe {
    pub fn new(argv: Vec<String>, env: std::collections::BTreeMap<String, String>) -> Self {
        Self {
            argv,
            env,
            details: Value::Null,
        }
    }

    async fn check(&mut self, timeout: Duration) -> Result<String, ProbeFailure> {
        let outcome = program::run(&self.argv, &self.env, timeout).await;
        let program = self.argv.first().map_or("check", String::as_str);
        let plugin = PluginOutput::parse(&outcome.stdout);
        let code = match &outcome.exit {
            Exit::Exited(status) => status.code(),
            _ => None,
        };
        let summary = match (&outcome.exit, plugin.summary.is_empty()) {
            (Exit::Exited(_), false) => plugin.summary.clone(),
            _ => outcome.describe(program, timeout).trim().to_owned(),
        };
        self.details = json!({
            "exit_code": code,
            "summary": summary,
            "perfdata": plugin.perfdata,
        });
        let (event_type, severity) = match code {
            Some(0) => return Ok(summary),
            Some(1) => (types::CHECK_WARNING, Severity::Medium),
            Some(2) => (types::CHECK_CRITICAL, Severity::High),
            _ => (types::CHECK_UNKNOWN, Severity::Low),
        };
        Err(ProbeFailure {
            event_type,
            severity,
            error: summary,
        })
    }
}

impl Probe for CommandProbe {
    fn probe(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.check(timeout))
    }

    fn verify(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.check(timeout))
    }

    fn recovery_event(&self) -> &'static str {
        types::CHECK_OK
    }

    fn details(&self) -> Value {
        self.details.clone()
    }
}

/// A plugin's output: the summary (first line, before `|`) and its performance data (after
/// `|` on the first line and on the long-output lines).
#[derive(Debug, PartialEq)]
struct PluginOutput {
    summary: String,
    perfdata: Vec<Value>,
}

impl PluginOutput {
    fn parse(stdout: &str) -> Self {
        let mut lines = stdout.lines();
        let first = lines.next().unwrap_or_default();
        let (summary, first_perf) = first.split_once('|').unwrap_or((first, ""));
        let mut perf_text = first_perf.to_owned();
        // Long output may carry more perfdata after a `|` on a later line.
        let rest: Vec<&str> = lines.collect();
        if let Some((_, more)) = rest.join("\n").split_once('|') {
            perf_text.push(' ');
            perf_text.push_str(more);
        }
        Self {
            summary: summary.trim().to_owned(),
            perfdata: perf_items(&perf_text)
                .filter_map(|item| perf_item(&item))
                .take(PERFDATA_ITEMS_MAX)
                .collect(),
        }
    }
}

/// Splits perfdata on whitespace, keeping single-quoted labels whole (`'free space'=3GB`).
fn perf_items(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    items.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    items.into_iter()
}

/// `'label'=value[UOM];[warn];[crit];[min];[max]` as JSON; `None` when it does not parse.
fn perf_item(item: &str) -> Option<Value> {
    let (label, rest) = item.rsplit_once('=')?;
    let label = label.trim_matches('\'');
    let mut fields = rest.split(';');
    let raw_value = fields.next()?;
    let number_end = raw_value
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(raw_value.len());
    let value: f64 = raw_value[..number_end].parse().ok()?;
    let field = |f: Option<&str>| f.filter(|f| !f.is_empty()).map(str::to_owned);
    Some(json!({
        "label": label,
        "value": value,
        "uom": &raw_value[number_end..],
        "warn": field(fields.next()),
        "crit": field(fields.next()),
        "min": field(fields.next()),
        "max": field(fields.next()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_perfdata_are_parsed() {
        let output = PluginOutput::parse(
            "DISK WARNING - free space: / 3326 MB (9%) | '/ free'=3326MB;2000;1000;0;36000 inodes=9%\n\
             long output line\n",
        );
        assert_eq!(output.summary, "DISK WARNING - free space: / 3326 MB (9%)");
        assert_eq!(output.perfdata.len(), 2);
        assert_eq!(output.perfdata[0]["label"], "/ free");
        assert_eq!(output.perfdata[0]["value"], 3326.0);
        assert_eq!(output.perfdata[0]["uom"], "MB");
        assert_eq!(output.perfdata[0]["warn"], "2000");
        assert_eq!(output.perfdata[0]["max"], "36000");
        assert_eq!(output.perfdata[1]["label"], "inodes");
        assert_eq!(output.perfdata[1]["uom"], "%");
        assert!(output.perfdata[1]["warn"].is_null());
    }

    #[test]
    fn output_without_perfdata_or_with_junk_is_kept_as_summary() {
        let output = PluginOutput::parse("OK\n");
        assert_eq!(
            output,
            PluginOutput {
                summary: "OK".into(),
                perfdata: vec![]
            }
        );
        let output = PluginOutput::parse("OK | nonsense time=0.1s");
        assert_eq!(output.perfdata.len(), 1);
        assert_eq!(output.perfdata[0]["label"], "time");
    }
}

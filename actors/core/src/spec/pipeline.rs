//! `[[pipelines]]`: a job Grace runs on a schedule, by hand, or again after a heal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::checks::*;
use super::*;

/// A `[[pipelines]]` entry as written: it may name both `argv` and `url`, or neither, which
/// [`PipelineInput::problems`] reports with every other problem of the entry at once. Only a
/// checked input becomes a [`PipelineSpec`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PipelineInput {
    /// Unique id, e.g. `orders-export`.
    pub id: String,
    /// Human name; the id when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The program to run; it succeeds when it exits 0. Exactly one of `argv` and `url`.
    #[serde(default)]
    pub argv: Option<Vec<String>>,
    /// Or: the URL to call; it succeeds on an expected status (any 2xx by default).
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default = "defaults::http_step_method")]
    pub method: String,
    /// Accepted statuses, one (`200`) or a list; empty (the default) accepts any 2xx.
    #[serde(default, deserialize_with = "statuses::one_or_many")]
    pub expect_status: Vec<u16>,
    /// Monitors (components) the job needs.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Run it every this many ms (the first run one period after Grace starts). None: only by
    /// hand or as a rerun.
    #[serde(default)]
    pub every_ms: Option<u64>,
    /// A run still going after this long is killed and counts as failed.
    #[serde(default = "defaults::pipeline_timeout_ms")]
    pub timeout_ms: u64,
    /// Environment variables an `argv` job gets besides `PATH` and `LANG`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// A job Grace runs and records: a program (argv, never a shell) or an HTTP call, on a
/// schedule and/or by hand. A run that fails while a component it `depends_on` is down is
/// rerun by the healing playbook's `rerun_pipelines` step once the component is verified back.
/// Written in config as a [`PipelineInput`], and (de)serialised in that shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(try_from = "PipelineInput", into = "PipelineInput")]
pub struct PipelineSpec {
    pub id: String,
    pub name: Option<String>,
    pub job: PipelineJob,
    /// Monitors (components) the job needs.
    pub depends_on: Vec<String>,
    /// Run it every this many ms; none: only by hand or as a rerun.
    pub every_ms: Option<u64>,
    /// A run still going after this long is killed and counts as failed.
    pub timeout_ms: u64,
}

/// What a pipeline runs: exactly one of a program and an HTTP call.
#[derive(Debug, Clone, PartialEq)]
pub enum PipelineJob {
    /// It succeeds when it exits 0; it gets `env` besides `PATH` and `LANG`.
    Program {
        argv: Vec<String>,
        env: BTreeMap<String, String>,
    },
    /// It succeeds on an expected status (any 2xx when `expect_status` is empty).
    Call {
        url: String,
        method: String,
        expect_status: Vec<u16>,
    },
}

impl PipelineSpec {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

impl TryFrom<PipelineInput> for PipelineSpec {
    type Error = SpecProblems;

    fn try_from(input: PipelineInput) -> Result<Self, SpecProblems> {
        let problems = input.problems();
        let job = match (input.argv, input.url) {
            (Some(argv), None) if problems.is_empty() => PipelineJob::Program {
                argv,
                env: input.env,
            },
            (None, Some(url)) if problems.is_empty() => PipelineJob::Call {
                url,
                method: input.method,
                expect_status: input.expect_status,
            },
            _ => return Err(SpecProblems(problems)),
        };
        Ok(PipelineSpec {
            id: input.id,
            name: input.name,
            job,
            depends_on: input.depends_on,
            every_ms: input.every_ms,
            timeout_ms: input.timeout_ms,
        })
    }
}

impl From<PipelineSpec> for PipelineInput {
    fn from(spec: PipelineSpec) -> Self {
        let mut input = PipelineInput {
            id: spec.id,
            name: spec.name,
            argv: None,
            url: None,
            method: defaults::http_step_method(),
            expect_status: Vec::new(),
            depends_on: spec.depends_on,
            every_ms: spec.every_ms,
            timeout_ms: spec.timeout_ms,
            env: BTreeMap::new(),
        };
        match spec.job {
            PipelineJob::Program { argv, env } => (input.argv, input.env) = (Some(argv), env),
            PipelineJob::Call {
                url,
                method,
                expect_status,
            } => {
                (input.url, input.method, input.expect_status) = (Some(url), method, expect_status)
            }
        }
        input
    }
}

impl PipelineInput {
    /// Everything wrong with this pipeline, all at once (its `depends_on` names are checked
    /// against the monitors by the config loader).
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        check_id(&mut problems, "id", &self.id);
        match (&self.argv, &self.url) {
            (Some(argv), None) => check_argv(&mut problems, argv),
            (None, Some(url)) => check_url(&mut problems, "url", url),
            _ => problems.push(SpecProblem::new(
                "argv",
                "give exactly one of `argv` (a program) or `url` (an HTTP call)",
            )),
        }
        check_method_and_statuses(&mut problems, &self.method, &self.expect_status);
        if let Some(every_ms) = self.every_ms {
            if !(bounds::PIPELINE_EVERY_MS_MIN..=bounds::DURATION_MS_MAX * 24).contains(&every_ms) {
                problems.push(SpecProblem::new(
                    "every_ms",
                    format!(
                        "must be between {} and {} ms",
                        bounds::PIPELINE_EVERY_MS_MIN,
                        bounds::DURATION_MS_MAX * 24
                    ),
                ));
            }
        }
        check_duration(&mut problems, "timeout_ms", self.timeout_ms);
        if self.depends_on.len() > bounds::DEPENDS_ON_MAX {
            problems.push(SpecProblem::new(
                "depends_on",
                format!("at most {} monitors", bounds::DEPENDS_ON_MAX),
            ));
        }
        problems
    }
}

//! Checks several parts of the config share: durations, argv, URLs, HTTP methods.

use super::*;
use crate::names::name_problem;

/// An id people read (a monitor's, a playbook's…): not empty, and no character that hides or
/// reorders text (see `crate::names`).
pub(super) fn check_id(problems: &mut Vec<SpecProblem>, field: &str, id: &str) {
    if id.trim().is_empty() {
        problems.push(SpecProblem::new(field, "must not be empty"));
    } else if let Some(why) = name_problem(id) {
        problems.push(SpecProblem::new(field, why));
    }
}

pub(super) fn check_duration(problems: &mut Vec<SpecProblem>, field: &str, ms: u64) {
    if ms == 0 || ms > bounds::DURATION_MS_MAX {
        problems.push(SpecProblem::new(
            field,
            format!(
                "must be between 1 and {} ms, got {ms}",
                bounds::DURATION_MS_MAX
            ),
        ));
    }
}

/// `argv` must name a program.
pub(super) fn check_argv(problems: &mut Vec<SpecProblem>, argv: &[String]) {
    if argv.first().is_none_or(|program| program.trim().is_empty()) {
        problems.push(SpecProblem::new("argv", "must name a program to run"));
    }
}

/// `url` must be an http(s) URL.
pub(super) fn check_url(problems: &mut Vec<SpecProblem>, field: &str, url: &str) {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        problems.push(SpecProblem::new(
            field,
            "must start with http:// or https://",
        ));
    }
}

/// An HTTP method and the statuses expected of the answer.
pub(super) fn check_method_and_statuses(
    problems: &mut Vec<SpecProblem>,
    method: &str,
    expect_status: &[u16],
) {
    if !is_http_token(method) {
        problems.push(SpecProblem::new(
            "method",
            format!("not an HTTP method: {method:?}"),
        ));
    }
    if expect_status
        .iter()
        .any(|status| !(100..=599).contains(status))
    {
        problems.push(SpecProblem::new("expect_status", "statuses are 100 to 599"));
    }
}

/// An HTTP method is a token (RFC 9110 §5.6.2): one or more of the visible characters that
/// are not delimiters. What an HTTP client accepts as a method, extension methods included.
fn is_http_token(method: &str) -> bool {
    const DELIMITERS: &[u8] = b"\"(),/:;<=>?@[\\]{}";
    !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_graphic() && !DELIMITERS.contains(&b))
}

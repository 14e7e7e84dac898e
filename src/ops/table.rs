//! Tables for a terminal (comfy-table), and the small words they use: how long ago, one line
//! of a longer text.

use chrono::{DateTime, Utc};
use comfy_table::{presets::NOTHING, ContentArrangement, Table};
use serde_json::Value;

/// A table with `header`, borderless like `kubectl`'s, fitted to the terminal when it is one.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(header.iter().map(|h| h.to_uppercase()));
    table
}

/// A table without a header: names on the left, values on the right.
pub fn facts() -> Table {
    let mut table = Table::new();
    table
        .load_style(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    table
}

/// `value` as text: a string as it is, null as `-`, anything else as JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// `3m ago`, `2h ago`, `4d ago` for an RFC 3339 time; `-` for none.
pub fn ago(value: &Value) -> String {
    let Some(at) = value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    else {
        return "-".to_owned();
    };
    let seconds = Utc::now().signed_duration_since(at).num_seconds().max(0);
    match seconds {
        s if s < 60 => format!("{s}s ago"),
        s if s < 3_600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3_600),
        s => format!("{}d ago", s / 86_400),
    }
}

/// The first line of `text`, at most `chars_max` characters.
pub fn line(text: &str, chars_max: usize) -> String {
    let first = text.lines().next().unwrap_or_default();
    match first.chars().count() > chars_max {
        true => format!("{}…", first.chars().take(chars_max - 1).collect::<String>()),
        false => first.to_owned(),
    }
}

/// Prints `value` as JSON for scripts.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

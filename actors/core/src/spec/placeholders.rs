//! The `{incident.…}` placeholders a step's arguments and messages may hold, and filling them.

/// The fields a `command` argument or a `notify` message may name, and nothing else: each
/// comes from Grace's own records or from config, never from free text an event carried.
pub const ARG_FIELDS: [&str; 5] = [
    "incident.id",
    "incident.source",
    "incident.event_type",
    "incident.severity",
    "monitor.path",
];

/// `notify` messages are text for people, so they may also carry the incident's title.
pub const MESSAGE_FIELDS: [&str; 6] = [
    "incident.id",
    "incident.source",
    "incident.event_type",
    "incident.severity",
    "monitor.path",
    "incident.title",
];

/// The `{a.b}` placeholders in `text` (lowercase names with one dot); other braces are text.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else { break };
        let name = &rest[..close];
        let is_field = name.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && !b.contains('.')
                && name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c == b'_' || c == b'.')
        });
        if is_field {
            found.push(name);
            rest = &rest[close + 1..];
        }
    }
    found
}

/// Fills the placeholders of `text` from `value` (which answers for every allowed name).
pub fn substitute(text: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = text.to_owned();
    for name in placeholders(text) {
        out = out.replace(&format!("{{{name}}}"), &value(name));
    }
    out
}

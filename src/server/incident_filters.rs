//! The filters of `GET /monitoring/incidents` past its status: source, event type, severity,
//! a time range of detection and text. The incident list pages by id (newest first), so a
//! filtered page reads pages of it until it has `limit` matches, the list ends, or it has read
//! [`INCIDENTS_SCANNED_MAX`]; then `next` says where to go on.

use actors::event::Pattern;
use actors::model::{Incident, Severity};
use actors::protocol::incidents::IncidentFilter;
use chrono::{DateTime, Utc};

use super::{ApiError, App};

/// Most incidents one request reads to fill a filtered page.
pub(super) const INCIDENTS_SCANNED_MAX: usize = 10_000;
/// Longest text searched for, in bytes.
const TEXT_BYTES_MAX: usize = 200;

/// What an incident must be to be listed, besides its status.
#[derive(Debug, Default)]
pub(super) struct Wanted {
    /// Exact, or a prefix ending in `*`.
    pub source: Option<String>,
    pub event_type: Option<Pattern>,
    pub severities: Vec<Severity>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Lower-cased; found in the title, source or event type.
    pub text: Option<String>,
}

impl Wanted {
    /// Reads the query's filters, naming the field of a bad one.
    pub(super) fn read(
        source: Option<String>,
        event_type: Option<String>,
        severity: Option<String>,
        since: Option<String>,
        until: Option<String>,
        text: Option<String>,
    ) -> Result<Self, ApiError> {
        let time = |field: &str, text: Option<String>| {
            text.map(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|_| ApiError::bad(field, "must be an RFC 3339 time"))
            })
            .transpose()
        };
        let severities = severity
            .as_deref()
            .map(severities)
            .transpose()?
            .unwrap_or_default();
        if text.as_ref().is_some_and(|t| t.len() > TEXT_BYTES_MAX) {
            return Err(ApiError::bad(
                "q",
                format!("at most {TEXT_BYTES_MAX} bytes"),
            ));
        }
        Ok(Self {
            source: source.filter(|s| !s.is_empty()),
            event_type: event_type.filter(|t| !t.is_empty()).map(Pattern::new),
            severities,
            since: time("since", since)?,
            until: time("until", until)?,
            text: text.filter(|t| !t.is_empty()).map(|t| t.to_lowercase()),
        })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.source.is_none()
            && self.event_type.is_none()
            && self.severities.is_empty()
            && self.since.is_none()
            && self.until.is_none()
            && self.text.is_none()
    }

    fn matches(&self, incident: &Incident) -> bool {
        let source = self
            .source
            .as_deref()
            .is_none_or(|s| match s.strip_suffix('*') {
                Some(prefix) => incident.source.starts_with(prefix),
                None => incident.source == s,
            });
        let text = self.text.as_deref().is_none_or(|t| {
            [&incident.title, &incident.source, &incident.event_type]
                .iter()
                .any(|field| field.to_lowercase().contains(t))
        });
        source
            && text
            && self
                .event_type
                .as_ref()
                .is_none_or(|p| p.matches(&incident.event_type))
            && (self.severities.is_empty() || self.severities.contains(&incident.severity))
            && self.since.is_none_or(|since| incident.detected_at >= since)
            && self.until.is_none_or(|until| incident.detected_at < until)
    }

    /// Whether nothing older than `incident` can match: it was detected before `since`.
    fn past(&self, incident: &Incident) -> bool {
        self.since.is_some_and(|since| incident.detected_at < since)
    }
}

/// `low,high` into severities.
fn severities(text: &str) -> Result<Vec<Severity>, ApiError> {
    text.split(',')
        .map(|word| {
            serde_json::from_value(serde_json::Value::String(word.trim().to_owned())).map_err(
                |_| {
                    ApiError::bad(
                        "severity",
                        format!("{word:?} is not one of low, medium, high, critical"),
                    )
                },
            )
        })
        .collect()
}

/// Up to `limit` incidents below `before` that match, and the cursor to go on from (none at
/// the end of the list).
pub(super) async fn scan(
    app: &App,
    filter: IncidentFilter,
    wanted: &Wanted,
    mut before: Option<u64>,
    limit: usize,
) -> Result<(Vec<Incident>, Option<u64>), ApiError> {
    let mut found = Vec::new();
    let mut scanned = 0;
    while scanned < INCIDENTS_SCANNED_MAX {
        let page_max = limit.max(100).min(INCIDENTS_SCANNED_MAX - scanned);
        let page = app.kernel.incidents(filter, before, page_max).await?;
        scanned += page.items.len();
        let ended = page.items.len() < page_max;
        for incident in page.items {
            before = Some(incident.id);
            if wanted.past(&incident) {
                return Ok((found, None));
            }
            if wanted.matches(&incident) {
                found.push(incident);
                if found.len() == limit {
                    return Ok((found, before));
                }
            }
        }
        if ended {
            return Ok((found, None));
        }
    }
    Ok((found, before))
}

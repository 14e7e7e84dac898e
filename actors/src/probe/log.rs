//! The `log` probe: follows a file like `tail -F` and turns lines that match a rule into
//! events.
//!
//! Every probe reads what was appended since the last one. It keeps the open file and its
//! inode: when the path names a new file (rotation: rename + recreate), the rest of the old file
//! is read first and then the new one from its start; when the file shrinks (truncation), reading
//! restarts at its beginning. A missing file is waited for, as `tail -F` does, and only after
//! `failures_before_down` probes becomes a `logfile.missing` problem.
//!
//! Each rule is rate limited: the first match publishes at once, later ones within
//! `rate_limit_ms` are only counted, and the count rides on the next event. The incident
//! manager adds `count` to the incident's occurrences, so a burst of 10,000 lines is one
//! incident that says 10,000.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use regex::Regex;
use serde_json::json;

use super::{Probe, ProbeFailure};
use crate::event::{types, EventDraft, CLASS_KEY};
use crate::model::Severity;
use crate::spec::{LogRule, LogSpec};

/// Bytes read per probe at most; the rest waits for the next probe, which comes at once.
const READ_MAX_BYTES: usize = 4 * 1024 * 1024;
/// A line longer than this is cut here: a runaway line cannot grow the buffer without bound.
const LINE_MAX_BYTES: usize = 16 * 1024;
/// The part of a matching line kept on its event.
const LINE_KEPT_BYTES: usize = 1024;

struct Rule {
    regex: Regex,
    spec: LogRule,
    /// When this rule last published.
    last_event: Option<Instant>,
    /// Matches since then that were only counted.
    pending: u64,
    /// The latest of those lines.
    pending_line: String,
}

struct Tailed {
    file: File,
    /// The file's identity: (device, inode). Another pair at the path means rotation.
    identity: (u64, u64),
    offset: u64,
}

pub struct LogProbe {
    monitor_id: String,
    path: String,
    from_start: bool,
    rules: Vec<Rule>,
    tailed: Option<Tailed>,
    /// Bytes of a line whose end has not been written yet.
    partial: Vec<u8>,
    /// A probe stopped at READ_MAX_BYTES with more to read.
    more: bool,
    started: bool,
    events: Vec<EventDraft>,
    lines_read: u64,
    /// Where a previous Grace stopped reading (see `position`), used on the first read.
    resume_at: Option<Position>,
}

/// What a restart needs to go on where the last committed probe stopped.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Position {
    dev: u64,
    ino: u64,
    /// The start of the first line not yet read whole.
    offset: u64,
    /// Matches each rule had counted but not yet published.
    pending: Vec<u64>,
}

impl LogProbe {
    /// Rules were validated with the config; one that still does not compile never matches.
    pub fn new(monitor_id: String, spec: &LogSpec) -> Self {
        let rules = spec
            .rules
            .iter()
            .filter_map(|rule| {
                Some(Rule {
                    regex: Regex::new(&rule.regex).ok()?,
                    spec: rule.clone(),
                    last_event: None,
                    pending: 0,
                    pending_line: String::new(),
                })
            })
            .collect();
        Self {
            monitor_id,
            path: spec.path.clone(),
            from_start: spec.from_start,
            rules,
            tailed: None,
            partial: Vec::new(),
            more: false,
            started: false,
            events: Vec::new(),
            lines_read: 0,
            resume_at: None,
        }
    }

    /// Reads what is new, feeding complete lines to the rules.
    fn read(&mut self) -> Result<(), String> {
        let first = !self.started;
        self.started = true;
        let metadata = std::fs::metadata(&self.path);
        let current = match (&metadata, self.tailed.as_ref()) {
            (Ok(meta), Some(tailed)) if (meta.dev(), meta.ino()) == tailed.identity => {
                if meta.len() < tailed.offset {
                    // Truncated: start over at the beginning of the same file.
                    let tailed = self.tailed.as_mut().expect("matched above");
                    tailed.offset = 0;
                    tailed
                        .file
                        .seek(SeekFrom::Start(0))
                        .map_err(|e| e.to_string())?;
                    self.partial.clear();
                }
                true
            }
            _ => false,
        };
        let mut budget = READ_MAX_BYTES;
        if !current {
            // Rotated, appeared, or vanished: finish the old file first.
            if self.tailed.is_some() {
                budget -= self.drain(budget)?;
                if budget == 0 {
                    self.more = true;
                    return Ok(());
                }
                self.flush_partial();
                self.tailed = None;
            }
            let meta = metadata.map_err(|error| format!("cannot read {}: {error}", self.path))?;
            let mut file = File::open(&self.path)
                .map_err(|error| format!("cannot open {}: {error}", self.path))?;
            // Only a file that was there when Grace started is skipped to its end; one that
            // appears (or replaces a rotated one) is new, and all of it counts. The file a
            // previous Grace was reading goes on where it stopped; another file at the path
            // (rotated meanwhile) is new.
            let resumed = self.resume_at.take().filter(|_| first);
            let offset = match resumed {
                Some(at)
                    if (at.dev, at.ino) == (meta.dev(), meta.ino()) && at.offset <= meta.len() =>
                {
                    at.offset
                }
                Some(_) => 0,
                None if first && !self.from_start => meta.len(),
                None => 0,
            };
            file.seek(SeekFrom::Start(offset))
                .map_err(|error| error.to_string())?;
            self.tailed = Some(Tailed {
                file,
                identity: (meta.dev(), meta.ino()),
                offset,
            });
        }
        let used = self.drain(budget)?;
        self.more = used == budget;
        Ok(())
    }

    /// Reads up to `budget` bytes from the tailed file; returns how many.
    fn drain(&mut self, budget: usize) -> Result<usize, String> {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut used = 0;
        let mut lines = Vec::new();
        while used < budget {
            let Some(tailed) = self.tailed.as_mut() else {
                break;
            };
            let want = buffer.len().min(budget - used);
            let n = tailed
                .file
                .read(&mut buffer[..want])
                .map_err(|error| format!("cannot read {}: {error}", self.path))?;
            if n == 0 {
                break;
            }
            used += n;
            tailed.offset += n as u64;
            for &byte in &buffer[..n] {
                if byte == b'\n' {
                    lines.push(std::mem::take(&mut self.partial));
                } else if self.partial.len() < LINE_MAX_BYTES {
                    self.partial.push(byte);
                }
            }
            for line in lines.drain(..) {
                self.line(&line);
            }
        }
        Ok(used)
    }

    /// A last line without its newline, at the end of a rotated file.
    fn flush_partial(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
    }

    fn line(&mut self, raw: &[u8]) {
        self.lines_read += 1;
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_end_matches('\r');
        let now = Instant::now();
        for index in 0..self.rules.len() {
            let rule = &mut self.rules[index];
            if !rule.regex.is_match(text) {
                continue;
            }
            let window = Duration::from_millis(rule.spec.rate_limit_ms);
            let open = rule.last_event.is_none_or(|last| now - last >= window);
            rule.pending += 1;
            rule.pending_line = cut(text, LINE_KEPT_BYTES);
            if open {
                self.publish(index, now);
            }
        }
    }

    /// Publishes a rule's pending matches as one event.
    fn publish(&mut self, index: usize, now: Instant) {
        let rule = &mut self.rules[index];
        let count = std::mem::take(&mut rule.pending);
        let line = std::mem::take(&mut rule.pending_line);
        rule.last_event = Some(now);
        let title = rule
            .spec
            .title
            .clone()
            .unwrap_or_else(|| rule.spec.event.clone());
        self.events.push(
            EventDraft::new(
                &rule.spec.event,
                json!({
                    CLASS_KEY: "problem",
                    "severity": rule.spec.severity,
                    "title": title,
                    "monitor": self.monitor_id,
                    "kind": "log",
                    "path": self.path,
                    "rule": index,
                    "regex": rule.spec.regex,
                    "count": count,
                    "line": line,
                }),
            )
            .source(self.monitor_id.clone()),
        );
    }

    /// Rules whose window has passed with matches still only counted.
    fn publish_due(&mut self) {
        let now = Instant::now();
        for index in 0..self.rules.len() {
            let rule = &self.rules[index];
            let window = Duration::from_millis(rule.spec.rate_limit_ms);
            if rule.pending > 0 && rule.last_event.is_none_or(|last| now - last >= window) {
                self.publish(index, now);
            }
        }
    }
}

fn cut(text: &str, len_max: usize) -> String {
    let mut end = text.len().min(len_max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

impl Probe for LogProbe {
    fn probe(&mut self, _timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(async move {
            // Local file reads of at most READ_MAX_BYTES: quick, and bounded.
            let result = self.read();
            self.publish_due();
            result
                .map(|()| format!("{} lines read", self.lines_read))
                .map_err(|error| ProbeFailure {
                    event_type: types::LOGFILE_MISSING,
                    severity: Severity::Low,
                    error,
                })
        })
    }

    fn verify(&mut self, _timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(async move {
            std::fs::metadata(&self.path)
                .map(|meta| format!("{} is there ({} bytes)", self.path, meta.len()))
                .map_err(|error| ProbeFailure {
                    event_type: types::LOGFILE_MISSING,
                    severity: Severity::Low,
                    error: format!("cannot read {}: {error}", self.path),
                })
        })
    }

    fn recovery_event(&self) -> &'static str {
        types::LOGFILE_RESTORED
    }

    fn take_events(&mut self) -> Vec<EventDraft> {
        std::mem::take(&mut self.events)
    }

    /// Lines read since Grace started, and each rule's matches held by its rate limit.
    fn details(&self) -> serde_json::Value {
        let pending: Vec<u64> = self.rules.iter().map(|rule| rule.pending).collect();
        json!({ "lines_read": self.lines_read, "pending": pending })
    }

    fn position(&self) -> Option<serde_json::Value> {
        let tailed = self.tailed.as_ref()?;
        let position = Position {
            dev: tailed.identity.0,
            ino: tailed.identity.1,
            offset: tailed.offset.saturating_sub(self.partial.len() as u64),
            pending: self.rules.iter().map(|rule| rule.pending).collect(),
        };
        serde_json::to_value(position).ok()
    }

    fn resume(&mut self, position: serde_json::Value) {
        let Ok(position) = serde_json::from_value::<Position>(position) else {
            return;
        };
        for (rule, pending) in self.rules.iter_mut().zip(&position.pending) {
            rule.pending = *pending;
        }
        self.resume_at = Some(position);
    }

    fn next_delay(&self, interval: Duration) -> Duration {
        if self.more {
            Duration::ZERO
        } else {
            interval
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn spec(path: &std::path::Path, rate_limit_ms: u64) -> LogSpec {
        LogSpec {
            path: path.display().to_string(),
            from_start: false,
            rules: vec![LogRule {
                regex: "ERROR".to_owned(),
                event: "log.error_detected".to_owned(),
                severity: Severity::High,
                title: None,
                rate_limit_ms,
            }],
        }
    }

    fn append(path: &std::path::Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    fn counts(probe: &mut LogProbe) -> Vec<u64> {
        probe
            .take_events()
            .iter()
            .map(|e| e.data["count"].as_u64().unwrap())
            .collect()
    }

    /// Lines matched since the last call, published or only counted.
    fn matched(probe: &mut LogProbe) -> u64 {
        let published: u64 = counts(probe).iter().sum();
        let pending: u64 = probe
            .rules
            .iter_mut()
            .map(|r| std::mem::take(&mut r.pending))
            .sum();
        published + pending
    }

    #[test]
    fn follows_appends_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "ERROR before start\n");
        let mut probe = LogProbe::new("app".into(), &spec(&path, 60_000));
        probe.read().unwrap();
        assert_eq!(matched(&mut probe), 0, "old lines are skipped");

        append(&path, "ok\nERROR one\nERROR half");
        probe.read().unwrap();
        assert_eq!(matched(&mut probe), 1, "the half line waits for its end");

        // Rotation: the old file's last line is finished, then the new file read from its start.
        std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        append(&path, "ERROR in the new file\nfine\n");
        probe.read().unwrap();
        assert_eq!(matched(&mut probe), 2, "the half line and the new one");

        // Truncation: reading starts over at the beginning.
        std::fs::write(&path, "").unwrap();
        probe.read().unwrap();
        append(&path, "ERROR after truncation\n");
        probe.read().unwrap();
        assert_eq!(matched(&mut probe), 1);

        // A file that vanishes is an error until it is back, then read from its start.
        std::fs::remove_file(&path).unwrap();
        assert!(probe.read().is_err());
        append(&path, "ERROR in a fresh file\n");
        probe.read().unwrap();
        assert_eq!(matched(&mut probe), 1);
    }

    #[test]
    fn a_burst_is_one_event_now_and_one_count_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "");
        let mut probe = LogProbe::new("app".into(), &spec(&path, 60_000));
        probe.read().unwrap();
        append(&path, &"ERROR same thing\n".repeat(10_000));
        while {
            probe.read().unwrap();
            probe.more
        } {}
        assert_eq!(counts(&mut probe), [1], "only the first match publishes");
        // The window is still open: the other 9,999 wait.
        probe.publish_due();
        assert!(counts(&mut probe).is_empty());
        probe.rules[0].last_event = Some(Instant::now() - Duration::from_secs(61));
        probe.publish_due();
        assert_eq!(counts(&mut probe), [9_999]);
    }
}

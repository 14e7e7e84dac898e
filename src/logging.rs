//! Grace's own log: `tracing` lines to stderr, and never a reason to stop. A supervisor has to
//! keep watching while its log cannot be written — a full disk holding the log file is exactly
//! the kind of outage it is there for — so a line stderr refuses (no space, a closed pipe,
//! `/dev/full`) is dropped and counted instead of panicking, as `eprintln!` and
//! tracing-subscriber's own fallback would. The count is `grace_log_lines_dropped_total` on
//! `GET /metrics`, and the first line written again is preceded by one saying how many were
//! lost and why.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

use tracing_subscriber::EnvFilter;

/// Lines dropped since the last one that was written, for the line that says so.
static UNREPORTED: AtomicU64 = AtomicU64::new(0);
/// The OS error of the last line dropped (0: none known).
static LAST_ERROR: AtomicI32 = AtomicI32::new(0);
/// The last write stopped in the middle of a line: the next one starts on a fresh line.
static MID_LINE: AtomicBool = AtomicBool::new(false);

/// Sets up the log: `RUST_LOG` or Grace's default filter, every line through [`Stderr`].
pub fn init() {
    tracing_subscriber::fmt()
        .with_env_filter(
            // warp's request trace logs every 5xx as an error, a busy 503 under a flood
            // included; Grace logs its own failures (500s among them) where they happen.
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,warp=warn,warp::filters::trace=off")),
        )
        .with_writer(|| Stderr)
        // Its fallback for a failed write is `eprintln!`, which panics when stderr fails too.
        .log_internal_errors(false)
        .init();
}

/// stderr that drops and counts what it cannot write, and never reports a failure.
pub struct Stderr;

impl Write for Stderr {
    /// `buf` is one whole formatted line (tracing-subscriber writes each event at once).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_line(&mut io::stderr().lock(), buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `line` to `out`, first saying how many lines were dropped before it, if any; drops
/// and counts it when `out` fails.
pub fn write_line(out: &mut impl Write, line: &[u8]) {
    let dropped = UNREPORTED.swap(0, Ordering::SeqCst);
    if dropped > 0 {
        let fresh_line = MID_LINE.load(Ordering::SeqCst);
        let note = dropped_note(dropped, LAST_ERROR.load(Ordering::SeqCst), fresh_line);
        if let Err(error) = write_whole(out, note.as_bytes()) {
            UNREPORTED.fetch_add(dropped, Ordering::SeqCst);
            drop_line(error);
            return;
        }
        MID_LINE.store(false, Ordering::SeqCst);
    }
    if let Err(error) = write_whole(out, line) {
        drop_line(error);
    }
}

fn drop_line(error: io::Error) {
    LAST_ERROR.store(error.raw_os_error().unwrap_or(0), Ordering::SeqCst);
    UNREPORTED.fetch_add(1, Ordering::SeqCst);
    actors::LOG_LINES_DROPPED.inc();
}

/// The line that says `dropped` lines were lost, the last to `os_error`; on a line of its own
/// (`fresh_line`: the last write stopped in the middle of one).
fn dropped_note(dropped: u64, os_error: i32, fresh_line: bool) -> String {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let why = match os_error {
        0 => "the log could not be written".to_owned(),
        code => format!(
            "the log could not be written: {}",
            io::Error::from_raw_os_error(code)
        ),
    };
    let fresh_line = if fresh_line { "\n" } else { "" };
    format!("{fresh_line}{at}  WARN grace::logging: {dropped} log lines were dropped: {why}\n")
}

/// `write_all`, remembering a line left half written.
fn write_whole(out: &mut impl Write, mut bytes: &[u8]) -> io::Result<()> {
    let whole = bytes.len();
    while !bytes.is_empty() {
        let written = match out.write(bytes) {
            Ok(0) => Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(written) => Ok(written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => Err(error),
        };
        match written {
            Ok(written) => bytes = &bytes[written..],
            Err(error) => {
                MID_LINE.fetch_or(bytes.len() < whole, Ordering::SeqCst);
                return Err(error);
            }
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes `room` bytes, then refuses like a full disk.
    struct Disk {
        written: Vec<u8>,
        room: usize,
    }

    impl Write for Disk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let take = buf.len().min(self.room - self.written.len().min(self.room));
            if take == 0 {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            self.written.extend_from_slice(&buf[..take]);
            Ok(take)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_that_cannot_be_written_are_dropped_counted_and_then_told() {
        let before = actors::LOG_LINES_DROPPED.get();
        let mut disk = Disk {
            written: Vec::new(),
            room: 12,
        };
        write_line(&mut disk, b"first line\n");
        write_line(&mut disk, b"second line\n"); // half of it fits
        write_line(&mut disk, b"third line\n");
        assert_eq!(actors::LOG_LINES_DROPPED.get() - before, 2);
        disk.room = usize::MAX; // space again
        write_line(&mut disk, b"fourth line\n");
        let text = String::from_utf8(disk.written).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "first line");
        assert_eq!(lines[1], "s", "the half-written line is ended");
        assert!(
            lines[2].ends_with("2 log lines were dropped: the log could not be written: No space left on device (os error 28)"),
            "{text}"
        );
        assert_eq!(lines[3], "fourth line");
        assert_eq!(lines.len(), 4, "{text}");
    }
}

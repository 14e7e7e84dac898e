//! Running a program from config: argv executed directly (never through a shell), with a
//! deadline, its output drained and the tail kept. Used by playbook `command` steps, pipelines
//! and `command` monitors (Nagios-style check plugins).
//!
//! A program gets a cleared environment: `PATH` and `LANG` from Grace's own, plus the `env`
//! its config gives, and nothing else (no token, no secret of Grace's leaks into it). It runs
//! in a process group of its own, and a deadline kills the whole group, so a script's
//! children do not outlive it.

use std::collections::BTreeMap;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// After a program exits, how long its output pipes may take to reach end-of-file. A program
/// that leaves a daemon behind (`pg_ctl start`) hands the daemon its pipes, which then never
/// close; we keep what arrived and stop reading.
const OUTPUT_DRAIN_MS: u64 = 200;
/// Most bytes kept of each of stdout and stderr (the tail).
const KEEP_BYTES: usize = 64 * 1024;

/// How a run ended.
#[derive(Debug)]
pub enum Exit {
    /// It exited (or was killed by a signal) on its own.
    Exited(ExitStatus),
    /// It did not finish within the deadline and was killed.
    TimedOut,
    /// It could not be started, or waiting on it failed.
    Failed(String),
}

#[derive(Debug)]
pub struct Outcome {
    pub exit: Exit,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn success(&self) -> bool {
        matches!(&self.exit, Exit::Exited(status) if status.success())
    }

    /// One line for people: what happened, then the output.
    pub fn describe(&self, program: &str, timeout: Duration) -> String {
        let head = match &self.exit {
            Exit::Exited(status) => format!("{program} exited with {status}"),
            Exit::TimedOut => format!(
                "{program} did not finish within {} ms; killed",
                timeout.as_millis()
            ),
            Exit::Failed(error) => format!("{program}: {error}"),
        };
        format!("{head}\n{}{}", self.stdout, self.stderr)
    }
}

/// Variables a program inherits from Grace; everything else it gets comes from its config.
const INHERITED_ENV: [&str; 2] = ["PATH", "LANG"];

/// Kills a process group when dropped, unless disarmed: a deadline, or the caller giving up
/// on the run (its future dropped), ends every process the program started.
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // SAFETY: killpg only sends a signal; pgid is the group this module created.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

/// Runs `argv` with `env` (see the module doc) and a deadline. Its process group is killed if
/// the deadline passes or the caller's future is dropped.
pub async fn run(argv: &[String], env: &BTreeMap<String, String>, timeout: Duration) -> Outcome {
    let failed = |error: String| Outcome {
        exit: Exit::Failed(error),
        stdout: String::new(),
        stderr: String::new(),
    };
    let Some((program, args)) = argv.split_first() else {
        return failed("empty argv".to_owned());
    };
    let mut command = Command::new(program);
    command.env_clear();
    for name in INHERITED_ENV {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    let spawned = command
        .envs(env)
        .args(args)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => return failed(format!("could not start: {error}")),
    };
    let mut group = GroupGuard(child.id().map(|pid| pid as i32));
    let stdout = tokio::spawn(read_all(child.stdout.take()));
    let stderr = tokio::spawn(read_all(child.stderr.take()));
    let exit = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => Exit::Exited(status),
        Ok(Err(error)) => Exit::Failed(format!("waiting for it failed: {error}")),
        Err(_) => Exit::TimedOut,
    };
    if !matches!(exit, Exit::TimedOut) {
        // It ended by itself: what it left running on purpose (a daemon it started) stays.
        group.0 = None;
    }
    drop(group);
    let stdout = drained(stdout).await;
    let stderr = drained(stderr).await;
    Outcome {
        exit,
        stdout,
        stderr,
    }
}

/// What a reader task collected, once the pipe closed or the drain time passed.
async fn drained(mut reader: tokio::task::JoinHandle<String>) -> String {
    let drain = Duration::from_millis(OUTPUT_DRAIN_MS);
    match tokio::time::timeout(drain, &mut reader).await {
        Ok(Ok(text)) => text,
        _ => {
            reader.abort();
            String::new()
        }
    }
}

/// Reads a pipe to its end, keeping the last [`KEEP_BYTES`]. The pipe must be drained or the
/// child blocks on a full pipe.
async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut pipe) = pipe else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > KEEP_BYTES {
            kept.drain(..kept.len() - KEEP_BYTES);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// The last `max_bytes` of `text`, cut on a character boundary.
pub fn tail(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut start = text.len() - max_bytes;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[tokio::test]
    async fn programs_run_as_argv_with_exit_output_and_deadline() {
        let timeout = Duration::from_secs(5);
        let none = BTreeMap::new();
        let echo = run(&argv(&["echo", "$HOME; rm -rf /"]), &none, timeout).await;
        assert!(echo.success());
        // No shell: the argument is printed literally.
        assert_eq!(echo.stdout, "$HOME; rm -rf /\n");
        assert!(!run(&argv(&["false"]), &none, timeout).await.success());
        let missing = run(&argv(&["/nonexistent/grace-test"]), &none, timeout).await;
        assert!(missing.describe("x", timeout).contains("could not start"));
        let slow = run(&argv(&["sleep", "5"]), &none, Duration::from_millis(100)).await;
        assert!(matches!(slow.exit, Exit::TimedOut));
        assert!(!run(&[], &none, timeout).await.success());
    }

    #[tokio::test]
    async fn a_program_sees_only_path_lang_and_its_own_env() {
        let env = BTreeMap::from([("GREETING".to_owned(), "hi".to_owned())]);
        let printed = run(&argv(&["env"]), &env, Duration::from_secs(5)).await;
        let mut names: Vec<&str> = printed
            .stdout
            .lines()
            .filter_map(|line| line.split('=').next())
            .collect();
        names.sort();
        names.retain(|name| *name != "LANG"); // only when Grace has one
        assert_eq!(names, ["GREETING", "PATH"], "{}", printed.stdout);
    }

    #[tokio::test]
    async fn a_deadline_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild-lived");
        // The shell starts a grandchild that would write the marker after 1 s, then waits.
        let script = format!("(sleep 1; touch {}) & wait", marker.display());
        let started = std::time::Instant::now();
        let outcome = run(
            &argv(&["sh", "-c", &script]),
            &BTreeMap::new(),
            Duration::from_millis(200),
        )
        .await;
        assert!(matches!(outcome.exit, Exit::TimedOut));
        // Give a surviving grandchild every chance to write the marker before looking.
        let deadline = started + Duration::from_millis(2_500);
        while std::time::Instant::now() < deadline {
            assert!(!marker.exists(), "the grandchild outlived the deadline");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[test]
    fn tail_cuts_on_char_boundaries() {
        assert_eq!(tail("hello", 10), "hello");
        assert_eq!(tail("hello", 3), "…llo");
        assert_eq!(tail("héllo", 4), "…llo");
    }
}

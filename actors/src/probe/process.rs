//! The `process` probe: watches a process and notices its exit when it happens.
//!
//! Two ways to know a process:
//! - `argv`: Grace starts it (never through a shell) and is its parent; a task waits on the
//!   child, so the exit is seen the moment the kernel reports it. A `restart` step starts it
//!   again and waits until it answers.
//! - `pidfile`: someone else starts it. Grace opens a pidfd for the pid in the file and waits
//!   for it to become readable, which Linux does when the process exits — again no polling.
//!
//! Either way the exit wakes the monitor, which probes at once. The process itself lives in
//! [`Processes`], shared by the monitor's probe and any sub-agent's, so a playbook restarting it
//! and the monitor watching it see the same process, and a restarted monitor actor does not
//! start a second copy.

use std::collections::HashMap;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde_json::json;
use tokio::io::unix::AsyncFd;
use tokio::sync::{oneshot, watch};

use super::{Probe, ProbeFailure};
use crate::event::types;
use crate::model::Severity;
use crate::spec::{ProcessSource, ProcessSpec};

/// How often readiness is retried while waiting for a (re)started process to answer.
const READY_POLL_MS: u64 = 20;
/// How long a stop waits for the process to go after SIGKILL.
const STOP_WAIT_MS: u64 = 2_000;

/// Every process Grace watches, by monitor id.
#[derive(Clone, Default)]
pub struct Processes(Arc<Mutex<HashMap<String, Arc<Watched>>>>);

impl Processes {
    /// The watched process of monitor `id`: the existing one (a restarted monitor actor, a
    /// sub-agent), or a new one. Only [`remove`](Self::remove) ends one, so a probe built
    /// anywhere never replaces a running process.
    pub fn watch(&self, id: &str, spec: &ProcessSpec) -> Arc<Watched> {
        self.0
            .lock()
            .expect("processes poisoned")
            .entry(id.to_owned())
            .or_insert_with(|| Arc::new(Watched::new(spec.clone())))
            .clone()
    }

    /// Stops watching monitor `id` and waits (bounded) until a process Grace started for it is
    /// gone, so a successor can take its port. Probes still holding it can no longer start it.
    pub async fn remove(&self, id: &str) {
        let removed = self.0.lock().expect("processes poisoned").remove(id);
        if let Some(watched) = removed {
            watched.life().retired = true;
            watched.kill().await;
        }
    }
}

/// One watched process.
pub struct Watched {
    spec: ProcessSpec,
    /// Bumped on every start and exit; monitors watch it to probe at once.
    wake: watch::Sender<u64>,
    life: Mutex<Life>,
    http: reqwest::Client,
    /// One restart at a time: two runs restarting the same process would kill each other's.
    restarting: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Life {
    /// The pid being watched, while it runs.
    pid: Option<u32>,
    /// How the last one ended.
    exit: Option<String>,
    started_at: Option<Instant>,
    /// Ends a process Grace started (argv) or stops a pidfd watch.
    stop: Option<oneshot::Sender<()>>,
    starts: u32,
    /// The pid whose exit `exit` describes.
    exited_pid: Option<u32>,
    /// Removed from [`Processes`] (its monitor was removed or changed): never start it again.
    retired: bool,
}

impl Watched {
    fn new(spec: ProcessSpec) -> Self {
        Self {
            spec,
            wake: watch::Sender::new(0),
            life: Mutex::new(Life::default()),
            http: reqwest::Client::new(),
            restarting: tokio::sync::Mutex::new(()),
        }
    }

    fn life(&self) -> std::sync::MutexGuard<'_, Life> {
        self.life.lock().expect("process state poisoned")
    }

    fn stop(&self) {
        if let Some(stop) = self.life().stop.take() {
            let _ = stop.send(());
        }
    }

    /// Starts the process from argv, with a task that waits for its exit, and returns the pid
    /// running now. With `first`, only if it was never started (the first probe); otherwise
    /// only if it is not running. Checked and started under one lock, so two probes cannot
    /// both start it; `None` means someone else started it and it has exited since.
    fn start(self: &Arc<Self>, first: bool) -> Result<Option<u32>, String> {
        let ProcessSource::Argv(argv) = &self.spec.source else {
            return Err("Grace does not start this process (it has a pidfile, not argv)".into());
        };
        let mut life = self.life();
        if life.retired {
            return Err("this process is no longer watched (its monitor was reconfigured)".into());
        }
        if (first && life.starts > 0) || life.pid.is_some() {
            return Ok(life.pid);
        }
        let mut command = tokio::process::Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Grace's shutdown ends what Grace started.
            .kill_on_drop(true);
        // SAFETY: between fork and exec only prctl runs, which is async-signal-safe.
        // If Grace itself dies (even by SIGKILL), the kernel sends the process SIGTERM, so a
        // restarted Grace does not find an orphan holding the port. (Linux ties this to the
        // forking thread; tokio's worker threads live as long as Grace's runtime.)
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", argv[0]))?;
        let pid = child.id().unwrap_or_default();
        let (stop, stopped) = oneshot::channel();
        life.pid = Some(pid);
        life.exit = None;
        life.started_at = Some(Instant::now());
        life.stop = Some(stop);
        life.starts += 1;
        drop(life);
        // The monitor looks at once, so a restart by a playbook shows up without waiting for
        // its next probe.
        self.wake.send_modify(|changes| *changes += 1);
        let watched = self.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = stopped => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let exit = match status {
                Ok(status) => describe_exit(pid, status),
                Err(error) => format!("pid {pid}: cannot wait for it: {error}"),
            };
            watched.ended(pid, exit);
        });
        Ok(Some(pid))
    }

    /// Watches the pid in the pidfile, when it is not watched yet.
    fn watch_pidfile(self: &Arc<Self>, pidfile: &str) -> Result<u32, String> {
        let text = std::fs::read_to_string(pidfile)
            .map_err(|error| format!("cannot read pidfile {pidfile}: {error}"))?;
        let pid: i32 = text
            .trim()
            .parse()
            .ok()
            .filter(|pid| *pid > 0)
            .ok_or_else(|| format!("pidfile {pidfile} holds no pid: {:?}", text.trim()))?;
        {
            let life = self.life();
            if life.pid == Some(pid as u32) {
                return Ok(pid as u32);
            }
            if life.exited_pid == Some(pid as u32) {
                // The pidfile still names the process that exited: say how it ended.
                return Err(life.exit.clone().unwrap_or_default());
            }
        }
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is
        // shared with the kernel.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            let error = std::io::Error::last_os_error();
            return Err(format!("pid {pid} from {pidfile} is not running ({error})"));
        }
        // SAFETY: `fd` was just returned by pidfd_open and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        // SAFETY: the AsyncFd owns the OwnedFd, so the fd stays open and the same for as long
        // as the AsyncFd lives.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(|error| format!("cannot watch pid {pid}: {error}"))?;
        let (stop, stopped) = oneshot::channel();
        {
            let mut life = self.life();
            if let Some(old) = life.stop.replace(stop) {
                let _ = old.send(());
            }
            life.pid = Some(pid as u32);
            life.exit = None;
            life.started_at = Some(Instant::now());
        }
        let watched = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                // A pidfd turns readable when its process exits.
                _ = fd.readable() => watched.ended(pid as u32, format!("pid {pid} exited")),
                _ = stopped => {}
            }
        });
        Ok(pid as u32)
    }

    fn ended(&self, pid: u32, exit: String) {
        let mut life = self.life();
        if life.pid == Some(pid) {
            life.pid = None;
            life.exited_pid = Some(pid);
            life.exit = Some(exit);
            life.started_at = None;
        }
        drop(life);
        self.wake.send_modify(|changes| *changes += 1);
    }

    /// Does the process answer on its readiness checks (if any)?
    async fn ready(&self, timeout: Duration) -> Result<String, String> {
        let mut notes = Vec::new();
        if let Some(address) = &self.spec.ready_tcp {
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
                Ok(Ok(_)) => notes.push(format!("accepts TCP on {address}")),
                Ok(Err(error)) => return Err(format!("no TCP on {address}: {error}")),
                Err(_) => return Err(format!("no TCP on {address} within {timeout:?}")),
            }
        }
        if let Some(url) = &self.spec.ready_http {
            let response = self.http.get(url).timeout(timeout).send().await;
            match response {
                Ok(response) if response.status().is_success() => {
                    notes.push(format!("{url} answers {}", response.status().as_u16()))
                }
                Ok(response) => {
                    return Err(format!("{url} answers {}", response.status().as_u16()))
                }
                Err(error) => return Err(format!("{url}: {error}")),
            }
        }
        Ok(notes.join(", "))
    }

    /// Retries the readiness checks until they pass or `timeout` has passed.
    async fn wait_ready(&self, pid: u32, timeout: Duration) -> Result<String, String> {
        let started = Instant::now();
        loop {
            if self.life().pid != Some(pid) {
                let exit = self.life().exit.clone().unwrap_or_default();
                return Err(format!("exited while starting: {exit}"));
            }
            let left = timeout.saturating_sub(started.elapsed());
            match self
                .ready(left.max(Duration::from_millis(READY_POLL_MS)))
                .await
            {
                Ok(note) => {
                    let waited = started.elapsed().as_millis();
                    return Ok(format!("pid {pid} running, {note} after {waited} ms"));
                }
                Err(error) if started.elapsed() >= timeout => {
                    return Err(format!("pid {pid} started but does not answer: {error}"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(READY_POLL_MS)).await,
            }
        }
    }

    /// Kills the process Grace started and waits (bounded) until it is gone.
    async fn kill(&self) {
        self.stop();
        let started = Instant::now();
        while self.life().pid.is_some() && started.elapsed() < Duration::from_millis(STOP_WAIT_MS) {
            tokio::time::sleep(Duration::from_millis(READY_POLL_MS)).await;
        }
    }
}

fn describe_exit(pid: u32, status: std::process::ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("pid {pid} exited with status {code}"),
        (None, Some(signal)) => format!("pid {pid} was killed by {}", signal_name(signal)),
        (None, None) => format!("pid {pid} ended"),
    }
}

fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    format!("signal {signal} ({name})")
}

pub struct ProcessProbe {
    watched: Arc<Watched>,
}

impl ProcessProbe {
    pub fn new(watched: Arc<Watched>) -> Self {
        Self { watched }
    }

    fn exited(&self) -> ProbeFailure {
        let exit = self.watched.life().exit.clone();
        ProbeFailure {
            event_type: types::PROCESS_EXITED,
            severity: Severity::High,
            error: exit.unwrap_or_else(|| "not running".to_owned()),
        }
    }

    async fn check(&mut self, timeout: Duration) -> Result<String, ProbeFailure> {
        let watched = self.watched.clone();
        let pid = match &watched.spec.source {
            ProcessSource::Pidfile(pidfile) => {
                watched
                    .watch_pidfile(pidfile)
                    .map_err(|error| ProbeFailure {
                        event_type: types::PROCESS_EXITED,
                        severity: Severity::High,
                        error,
                    })?
            }
            ProcessSource::Argv(_) => {
                let (pid, never_started) = {
                    let life = watched.life();
                    (life.pid, life.starts == 0)
                };
                match pid {
                    Some(pid) => pid,
                    // The first probe starts it and gives it `timeout` to answer.
                    None if never_started => {
                        let pid = watched.start(true).map_err(|error| ProbeFailure {
                            event_type: types::PROCESS_EXITED,
                            severity: Severity::High,
                            error,
                        })?;
                        let Some(pid) = pid else {
                            return Err(self.exited());
                        };
                        return watched.wait_ready(pid, timeout).await.map_err(|error| {
                            ProbeFailure {
                                event_type: types::PROCESS_NOT_ANSWERING,
                                severity: Severity::High,
                                error,
                            }
                        });
                    }
                    None => return Err(self.exited()),
                }
            }
        };
        match watched.ready(timeout).await {
            Ok(note) if note.is_empty() => Ok(format!("pid {pid} running")),
            Ok(note) => Ok(format!("pid {pid} running, {note}")),
            Err(error) => Err(ProbeFailure {
                event_type: types::PROCESS_NOT_ANSWERING,
                severity: Severity::High,
                error: format!("pid {pid} running but {error}"),
            }),
        }
    }
}

impl Probe for ProcessProbe {
    fn probe(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.check(timeout))
    }

    fn verify(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.check(timeout))
    }

    fn recovery_event(&self) -> &'static str {
        types::PROCESS_RESTORED
    }

    fn details(&self) -> serde_json::Value {
        let life = self.watched.life();
        json!({
            "pid": life.pid,
            "starts": life.starts,
            "last_exit": life.exit,
            "up_seconds": life.started_at.map(|at| at.elapsed().as_secs()),
        })
    }

    fn wake(&self) -> Option<watch::Receiver<u64>> {
        Some(self.watched.wake.subscribe())
    }

    fn restart(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let watched = self.watched.clone();
            if let ProcessSource::Pidfile(_) = watched.spec.source {
                return Err(
                    "this process is started by someone else (pidfile): restart it with a \
                     `command` step"
                        .to_owned(),
                );
            }
            let _one_at_a_time = watched.restarting.lock().await;
            let mut notes = Vec::new();
            let running = watched.life().pid;
            if let Some(pid) = running {
                // Another run may have restarted it while this one waited for the lock.
                if let Ok(note) = watched.ready(timeout).await {
                    return Ok(format!("pid {pid} already running and answering {note}"));
                }
                notes.push(format!("stopped pid {pid}, which did not answer"));
                watched.kill().await;
            }
            let pid = watched
                .start(false)?
                .ok_or_else(|| "the process exited again at once".to_owned())?;
            let ready = watched.wait_ready(pid, timeout).await?;
            notes.push(format!("started again: {ready}"));
            Ok(notes.join("; "))
        })
    }
}

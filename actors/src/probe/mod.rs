//! Probes: how a monitor asks a dependency whether it is healthy, and how a playbook's `check`,
//! `reconnect` and `verify` steps ask it again.
//!
//! One implementation per monitor kind. A [`Probes`] turns a [`MonitorSpec`] into a probe,
//! so monitors and sub-agents build their own connections and share nothing.

mod alert;
mod command;
mod heartbeat;
mod http;
mod log;
mod login;
mod mysql;
mod postgres;
mod process;
mod redis;
mod tcp;

pub use alert::AlertProbe;
pub use process::Processes;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::event::EventDraft;
use crate::model::Severity;
use crate::spec::{MonitorKind, MonitorSpec};

/// A failed probe, described the way the event it raises will describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeFailure {
    /// The problem event type (`db.connection_lost`).
    pub event_type: &'static str,
    pub severity: Severity,
    /// What went wrong, for people and for the step log.
    pub error: String,
}

/// A live check of one dependency. Implementations keep their connection between calls when
/// that is cheaper, and drop it on any error.
pub trait Probe: Send + Sync {
    /// Is the dependency healthy right now? `Ok` carries a short note (e.g. server version).
    fn probe(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>>;

    /// A stronger check after remediation: a real round trip over a fresh connection.
    fn verify(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>>;

    /// The recovery event type this probe's component publishes (`db.connection_restored`).
    fn recovery_event(&self) -> &'static str;

    /// What the last probe learned beyond up/down (a check plugin's perfdata), kept with the
    /// monitor's status and put on its problem events.
    fn details(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// How long the monitor waits before the next probe: its interval, unless the dependency
    /// asked for more (an HTTP 429's Retry-After) or the probe has more to do at once.
    fn next_delay(&self, interval: Duration) -> Duration {
        interval
    }

    /// Events the last probe found besides up or down (log lines that matched a rule); the
    /// monitor publishes them as they are. Taking them empties the list.
    fn take_events(&mut self) -> Vec<EventDraft> {
        Vec::new()
    }

    /// Where the probe stands in what it follows (a log file's identity and offset, the counts
    /// its rate limits hold), committed with the events it produced so a restart resumes there
    /// instead of skipping or repeating; none for probes that follow nothing.
    fn position(&self) -> Option<serde_json::Value> {
        None
    }

    /// Resumes from a position a previous probe committed; one that no longer fits (another
    /// file at the path) is ignored.
    fn resume(&mut self, _position: serde_json::Value) {}

    /// Changes when the dependency changed between probes (a watched process exited): the
    /// monitor then probes at once instead of at its next interval.
    fn wake(&self) -> Option<watch::Receiver<u64>> {
        None
    }

    /// Starts the dependency again and waits until it answers, when Grace runs it itself.
    fn restart(&mut self, _timeout: Duration) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async {
            Err("Grace does not run this target itself; restart it with a `command` step".into())
        })
    }
}

type BuildProbe = dyn Fn(&MonitorSpec) -> Box<dyn Probe> + Send + Sync;

/// A probe for a spec that cannot work; it fails every time, saying why, with the events of
/// its monitor's kind.
struct Misconfigured {
    error: String,
    /// The kind's problem and recovery event types.
    problem: &'static str,
    recovery: &'static str,
}

impl Misconfigured {
    fn new(kind: &MonitorKind, error: String) -> Self {
        use crate::event::types;
        let (problem, recovery) = match kind {
            MonitorKind::Redis { .. } => (types::REDIS_UNAVAILABLE, types::REDIS_RESTORED),
            _ => (types::DB_CONNECTION_LOST, types::DB_CONNECTION_RESTORED),
        };
        Self {
            error,
            problem,
            recovery,
        }
    }
}

impl Probe for Misconfigured {
    fn probe(&mut self, _timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        let failure = ProbeFailure {
            event_type: self.problem,
            severity: Severity::High,
            error: self.error.clone(),
        };
        Box::pin(async move { Err(failure) })
    }

    fn verify(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        self.probe(timeout)
    }

    fn recovery_event(&self) -> &'static str {
        self.recovery
    }
}

/// When each heartbeat monitor last heard from its app (`POST /heartbeats/{id}`).
#[derive(Clone, Default)]
pub struct Heartbeats(Arc<RwLock<HashMap<String, Instant>>>);

impl Heartbeats {
    pub fn beat(&self, monitor_id: &str) {
        self.0
            .write()
            .expect("heartbeats poisoned")
            .insert(monitor_id.to_owned(), Instant::now());
    }

    pub fn last(&self, monitor_id: &str) -> Option<Instant> {
        self.0
            .read()
            .expect("heartbeats poisoned")
            .get(monitor_id)
            .copied()
    }
}

/// The probes of the configured monitors: builds one from a spec, and holds what must outlive
/// any one probe — the processes Grace started for `process` monitors, so a probe rebuilt by a
/// restart or a sub-agent finds them. Cloneable and shared by every monitor and sub-agent.
#[derive(Clone)]
pub struct Probes {
    build: Arc<BuildProbe>,
    heartbeats: Heartbeats,
    processes: process::Processes,
}

impl Default for Probes {
    fn default() -> Self {
        let heartbeats = Heartbeats::default();
        let beats = heartbeats.clone();
        let processes = process::Processes::default();
        let procs = processes.clone();
        let mut factory = Self::new(move |spec: &MonitorSpec| -> Box<dyn Probe> {
            match &spec.kind {
                MonitorKind::Postgres { .. }
                | MonitorKind::Redis { .. }
                | MonitorKind::Mysql { .. } => database_probe(&spec.kind),
                MonitorKind::Tcp {
                    address,
                    send,
                    expect,
                } => Box::new(tcp::TcpProbe::new(
                    address.clone(),
                    send.clone(),
                    expect.clone(),
                )),
                MonitorKind::Http(check) => Box::new(http::HttpProbe::new(check.clone())),
                MonitorKind::Command { argv, env } => {
                    Box::new(command::CommandProbe::new(argv.clone(), env.clone()))
                }
                MonitorKind::Heartbeat { grace_ms } => Box::new(heartbeat::HeartbeatProbe::new(
                    spec.id.clone(),
                    Duration::from_millis(*grace_ms),
                    beats.clone(),
                )),
                MonitorKind::Log(log) => Box::new(log::LogProbe::new(spec.id.clone(), log)),
                MonitorKind::Process(process) => {
                    Box::new(process::ProcessProbe::new(procs.watch(&spec.id, process)))
                }
            }
        });
        factory.heartbeats = heartbeats;
        factory.processes = processes;
        factory
    }
}

/// The probe of a database monitor (`postgres`, `redis`, `mysql`).
fn database_probe(kind: &MonitorKind) -> Box<dyn Probe> {
    let target = match kind {
        MonitorKind::Postgres {
            url,
            passfile,
            password,
        } => {
            let probe = postgres::PostgresProbe::new(url, passfile.clone(), password.clone());
            return Box::new(probe);
        }
        MonitorKind::Redis {
            url,
            tls_ca_path,
            password,
        } => crate::target::RedisTarget::parse(url).map(|target| -> Box<dyn Probe> {
            Box::new(redis::RedisProbe::new(
                target,
                tls_ca_path.clone(),
                password.clone(),
            ))
        }),
        MonitorKind::Mysql { url, password } => {
            crate::target::MysqlTarget::parse(url).map(|target| -> Box<dyn Probe> {
                Box::new(mysql::MysqlProbe::new(target, password.clone()))
            })
        }
        _ => Err(format!("{} is not a database monitor", kind.name())),
    };
    // Config checking refuses bad URLs; this is only reached by a spec built in code, and then
    // every probe says why.
    target.unwrap_or_else(|error| Box::new(Misconfigured::new(kind, error)))
}

impl Probes {
    /// A factory with a custom builder. The kernel uses [`Probes::default`]; embedders and
    /// crash tests wrap it to add probes of their own.
    pub fn new(build: impl Fn(&MonitorSpec) -> Box<dyn Probe> + Send + Sync + 'static) -> Self {
        Self {
            build: Arc::new(build),
            heartbeats: Heartbeats::default(),
            processes: process::Processes::default(),
        }
    }

    /// The beats the factory's heartbeat probes read.
    pub fn heartbeats(&self) -> &Heartbeats {
        &self.heartbeats
    }

    /// The processes Grace watches; stopping one ends it when Grace started it.
    pub fn processes(&self) -> &process::Processes {
        &self.processes
    }

    pub fn build(&self, spec: &MonitorSpec) -> Box<dyn Probe> {
        (self.build)(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::types;

    #[test]
    fn a_misconfigured_probe_speaks_its_monitors_kind() {
        let mysql = MonitorKind::Mysql {
            url: "mysql://nobody".into(),
            password: Default::default(),
        };
        let probe = Misconfigured::new(&mysql, "names no user or no host".into());
        assert_eq!(
            (probe.problem, probe.recovery_event()),
            (types::DB_CONNECTION_LOST, types::DB_CONNECTION_RESTORED)
        );
        let redis = MonitorKind::Redis {
            url: "http://cache".into(),
            tls_ca_path: None,
            password: Default::default(),
        };
        let probe = Misconfigured::new(&redis, "must start with redis://".into());
        assert_eq!(
            (probe.problem, probe.recovery_event()),
            (types::REDIS_UNAVAILABLE, types::REDIS_RESTORED)
        );
    }
}

//! Grace's own numbers for Prometheus (`GET /metrics`): the `prometheus-client` registry and
//! every metric in it.
//!
//! Counters and histograms are updated where things happen (the store actor times its
//! commits, the playbook engine counts runs); levels that already live somewhere (the
//! incidents' lag, queue lengths, WebSocket clients) are read when scraped. Every label takes
//! a bounded set of values: playbook ids from config, fixed names, outcomes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    pub playbook: String,
    /// `succeeded`, `failed` or `interrupted`, as the run's status.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlaybookLabel {
    pub playbook: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MonitorLabel {
    /// A monitor's id, from config: bounded.
    pub monitor: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FamilyLabel {
    /// A family of the catalog (`db`, `api.rate_limit_exceeded`…), or `other`: bounded,
    /// whatever types are pushed.
    pub family: &'static str,
}

impl FamilyLabel {
    /// The catalog family `event_type` belongs to, most specific first; `other` for a type
    /// no family covers.
    pub fn of(event_type: &str) -> Self {
        let family = crate::catalog::FAMILIES
            .iter()
            .find(|family| event_type.starts_with(family.prefix))
            .map_or("other", |family| family.prefix.trim_end_matches('.'));
        Self { family }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActorLabel {
    /// The actor's kind (`monitor`, `supervisor`, `incidents`…), not its name: bounded.
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    pub queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: &'static str,
}

/// Log lines this process could not write to stderr (its disk full, a closed pipe) and
/// dropped. Process-wide, as stderr is: every kernel's registry reports this one counter.
pub static LOG_LINES_DROPPED: std::sync::LazyLock<Counter> =
    std::sync::LazyLock::new(Counter::default);

/// A node's part in a cluster. Process-wide: the node outlives each tree it runs (a tree per
/// term of leading, and one while it stands by), and every tree's registry reports these.
#[derive(Default)]
pub struct ClusterCounters {
    /// Leases renewed by this node: the engines', and each spread monitor's.
    pub lease_renewals: Counter,
    /// Leases taken by this node (at start, from a node that stopped renewing or handed them
    /// back): the engines', and each spread monitor's.
    pub lease_takeovers: Counter,
    /// Times this node stopped leading (the lease taken, not renewed in time, or handed back).
    pub steps_down: Counter,
    /// Writes the fence refused: this node wrote under an epoch that was no longer the lease's.
    pub fenced_writes: Counter,
    /// Requests a standby sent on to the leader.
    pub forwarded_requests: Counter,
    /// Rounds run (membership, the lease read, its write).
    pub rounds: Counter,
    /// Requests made to the database for the cluster: a round's, and following the log.
    pub store_requests: Counter,
}

/// This process's [`ClusterCounters`].
pub static CLUSTER: std::sync::LazyLock<ClusterCounters> =
    std::sync::LazyLock::new(ClusterCounters::default);

/// Every metric Grace keeps, registered once.
pub struct Metrics {
    registry: Registry,
    pub events_committed: Counter,
    pub events_pushed: Counter,
    pub store_commit_seconds: Histogram,
    pub store_commit_failures: Counter,
    pub incidents_lag_events: Gauge,
    pub incidents: Family<StatusLabel, Gauge>,
    pub runs: Family<RunLabels, Counter>,
    pub run_seconds: Family<PlaybookLabel, Histogram, fn() -> Histogram>,
    pub deliveries: Family<StatusLabel, Counter>,
    pub queue_depth: Family<QueueLabel, Gauge>,
    pub ws_clients: Gauge,
    pub actor_restarts: Family<ActorLabel, Counter>,
    /// Per monitor this tree runs: 1 while its component is up (after damping), 0 while down.
    pub monitor_up: Family<MonitorLabel, Gauge>,
    pub monitor_probe_seconds: Family<MonitorLabel, Histogram, fn() -> Histogram>,
    pub monitor_probe_failures: Family<MonitorLabel, Counter>,
    /// Incidents opened and resolved since start, by family (on the node running the engines).
    pub incidents_opened: Family<FamilyLabel, Counter>,
    pub incidents_resolved: Family<FamilyLabel, Counter>,
}

fn probe_seconds() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn run_seconds() -> Histogram {
    // 10 ms to about 20 minutes.
    Histogram::new(exponential_buckets(0.01, 2.0, 18))
}

impl Metrics {
    /// The metrics of one tree; `cluster` adds a cluster node's counters.
    pub fn new(cluster: bool) -> Self {
        let metrics = Self {
            registry: Registry::default(),
            events_committed: Counter::default(),
            events_pushed: Counter::default(),
            // 0.5 ms to about 4 s.
            store_commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            store_commit_failures: Counter::default(),
            incidents_lag_events: Gauge::default(),
            incidents: Family::default(),
            runs: Family::default(),
            run_seconds: Family::new_with_constructor(run_seconds as fn() -> Histogram),
            deliveries: Family::default(),
            queue_depth: Family::default(),
            ws_clients: Gauge::default(),
            actor_restarts: Family::default(),
            monitor_up: Family::default(),
            monitor_probe_seconds: Family::new_with_constructor(probe_seconds as fn() -> Histogram),
            monitor_probe_failures: Family::default(),
            incidents_opened: Family::default(),
            incidents_resolved: Family::default(),
        };
        let mut metrics = metrics.registered();
        let process = Box::new(crate::process_metrics::ProcessCollector);
        metrics.registry.register_collector(process);
        metrics.register_monitors();
        if cluster {
            metrics.register_cluster();
        }
        metrics
    }

    fn register_monitors(&mut self) {
        let r = self.registry.sub_registry_with_prefix("grace");
        r.register(
            "monitor_up",
            "1 while a monitor's component is up, 0 while down, per monitor this node runs",
            self.monitor_up.clone(),
        );
        r.register(
            "monitor_probe_seconds",
            "How long each monitor's probes took",
            self.monitor_probe_seconds.clone(),
        );
        r.register(
            "monitor_probe_failures",
            "Failed probes, per monitor",
            self.monitor_probe_failures.clone(),
        );
        r.register(
            "incidents_opened",
            "Incidents opened since start, by family",
            self.incidents_opened.clone(),
        );
        r.register(
            "incidents_resolved",
            "Incidents resolved since start, by family",
            self.incidents_resolved.clone(),
        );
    }

    fn register_cluster(&mut self) {
        let r = self.registry.sub_registry_with_prefix("grace");
        let counters = [
            (
                "cluster_lease_renewals",
                "Leases renewed by this node: the engines' and each spread monitor's",
                &CLUSTER.lease_renewals,
            ),
            (
                "cluster_lease_takeovers",
                "Leases taken by this node: the engines' and each spread monitor's",
                &CLUSTER.lease_takeovers,
            ),
            (
                "cluster_steps_down",
                "Times this node stopped leading",
                &CLUSTER.steps_down,
            ),
            (
                "cluster_fenced_writes",
                "Writes refused by the fence: made under an epoch no longer the lease's",
                &CLUSTER.fenced_writes,
            ),
            (
                "cluster_forwarded_requests",
                "Requests this node sent on to the leader",
                &CLUSTER.forwarded_requests,
            ),
            ("cluster_rounds", "Rounds this node ran", &CLUSTER.rounds),
            (
                "cluster_store_requests",
                "Requests made to the database for the cluster: rounds, and following the log",
                &CLUSTER.store_requests,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
    }

    fn registered(mut self) -> Self {
        let r = self.registry.sub_registry_with_prefix("grace");
        r.register(
            "events_committed",
            "Events committed to the log",
            self.events_committed.clone(),
        );
        r.register(
            "events_pushed",
            "Events taken in by POST /events, heartbeats and Alertmanager",
            self.events_pushed.clone(),
        );
        r.register(
            "store_commit_seconds",
            "Time to commit one transaction to the store",
            self.store_commit_seconds.clone(),
        );
        r.register(
            "store_commit_failures",
            "Commits the store refused",
            self.store_commit_failures.clone(),
        );
        r.register(
            "incidents_lag_events",
            "Committed events the incident manager has not applied yet",
            self.incidents_lag_events.clone(),
        );
        r.register(
            "incidents",
            "Active incidents by status",
            self.incidents.clone(),
        );
        r.register(
            "playbook_runs",
            "Playbook runs ended, by outcome",
            self.runs.clone(),
        );
        r.register(
            "playbook_run_seconds",
            "How long playbook runs took",
            self.run_seconds.clone(),
        );
        r.register(
            "deliveries",
            "Webhook deliveries ended, by status",
            self.deliveries.clone(),
        );
        r.register(
            "queue_depth",
            "Items waiting in each bounded queue",
            self.queue_depth.clone(),
        );
        r.register(
            "ws_clients",
            "Connected /ws clients",
            self.ws_clients.clone(),
        );
        r.register(
            "actor_restarts",
            "Actors restarted by their supervisor, by kind",
            self.actor_restarts.clone(),
        );
        r.register(
            "log_lines_dropped",
            "Log lines dropped because stderr could not be written",
            LOG_LINES_DROPPED.clone(),
        );
        self
    }

    /// Counts a probe of `monitor` that took `seconds`: failed or not, and whether its
    /// component is up now.
    pub fn monitor_probed(&self, monitor: &str, seconds: f64, failed: bool, up: bool) {
        let label = MonitorLabel {
            monitor: monitor.to_owned(),
        };
        self.monitor_probe_seconds
            .get_or_create(&label)
            .observe(seconds);
        if failed {
            self.monitor_probe_failures.get_or_create(&label).inc();
        }
        self.monitor_up.get_or_create(&label).set(i64::from(up));
    }

    /// A monitor stopped here (removed, or now run by another node): its series go, so a
    /// scrape does not report a view nobody keeps.
    pub fn monitor_gone(&self, monitor: &str) {
        let label = MonitorLabel {
            monitor: monitor.to_owned(),
        };
        self.monitor_up.remove(&label);
        self.monitor_probe_seconds.remove(&label);
        self.monitor_probe_failures.remove(&label);
    }

    /// Counts an incident's opening or resolution, if `event` announces one.
    pub fn incident_announced(&self, event: &crate::event::Event) {
        let counters = match event.event_type.as_str() {
            crate::event::types::INCIDENT_OPENED => &self.incidents_opened,
            crate::event::types::INCIDENT_RESOLVED => &self.incidents_resolved,
            _ => return,
        };
        let event_type = event.data["incident"]["event_type"].as_str().unwrap_or("");
        counters.get_or_create(&FamilyLabel::of(event_type)).inc();
    }

    /// Sets a queue's depth.
    pub fn queue(&self, queue: &'static str, depth: usize) {
        let depth = i64::try_from(depth).unwrap_or(i64::MAX);
        self.queue_depth
            .get_or_create(&QueueLabel { queue })
            .set(depth);
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::FamilyLabel;

    #[test]
    fn an_incidents_family_is_the_catalogs_most_specific_or_other() {
        let family = |event_type| FamilyLabel::of(event_type).family;
        assert_eq!(family("db.connection_lost"), "db");
        assert_eq!(family("db.auth_failed"), "db.auth_failed");
        assert_eq!(family("tcp.unreachable"), "tcp");
        assert_eq!(family("payment.declined"), "other");
        assert_eq!(family(""), "other");
    }
}

//! `grace serve` as one node of a cluster: whenever `[store] url` names a SurrealDB server,
//! every node runs the same config against it, and one node at a time — the one holding the
//! engines' lease (`actors::cluster::leader`) — runs the supervision tree. Its store is fenced
//! by the lease's epoch, so once another node has taken the lease nothing it writes lands. The
//! others stand by: they renew their membership row, answer `/health` as standby and point
//! every other request to the leader (`server/standby.rs`), and take the lease when it runs
//! out, within `lease_ms` of the leader's last renewal; the tree they start resumes the runs
//! the old leader left under the durable-run rules.
//!
//! Each round (a third of `lease_ms`) reads the lease and the membership rows with the
//! database's time, lets the pure rule decide, and makes the one write it says.
//!
//! Every node serves: a standby runs a serving tree on the shared store (`Duties::Serve`):
//! intake into the shared log, `/ws` from it, stored reads, its spread monitors (`spread.rs`);
//! what only the engines answer it forwards to the leader. A leader that cannot renew steps
//! down once its own clock says the lease ran out (by then it may no longer start a command,
//! `LeaseClock`), and at once when it finds the lease taken. A clean stop hands leases back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actors::cluster::{leader, round_every_ms, Epoch, LeaderStep, NodeId};
use actors::lease_clock::LeaseClock;
use actors::probe::Probes;
use actors::store::{ClusterRead, Fence, Store, StoreError};
use actors::Kernel;
use tokio::task::JoinHandle;

use crate::config::{Config, NodeSpec};
use crate::lifecycle::{
    listen, reload_on_hangup, reload_on_signal, say, stop_tree, store_unusable, Listening,
};
use crate::reload::{ConfigSource, Started};
use crate::server::standby::{self, Standby};
use crate::server::{self, App, ConnectionLimits, Switch};

mod leave;
mod spread;
use spread::MonitorLeases;

/// Serves as the node `node` until SIGTERM or SIGINT: standing by, or leading while it holds
/// the engines' lease.
pub async fn serve(config: Config, source: ConfigSource, node: NodeSpec) -> anyhow::Result<()> {
    let location = config.store.location();
    let opened = async {
        let store = Store::open(&location).await?;
        store.prepare_cluster().await?;
        Ok(store.shared())
    };
    let store = opened
        .await
        .map_err(|error| anyhow::anyhow!(store_unusable(&location, &error)))?;
    let Listening {
        listener,
        tls,
        scheme,
        addr,
    } = listen(&config.server).await?;
    let url = node
        .advertise_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{addr}"));
    let standby = Standby::new(node.node_id.to_string());
    let switch = Switch::new(standby::unserved(standby.clone()));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let limits = ConnectionLimits::of(&config.server);
    let server = tokio::spawn(server::serve_switched(
        listener,
        limits,
        switch.clone(),
        tls,
        async {
            let _ = stop_rx.await;
        },
    ));
    tracing::info!(node_id = %node.node_id, lease_ms = node.lease_ms, %url, "a node of a cluster: standing by until it holds the engines' lease");
    let mut this = Node::new(config, source, node, url, store, standby, switch)?;
    this.serve().await?;
    // One round before saying so: a lone node (or the first) already leads when it does.
    this.round().await;
    say(&format!("grace listening on {scheme}://{addr}"));
    this.listening = true;
    if let Some(term) = &this.term {
        say(&format!("grace node {} leads ({})", this.me, term.epoch));
    }
    let outcome = this.run().await;
    this.leave().await;
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    outcome
}

/// How long after the leader's lease runs out (by the database's clock, as read) a standby
/// looks again: the time its read took, and the clocks' step.
const EXPIRY_MARGIN_MS: u64 = 50;

/// Longest a step-down may take to stop the tree (what it queued the fence refuses).
const STEP_DOWN_MS: u64 = 2_000;

/// One node's state across rounds.
struct Node {
    me: NodeId,
    lease_ms: i64,
    url: String,
    store: Store,
    /// What each term's tree is started from, and the server's settings.
    config: Config,
    source: ConfigSource,
    auth: Arc<server::Auth>,
    standby: Arc<Standby>,
    /// What this node forwards to the leader with.
    forward: reqwest::Client,
    switch: Switch,
    /// The serving tree, while standing by.
    serving: Option<Arc<App>>,
    /// While this node leads.
    term: Option<Term>,
    /// The address was said (scripts read it first; a lead is said after it).
    listening: bool,
    /// A clean stop began: a step-down does not start serving again.
    stopping: bool,
    /// When to look again before a round is up (a lease this node may take runs out).
    lease_left: Option<Duration>,
    /// This node's share of the spread monitors (`spread.rs`).
    monitors: MonitorLeases,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Serves, and forwards to the leader what only the engines answer.
    Standby,
    /// Runs the engines.
    Leader,
}

/// A time of leading: the lease's epoch, the tree, and the SIGHUP task reloading it.
struct Term {
    epoch: Epoch,
    app: Arc<App>,
    clock: LeaseClock,
    hangups: JoinHandle<()>,
}

impl Node {
    fn new(
        config: Config,
        source: ConfigSource,
        node: NodeSpec,
        url: String,
        store: Store,
        standby: Arc<Standby>,
        switch: Switch,
    ) -> anyhow::Result<Self> {
        let required = config.auth.tokens_required(&config.server.bind);
        let book = crate::tokens::TokenBook::new(config.auth.tokens_path.clone().into());
        let forward = server::forward::client(&config.server)?;
        let monitors = MonitorLeases::new(node.node_id.clone(), node.lease_ms)?;
        Ok(Self {
            monitors,
            me: node.node_id,
            lease_ms: node.lease_ms,
            url,
            store,
            auth: Arc::new(server::Auth { required, book }),
            config,
            source,
            standby,
            forward,
            switch,
            serving: None,
            term: None,
            listening: false,
            stopping: false,
            lease_left: None,
        })
    }

    /// Starts the serving tree and serves with it: standing by.
    async fn serve(&mut self) -> anyhow::Result<()> {
        let tree = self.config.tree.clone();
        let kernel = match Kernel::start_serving(tree, self.store.clone(), self.me.clone()).await {
            Ok(kernel) => kernel,
            Err(actors::KernelError::Store(error)) => {
                let location = self.config.store.location();
                anyhow::bail!(store_unusable(&location, &error))
            }
            Err(error) => anyhow::bail!("cannot start the serving tree: {error}"),
        };
        let app = self.app(kernel, Role::Standby);
        self.switch.set(server::routes(app.clone()));
        self.serving = Some(app);
        self.hold().await;
        Ok(())
    }

    /// The handlers' shared state over `kernel`, on a standby node or on the leader.
    fn app(&self, kernel: Kernel, role: Role) -> Arc<App> {
        Arc::new(App {
            kernel,
            auth: self.auth.clone(),
            started: self.started(),
            ws_clients: Default::default(),
            node_id: Some(self.me.to_string()),
            cluster: Some(self.standby.clone()),
            forward: (role == Role::Standby).then(|| self.forward.clone()),
        })
    }

    /// Stops the serving tree (this node leads, or is stopping).
    async fn stop_serving(&mut self) {
        if let Some(app) = self.serving.take() {
            stop_tree(&app, Duration::from_millis(STEP_DOWN_MS)).await;
        }
    }

    /// Rounds until a stop signal (Ok) or the leader's tree giving up (Err).
    async fn run(&mut self) -> anyhow::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        // Made once, so a signal that comes during a round is not lost.
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        // A standby reloads its serving tree's config (what its intake checks against); the
        // leader's tree has its own listener (`reload_on_hangup`).
        let mut hangup = signal(SignalKind::hangup())?;
        let every = Duration::from_millis(round_every_ms(self.lease_ms) as u64);
        // Rounds are timed from the start of the last, so a long one (many monitors taken at
        // once) does not put the next renewal off.
        let mut round_started = tokio::time::Instant::now();
        loop {
            // A standby looks again when the leader's lease runs out, if that is sooner than
            // a round: a dead leader is replaced within the lease, not the lease and a round.
            let wait = self.lease_left.take().map_or(every, |left| left.min(every));
            let next = round_started + wait;
            let leading = self.term.as_ref().map(|term| term.app.clone());
            let serving = self.serving.clone();
            let gave_up = async move {
                match leading.or(serving) {
                    Some(app) => app.kernel.exited().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {
                    round_started = tokio::time::Instant::now();
                    self.round().await
                }
                _ = interrupt.recv() => return Ok(()),
                _ = terminate.recv() => return Ok(()),
                _ = hangup.recv() => self.reload_serving().await,
                _ = gave_up => self.tree_gave_up()?,
            }
        }
    }

    /// SIGHUP while standing by: the serving tree reads the config again.
    async fn reload_serving(&self) {
        if let Some(app) = &self.serving {
            reload_on_signal(app).await;
        }
    }

    /// The tree gave up (restart intensity exceeded at the top): a leader's ends Grace, as on
    /// one node; a standby's serving tree is started again at the next round.
    fn tree_gave_up(&mut self) -> anyhow::Result<()> {
        if self.term.is_some() {
            anyhow::bail!("the supervision tree gave up: restart intensity exceeded at the top");
        }
        tracing::error!("the serving tree gave up; serving again at the next round");
        self.serving = None;
        self.switch.set(standby::unserved(self.standby.clone()));
        Ok(())
    }

    /// One round: membership, the read, the rule's step, its write.
    async fn round(&mut self) {
        actors::CLUSTER.rounds.inc();
        let sent = Instant::now();
        let beat = self
            .store
            .heartbeat(&self.me, &self.url, self.lease_ms, false);
        match self.bounded(beat).await {
            // The database answers again: a standby that could not serve tries once more.
            Ok(()) if self.term.is_none() && self.serving.is_none() => self.serve_again().await,
            Ok(()) => {}
            Err(error) => tracing::warn!(%error, "cannot write this node's membership row"),
        }
        let read = match self.bounded(self.store.cluster_read()).await {
            Ok(read) => read,
            Err(error) => {
                tracing::warn!(%error, "cannot read the engines' lease");
                return self.step_down_if_run_out().await;
            }
        };
        self.note_leader(&read);
        self.lead_round(&read, sent).await;
        self.spread_round(&read).await;
        self.learn_views().await;
        if let Some(wake) = self.monitor_wake(&read) {
            self.lease_left = Some(self.lease_left.map_or(wake, |left| left.min(wake)));
        }
    }

    /// The engines' lease's step of a round.
    async fn lead_round(&mut self, read: &ClusterRead, sent: Instant) {
        let held = self.term.as_ref().map(|term| term.epoch);
        match leader::decide(read.lease.as_ref(), &self.me, held, read.now_ms) {
            LeaderStep::Acquire { expected, epoch } => self.acquire(expected, epoch, sent).await,
            LeaderStep::Renew { epoch } => self.renew(epoch, sent).await,
            LeaderStep::Follow { .. } => {
                let left_ms = read
                    .lease
                    .as_ref()
                    .map_or(0, |lease| lease.left_ms(read.now_ms));
                let left_ms = u64::try_from(left_ms).unwrap_or(0) + EXPIRY_MARGIN_MS;
                self.lease_left = Some(Duration::from_millis(left_ms));
            }
            LeaderStep::Lost { to } => {
                let to = to.map_or("nobody".to_owned(), |to| to.to_string());
                self.step_down(&format!("the engines' lease went to {to}"))
                    .await;
            }
        }
    }

    async fn acquire(&mut self, expected: Option<Epoch>, epoch: Epoch, sent: Instant) {
        let taken = self
            .store
            .acquire_engines(&self.me, expected, epoch, self.lease_ms);
        match self.bounded(taken).await {
            Ok(true) => {
                actors::CLUSTER.lease_takeovers.inc();
                self.lead(epoch, sent).await
            }
            Ok(false) => tracing::debug!("another node took the engines' lease first"),
            Err(error) => tracing::warn!(%error, "cannot take the engines' lease"),
        }
    }

    async fn renew(&mut self, epoch: Epoch, sent: Instant) {
        let renewed = self.store.renew_engines(&self.me, epoch, self.lease_ms);
        match self.bounded(renewed).await {
            Ok(true) => {
                actors::CLUSTER.lease_renewals.inc();
                if let Some(term) = &self.term {
                    term.clock.renewed(sent, self.lease());
                }
            }
            Ok(false) => self.step_down("the engines' lease was taken").await,
            Err(error) => {
                tracing::warn!(%error, "cannot renew the engines' lease");
                self.step_down_if_run_out().await;
            }
        }
    }

    /// `call`, failed if it takes longer than a round: a database that does not answer (a
    /// partition that drops nothing) must not hold the loop, which steps down when the lease
    /// runs out by this node's own clock.
    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        actors::CLUSTER.store_requests.inc();
        let round = Duration::from_millis(round_every_ms(self.lease_ms) as u64);
        tokio::time::timeout(round, call).await.unwrap_or_else(|_| {
            let late = format!("no answer within a round ({} ms)", round.as_millis());
            Err(StoreError::Unavailable(late))
        })
    }

    fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms as u64)
    }

    /// Starts the tree on the store fenced at `epoch`, and serves it.
    async fn lead(&mut self, epoch: Epoch, sent: Instant) {
        let clock = LeaseClock::held();
        clock.renewed(sent, self.lease());
        let fence = Fence {
            node: self.me.clone(),
            epoch,
        };
        let store = self.store.fenced(fence);
        let tree = self.config.tree.clone();
        let me = self.me.clone();
        let started = Kernel::start_leading(tree, store, Probes::default(), clock.clone(), me);
        let kernel = match started.await {
            Ok(kernel) => kernel,
            Err(error) => {
                tracing::error!(%error, "cannot start the supervision tree; handing the lease back");
                let _ = self.store.release_engines(&self.me, epoch).await;
                return;
            }
        };
        let app = self.app(kernel, Role::Leader);
        self.switch.set(server::routes(app.clone()));
        self.stop_serving().await;
        let hangups = tokio::spawn(reload_on_hangup(app.clone()));
        self.term = Some(Term {
            epoch,
            app,
            clock,
            hangups,
        });
        // The standby's tree has stopped its monitors: the leader's runs them from now.
        self.hold().await;
        if self.listening {
            say(&format!("grace node {} leads ({epoch})", self.me));
        }
        tracing::info!(node_id = %self.me, epoch = epoch.0, "leading: the engines run here");
    }

    fn started(&self) -> Started {
        Started {
            source: self.source.clone(),
            server: self.config.server.clone(),
            store: self.config.store.clone(),
            auth: self.config.auth.clone(),
            cluster: self.config.cluster.clone(),
        }
    }

    /// After a failed renewal: steps down once this node's own clock says the lease ran out.
    async fn step_down_if_run_out(&mut self) {
        let run_out = self
            .term
            .as_ref()
            .is_some_and(|term| term.clock.left() == Some(Duration::ZERO));
        if run_out {
            self.step_down("the engines' lease could not be renewed in time")
                .await;
        }
    }

    /// Stops leading: no command starts from now, the standby routes serve new connections,
    /// and the tree stops (its sub-agents' programs killed, runs left to the next leader).
    async fn step_down(&mut self, why: &str) {
        let quick = Duration::from_millis(STEP_DOWN_MS);
        self.stop_leading(why, quick).await;
    }

    /// Stops leading, the tree given at most `bound` (see [`Node::step_down`]).
    async fn stop_leading(&mut self, why: &str, bound: Duration) {
        let Some(term) = self.term.take() else {
            return;
        };
        term.clock.lost();
        actors::CLUSTER.steps_down.inc();
        self.switch.set(standby::unserved(self.standby.clone()));
        term.hangups.abort();
        stop_tree(&term.app, bound).await;
        say(&format!("grace node {} stands by: {why}", self.me));
        tracing::warn!(node_id = %self.me, epoch = term.epoch.0, "stepped down: {why}");
        // Then serving as a standby (a clean stop serves nothing more). A database that does
        // not answer fails the serving tree's first read within its timeout; a later round
        // tries again.
        if !self.stopping {
            self.serve_again().await;
        }
    }

    /// Serves as a standby, or says why not (answering 503 meanwhile).
    async fn serve_again(&mut self) {
        if let Err(error) = self.serve().await {
            tracing::warn!(%error, "not serving as a standby: answering 503 until a later round");
        }
    }

    /// The leader as last read, for the standby answers.
    fn note_leader(&self, read: &ClusterRead) {
        let leader = read
            .lease
            .as_ref()
            .filter(|lease| !lease.is_free(read.now_ms))
            .and_then(|lease| lease.owner.as_ref())
            .map(|owner| {
                let url = read
                    .nodes
                    .iter()
                    .find(|row| &row.node.node_id == owner)
                    .map_or(String::new(), |row| row.url.clone());
                (owner.to_string(), url)
            });
        *self.standby.leader.lock().expect("standby poisoned") = leader;
    }
}

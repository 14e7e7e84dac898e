//! The protocol between the actors of one kernel: every actor's message enum and the types
//! its messages carry (one file per actor), and the typed roles actors find each other by.
//!
//! Actors know one another only through this module: an actor file imports the messages it
//! sends from here, never from another actor's file. A role pairs a registered name with its
//! message type once ([`Role`]; for names made at run time, a monitor's, a sub-agent's, the
//! one [`Scope`] method that finds it), so a lookup cannot ask the wrong actor for the wrong
//! messages, and [`Scope::tell`] / [`Scope::ask`] turn "not there" and "no answer" into one
//! typed [`Unavailable`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorRef, Message, RpcReplyPort};
use ractor_supervisor::DynamicSupervisorMsg;

use crate::model::AgentId;

pub mod bus;
pub mod feed;
pub mod incidents;
pub mod monitor;
pub mod notifier;
pub mod pager;
pub mod pipelines;
pub mod playbooks;
pub mod retention;
pub mod store;
pub mod sub_agent;

/// A registered role under the kernel: its name and the messages it takes.
pub trait Role {
    /// The registered name, within the kernel's [`Scope`].
    const NAME: &'static str;
    /// What people call it, in an error.
    const WHAT: &'static str;
    type Msg: Message;
}

macro_rules! role {
    ($(#[$doc:meta])* $role:ident = $name:expr, $what:literal, $msg:ty) => {
        $(#[$doc])*
        pub struct $role;
        impl Role for $role {
            const NAME: &'static str = $name;
            const WHAT: &'static str = $what;
            type Msg = $msg;
        }
    };
}

role!(
    /// The event-log writer.
    Store = roles::STORE, "the store", store::StoreMsg
);
role!(
    /// Group commit for what is published or pushed in.
    Bus = roles::BUS, "the event bus", bus::BusMsg
);
role!(
    /// The live-feed hub.
    Feed = roles::FEED, "the live feed", feed::FeedMsg
);
role!(
    /// The incident manager.
    Incidents = roles::INCIDENTS, "the incident manager", incidents::IncidentsMsg
);
role!(
    /// The playbook engine.
    Playbooks = roles::PLAYBOOKS, "the playbook engine", playbooks::PlaybooksMsg
);
role!(
    /// Sends webhook deliveries.
    Notifier = roles::NOTIFIER, "the notifier", notifier::NotifierMsg
);
role!(
    /// Pages people along `[[routes]]`.
    Pager = roles::PAGER, "the pager", pager::PagerMsg
);
role!(
    /// Runs `[[pipelines]]`.
    Pipelines = roles::PIPELINES, "the pipeline runner", pipelines::PipelinesMsg
);

/// A role that could not be reached: not running (restarting), no answer in time, or `busy`:
/// as many requests from outside are in flight to it as `limits.actor_requests_max` allows
/// (the kernel's gates), so the caller should retry in a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what} is unavailable ({why})")]
pub struct Unavailable {
    pub what: &'static str,
    pub why: &'static str,
    pub busy: bool,
}

impl Unavailable {
    /// `what` cannot be reached, for the reason `why`.
    pub fn down(what: &'static str, why: &'static str) -> Self {
        Self {
            what,
            why,
            busy: false,
        }
    }

    /// `what` has as many requests in flight as it may: retry in a moment.
    pub fn busy(what: &'static str) -> Self {
        Self {
            what,
            why: "busy: limits.actor_requests_max requests to it are in flight; retry shortly",
            busy: true,
        }
    }
}

/// Registered role names under the kernel.
pub mod roles {
    pub const KERNEL: &str = "kernel";
    pub const STORE: &str = "store";
    pub const BUS: &str = "bus";
    pub const FEED: &str = "feed";
    pub const INCIDENTS: &str = "incidents";
    pub const PLAYBOOKS: &str = "playbooks";
    pub const MONITORS: &str = "monitors";
    pub const NOTIFIER: &str = "notifier";
    pub const PAGER: &str = "pager";
    pub const PIPELINES: &str = "pipelines";
    pub const RETENTION: &str = "retention";

    /// A monitor's role: `monitor:<id>`.
    pub fn monitor(id: &str) -> String {
        format!("monitor:{id}")
    }

    /// A sub-agent's role: `agent:<agent_id>`.
    pub fn agent(agent_id: &crate::model::AgentId) -> String {
        format!("agent:{agent_id}")
    }
}

/// How long an actor waits on a sibling's reply before treating it as unavailable. Bounded so a
/// stuck actor shows up as an error instead of a hang that spreads up the tree.
pub const RPC_TIMEOUT_MS: u64 = 10_000;

/// A kernel's actor-name prefix.
#[derive(Debug, Clone)]
pub struct Scope {
    prefix: String,
}

impl Scope {
    /// A prefix unique within this process.
    pub fn unique() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            prefix: format!("g{}/", NEXT.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// The registered name of a role.
    pub fn name(&self, role: &str) -> String {
        format!("{}{role}", self.prefix)
    }

    /// The role of a registered name (what people see in the tree).
    pub fn role<'a>(&self, name: &'a str) -> &'a str {
        name.strip_prefix(&self.prefix).unwrap_or(name)
    }

    /// The live monitor `monitor:<id>`, typed here once with the messages a monitor takes.
    pub fn monitor(&self, id: &str) -> Option<ActorRef<monitor::MonitorMsg>> {
        ActorRef::where_is(self.name(&roles::monitor(id)))
    }

    /// The live supervisor of the monitors (a dynamic supervisor: monitors come and go with a
    /// reload).
    pub fn monitors(&self) -> Option<ActorRef<DynamicSupervisorMsg>> {
        ActorRef::where_is(self.name(roles::MONITORS))
    }

    /// The live sub-agent `agent:<agent_id>` of a run.
    pub fn agent(&self, agent_id: &AgentId) -> Option<ActorRef<sub_agent::SubAgentMsg>> {
        ActorRef::where_is(self.name(&roles::agent(agent_id)))
    }

    /// The live actor of role `R`, or why there is none (restarting, or stopped).
    pub fn find<R: Role>(&self) -> Result<ActorRef<R::Msg>, Unavailable> {
        ActorRef::where_is(self.name(R::NAME)).ok_or(Unavailable::down(R::WHAT, "restarting"))
    }

    /// Sends `msg` to role `R` without waiting for it to be handled.
    pub fn tell<R: Role>(&self, msg: R::Msg) -> Result<(), Unavailable> {
        let stopping = |_| Unavailable::down(R::WHAT, "stopping");
        self.find::<R>()?.cast(msg).map_err(stopping)
    }

    /// Sends role `R` the message `build` makes around a reply port and waits for the reply,
    /// at most RPC_TIMEOUT_MS.
    pub async fn ask<R: Role, T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> R::Msg,
    ) -> Result<T, Unavailable> {
        ask_within(&self.find::<R>()?, R::WHAT, build).await
    }

    /// Sends the monitor `monitor:<id>` the message `build` makes around a reply port and waits
    /// for the reply, at most RPC_TIMEOUT_MS.
    pub async fn ask_monitor<T: Send + 'static>(
        &self,
        id: &str,
        build: impl FnOnce(RpcReplyPort<T>) -> monitor::MonitorMsg,
    ) -> Result<T, Unavailable> {
        let what = "the monitor";
        let monitor = self
            .monitor(id)
            .ok_or(Unavailable::down(what, "restarting"))?;
        ask_within(&monitor, what, build).await
    }
}

/// Sends `actor` (what people call `what`) the message `build` makes around a reply port and
/// waits for the reply, at most RPC_TIMEOUT_MS.
async fn ask_within<M: Message, T: Send + 'static>(
    actor: &ActorRef<M>,
    what: &'static str,
    build: impl FnOnce(RpcReplyPort<T>) -> M,
) -> Result<T, Unavailable> {
    let timeout = Some(Duration::from_millis(RPC_TIMEOUT_MS));
    let no_answer = |why| Unavailable::down(what, why);
    match actor.call(build, timeout).await {
        Ok(CallResult::Success(reply)) => Ok(reply),
        Ok(CallResult::Timeout) => Err(no_answer("not answering in time")),
        Ok(CallResult::SenderError) | Err(_) => Err(no_answer("stopped before answering")),
    }
}

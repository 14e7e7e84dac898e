//! The protocol between the actors of one kernel: every actor's message enum and the types
//! its messages carry (one file per actor), and the typed roles actors find each other by.
//!
//! Actors know one another only through this module: an actor file imports the messages it
//! sends from here, never from another actor's file. A role pairs a registered name with its
//! message type once ([`Role`]), so a lookup cannot ask the wrong actor for the wrong
//! messages, and [`Scope::tell`] / [`Scope::ask`] turn "not there" and "no answer" into one
//! typed [`Unavailable`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorRef, Message, RpcReplyPort};

pub mod bus;
pub mod feed;
pub mod incidents;
pub mod monitor;
pub mod notifier;
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

    /// The live actor registered under a name made at run time (`roles::monitor(id)`).
    pub fn lookup<M: Message>(&self, role: &str) -> Option<ActorRef<M>> {
        ActorRef::where_is(self.name(role))
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
        let actor = self.find::<R>()?;
        let timeout = Some(Duration::from_millis(RPC_TIMEOUT_MS));
        let no_answer = |why| Unavailable::down(R::WHAT, why);
        match actor.call(build, timeout).await {
            Ok(CallResult::Success(reply)) => Ok(reply),
            Ok(CallResult::Timeout) => Err(no_answer("not answering in time")),
            Ok(CallResult::SenderError) | Err(_) => Err(no_answer("stopped before answering")),
        }
    }
}

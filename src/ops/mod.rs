//! The operator's commands, like `amtool` and `st2`: list, show, acknowledge, resolve and note
//! incidents, silence, run a playbook, read events, work orders — against a running Grace over
//! its REST API. A readable table by default, `--json` for scripts. One file per command;
//! `remote.rs` finds the server and the token and says what to do when a call fails.

use clap::{Args, Subcommand};

mod events;
mod incidents;
mod remote;
mod silences;
mod table;
mod work_orders;

pub use remote::RemoteArgs;

/// The operator's commands, each a `grace` subcommand of its own.
#[derive(Debug, Subcommand)]
pub enum OpsCommand {
    /// Incidents, newest first, filtered (`--status active --type 'db.*' --since 2h`).
    Incidents(IncidentsArgs),
    /// One incident and its timeline.
    Show {
        id: u64,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Acknowledge an incident: reminders and escalation levels stop.
    Ack {
        id: u64,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Resolve an incident by hand, with a note on its timeline.
    Resolve {
        id: u64,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Leave a note on an incident's timeline.
    Note {
        id: u64,
        text: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Add, list or expire silences.
    Silence {
        #[command(subcommand)]
        command: SilenceCommand,
    },
    /// Run a playbook on an incident by hand.
    Run {
        playbook: String,
        #[arg(long)]
        incident: u64,
        /// Past its trigger, cooldown and breaker (admins only; recorded).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// A page of the event log (`--since 120 --types 'db.*,incident.*'`).
    Events {
        #[arg(long)]
        since: Option<u64>,
        #[arg(long)]
        types: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Work orders: the list, or one to show, assign, comment on, close or reopen.
    WorkOrders {
        #[command(subcommand)]
        command: Option<WorkOrderCommand>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// The operator's commands (`ops/`).
pub async fn operate(command: OpsCommand) -> anyhow::Result<()> {
    match command {
        OpsCommand::Incidents(args) => incidents(args).await,
        OpsCommand::Show { id, remote } => show(id, remote).await,
        OpsCommand::Ack { id, remote } => ack(id, remote).await,
        OpsCommand::Resolve { id, note, remote } => resolve(id, note, remote).await,
        OpsCommand::Note { id, text, remote } => note(id, text, remote).await,
        OpsCommand::Silence { command } => silence(command).await,
        OpsCommand::Run {
            playbook,
            incident,
            force,
            remote,
        } => run(playbook, incident, force, remote).await,
        OpsCommand::Events {
            since,
            types,
            limit,
            remote,
        } => events(since, types, limit, remote).await,
        OpsCommand::WorkOrders { command, remote } => work_orders(command, remote).await,
    }
}

/// `grace silence …`.
#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Silence what the matchers cover: its incidents are recorded, nothing heals or pages.
    Add(silences::AddArgs),
    /// Every silence, newest first.
    List {
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// End a silence now.
    Expire {
        /// The silence's id (`silence-…`).
        id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// `grace work-orders …`; without a subcommand, the list.
#[derive(Debug, Subcommand)]
pub enum WorkOrderCommand {
    /// One work order, with its comments.
    Show {
        id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Give it to someone.
    Assign {
        id: String,
        assignee: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Add a comment.
    Comment {
        id: String,
        text: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Close it with a resolution note.
    Close {
        id: String,
        #[arg(long)]
        note: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Open it again.
    Reopen {
        id: String,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// `grace incidents`'s filters.
#[derive(Debug, Args)]
pub struct IncidentsArgs {
    /// `active`, `open`, `acknowledged`, `mitigating`, `escalated` or `resolved`.
    #[arg(long)]
    pub status: Option<String>,
    /// A component: exact, or a prefix ending in `*`.
    #[arg(long)]
    pub source: Option<String>,
    /// Event types matching this pattern (`db.*`).
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// `high,critical`.
    #[arg(long)]
    pub severity: Option<String>,
    /// Detected within this long (`30m`, `2h`, `7d`) or since this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Text in the title, source or event type.
    #[arg(long)]
    pub search: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

pub use events::events;
pub use incidents::{ack, incidents, note, resolve, run, show};
pub use silences::silence;
pub use work_orders::work_orders;

/// Ends an operator's command: what went wrong is said in one plain line on stderr (no
/// backtrace: it is for a person at a terminal), and the exit code is 1.
pub fn said(result: anyhow::Result<()>) -> anyhow::Result<()> {
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
    Ok(())
}

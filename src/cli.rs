//! The `grace` command line: its arguments, and `watch`, `tree`, `init`, `token` and
//! `check-config`; `serve` lives in `serve.rs`, the operator's commands (`incidents`, `show`,
//! `ack`, `resolve`, `note`, `silence`, `run`, `events`, `work-orders`) in `ops/`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::config::{self, Config};
use crate::ops;

#[derive(Debug, Parser)]
#[command(name = "grace", version, about = "A self-healing supervisor")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the supervisor: monitors, incidents, playbooks, REST and the live feed.
    Serve {
        /// Config file. Without one, Grace looks at this machine as `grace init` does and
        /// watches what it finds (config/grace.toml is a documented example).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check a config file and list every problem in it.
    CheckConfig { file: PathBuf },
    /// Look at this machine and write a config that works here (never overwrites a file).
    Init {
        /// Where to write it.
        #[arg(long, default_value = "grace.toml")]
        output: PathBuf,
        /// The address the written config serves on.
        #[arg(long, default_value = "127.0.0.1:7878")]
        bind: String,
        /// The store the written config keeps its state in.
        #[arg(long, default_value = "data/grace")]
        store: String,
    },
    /// Print every live event (resumes after a disconnect without losing any).
    Watch {
        /// Address of a running `grace serve`.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Replay persisted events after this seq first.
        #[arg(long)]
        since: Option<u64>,
        /// Only these event types, comma-separated patterns (`db.*,incident.*`).
        #[arg(long)]
        types: Option<String>,
        /// Print raw JSON lines instead of one readable line per event.
        #[arg(long)]
        json: bool,
        /// Consecutive failed reconnects before giving up.
        #[arg(long, default_value_t = 30)]
        reconnect_max: u32,
    },
    /// Print the live actor tree.
    Tree {
        /// Address of a running `grace serve`.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
    },
    #[command(flatten)]
    Ops(ops::OpsCommand),
    /// Create, list and revoke API tokens (they work at once, without a restart).
    Token {
        /// The config whose `[auth] tokens_path` to use; the built-in default when absent.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Make a token and print it: this is the only time it is shown.
    Create {
        #[arg(long)]
        name: String,
        /// read, ingest, operate or admin.
        #[arg(long)]
        role: crate::tokens::Role,
        /// How long it works: 90d, 12h, 30m, 45s. Forever when absent.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List every token: name, role, created, expires (never the token).
    List,
    /// Revoke a token by name; Grace refuses it from the next request on.
    Revoke { name: String },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config } => crate::serve::serve(config).await,
        Command::CheckConfig { file } => {
            let config = config::load(&file)?;
            println!(
                "{}: ok ({} monitors, {} playbooks, {} pipelines)",
                file.display(),
                config.tree.monitors.len(),
                config.tree.playbooks.len(),
                config.tree.pipelines.len()
            );
            for warning in config::warnings(&config) {
                eprintln!("warning: {}: {}", warning.key, warning.message);
            }
            Ok(())
        }
        Command::Init {
            output,
            bind,
            store,
        } => {
            let options = crate::init::InitOptions {
                output: output.clone(),
                bind,
                store,
            };
            let discovered = crate::init::run(&options).await?;
            println!("{}: written — {}", output.display(), discovered.summary());
            println!(
                "next: read its comments, then `grace serve --config {}`",
                output.display()
            );
            Ok(())
        }
        Command::Watch {
            addr,
            since,
            types,
            json,
            reconnect_max,
        } => watch(addr, since, types, json, reconnect_max).await,
        Command::Tree { addr } => tree(addr).await,
        Command::Token { config, action } => token(config, action),
        Command::Ops(command) => ops::said(ops::operate(command).await),
    }
}

/// `grace token …`: edits the token file named by the config's `[auth] tokens_path`.
fn token(config: Option<PathBuf>, action: TokenAction) -> anyhow::Result<()> {
    use crate::tokens;
    let config: Config = match &config {
        Some(path) => config::load(path)?,
        None => config::built_in()?,
    };
    let path = PathBuf::from(&config.auth.tokens_path);
    let now = actors::time::now();
    match action {
        TokenAction::Create {
            name,
            role,
            expires_in,
        } => {
            let expires_at = match expires_in {
                Some(text) => {
                    Some(now + tokens::parse_lifetime(&text).map_err(anyhow::Error::msg)?)
                }
                None => None,
            };
            let token = tokens::create(&path, &name, role, expires_at, now)?;
            eprintln!(
                "token {name:?} ({role}) created in {}; it is shown once, here:",
                path.display()
            );
            println!("{token}");
        }
        TokenAction::List => {
            let list = tokens::list(&path)?;
            if list.is_empty() {
                println!("no tokens in {}", path.display());
            }
            for t in list {
                let expires = t
                    .expires_at
                    .map_or("never".to_owned(), |at| at.to_rfc3339());
                let state = match t.expires_at {
                    Some(at) if at <= now => " (expired)",
                    _ => "",
                };
                println!(
                    "{}\t{}\tcreated {}\texpires {expires}{state}",
                    t.name,
                    t.role,
                    t.created_at.to_rfc3339()
                );
            }
        }
        TokenAction::Revoke { name } => {
            tokens::revoke(&path, &name)?;
            println!("token {name:?} revoked");
        }
    }
    Ok(())
}

async fn watch(
    addr: SocketAddr,
    mut since: Option<u64>,
    types: Option<String>,
    json: bool,
    reconnect_max: u32,
) -> anyhow::Result<()> {
    let mut failures = 0;
    loop {
        let mut url = format!("ws://{addr}/ws?");
        if let Some(since) = since {
            url.push_str(&format!("since={since}&"));
        }
        if let Some(types) = &types {
            url.push_str(&format!("types={types}"));
        }
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                url.as_str(),
            )?;
        if let Some(token) = token_from_env() {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((mut socket, _)) => {
                failures = 0;
                while let Some(message) = socket.next().await {
                    let Ok(Message::Text(text)) = message else {
                        continue;
                    };
                    let event: Value = serde_json::from_str(&text)?;
                    if let Some(seq) = event["seq"].as_u64() {
                        since = Some(seq);
                    }
                    if json {
                        println!("{text}");
                    } else {
                        println!(
                            "#{} {} {} {}",
                            event["seq"],
                            event["at"].as_str().unwrap_or(""),
                            event["type"].as_str().unwrap_or(""),
                            event["data"]
                        );
                    }
                }
                eprintln!("disconnected; resuming after seq {}", since.unwrap_or(0));
                since.get_or_insert(0);
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response))
                if response.status() == 400 && since.is_some() =>
            {
                // Our seq is ahead of the server's log (it was wiped, or kept in memory and
                // restarted): start over from its beginning.
                eprintln!("the event log was reset; replaying it from the start");
                since = Some(0);
            }
            Err(error) => {
                failures += 1;
                if failures > reconnect_max {
                    bail!("cannot reach grace at {addr}: {error}");
                }
                eprintln!("cannot reach grace at {addr} ({error}); retrying");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The token `grace watch` and `grace tree` send, from `GRACE_TOKEN` (not a flag, so it does
/// not show in `ps` or shell history).
fn token_from_env() -> Option<String> {
    std::env::var("GRACE_TOKEN").ok().filter(|t| !t.is_empty())
}

/// Prints the actor tree of the Grace at `addr`; of a cluster, every node's: each live node's
/// own tree (asked of it), under a line saying its role, its leases and its last renewal.
async fn tree(addr: SocketAddr) -> anyhow::Result<()> {
    let base = format!("http://{addr}");
    let cluster = get_json(&base, "/cluster").await?;
    let nodes = cluster["nodes"].as_array().cloned().unwrap_or_default();
    let mut out = String::new();
    if cluster["clustered"] != true {
        render(&get_json(&base, "/actors").await?, "", "", &mut out);
        print!("{out}");
        return Ok(());
    }
    out.push_str(&format!(
        "cluster of {} nodes
",
        nodes.len()
    ));
    for (index, node) in nodes.iter().enumerate() {
        let last = index + 1 == nodes.len();
        let (branch, next) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        out.push_str(&format!(
            "{branch}{}
",
            node_line(node)
        ));
        if node["live"] != true {
            continue;
        }
        let url = node["url"].as_str().unwrap_or_default();
        match get_json(url, "/actors").await {
            Ok(tree) => render(
                &tree,
                &format!("{next}└── "),
                &format!("{next}    "),
                &mut out,
            ),
            Err(error) => out.push_str(&format!(
                "{next}└── (its tree: {error:#})
"
            )),
        }
    }
    print!("{out}");
    Ok(())
}

/// A node of `GET /cluster` in one line: `node b — leader (engines@2), renewed 12:00:01`.
fn node_line(node: &Value) -> String {
    let leases: Vec<String> = node["leases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|lease| {
            format!(
                "{}@{}",
                lease["key"].as_str().unwrap_or("?"),
                lease["epoch"]
            )
        })
        .collect();
    let role = match (
        node["live"] == true,
        leases.iter().any(|l| l.starts_with("engines@")),
    ) {
        (false, _) => "gone quiet",
        (true, true) => "leader",
        (true, false) => "standby",
    };
    let held = match leases.is_empty() {
        true => String::new(),
        false => format!(" ({})", leases.join(", ")),
    };
    format!(
        "node {} — {role}{held}, renewed {}, at {}",
        node["node_id"].as_str().unwrap_or("?"),
        node["renewed_at"].as_str().unwrap_or("never"),
        node["url"].as_str().unwrap_or("?"),
    )
}

/// `GET base + path` as JSON, with the token from `GRACE_TOKEN`.
async fn get_json(base: &str, path: &str) -> anyhow::Result<Value> {
    let url = format!("{base}{path}");
    let mut request = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(10));
    if let Some(token) = token_from_env() {
        request = request.bearer_auth(token);
    }
    let answer = request
        .send()
        .await
        .with_context(|| format!("cannot reach grace at {base}"))?;
    Ok(answer.error_for_status()?.json().await?)
}

/// Draws the tree like `tree(1)` does.
fn render(node: &Value, lead: &str, child_lead: &str, out: &mut String) {
    let restarts = node["restarts"].as_u64().unwrap_or(0);
    out.push_str(&format!(
        "{lead}{} [{}] {}{}\n",
        node["name"].as_str().unwrap_or("?"),
        node["kind"].as_str().unwrap_or("?"),
        node["status"].as_str().unwrap_or("?"),
        if restarts > 0 {
            format!(", restarted {restarts}×")
        } else {
            String::new()
        },
    ));
    let children = node["children"].as_array().cloned().unwrap_or_default();
    for (index, child) in children.iter().enumerate() {
        let last = index + 1 == children.len();
        let (branch, next) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        render(
            child,
            &format!("{child_lead}{branch}"),
            &format!("{child_lead}{next}"),
            out,
        );
    }
}

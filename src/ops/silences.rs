//! `grace silence add | list | expire`: people's maintenance from a terminal.

use anyhow::bail;
use clap::Args;
use serde_json::{json, Map, Value};

use super::incidents::encode;
use super::table::{print_json, table, text};
use super::{RemoteArgs, SilenceCommand};

/// What `grace silence add` silences, and for how long.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// A monitor id (repeatable).
    #[arg(long = "monitor")]
    pub monitors: Vec<String>,
    /// A source, or a prefix ending in `*` (repeatable).
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// An event-type pattern, `db.*` (repeatable).
    #[arg(long = "type")]
    pub event_types: Vec<String>,
    /// A label an alert must carry, `name=value` (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// How long: `90m`, `2h`, `1d` (or give --until).
    #[arg(long)]
    pub duration: Option<String>,
    /// When it ends (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, default_value = "")]
    pub comment: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

pub async fn silence(command: SilenceCommand) -> anyhow::Result<()> {
    match command {
        SilenceCommand::Add(args) => add(args).await,
        SilenceCommand::List { remote } => list(remote).await,
        SilenceCommand::Expire { id, remote } => {
            let remote = remote.connect()?;
            let expired = remote
                .post(&format!("/silences/{}/expire", encode(&id)), json!({}))
                .await?;
            match remote.json {
                true => print_json(&expired),
                false => println!("expired {id}"),
            }
            Ok(())
        }
    }
}

async fn add(args: AddArgs) -> anyhow::Result<()> {
    let remote = args.remote.connect()?;
    let mut labels = Map::new();
    for label in &args.labels {
        let Some((name, value)) = label.split_once('=') else {
            bail!("--label takes name=value, not {label:?}");
        };
        labels.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    let matchers = json!({ "monitors": args.monitors, "sources": args.sources, "event_types": args.event_types, "labels": labels });
    let mut body = json!({ "matchers": matchers, "comment": args.comment });
    match (&args.duration, &args.until) {
        (Some(duration), None) => body["duration_ms"] = json!(duration_ms(duration)?),
        (None, Some(until)) => body["ends_at"] = json!(until),
        _ => bail!("give one of --duration (e.g. 2h) and --until (RFC 3339)"),
    }
    let silence = remote.post("/silences", body).await?;
    match remote.json {
        true => print_json(&silence),
        false => println!(
            "{} until {}",
            text(&silence["id"]),
            text(&silence["ends_at"])
        ),
    }
    Ok(())
}

async fn list(remote: RemoteArgs) -> anyhow::Result<()> {
    let remote = remote.connect()?;
    let silences = remote.get("/silences").await?;
    if remote.json {
        print_json(&silences);
        return Ok(());
    }
    let listed = silences["items"].as_array().cloned().unwrap_or_default();
    if listed.is_empty() {
        println!("no silences");
        return Ok(());
    }
    let mut out = table(&["id", "state", "matchers", "ends", "by", "comment"]);
    for silence in listed {
        out.add_row(vec![
            text(&silence["id"]),
            text(&silence["state"]),
            matchers(&silence["matchers"]),
            text(&silence["ends_at"]),
            text(&silence["created_by"]),
            text(&silence["comment"]),
        ]);
    }
    println!("{out}");
    Ok(())
}

/// `monitors=a,b sources=x` for the matcher lists that are not empty.
fn matchers(value: &Value) -> String {
    let Some(fields) = value.as_object() else {
        return "-".to_owned();
    };
    let shown: Vec<String> = fields
        .iter()
        .filter(|(_, v)| {
            v.as_array().is_some_and(|a| !a.is_empty())
                || v.as_object().is_some_and(|o| !o.is_empty())
        })
        .map(|(k, v)| format!("{k}={}", v.to_string().replace('"', "")))
        .collect();
    shown.join(" ")
}

/// `90m`, `2h`, `1d` in milliseconds.
fn duration_ms(text: &str) -> anyhow::Result<u64> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let per = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("--duration takes 90m, 2h or 1d, not {text:?}"),
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n * per),
        _ => bail!("--duration takes 90m, 2h or 1d, not {text:?}"),
    }
}

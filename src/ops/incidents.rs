//! `grace incidents`, `show`, `ack`, `resolve`, `note` and `run`: the incident list with its
//! filters, one incident with its timeline, and what a person does to one.

use anyhow::bail;
use serde_json::{json, Value};

use super::table::{ago, line, print_json, table, text};
use super::{IncidentsArgs, RemoteArgs};

/// `grace incidents`: newest first, filtered.
pub async fn incidents(args: IncidentsArgs) -> anyhow::Result<()> {
    let remote = args.remote.connect()?;
    let mut query = vec![format!("limit={}", args.limit)];
    let since = args.since.as_deref().map(since_time).transpose()?;
    let filters = [
        ("status", args.status),
        ("source", args.source),
        ("event_type", args.event_type),
        ("severity", args.severity),
        ("since", since),
        ("q", args.search),
    ];
    for (key, value) in filters {
        if let Some(value) = value {
            query.push(format!("{key}={}", encode(&value)));
        }
    }
    let page = remote
        .get(&format!("/monitoring/incidents?{}", query.join("&")))
        .await?;
    if remote.json {
        print_json(&page);
        return Ok(());
    }
    let items = page["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        println!("no incidents");
        return Ok(());
    }
    let mut out = table(&[
        "id", "status", "severity", "source", "type", "title", "detected",
    ]);
    for incident in &items {
        out.add_row(vec![
            text(&incident["id"]),
            text(&incident["status"]),
            text(&incident["severity"]),
            text(&incident["source"]),
            text(&incident["event_type"]),
            line(&text(&incident["title"]), 60),
            ago(&incident["detected_at"]),
        ]);
    }
    println!("{out}");
    if let Some(next) = page["next"].as_str() {
        println!("(more: older than #{next})");
    }
    Ok(())
}

/// `grace show N`: the incident and its timeline.
pub async fn show(id: u64, remote: RemoteArgs) -> anyhow::Result<()> {
    let remote = remote.connect()?;
    let detail = remote.get(&format!("/monitoring/incidents/{id}")).await?;
    if remote.json {
        print_json(&detail);
        return Ok(());
    }
    println!("#{} {}", detail["id"], text(&detail["title"]));
    let mut facts = super::table::facts();
    for key in [
        "status",
        "severity",
        "source",
        "event_type",
        "detected_at",
        "acknowledged_at",
        "resolved_at",
        "resolved_by",
        "work_order_id",
        "occurrences",
        "trust",
    ] {
        facts.add_row(vec![key.to_owned(), text(&detail[key])]);
    }
    println!("{facts}\n\ntimeline:");
    for event in detail["timeline"].as_array().cloned().unwrap_or_default() {
        println!(
            "  #{:<6} {}  {:<22} {}",
            event["seq"],
            text(&event["at"]),
            text(&event["type"]),
            summary(&event)
        );
    }
    Ok(())
}

/// What an event on a timeline says, in a few words.
fn summary(event: &Value) -> String {
    let data = &event["data"];
    let said = match event["type"].as_str().unwrap_or_default() {
        "incident.note" => format!(
            "{}: {}",
            text(&data["note"]["by"]),
            text(&data["note"]["text"])
        ),
        "incident.notified" => format!("told {} ({})", data["receivers"], text(&data["reason"])),
        "work_order.updated" => format!("{} by {}", text(&data["action"]), text(&data["by"])),
        "playbook.step" => format!(
            "{} {}",
            text(&data["step"]["name"]),
            text(&data["step"]["status"])
        ),
        _ => [
            &data["reason"],
            &data["status"],
            &data["error"],
            &data["message"],
        ]
        .into_iter()
        .find(|v| v.is_string())
        .map(text)
        .unwrap_or_default(),
    };
    line(&said, 100)
}

/// `grace ack N`.
pub async fn ack(id: u64, remote: RemoteArgs) -> anyhow::Result<()> {
    let remote = remote.connect()?;
    let incident = remote
        .post(
            &format!("/monitoring/incidents/{id}/acknowledge"),
            json!({}),
        )
        .await?;
    say(&remote, &incident, &format!("acknowledged #{id}"));
    Ok(())
}

/// `grace resolve N [--note …]`: the note first, so it is on the timeline before the end.
pub async fn resolve(id: u64, note: Option<String>, remote: RemoteArgs) -> anyhow::Result<()> {
    let remote = remote.connect()?;
    if let Some(text) = note {
        remote
            .post(
                &format!("/monitoring/incidents/{id}/notes"),
                json!({ "text": text }),
            )
            .await?;
    }
    let incident = remote
        .post(&format!("/monitoring/incidents/{id}/resolve"), json!({}))
        .await?;
    say(&remote, &incident, &format!("resolved #{id}"));
    Ok(())
}

/// `grace note N TEXT`.
pub async fn note(id: u64, text: String, remote: RemoteArgs) -> anyhow::Result<()> {
    let remote = remote.connect()?;
    let note = remote
        .post(
            &format!("/monitoring/incidents/{id}/notes"),
            json!({ "text": text }),
        )
        .await?;
    say(&remote, &note, &format!("noted on #{id}"));
    Ok(())
}

/// `grace run PLAYBOOK --incident N`.
pub async fn run(
    playbook: String,
    incident: u64,
    force: bool,
    remote: RemoteArgs,
) -> anyhow::Result<()> {
    let remote = remote.connect()?;
    let body = json!({ "incident_id": incident, "force": force });
    let started = remote
        .post(&format!("/playbooks/{}/run", encode(&playbook)), body)
        .await?;
    let run_id = text(&started["run_id"]);
    say(
        &remote,
        &started,
        &format!("started {playbook} on #{incident}: run {run_id} (see `grace show {incident}`)"),
    );
    Ok(())
}

/// Prints the answer as JSON, or `words`.
fn say(remote: &super::remote::Remote, answer: &Value, words: &str) {
    match remote.json {
        true => print_json(answer),
        false => println!("{words}"),
    }
}

/// `30m`, `2h`, `7d` back from now, or an RFC 3339 time, as RFC 3339.
fn since_time(since: &str) -> anyhow::Result<String> {
    if chrono::DateTime::parse_from_rfc3339(since).is_ok() {
        return Ok(since.to_owned());
    }
    let (number, unit) = since.split_at(since.len().saturating_sub(1));
    let seconds = match (number.parse::<i64>(), unit) {
        (Ok(n), "s") => n,
        (Ok(n), "m") => n * 60,
        (Ok(n), "h") => n * 3_600,
        (Ok(n), "d") => n * 86_400,
        _ => bail!("--since takes 30m, 2h, 7d or an RFC 3339 time, not {since:?}"),
    };
    let at = chrono::Utc::now() - chrono::Duration::seconds(seconds);
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A query value, percent-encoded.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'*' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

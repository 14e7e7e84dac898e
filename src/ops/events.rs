//! `grace events`: a page of the event log from `--since`, one readable line per event.

use super::incidents::encode;
use super::table::{print_json, text};
use super::RemoteArgs;

pub async fn events(
    since: Option<u64>,
    types: Option<String>,
    limit: usize,
    remote: RemoteArgs,
) -> anyhow::Result<()> {
    let remote = remote.connect()?;
    let mut query = vec![format!("limit={limit}")];
    if let Some(since) = since {
        query.push(format!("since={since}"));
    }
    if let Some(types) = types {
        query.push(format!("types={}", encode(&types)));
    }
    let page = remote.get(&format!("/events?{}", query.join("&"))).await?;
    if remote.json {
        print_json(&page);
        return Ok(());
    }
    for event in page["items"].as_array().cloned().unwrap_or_default() {
        let data = event["data"].to_string();
        let data: String = data.chars().take(160).collect();
        println!(
            "#{} {} {} {data}",
            event["seq"],
            text(&event["at"]),
            text(&event["type"])
        );
    }
    if let Some(next) = page["next"].as_u64() {
        println!("(more: grace events --since {next})");
    }
    Ok(())
}

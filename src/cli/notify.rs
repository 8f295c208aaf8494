//! `flightdeck notify codex '<json>'`: Codex runs its `notify` program with one JSON argument at
//! the end of each turn; this forwards it to the server's Codex feed. Exits non-zero with the
//! server's reason when it is refused.

use anyhow::{bail, Context};
use serde_json::Value;

use crate::config::{NotifyCommand, NotifyTool};

pub async fn run(command: NotifyCommand) -> anyhow::Result<()> {
    let NotifyTool::Codex { json } = command.tool;
    let token = command.token.context("set FLIGHTDECK_TOKEN (or --token) to an ingest token")?;
    let url = format!("{}/api/feeds/codex", command.url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .timeout(std::time::Duration::from_secs(10))
        .body(json)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let message = answer["message"].as_str().unwrap_or("no reason given");
        bail!("refused ({}): {message}", status.as_u16());
    }
    Ok(())
}

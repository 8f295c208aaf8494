//! `flightdeck policy show|add|remove|set`: the workspace's approval policy, read and replaced
//! whole through `GET`/`PUT /api/policy` (so a change is an event in the log, made by the token's
//! name). The server checks every rule; its refusal is printed and the exit status is non-zero.

use anyhow::{bail, Context};
use app::domain::policy::{OnTimeout, Policy, PolicyUpdated, Rule, RuleAction};

use crate::config::{PolicyAction, PolicyCommand};

pub async fn run(command: PolicyCommand, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let url = format!("{}/api/policy", command.url.trim_end_matches('/'));
    let http = reqwest::Client::new();
    let current = read(http.get(&url).bearer_auth(&command.token), &url).await?;
    let mut next = PolicyUpdated {
        rules: current.rules.clone(),
        on_timeout: current.on_timeout,
        ttl_seconds: Some(current.ttl_seconds),
        by: None,
    };
    match command.action {
        PolicyAction::Show => return show(&current, out),
        PolicyAction::Add { tool, input, unless, action, reason, at } => {
            let action = RuleAction::parse(&action).context("--action is allow, deny or ask")?;
            let at = at.unwrap_or(next.rules.len() + 1);
            if at == 0 || at > next.rules.len() + 1 {
                bail!("--at must be between 1 and {}", next.rules.len() + 1);
            }
            next.rules.insert(at - 1, Rule { tool, input, unless, action, reason });
        }
        PolicyAction::Remove { place } => {
            if place == 0 || place > next.rules.len() {
                bail!("there is no rule {place}; `flightdeck policy show` lists them");
            }
            next.rules.remove(place - 1);
        }
        PolicyAction::Set { ttl_seconds, on_timeout } => {
            next.ttl_seconds = ttl_seconds.or(next.ttl_seconds);
            next.on_timeout = match on_timeout.as_deref() {
                Some("deny") => OnTimeout::Deny,
                Some(_) => OnTimeout::NoDecision,
                None => next.on_timeout,
            };
        }
    }
    let changed = read(http.put(&url).bearer_auth(&command.token).json(&next), &url).await?;
    show(&changed, out)
}

async fn read(request: reqwest::RequestBuilder, url: &str) -> anyhow::Result<Policy> {
    let response = request.send().await.with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        bail!("refused ({}): {}", status.as_u16(), answer["message"].as_str().unwrap_or(&text));
    }
    serde_json::from_str(&text).context("the server's policy could not be read")
}

fn show(policy: &Policy, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    if policy.rules.is_empty() {
        writeln!(out, "No rules: every permission request waits for a person.")?;
    }
    for (i, rule) in policy.rules.iter().enumerate() {
        let reason = rule.reason.as_deref().map_or(String::new(), |r| format!(" — {r}"));
        writeln!(out, "{:>3}. {}{reason}", i + 1, rule.describe())?;
    }
    let then = match policy.on_timeout {
        OnTimeout::NoDecision => "no decision (the agent asks in its terminal)",
        OnTimeout::Deny => "deny",
    };
    writeln!(out, "An approval waits {} s for a person; then: {then}.", policy.ttl_seconds)?;
    Ok(())
}

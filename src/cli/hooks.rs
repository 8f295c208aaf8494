//! `flightdeck hooks claude-code [--url] [--agent] [--install FILE]`: the Claude Code settings that
//! post every hook event to `/api/feeds/claude-code`. Events that can use an http hook get one
//! (the token goes in a header Claude Code fills from `FLIGHTDECK_TOKEN`); `SessionStart`, which
//! runs only command hooks, gets a `curl` that sends its stdin and prints nothing (a command
//! hook's output there would reach the model). `--install` merges into a settings file: the
//! user's own hooks stay, an earlier Flightdeck entry is replaced, so running it twice changes
//! nothing. `PreToolUse` and `PermissionRequest` wait up to an hour: Flightdeck may hold them
//! until an operator decides.

use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use crate::config::{HooksCommand, HooksTool};

/// The feed every entry posts to; also how an earlier install is recognised.
const FEED: &str = "/api/feeds/claude-code";

/// Hook events that take an http hook: the ones Claude Code has had for a while. Newer ones
/// (`StopFailure`, `TeammateIdle`, `PostCompact`…) can be pointed at the same URL by hand; an
/// older Claude Code might refuse a settings file naming events it does not know.
const HTTP_EVENTS: &[&str] = &[
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "PermissionRequest",
    "Notification",
    "Stop",
    "SubagentStart",
    "SubagentStop",
    "TaskCreated",
    "TaskCompleted",
    "PreCompact",
    "SessionEnd",
];

/// Hook events that run only command hooks (`Setup` too, which runs only on `--init`).
const COMMAND_EVENTS: &[&str] = &["SessionStart"];

/// Seconds Claude Code waits for the feed before going on without it.
const TIMEOUT_S: u64 = 5;

/// Hook events whose request Flightdeck may hold until an operator decides (an approval waits up
/// to `policy::MAX_TTL_SECONDS`), and how long Claude Code waits for them: longer than any
/// approval, so that its expiry, not the hook's timeout, ends the wait.
const HELD_EVENTS: &[&str] = &["PreToolUse", "PermissionRequest"];
const HELD_TIMEOUT_S: u64 = 3_600;
const _: () = assert!(HELD_TIMEOUT_S > app::domain::policy::MAX_TTL_SECONDS as u64);

pub fn run(command: HooksCommand, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let HooksTool::ClaudeCode { url, agent, install } = command.tool;
    let ours = settings(&feed_url(&url, agent.as_deref())?);
    match install {
        None => writeln!(out, "{}", serde_json::to_string_pretty(&ours)?)?,
        Some(path) => {
            install_into(&path, &ours)?;
            writeln!(out, "Flightdeck hooks written to {}", path.display())?;
        }
    }
    Ok(())
}

fn feed_url(base: &str, agent: Option<&str>) -> anyhow::Result<String> {
    let base = base.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        bail!("--url must be an http:// or https:// URL, got `{base}`");
    }
    let mut url = format!("{base}{FEED}");
    if let Some(agent) = agent {
        app::domain::check::id("agent", agent).map_err(|e| anyhow::anyhow!("--{e}"))?;
        url.push_str(&format!("?agent={agent}"));
    }
    Ok(url)
}

/// `{"hooks": {Event: [{"hooks": [hook]}]}}` for every event.
pub fn settings(url: &str) -> Value {
    let http = json!({
        "type": "http",
        "url": url,
        "headers": { "Authorization": "Bearer $FLIGHTDECK_TOKEN" },
        "allowedEnvVars": ["FLIGHTDECK_TOKEN"],
        "timeout": TIMEOUT_S,
    });
    let command = json!({ "type": "command", "command": curl(url), "timeout": TIMEOUT_S });
    let mut hooks = Map::new();
    for event in HTTP_EVENTS {
        let mut hook = http.clone();
        if HELD_EVENTS.contains(event) {
            hook["timeout"] = json!(HELD_TIMEOUT_S);
        }
        hooks.insert(event.to_string(), json!([{ "hooks": [hook] }]));
    }
    for event in COMMAND_EVENTS {
        hooks.insert(event.to_string(), json!([{ "hooks": [command.clone()] }]));
    }
    json!({ "hooks": hooks })
}

/// A command that posts its stdin to the feed, prints nothing and never fails the hook.
fn curl(url: &str) -> String {
    let quoted = format!("'{}'", url.replace('\'', r"'\''"));
    format!(
        "curl -s -m {TIMEOUT_S} -o /dev/null -X POST -H \"Authorization: Bearer $FLIGHTDECK_TOKEN\" \
         -H 'Content-Type: application/json' --data-binary @- {quoted} || true"
    )
}

/// Merges our entries into the settings file at `path` (created when absent).
fn install_into(path: &Path, ours: &Value) -> anyhow::Result<()> {
    let mut settings = match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => json!({}),
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    merge(&mut settings, ours).with_context(|| format!("in {}", path.display()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, serde_json::to_string_pretty(&settings)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Adds each of our event entries to `settings`, after dropping any earlier one of ours.
pub fn merge(settings: &mut Value, ours: &Value) -> anyhow::Result<()> {
    let Some(settings) = settings.as_object_mut() else { bail!("the settings must be a JSON object") };
    let hooks = settings.entry("hooks").or_insert_with(|| json!({}));
    let Some(hooks) = hooks.as_object_mut() else { bail!("`hooks` must be a JSON object") };
    for (event, entries) in ours["hooks"].as_object().into_iter().flatten() {
        let list = hooks.entry(event.clone()).or_insert_with(|| json!([]));
        let Some(list) = list.as_array_mut() else { bail!("`hooks.{event}` must be a list") };
        list.retain(|entry| !is_ours(entry));
        list.extend(entries.as_array().into_iter().flatten().cloned());
    }
    Ok(())
}

/// Whether a matcher entry is one an earlier install wrote.
fn is_ours(entry: &Value) -> bool {
    let hooks = entry["hooks"].as_array().into_iter().flatten();
    hooks.into_iter().any(|h| {
        let target = h["url"].as_str().or(h["command"].as_str()).unwrap_or_default();
        target.contains(FEED)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_keeps_the_users_hooks_and_is_idempotent() {
        let ours = settings("http://127.0.0.1:3000/api/feeds/claude-code");
        let own = json!({"matcher": "Bash", "hooks": [{"type": "command", "command": "./lint.sh"}]});
        let mut file = json!({"model": "opus", "hooks": {"PreToolUse": [own.clone()]}});
        merge(&mut file, &ours).unwrap();
        let once = file.clone();
        merge(&mut file, &ours).unwrap();
        assert_eq!(file, once, "a second install changes nothing");
        assert_eq!(file["model"], "opus");
        let pre = file["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(pre.len(), 2);
        assert_eq!(pre[0], own);
        assert_eq!(pre[1]["hooks"][0]["type"], "http");
        assert_eq!(file["hooks"]["SessionStart"][0]["hooks"][0]["type"], "command");
        assert!(merge(&mut json!([]), &ours).is_err());
        assert!(merge(&mut json!({"hooks": {"Stop": {}}}), &ours).unwrap_err().to_string().contains("Stop"));
    }

    #[test]
    fn a_settings_file_that_is_not_json_is_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        std::fs::write(&file, "{ not json").unwrap();
        let err = install_into(&file, &settings("http://h/api/feeds/claude-code")).unwrap_err();
        assert!(err.to_string().contains("is not valid JSON"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ not json", "nothing was written");
    }

    #[test]
    fn the_url_is_checked_and_names_the_agent() {
        assert_eq!(feed_url("http://h:3000/", Some("me")).unwrap(), "http://h:3000/api/feeds/claude-code?agent=me");
        assert!(feed_url("h:3000", None).is_err());
        assert!(feed_url("http://h", Some("a b")).is_err());
        assert!(curl("http://h/x'y").contains(r"'http://h/x'\''y'"));
    }
}

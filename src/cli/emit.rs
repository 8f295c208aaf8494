//! `flightdeck emit TYPE --field value…`: posts one event from a shell, through the same API as any
//! agent. Fields become the payload (`--error.message x` nests); a value that reads as JSON
//! (`50`, `true`, `{"a":1}`) is taken as such, anything else as a string. The server's refusal is
//! printed and the exit status is non-zero.

use anyhow::{bail, Context};
use serde_json::{Map, Value};

use crate::config::EmitCommand;

pub async fn run(command: EmitCommand, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let payload = payload(&command.fields)?;
    let event = serde_json::json!({ "type": command.event_type, "payload": payload });
    let url = format!("{}/api/events", command.url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&command.token)
        .header("content-type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = answer["message"].as_str().unwrap_or("no reason given");
        bail!("refused ({}): {message}", status.as_u16());
    }
    writeln!(out, "{}", answer["seqs"][0])?;
    Ok(())
}

/// The payload the `--name value` pairs spell.
fn payload(fields: &[String]) -> anyhow::Result<Value> {
    let mut payload = Map::new();
    let mut rest = fields.iter();
    while let Some(flag) = rest.next() {
        let Some(name) = flag.strip_prefix("--").filter(|n| !n.is_empty()) else {
            bail!("expected `--field value`, got `{flag}`");
        };
        let (name, value) = match name.split_once('=') {
            Some((name, value)) => (name, value.to_string()),
            None => (name, rest.next().with_context(|| format!("--{name} needs a value"))?.clone()),
        };
        let value = serde_json::from_str(&value).unwrap_or(Value::String(value));
        insert(&mut payload, name, value)?;
    }
    Ok(Value::Object(payload))
}

fn insert(object: &mut Map<String, Value>, path: &str, value: Value) -> anyhow::Result<()> {
    match path.split_once('.') {
        None => {
            object.insert(path.to_string(), value);
            Ok(())
        }
        Some((head, tail)) => {
            let inner = object.entry(head.to_string()).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(inner) = inner else { bail!("--{head} is a value and cannot have fields") };
            insert(inner, tail, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::payload;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fields_become_the_payload() {
        let fields =
            args(&["--id", "t1", "--progress", "50", "--error.message", "boom", "--error.kind=net", "--ok", "true"]);
        assert_eq!(
            payload(&fields).unwrap(),
            json!({"id": "t1", "progress": 50, "error": {"message": "boom", "kind": "net"}, "ok": true})
        );
        assert!(payload(&args(&["t1"])).is_err());
        assert!(payload(&args(&["--id"])).is_err());
        assert!(payload(&args(&["--id", "a", "--id.x", "b"])).is_err());
    }
}

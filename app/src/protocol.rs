//! The `/ws` protocol: what a client may send and the control frames the server answers with.
//!
//! Event frames are [`crate::events::Event`] serialised as JSON; every other server frame is a
//! [`Control`]. Control frames have no `seq`, so a client tells the two apart by that field.

use serde::{Deserialize, Serialize};

use crate::events::{Event, Seq};

/// A frame from the client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientOp {
    /// Replace the connection's topics with these, replaying every matching event with `seq > since`
    /// first. Without `since` only events committed from now on are sent.
    Subscribe {
        topics: Vec<String>,
        #[serde(default)]
        since: Option<Seq>,
    },
    /// Stop receiving these topics.
    Unsubscribe { topics: Vec<String> },
    /// Answered with a `pong` carrying the same id, for latency measurement.
    Ping {
        #[serde(default)]
        id: Option<serde_json::Value>,
    },
}

/// A server frame that is not an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// First frame on every connection.
    Hello {
        connection_id: u64,
        server_time: String,
        /// Head of the log when the connection opened.
        seq: Seq,
        heartbeat_interval_ms: u64,
    },
    /// The subscription is in place; events up to `seq` that match come first, in order, then live ones.
    Subscribed {
        topics: Vec<String>,
        since: Seq,
        seq: Seq,
    },
    Unsubscribed {
        topics: Vec<String>,
    },
    Pong {
        #[serde(default)]
        id: Option<serde_json::Value>,
        server_time: String,
    },
    /// The events after the client's `since` are no longer all in the log (or never were): reload the
    /// snapshot and subscribe again from its `seq`. Nothing was replayed.
    Reset {
        seq: Seq,
        reason: String,
    },
    /// The client frame was refused; the connection stays open.
    Error {
        code: String,
        message: String,
    },
}

/// Any frame the server sends, as the browser reads it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ServerFrame {
    Control(Control),
    Event(Event),
}

/// Topics a client of `workspace` may subscribe to. Every topic is within the client's own
/// workspace; `workspace:<id>` names it explicitly and is refused for any other id.
pub fn check_topic(topic: &str, workspace: &str) -> Result<(), String> {
    match topic {
        "board" | "agents" | "runs" | "events" => Ok(()),
        _ => {
            let (kind, id) = topic.split_once(':').ok_or_else(|| unknown_topic(topic))?;
            if kind == "workspace" && id != workspace {
                return Err(format!("topic `{topic}`: not your workspace"));
            }
            if !matches!(kind, "task" | "session" | "agent" | "workspace") {
                return Err(unknown_topic(topic));
            }
            crate::events::check_id("topic", id).map_err(|e| format!("topic `{topic}`: {e}"))
        }
    }
}

fn unknown_topic(topic: &str) -> String {
    format!(
        "unknown topic `{topic}`; expected board, agents, runs, events, workspace:<id>, task:<id>, session:<id> \
         or agent:<id>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_told_apart() {
        let hello: ServerFrame = serde_json::from_str(
            r#"{"type":"hello","connection_id":1,"server_time":"x","seq":3,"heartbeat_interval_ms":30000}"#,
        )
        .unwrap();
        assert!(matches!(hello, ServerFrame::Control(Control::Hello { seq: 3, .. })));
        let event: ServerFrame = serde_json::from_str(
            r#"{"seq":4,"ts":"x","topics":["board"],"type":"task:failed","payload":{"id":"a","error":"e"}}"#,
        )
        .unwrap();
        assert!(matches!(event, ServerFrame::Event(Event { seq: 4, .. })));
    }

    #[test]
    fn topics_are_checked() {
        assert!(check_topic("board", "w").is_ok());
        assert!(check_topic("task:abc-1", "w").is_ok());
        assert!(check_topic("workspace:w", "w").is_ok());
        assert!(check_topic("workspace:other", "w").unwrap_err().contains("not your workspace"));
        assert!(check_topic("boards", "w").is_err());
        assert!(check_topic("task:", "w").is_err());
        assert!(check_topic("room:1", "w").is_err());
    }
}

//! The `/ws` protocol: what a client may send and the control frames the server answers with.
//!
//! Event frames are [`crate::domain::Event`] serialised as JSON; every other server frame is a
//! [`Control`]. Control frames have no `seq`, so a client tells the two apart by that field. Every
//! frame carries a `timestamp`.

use serde::{Deserialize, Serialize};

use crate::domain::{Event, Seq};

/// Close codes this server uses besides the standard ones.
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    pub const SERVER_ERROR: u16 = 1011;
    /// No pong came back within the configured timeout.
    pub const NO_PONG: u16 = 4000;
    /// The client fell further behind than the server's lag deadline: reconnect and resume.
    pub const TOO_SLOW: u16 = 4008;
    /// The token the socket was opened with has been revoked: sign in again.
    pub const REVOKED: u16 = 4401;
}

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
        /// The log `since` was read from (`hello`'s or a page's `epoch`): a resume into another log
        /// (a restored database) gets `reset`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<String>,
    },
    /// Stop receiving these topics.
    Unsubscribe { topics: Vec<String> },
    /// Answered with a `pong` carrying the same id, for latency measurement.
    Ping {
        #[serde(default)]
        id: Option<serde_json::Value>,
    },
}

/// The room-joining frame clients of other systems send (`{"type": "join", "room": "ticket:T1"}`,
/// or `"subscribe"`): the same as subscribing to that one topic from now on.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoomJoin {
    #[serde(rename = "type")]
    kind: JoinKind,
    room: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum JoinKind {
    Join,
    Subscribe,
}

impl ClientOp {
    /// Parses a client frame: an `op` frame, or a room join.
    pub fn parse(text: &str) -> Result<ClientOp, serde_json::Error> {
        serde_json::from_str::<ClientOp>(text).or_else(|e| match serde_json::from_str::<RoomJoin>(text) {
            Ok(RoomJoin { kind: JoinKind::Join | JoinKind::Subscribe, room }) => {
                Ok(ClientOp::Subscribe { topics: vec![room], since: None, epoch: None })
            }
            Err(_) => Err(e),
        })
    }
}

/// A server frame that is not an event. Read back by `crate::wire`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// First frame on every connection.
    Hello {
        connection_id: u64,
        server_time: String,
        /// Head of the log when the connection opened.
        seq: Seq,
        /// Which log: seqs of one epoch mean nothing in another.
        epoch: String,
        heartbeat_interval_ms: u64,
    },
    /// The subscription is in place; events up to `seq` that match come first, in order, then live ones.
    Subscribed {
        topics: Vec<String>,
        since: Seq,
        seq: Seq,
        epoch: String,
    },
    Unsubscribed {
        topics: Vec<String>,
    },
    Pong {
        id: Option<serde_json::Value>,
        server_time: String,
    },
    /// The events after the client's `since` are no longer all in the log (or never were): reload the
    /// snapshot and subscribe again from its `seq`. Nothing was replayed.
    Reset {
        seq: Seq,
        reason: String,
    },
    /// The sprint runner's snapshot, sent before the events of a `runs` subscription without `since`.
    Init {
        seq: Seq,
        payload: serde_json::Value,
    },
    /// The client frame was refused; the connection stays open.
    Error {
        code: String,
        message: String,
    },
}

impl Control {
    /// The frame as sent: the control fields and the server's `timestamp`.
    pub fn to_json(&self, timestamp: &str) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(flatten)]
            control: &'a Control,
            timestamp: &'a str,
        }
        serde_json::to_string(&Wire { control: self, timestamp }).unwrap_or_default()
    }
}

/// Any frame the server sends, as the browser reads it (in one pass: `crate::wire`).
#[derive(Clone, Debug, PartialEq)]
// One frame lives at a time, parsed and applied at once: boxing the larger variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum ServerFrame {
    Control(Control),
    Event(Event),
    /// An event of a type the reader does not decode (`crate::wire::Reads`): where it is in the
    /// log, so that the reader still resumes after it.
    Skipped {
        seq: Seq,
        ts: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_told_apart() {
        let hello: ServerFrame = serde_json::from_str(
            r#"{"type":"hello","connection_id":1,"server_time":"x","seq":3,"epoch":"e","heartbeat_interval_ms":30000}"#,
        )
        .unwrap();
        assert!(matches!(hello, ServerFrame::Control(Control::Hello { seq: 3, .. })));
        let event: ServerFrame = serde_json::from_str(
            r#"{"seq":4,"ts":"x","timestamp":"x","topics":["board"],"type":"task:failed","payload":{"id":"a","error":"e"}}"#,
        )
        .unwrap();
        assert!(matches!(event, ServerFrame::Event(Event { seq: 4, .. })));
    }

    #[test]
    fn rooms_are_joined_like_topics() {
        let join = ClientOp::parse(r#"{"type":"join","room":"ticket:T1"}"#).unwrap();
        assert_eq!(join, ClientOp::Subscribe { topics: vec!["ticket:T1".into()], since: None, epoch: None });
        assert!(ClientOp::parse(r#"{"type":"leave","room":"x"}"#).unwrap_err().to_string().contains("op"));
    }

    #[test]
    fn control_frames_carry_a_timestamp() {
        let json = Control::Pong { id: Some(7.into()), server_time: "t".into() }.to_json("t");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value, serde_json::json!({"type": "pong", "id": 7, "server_time": "t", "timestamp": "t"}));
        assert!(matches!(serde_json::from_str::<ServerFrame>(&json), Ok(ServerFrame::Control(Control::Pong { .. }))));
    }
}

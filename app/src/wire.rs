//! Reading what the server sends, in one pass over the text.
//!
//! Derived decoders of untagged, internally tagged and flattened types first buffer the whole frame
//! in serde's generic `Content` and then decode it again from there: every frame read twice, and
//! every payload type's decoder compiled once more for the buffer (a sixth of the browser bundle).
//! Here one visitor reads any server frame, event or control, field by field, and hands `payload`
//! straight to the decoder its `type` names.
//!
//! A reader names the event types it decodes ([`Reads`]); an event of another type is skipped as
//! it is read and comes out as [`ServerFrame::Skipped`], its seq and time only. A browser page
//! that decodes only what it shows carries no other payload's decoder in its wasm.
//!
//! The server always writes `type` before `payload`. A frame that does not (a JSON value sorted by
//! key) is still read outside the browser, by buffering just the payload; the browser only ever
//! reads the server's own frames and refuses it, so that its bundle has no second decoder.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::{
    domain::{Event, EventBody, Seq, ALL_EVENTS, EVENT_TYPES},
    protocol::{Control, ServerFrame},
};

pub use crate::domain::kinds::{kinds, Everything, Reads};

/// Reads one server frame, decoding the payloads of the event types `R` reads.
pub fn read<R: Reads>(text: &str) -> serde_json::Result<ServerFrame> {
    // Every reader of every type shares one decoder, rather than one per reader type.
    if R::READS == ALL_EVENTS {
        read_as::<Everything>(text)
    } else {
        read_as::<R>(text)
    }
}

fn read_as<R: Reads>(text: &str) -> serde_json::Result<ServerFrame> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let frame = deserializer.deserialize_map(FrameVisitor::<R>(std::marker::PhantomData))?;
    deserializer.end()?;
    Ok(frame)
}

#[derive(serde::Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Type,
    Seq,
    Ts,
    Topics,
    By,
    Payload,
    ConnectionId,
    ServerTime,
    Epoch,
    HeartbeatIntervalMs,
    Since,
    Id,
    Reason,
    Code,
    Message,
    /// `timestamp` (which repeats `ts`) and anything a newer server adds.
    #[serde(other)]
    Other,
}

/// What `type` says a frame is.
#[derive(Clone, Copy)]
enum Kind {
    Event(&'static str),
    Control(&'static str),
}

const CONTROLS: &[&str] = &["hello", "subscribed", "unsubscribed", "pong", "reset", "init", "error"];

impl Kind {
    fn of<E: de::Error>(name: &str) -> Result<Kind, E> {
        if let Some(kind) = EVENT_TYPES.iter().find(|t| **t == name) {
            return Ok(Kind::Event(kind));
        }
        match CONTROLS.iter().find(|c| **c == name) {
            Some(control) => Ok(Kind::Control(control)),
            None => Err(E::custom(format!("unknown frame type `{name}`: neither an event type nor a control frame"))),
        }
    }
}

/// Every field any frame has, as read so far.
#[derive(Default)]
struct Fields {
    kind: Option<Kind>,
    seq: Option<Seq>,
    ts: Option<String>,
    topics: Option<Vec<String>>,
    by: Option<String>,
    /// `Some(None)`: the payload of a type the reader skips.
    body: Option<Option<EventBody>>,
    /// `init`'s snapshot, or an event's payload that came before its `type`.
    payload: Option<Value>,
    connection_id: Option<u64>,
    server_time: Option<String>,
    epoch: Option<String>,
    heartbeat_interval_ms: Option<u64>,
    since: Option<Seq>,
    id: Option<Value>,
    reason: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

struct FrameVisitor<R>(std::marker::PhantomData<R>);

impl<'de, R: Reads> Visitor<'de> for FrameVisitor<R> {
    type Value = ServerFrame;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a server frame: an event or a control frame")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ServerFrame, A::Error> {
        let mut at = Fields::default();
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Type => at.kind = Some(Kind::of(&map.next_value::<std::borrow::Cow<str>>()?)?),
                Field::Seq => at.seq = Some(map.next_value()?),
                Field::Ts => at.ts = Some(map.next_value()?),
                Field::Topics => at.topics = Some(map.next_value()?),
                Field::By => at.by = map.next_value()?,
                Field::Payload => match at.kind {
                    Some(Kind::Event(kind)) => at.body = Some(map.next_value_seed(EventBody::payload_of::<R>(kind))?),
                    Some(Kind::Control(_)) => at.payload = Some(map.next_value()?),
                    None if cfg!(feature = "hydrate") => {
                        return Err(de::Error::custom("a frame's `type` must come before its `payload`"))
                    }
                    None => at.payload = Some(map.next_value()?),
                },
                Field::ConnectionId => at.connection_id = Some(map.next_value()?),
                Field::ServerTime => at.server_time = Some(map.next_value()?),
                Field::Epoch => at.epoch = Some(map.next_value()?),
                Field::HeartbeatIntervalMs => at.heartbeat_interval_ms = Some(map.next_value()?),
                Field::Since => at.since = Some(map.next_value()?),
                Field::Id => at.id = map.next_value()?,
                Field::Reason => at.reason = Some(map.next_value()?),
                Field::Code => at.code = Some(map.next_value()?),
                Field::Message => at.message = Some(map.next_value()?),
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        at.into_frame::<R, _>()
    }
}

fn need<T, E: de::Error>(value: Option<T>, field: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(field))
}

impl Fields {
    fn into_frame<R: Reads, E: de::Error>(self) -> Result<ServerFrame, E> {
        let kind = need(self.kind, "type")?;
        let control = match kind {
            Kind::Event(kind) => {
                let body = match (self.body, self.payload) {
                    (Some(body), _) => body,
                    (None, Some(payload)) => buffered::<R, E>(kind, payload)?,
                    (None, None) => return Err(E::missing_field("payload")),
                };
                let (seq, ts, topics) = (need(self.seq, "seq")?, need(self.ts, "ts")?, need(self.topics, "topics")?);
                return Ok(match body {
                    Some(body) => ServerFrame::Event(Event { seq, ts, topics, by: self.by, body }),
                    None => ServerFrame::Skipped { seq, ts },
                });
            }
            Kind::Control(control) => control,
        };
        Ok(ServerFrame::Control(match control {
            "hello" => Control::Hello {
                connection_id: need(self.connection_id, "connection_id")?,
                server_time: need(self.server_time, "server_time")?,
                seq: need(self.seq, "seq")?,
                epoch: need(self.epoch, "epoch")?,
                heartbeat_interval_ms: need(self.heartbeat_interval_ms, "heartbeat_interval_ms")?,
            },
            "subscribed" => Control::Subscribed {
                topics: need(self.topics, "topics")?,
                since: need(self.since, "since")?,
                seq: need(self.seq, "seq")?,
                epoch: need(self.epoch, "epoch")?,
            },
            "unsubscribed" => Control::Unsubscribed { topics: need(self.topics, "topics")? },
            "pong" => Control::Pong { id: self.id, server_time: need(self.server_time, "server_time")? },
            "reset" => Control::Reset { seq: need(self.seq, "seq")?, reason: need(self.reason, "reason")? },
            "init" => Control::Init { seq: need(self.seq, "seq")?, payload: need(self.payload, "payload")? },
            _ => Control::Error { code: need(self.code, "code")?, message: need(self.message, "message")? },
        }))
    }
}

/// An event payload read before its `type`: decoded from the buffer (never in the browser).
#[cfg(not(feature = "hydrate"))]
fn buffered<R: Reads, E: de::Error>(kind: &'static str, payload: Value) -> Result<Option<EventBody>, E> {
    use serde::de::DeserializeSeed;
    EventBody::payload_of::<R>(kind).deserialize(payload).map_err(E::custom)
}

#[cfg(feature = "hydrate")]
#[allow(clippy::extra_unused_type_parameters)] // the signature it has outside the browser
fn buffered<R: Reads, E: de::Error>(_: &'static str, _: Value) -> Result<Option<EventBody>, E> {
    Err(E::custom("a frame's `type` must come before its `payload`"))
}

impl<'de> Deserialize<'de> for ServerFrame {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ServerFrame, D::Error> {
        deserializer.deserialize_map(FrameVisitor::<Everything>(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        match ServerFrame::deserialize(deserializer)? {
            ServerFrame::Event(event) => Ok(event),
            ServerFrame::Control(_) => Err(de::Error::custom("expected an event, found a control frame")),
            ServerFrame::Skipped { .. } => Err(de::Error::custom("an event of a type this reader skips")),
        }
    }
}

impl<'de> Deserialize<'de> for Control {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Control, D::Error> {
        match ServerFrame::deserialize(deserializer)? {
            ServerFrame::Control(control) => Ok(control),
            ServerFrame::Event(_) | ServerFrame::Skipped { .. } => {
                Err(de::Error::custom("expected a control frame, found an event"))
            }
        }
    }
}

/// Applies every sample event to `whole`, and to `read` only those a reader `R` decodes from the
/// frame as sent, checking after each event that `shown` sees the two alike. Returns how many `R`
/// skipped. For the tests of each page's reader.
#[cfg(test)]
pub fn read_samples_as<R: Reads, V, S: PartialEq + std::fmt::Debug>(
    whole: &mut V,
    read: &mut V,
    apply: impl Fn(&mut V, &Event),
    shown: impl Fn(&V) -> S,
) -> usize {
    let mut skipped = 0;
    for event in crate::domain::samples::events() {
        apply(whole, &event);
        let frame = serde_json::to_string(&event).unwrap();
        match self::read::<R>(&frame).unwrap() {
            ServerFrame::Event(decoded) => {
                assert_eq!(decoded, event);
                apply(read, &decoded);
            }
            ServerFrame::Skipped { seq, ts } => {
                assert_eq!((seq, ts), (event.seq, event.ts.clone()));
                skipped += 1;
            }
            ServerFrame::Control(c) => panic!("an event read as {c:?}"),
        }
        assert_eq!(shown(read), shown(whole), "after {}", event.body.kind());
    }
    skipped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task;

    #[test]
    fn every_control_frame_reads_back_as_sent() {
        let frames = [
            Control::Hello {
                connection_id: 1,
                server_time: "t".into(),
                seq: 3,
                epoch: "e".into(),
                heartbeat_interval_ms: 30_000,
            },
            Control::Subscribed { topics: vec!["board".into()], since: 2, seq: 3, epoch: "e".into() },
            Control::Unsubscribed { topics: vec!["board".into()] },
            Control::Pong { id: Some(7.into()), server_time: "t".into() },
            Control::Pong { id: None, server_time: "t".into() },
            Control::Reset { seq: 9, reason: "pruned".into() },
            Control::Init { seq: 4, payload: serde_json::json!({"batches": []}) },
            Control::Error { code: "bad_op".into(), message: "no".into() },
        ];
        for control in frames {
            let json = control.to_json("2026-01-01T00:00:00Z");
            assert_eq!(serde_json::from_str::<ServerFrame>(&json).unwrap(), ServerFrame::Control(control), "{json}");
        }
    }

    #[test]
    fn an_event_reads_back_in_the_order_sent_and_in_any_other() {
        let event = Event {
            seq: 4,
            ts: "x".into(),
            topics: vec!["board".into()],
            by: Some("Dana".into()),
            body: EventBody::TaskFailed(task::TaskFailed { id: "a".into(), error: "e".into() }),
        };
        let sent = serde_json::to_string(&event).unwrap();
        assert!(sent.find("\"type\"") < sent.find("\"payload\""), "{sent}");
        assert_eq!(serde_json::from_str::<ServerFrame>(&sent).unwrap(), ServerFrame::Event(event.clone()));
        let sorted = serde_json::to_value(&event).unwrap().to_string();
        assert!(sorted.find("\"payload\"") < sorted.find("\"type\""), "{sorted}");
        assert_eq!(serde_json::from_str::<Event>(&sorted).unwrap(), event);
    }

    #[test]
    fn bad_frames_say_what_is_wrong() {
        let cases = [
            (r#"{"seq":1,"ts":"x","topics":[],"type":"task:exploded","payload":{}}"#, "task:exploded"),
            (r#"{"seq":1,"ts":"x","topics":[],"payload":{}}"#, "type"),
            (r#"{"type":"task:failed","ts":"x","topics":[],"payload":{"id":"a","error":"e"}}"#, "seq"),
            (r#"{"seq":1,"ts":"x","topics":[],"type":"task:failed","payload":{"id":"a"}}"#, "error"),
            (r#"{"type":"hello","seq":1}"#, "connection_id"),
            (r#"[1,2]"#, "server frame"),
        ];
        for (frame, named) in cases {
            let err = serde_json::from_str::<ServerFrame>(frame).unwrap_err().to_string();
            assert!(err.contains(named), "{frame}: {err}");
        }
        let hello =
            r#"{"type":"hello","connection_id":1,"server_time":"t","seq":1,"epoch":"e","heartbeat_interval_ms":1}"#;
        assert!(serde_json::from_str::<Event>(hello).unwrap_err().to_string().contains("control frame"));
    }
}

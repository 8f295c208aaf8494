//! The canonical events and the entities they change: one file per entity, each with its payloads,
//! their validation, its state and how an event changes it. The rules live here once, for the
//! browser and every store backend alike.
//!
//! On the wire an event body is `{"type": "entity:verb", "payload": {...}}`; stored and pushed it is
//! wrapped in an [`Event`] that adds the log's `seq`, the commit time `ts` (also as `timestamp`) and
//! the `topics` it is delivered on. Adding an event type means a payload struct in its entity's file,
//! an impl of [`Payload`], and one line in the list below.

pub mod activity;
pub mod agent;
pub mod approval;
pub mod budget;
pub mod check;
pub mod deliverable;
pub mod entity;
pub mod kinds;
pub mod observation;
pub mod ownership;
pub mod policy;
pub mod run;
#[cfg(test)]
pub mod samples;
pub mod session;
pub mod task;
pub mod test_run;
pub mod time;
pub mod timeline;
pub mod usage;

use serde::{Deserialize, Serialize};

pub use entity::{Entity, EntitySet, Refusal, Stamp, Step};

/// Position in the event log: gapless and increasing, 1 for the first event ever stored.
pub type Seq = u64;

/// What every payload type provides; [`EventBody`] dispatches to it.
pub trait Payload {
    /// Checks the limits serde cannot express: lengths, ranges, identifier syntax.
    fn validate(&self) -> Result<(), Invalid>;
    /// The topics the event is delivered on, besides `events`. Asked after [`Payload::project`],
    /// which may fill in ids the topics name.
    fn topics(&self) -> Vec<String>;
    /// Applies the event to stored state. May fill in what the caller left out (a generated id,
    /// the task a session belongs to), so the logged event says everything it did.
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step>;
    /// The task this event concerns, if any.
    fn task_id(&self) -> Option<&str> {
        None
    }
    /// A fact the server derives (agent health): never accepted from a caller.
    fn derived(&self) -> bool {
        false
    }
    /// A setting only an admin may change (the approval policy).
    fn admin_only(&self) -> bool {
        false
    }
}

macro_rules! canonical_events {
    ($($name:literal => $variant:ident($payload:ty),)+) => {
        /// What happened. `type` strings are namespaced `entity:verb`. Read through
        /// [`EventBody::from_json`] (posted) or [`EventBody::payload_of`] (stored frames, `crate::wire`).
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(tag = "type", content = "payload")]
        pub enum EventBody {
            $(#[serde(rename = $name)] $variant($payload),)+
        }

        /// Every `type` string [`EventBody`] accepts.
        pub const EVENT_TYPES: &[&str] = &[$($name,)+];

        /// One bit per event type, in a set of the types a reader decodes (`kinds::Reads`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum EventKind {
            $($variant,)+
        }

        impl EventKind {
            pub const fn bit(self) -> u64 {
                1 << self as u32
            }
        }

        const _: () = assert!(EVENT_TYPES.len() <= 64, "an event set is one bit per type in a u64");

        /// Every event type, as a set.
        pub const ALL_EVENTS: u64 = 0 $(| EventKind::$variant.bit())+;

        impl EventBody {
            /// The `type` string of this event.
            pub fn kind(&self) -> &'static str {
                match self { $(EventBody::$variant(_) => $name,)+ }
            }

            // What follows dispatches by `match`, never through `&dyn Payload`: a vtable names every
            // method of its type, so a browser page that asks one event for its task would carry
            // every payload's validation and projection too.

            pub fn validate(&self) -> Result<(), Invalid> {
                match self { $(EventBody::$variant(p) => p.validate(),)+ }
            }

            pub fn topics(&self) -> Vec<String> {
                match self { $(EventBody::$variant(p) => p.topics(),)+ }
            }

            pub fn task_id(&self) -> Option<&str> {
                match self { $(EventBody::$variant(p) => p.task_id(),)+ }
            }

            pub fn derived(&self) -> bool {
                match self { $(EventBody::$variant(p) => p.derived(),)+ }
            }

            pub fn admin_only(&self) -> bool {
                match self { $(EventBody::$variant(p) => p.admin_only(),)+ }
            }

            /// Applies the event to its own entity only; [`EventBody::project`] also follows the agents.
            pub fn project_own(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
                match self { $(EventBody::$variant(p) => p.project(set, at),)+ }
            }

            /// Parses the payload of a `kind` event, tracking where in it a problem is.
            fn parse_payload(kind: &str, payload: serde_json::Value)
                -> Option<Result<EventBody, serde_path_to_error::Error<serde_json::Error>>> {
                match kind {
                    $($name => Some(serde_path_to_error::deserialize::<_, $payload>(payload).map(EventBody::$variant)),)+
                    _ => None,
                }
            }

            /// The decoder of a `kind` event's payload, to hand the payload to as it is read. It
            /// decodes the types in `R::READS` and skips (`None`) the others.
            pub fn payload_of<R: kinds::Reads>(kind: &'static str) -> PayloadOf<R> {
                PayloadOf(kind, std::marker::PhantomData)
            }
        }

        /// Decodes the payload of the event type it names straight from the deserializer, if `R`
        /// reads that type. `R::READS` is a constant, so the arms of the types it does not read are
        /// compiled out, and their decoders with them.
        pub struct PayloadOf<R>(&'static str, std::marker::PhantomData<R>);

        impl<'de, R: kinds::Reads> serde::de::DeserializeSeed<'de> for PayloadOf<R> {
            type Value = Option<EventBody>;

            fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Option<EventBody>, D::Error> {
                match self.0 {
                    $($name if R::READS & EventKind::$variant.bit() != 0 => {
                        <$payload>::deserialize(deserializer).map(|p| Some(EventBody::$variant(p)))
                    })+
                    other if EVENT_TYPES.contains(&other) => {
                        serde::de::IgnoredAny::deserialize(deserializer).map(|_| None)
                    }
                    other => Err(serde::de::Error::unknown_variant(other, EVENT_TYPES)),
                }
            }
        }
    };
}

canonical_events! {
    "task:created" => TaskCreated(task::TaskCreated),
    "task:updated" => TaskUpdated(task::TaskUpdated),
    "task:assigned" => TaskAssigned(task::TaskAssigned),
    "task:progress" => TaskProgress(task::TaskProgress),
    "task:completed" => TaskCompleted(task::TaskCompleted),
    "task:failed" => TaskFailed(task::TaskFailed),
    "task:cancelled" => TaskCancelled(task::TaskCancelled),
    "task:retried" => TaskRetried(task::TaskRetried),
    "activity:logged" => ActivityLogged(activity::ActivityLogged),
    "activity:updated" => ActivityUpdated(activity::ActivityUpdated),
    "deliverable:added" => DeliverableAdded(deliverable::DeliverableAdded),
    "agent:status" => AgentStatus(agent::AgentStatus),
    "agent:heartbeat" => AgentHeartbeat(agent::AgentHeartbeat),
    "agent:health" => AgentHealth(agent::AgentHealth),
    "session:started" => SessionStarted(session::SessionStarted),
    "session:updated" => SessionUpdated(session::SessionUpdated),
    "session:iteration" => SessionIteration(session::SessionIteration),
    "session:heartbeat" => SessionHeartbeat(session::SessionHeartbeat),
    "session:ended" => SessionEnded(session::SessionEnded),
    "session:message" => SessionMessage(session::SessionMessage),
    "session:spec" => SessionSpec(session::SessionSpec),
    "session:attributed" => SessionAttributed(ownership::SessionAttributed),
    "activity:moved" => ActivityMoved(ownership::ActivityMoved),
    "approval:requested" => ApprovalRequested(approval::ApprovalRequested),
    "approval:resolved" => ApprovalResolved(approval::ApprovalResolved),
    "policy:updated" => PolicyUpdated(policy::PolicyUpdated),
    "session:delivered" => SessionDelivered(session::SessionDelivered),
    "test:started" => TestStarted(test_run::TestStarted),
    "test:completed" => TestCompleted(test_run::TestCompleted),
    "budget:updated" => BudgetUpdated(budget::BudgetUpdated),
    "usage:reported" => UsageReported(usage::UsageReported),
    "observability:event" => Observation(observation::Observation),
    "batch:start" => BatchStart(run::BatchStart),
    "batch:end" => BatchEnd(run::BatchEnd),
    "cycle:start" => CycleStart(run::CycleStart),
    "cycle:end" => CycleEnd(run::CycleEnd),
    "command:start" => CommandStart(run::CommandStart),
    "command:progress" => CommandProgress(run::CommandProgress),
    "command:end" => CommandEnd(run::CommandEnd),
    "story:status" => StoryStatus(run::StoryStatus),
    "context:create" => ContextCreate(run::ContextEvent),
    "context:refresh" => ContextRefresh(run::ContextEvent),
    "context:complete" => ContextComplete(run::ContextEvent),
    "run:error" => RunError(run::RunError),
}

impl EventBody {
    /// Parses one event from a JSON value `{"type": ..., "payload": {...}}`, naming the problem on failure.
    pub fn from_json(value: serde_json::Value) -> Result<EventBody, Invalid> {
        let Some(object) = value.as_object() else {
            return Err(Invalid::Shape("an event must be a JSON object with `type` and `payload`".into()));
        };
        let Some(kind) = object.get("type").and_then(|t| t.as_str()) else {
            return Err(Invalid::Shape("missing string field `type`".into()));
        };
        let kind = ALIASES.iter().find(|(alias, _)| *alias == kind).map_or(kind, |(_, canonical)| *canonical);
        if !EVENT_TYPES.contains(&kind) {
            return Err(Invalid::UnknownType(kind.to_string()));
        }
        if let Some(extra) = object.keys().find(|k| *k != "type" && *k != "payload") {
            return Err(Invalid::Shape(format!("unknown field `{extra}` next to `type` and `payload`")));
        }
        let Some(payload) = object.get("payload") else {
            return Err(Invalid::Shape(format!("missing field `payload` for `{kind}`")));
        };
        let parsed =
            EventBody::parse_payload(kind, payload.clone()).ok_or_else(|| Invalid::UnknownType(kind.into()))?;
        let body = parsed.map_err(|e| {
            let path = e.path().to_string();
            match path.as_str() {
                "." => Invalid::Shape(format!("invalid payload for `{kind}`: {}", e.into_inner())),
                field => Invalid::Shape(format!("invalid payload for `{kind}`: field `{field}`: {}", e.into_inner())),
            }
        })?;
        body.validate()?;
        Ok(body)
    }

    /// Applies the event to stored state: its own entity first, then its task's timeline and the
    /// agents it concerns.
    pub fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let before = timeline::before(self, set)?;
        self.project_own(set, at)?;
        timeline::follow(self, set, at, before);
        agent::follow(self, set, at)
    }
}

/// Names other systems post under, and the canonical type each stands for. The sprint runner's
/// `error` is `run:error` here, so it can never be taken for the socket's own `error` frame.
pub const ALIASES: &[(&str, &str)] = &[("error", "run:error")];

/// An event as stored in the log and pushed to subscribers; read back by `crate::wire`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub seq: Seq,
    /// Commit time, RFC 3339 in UTC.
    pub ts: String,
    pub topics: Vec<String>,
    /// The person who made it, for an action taken on a page; absent for what agents and
    /// programs post, whose own payloads say who they are.
    pub by: Option<String>,
    pub body: EventBody,
}

impl Event {
    /// Where in the log, when and by whom the event was made, as projections take it.
    pub fn stamp(&self) -> Stamp {
        Stamp { seq: self.seq, ts: self.ts.clone(), by: self.by.clone() }
    }
}

impl Serialize for Event {
    /// `timestamp` repeats `ts` for clients that read that name (the agent harness's).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            seq: Seq,
            ts: &'a str,
            timestamp: &'a str,
            topics: &'a [String],
            #[serde(skip_serializing_if = "Option::is_none")]
            by: Option<&'a str>,
            #[serde(flatten)]
            body: &'a EventBody,
        }
        let by = self.by.as_deref();
        Wire { seq: self.seq, ts: &self.ts, timestamp: &self.ts, topics: &self.topics, by, body: &self.body }
            .serialize(serializer)
    }
}

/// Why an event was refused before anything was stored.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Invalid {
    #[error("unknown event type `{0}`; known types: {known}", known = EVENT_TYPES.join(", "))]
    UnknownType(String),
    #[error("{0}")]
    Shape(String),
    #[error("field `{field}`: {reason}")]
    Field { field: &'static str, reason: String },
}

/// The id an entity gets when its creating event names none: short, unique, stable across reruns.
pub fn generated_id(prefix: &str, at: &Stamp) -> String {
    format!("{prefix}-{}", at.seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frame_has_the_documented_shape_and_round_trips() {
        let event = Event {
            seq: 7,
            ts: "2026-01-01T00:00:00Z".into(),
            topics: vec!["board".into(), "task:t1".into()],
            by: None,
            body: EventBody::TaskFailed(task::TaskFailed { id: "t1".into(), error: "boom".into() }),
        };
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(
            value,
            json!({"seq": 7, "ts": "2026-01-01T00:00:00Z", "timestamp": "2026-01-01T00:00:00Z",
                   "topics": ["board", "task:t1"], "type": "task:failed",
                   "payload": {"id": "t1", "error": {"message": "boom"}}})
        );
        let back: Event = serde_json::from_value(value).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn unknown_type_is_named() {
        let err = EventBody::from_json(json!({"type": "task:exploded", "payload": {}})).unwrap_err();
        assert!(matches!(err, Invalid::UnknownType(ref t) if t == "task:exploded"));
        assert!(err.to_string().contains("task:created"));
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (json!({"type": "task:created", "payload": {}}), "title"),
            (json!({"type": "task:created", "payload": {"title": "x", "titel": "y"}}), "titel"),
            (json!({"type": "task:progress", "payload": {"id": "a", "progress": 101}}), "progress"),
            (json!({"type": "task:failed", "payload": {"id": "a b", "error": "x"}}), "`id`"),
            (json!({"type": "task:created", "payload": {"title": "  "}}), "title"),
            (
                json!({"type": "activity:logged", "payload": {"task_id": "t", "category": "Git!", "message": "m"}}),
                "category",
            ),
            (
                json!({"type": "deliverable:added", "payload": {"task_id": "t", "kind": "url", "title": "x", "path": "javascript:x"}}),
                "path",
            ),
            (json!({"type": "budget:updated", "payload": {"spent_usd": -1}}), "spent_usd"),
        ];
        for (body, field) in cases {
            let err = EventBody::from_json(body.clone()).unwrap_err();
            assert!(err.to_string().contains(field), "{body}: {err}");
        }
    }

    #[test]
    fn every_type_is_listed_once() {
        let mut types = EVENT_TYPES.to_vec();
        types.sort();
        types.dedup();
        assert_eq!(types.len(), EVENT_TYPES.len());
        assert!(EVENT_TYPES.iter().all(|t| t.contains(':')), "types are entity:verb");
    }
}

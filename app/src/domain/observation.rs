//! The generic observability event: anything an orchestrator wants in the event stream that has no
//! entity of its own (a log line, a decision, a warning). It changes no state.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{check, EntitySet, Invalid, Payload, Stamp, Step};
use crate::topics;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    pub message: String,
    #[serde(default)]
    pub level: Level,
    /// What emitted it: `orchestrator`, `spawner`, a tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl Payload for Observation {
    fn validate(&self) -> Result<(), Invalid> {
        check::required("message", &self.message, check::MAX_TEXT)?;
        check::name("source", self.source.as_deref())?;
        check::opt_id("task_id", self.task_id.as_deref())?;
        check::opt_id("agent", self.agent.as_deref())?;
        check::json_object("data", self.data.as_ref())
    }
    fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.task_id.as_deref().map(topics::task).into_iter().collect();
        topics.extend(self.agent.as_deref().map(topics::agent));
        topics
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, _: &mut EntitySet, _: &Stamp) -> Result<(), Step> {
        Ok(())
    }
}

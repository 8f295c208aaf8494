//! Activities: the timeline of a task, one entry per thing that happened (execution, agent, git,
//! review, spawned, file_created…), with who did it and free-form metadata.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{check, entity::Index, generated_id, task::Task, Entity, EntitySet, Invalid, Payload, Seq, Stamp, Step};
use crate::topics;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub id: String,
    pub task_id: String,
    pub category: String,
    pub message: String,
    pub actor: Option<String>,
    pub metadata: Option<Value>,
    pub created_at: String,
    pub seq: Seq,
}

impl Entity for Activity {
    const KIND: &'static str = "activity";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index { parent: Some(self.task_id.clone()), status: Some(self.category.clone()), sort: self.seq as i64 }
    }
}

impl Activity {
    /// The entry an `activity:logged` event makes, as the browser and the store both build it.
    pub fn logged(e: &ActivityLogged, at: &Stamp) -> Activity {
        Activity {
            id: e.id.clone().unwrap_or_else(|| generated_id("act", at)),
            task_id: e.task_id.clone(),
            category: e.category.clone(),
            message: e.message.clone(),
            actor: e.actor.clone(),
            metadata: e.metadata.clone(),
            created_at: at.ts.clone(),
            seq: at.seq,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityLogged {
    /// `act-<seq>` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub task_id: String,
    /// A lowercase word: execution, agent, git, review, spawned, updated, completed, file_created…
    pub category: String,
    pub message: String,
    /// Who did it: an agent's id, `system`, a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

impl Payload for ActivityLogged {
    fn validate(&self) -> Result<(), Invalid> {
        check::opt_id("id", self.id.as_deref())?;
        check::id("task_id", &self.task_id)?;
        check::word("category", &self.category)?;
        check::required("message", &self.message, check::MAX_TEXT)?;
        check::name("actor", self.actor.as_deref())?;
        check::json_object("metadata", self.metadata.as_ref())
    }
    fn topics(&self) -> Vec<String> {
        vec![topics::task(&self.task_id)]
    }
    fn task_id(&self) -> Option<&str> {
        Some(&self.task_id)
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        set.require::<Task>(&self.task_id)?;
        self.id.get_or_insert_with(|| generated_id("act", at));
        set.absent::<Activity>(self.id.as_deref().unwrap_or_default())?;
        set.put(&Activity::logged(self, at));
        Ok(())
    }
}

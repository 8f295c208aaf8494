//! Test runs an agent starts and finishes (`test:started`, `test:completed`), with their counts.

use serde::{Deserialize, Serialize};

use super::{check, entity::Index, task::Task, Entity, EntitySet, Invalid, Payload, Refusal, Seq, Stamp, Step};
use crate::topics;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestRun {
    pub id: String,
    pub task_id: Option<String>,
    pub name: String,
    pub suite: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
    pub duration_ms: Option<u64>,
    pub seq: Seq,
}

impl Entity for TestRun {
    const KIND: &'static str = "test_run";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        let status = match (&self.ended_at, self.failed) {
            (None, _) => "running",
            (Some(_), 0) => "passed",
            (Some(_), _) => "failed",
        };
        Index { parent: self.task_id.clone(), status: Some(status.into()), sort: self.seq as i64 }
    }
}

impl TestRun {
    pub fn started(e: &TestStarted, at: &Stamp) -> TestRun {
        TestRun {
            id: e.id.clone(),
            task_id: e.task_id.clone(),
            name: e.name.clone(),
            suite: e.suite.clone(),
            started_at: at.ts.clone(),
            ended_at: None,
            passed: 0,
            failed: 0,
            skipped: 0,
            duration_ms: None,
            seq: at.seq,
        }
    }

    pub fn complete(&mut self, e: &TestCompleted, at: &Stamp) {
        self.ended_at = Some(at.ts.clone());
        (self.passed, self.failed, self.skipped, self.duration_ms) = (e.passed, e.failed, e.skipped, e.duration_ms);
    }
}

fn test_topics(task_id: Option<&str>) -> Vec<String> {
    task_id.map(topics::task).into_iter().collect()
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestStarted {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

impl Payload for TestStarted {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::required("name", &self.name, check::MAX_TITLE)?;
        check::text("suite", self.suite.as_deref(), check::MAX_TITLE)?;
        check::opt_id("task_id", self.task_id.as_deref())
    }
    fn topics(&self) -> Vec<String> {
        test_topics(self.task_id.as_deref())
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        set.absent::<TestRun>(&self.id)?;
        if let Some(task_id) = &self.task_id {
            set.require::<Task>(task_id)?;
        }
        set.put(&TestRun::started(self, at));
        Ok(())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCompleted {
    pub id: String,
    pub passed: u32,
    pub failed: u32,
    #[serde(default)]
    pub skipped: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Filled in by the server from the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

impl Payload for TestCompleted {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("id", &self.id)?;
        check::opt_id("task_id", self.task_id.as_deref())
    }
    fn topics(&self) -> Vec<String> {
        test_topics(self.task_id.as_deref())
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let mut run = set.require::<TestRun>(&self.id)?;
        if run.ended_at.is_some() {
            return Err(Refusal::Conflict(format!("test run `{}` has already completed", self.id)).into());
        }
        run.complete(self, at);
        self.task_id = run.task_id.clone();
        set.put(&run);
        Ok(())
    }
}

//! The sprint runner's runs (seeds/002): a batch of cycles, each cycle running commands on stories,
//! with story status changes, context events and errors — under the document's own event names
//! (`batch:start`, `cycle:end`, `command:progress`…; its `error` is `run:error` here, so it is never
//! mistaken for the socket's own error frame). Everything is on the `runs` topic.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{check, entity::Index, Entity, EntitySet, EventBody, Invalid, Payload, Refusal, Seq, Stamp, Step};
use crate::topics;

/// How many cycles a batch may run: a number, or `"all"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum MaxCycles {
    Count(u32),
    All(All),
}

impl<'de> Deserialize<'de> for MaxCycles {
    /// Told apart by the token's type, with no buffering (see `crate::wire`).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<MaxCycles, D::Error> {
        struct Cycles;
        impl serde::de::Visitor<'_> for Cycles {
            type Value = MaxCycles;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of cycles or \"all\"")
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<MaxCycles, E> {
                u32::try_from(n)
                    .map(MaxCycles::Count)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(n), &self))
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<MaxCycles, E> {
                match text {
                    "all" => Ok(MaxCycles::All(All::All)),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(text), &self)),
                }
            }
        }
        deserializer.deserialize_any(Cycles)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum All {
    All,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    #[default]
    Running,
    Completed,
    Stopped,
    Error,
}

impl BatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Running => "running",
            BatchStatus::Completed => "completed",
            BatchStatus::Stopped => "stopped",
            BatchStatus::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub id: String,
    pub batch_id: u64,
    pub max_cycles: MaxCycles,
    pub status: BatchStatus,
    pub cycles_completed: u32,
    /// The cycle running now.
    pub cycle: Option<u32>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub seq: Seq,
}

impl Entity for Batch {
    const KIND: &'static str = "batch";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index { parent: None, status: Some(self.status.as_str().into()), sort: self.seq as i64 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cycle {
    pub id: String,
    pub batch_id: u64,
    pub number: u32,
    pub story_keys: Vec<String>,
    pub completed_stories: Vec<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
}

impl Entity for Cycle {
    const KIND: &'static str = "cycle";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index { parent: Some(batch_key(self.batch_id)), status: None, sort: i64::from(self.number) }
    }
}

/// One command run on one story.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub id: String,
    pub batch_id: Option<u64>,
    pub cycle: Option<u32>,
    pub story_key: String,
    pub command: String,
    pub task_id: String,
    /// `running` until it ends, then the status it ended with (`success`, `error`…).
    pub status: String,
    pub message: Option<String>,
    pub metrics: Option<Value>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub seq: Seq,
}

impl Entity for Command {
    const KIND: &'static str = "command";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index { parent: self.batch_id.map(batch_key), status: Some(self.status.clone()), sort: self.seq as i64 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Story {
    pub id: String,
    pub status: String,
    pub updated_at: String,
}

impl Entity for Story {
    const KIND: &'static str = "story";
    fn id(&self) -> &str {
        &self.id
    }
}

/// Which batch and cycle are running in a workspace: later events name neither.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub id: String,
    pub batch_id: Option<u64>,
    pub cycle: Option<u32>,
}

impl Entity for RunState {
    const KIND: &'static str = "run_state";
    fn id(&self) -> &str {
        &self.id
    }
}

/// The one run state row of a workspace.
pub const RUN_STATE: &str = "current";

pub fn batch_key(batch_id: u64) -> String {
    format!("b{batch_id}")
}

fn cycle_key(batch_id: u64, number: u32) -> String {
    format!("b{batch_id}-c{number}")
}

fn command_key(story_key: &str, command: &str, task_id: &str) -> String {
    format!("{story_key}:{command}:{task_id}")
}

fn run_state(set: &EntitySet) -> Result<RunState, Step> {
    Ok(set.get::<RunState>(RUN_STATE)?.unwrap_or(RunState { id: RUN_STATE.into(), ..RunState::default() }))
}

fn runs() -> Vec<String> {
    vec![topics::RUNS.to_string()]
}

/// What every run event shares: the `runs` topic, and no task of Flightdeck's.
macro_rules! on_runs {
    () => {
        fn topics(&self) -> Vec<String> {
            runs()
        }
    };
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchStart {
    pub batch_id: u64,
    pub max_cycles: MaxCycles,
}

impl Payload for BatchStart {
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }
    on_runs!();
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let id = batch_key(self.batch_id);
        set.absent::<Batch>(&id)?;
        set.put(&Batch {
            id,
            batch_id: self.batch_id,
            max_cycles: self.max_cycles,
            status: BatchStatus::Running,
            cycles_completed: 0,
            cycle: None,
            started_at: at.ts.clone(),
            ended_at: None,
            seq: at.seq,
        });
        set.put(&RunState { id: RUN_STATE.into(), batch_id: Some(self.batch_id), cycle: None });
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchEnd {
    pub batch_id: u64,
    pub cycles_completed: u32,
    pub status: BatchStatus,
}

impl Payload for BatchEnd {
    fn validate(&self) -> Result<(), Invalid> {
        match self.status {
            BatchStatus::Running => Err(check::field("status", "must be completed, stopped or error")),
            _ => Ok(()),
        }
    }
    on_runs!();
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let mut batch = set.require::<Batch>(&batch_key(self.batch_id))?;
        if batch.ended_at.is_some() {
            return Err(Refusal::Conflict(format!("batch {} has already ended", self.batch_id)).into());
        }
        (batch.status, batch.cycles_completed, batch.cycle) = (self.status, self.cycles_completed, None);
        batch.ended_at = Some(at.ts.clone());
        set.put(&batch);
        let mut state = run_state(set)?;
        if state.batch_id == Some(self.batch_id) {
            (state.batch_id, state.cycle) = (None, None);
            set.put(&state);
        }
        Ok(())
    }
}

/// The running batch a cycle event belongs to, or a refusal saying none runs.
fn running_batch(set: &EntitySet) -> Result<(RunState, Batch), Step> {
    let state = run_state(set)?;
    let id = state.batch_id.ok_or_else(|| Refusal::Unknown("no batch is running: send batch:start first".into()))?;
    let batch = set.require::<Batch>(&batch_key(id))?;
    Ok((state, batch))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CycleStart {
    pub cycle_number: u32,
    pub story_keys: Vec<String>,
}

impl Payload for CycleStart {
    fn validate(&self) -> Result<(), Invalid> {
        self.story_keys.iter().try_for_each(|k| check::id("story_keys", k))
    }
    on_runs!();
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let (mut state, mut batch) = running_batch(set)?;
        let id = cycle_key(batch.batch_id, self.cycle_number);
        set.absent::<Cycle>(&id)?;
        set.put(&Cycle {
            id,
            batch_id: batch.batch_id,
            number: self.cycle_number,
            story_keys: self.story_keys.clone(),
            completed_stories: vec![],
            started_at: at.ts.clone(),
            ended_at: None,
        });
        batch.cycle = Some(self.cycle_number);
        state.cycle = Some(self.cycle_number);
        set.put(&batch);
        set.put(&state);
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CycleEnd {
    pub cycle_number: u32,
    pub completed_stories: Vec<String>,
}

impl Payload for CycleEnd {
    fn validate(&self) -> Result<(), Invalid> {
        self.completed_stories.iter().try_for_each(|k| check::id("completed_stories", k))
    }
    on_runs!();
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let (mut state, mut batch) = running_batch(set)?;
        let mut cycle = set.require::<Cycle>(&cycle_key(batch.batch_id, self.cycle_number))?;
        if cycle.ended_at.is_some() {
            return Err(Refusal::Conflict(format!("cycle {} has already ended", self.cycle_number)).into());
        }
        cycle.completed_stories = self.completed_stories.clone();
        cycle.ended_at = Some(at.ts.clone());
        batch.cycles_completed += 1;
        batch.cycle = None;
        state.cycle = None;
        set.put(&cycle);
        set.put(&batch);
        set.put(&state);
        Ok(())
    }
}

/// The fields every command event names it by.
macro_rules! command_event {
    ($(#[$doc:meta])* $name:ident { $($(#[$attr:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub story_key: String,
            pub command: String,
            pub task_id: String,
            $($(#[$attr])* pub $field: $ty,)*
        }

        impl $name {
            fn check_names(&self) -> Result<(), Invalid> {
                check::id("story_key", &self.story_key)?;
                check::id("command", &self.command)?;
                check::id("task_id", &self.task_id)
            }

            fn key(&self) -> String {
                command_key(&self.story_key, &self.command, &self.task_id)
            }
        }
    };
}

command_event!(CommandStart {});
command_event!(CommandProgress { message: String });
command_event!(CommandEnd {
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metrics: Option<Value>,
});

impl Payload for CommandStart {
    fn validate(&self) -> Result<(), Invalid> {
        self.check_names()
    }
    on_runs!();
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let state = run_state(set)?;
        let id = self.key();
        set.absent::<Command>(&id)?;
        set.put(&Command {
            id,
            batch_id: state.batch_id,
            cycle: state.cycle,
            story_key: self.story_key.clone(),
            command: self.command.clone(),
            task_id: self.task_id.clone(),
            status: "running".into(),
            message: None,
            metrics: None,
            started_at: at.ts.clone(),
            ended_at: None,
            seq: at.seq,
        });
        Ok(())
    }
}

impl Payload for CommandProgress {
    fn validate(&self) -> Result<(), Invalid> {
        self.check_names()?;
        check::required("message", &self.message, check::MAX_TEXT)
    }
    on_runs!();
    fn project(&mut self, set: &mut EntitySet, _: &Stamp) -> Result<(), Step> {
        let mut command = running_command(set, &self.key())?;
        command.message = Some(self.message.clone());
        set.put(&command);
        Ok(())
    }
}

impl Payload for CommandEnd {
    fn validate(&self) -> Result<(), Invalid> {
        self.check_names()?;
        check::word("status", &self.status)?;
        check::json_object("metrics", self.metrics.as_ref())
    }
    on_runs!();
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        let mut command = running_command(set, &self.key())?;
        (command.status, command.metrics) = (self.status.clone(), self.metrics.clone());
        command.ended_at = Some(at.ts.clone());
        set.put(&command);
        Ok(())
    }
}

fn running_command(set: &EntitySet, id: &str) -> Result<Command, Step> {
    let command = set.require::<Command>(id)?;
    if command.ended_at.is_some() {
        return Err(Refusal::Conflict(format!("command `{id}` has already ended")).into());
    }
    Ok(command)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoryStatus {
    pub story_key: String,
    pub old_status: String,
    pub new_status: String,
}

impl Payload for StoryStatus {
    fn validate(&self) -> Result<(), Invalid> {
        check::id("story_key", &self.story_key)?;
        check::word("old_status", &self.old_status)?;
        check::word("new_status", &self.new_status)
    }
    on_runs!();
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        set.put(&Story { id: self.story_key.clone(), status: self.new_status.clone(), updated_at: at.ts.clone() });
        Ok(())
    }
}

/// `context:create`, `context:refresh`, `context:complete`: the runner's context work on a story.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

impl Payload for ContextEvent {
    fn validate(&self) -> Result<(), Invalid> {
        check::opt_id("story_key", self.story_key.as_deref())?;
        check::opt_id("task_id", self.task_id.as_deref())?;
        check::text("message", self.message.as_deref(), check::MAX_TEXT)?;
        check::json_object("context", self.context.as_ref())
    }
    on_runs!();
    fn project(&mut self, _: &mut EntitySet, _: &Stamp) -> Result<(), Step> {
        Ok(())
    }
}

/// The runner's `error` (posted as `error` or `run:error`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

impl Payload for RunError {
    fn validate(&self) -> Result<(), Invalid> {
        check::required("type", &self.kind, check::MAX_ID)?;
        check::required("message", &self.message, check::MAX_TEXT)?;
        check::json_object("context", self.context.as_ref())
    }
    on_runs!();
    fn project(&mut self, _: &mut EntitySet, _: &Stamp) -> Result<(), Step> {
        Ok(())
    }
}

/// The runs page's view: every batch, and the cycles and commands of the latest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Runs {
    pub seq: Seq,
    /// Newest first.
    pub batches: Vec<Batch>,
    pub cycles: Vec<Cycle>,
    pub commands: Vec<Command>,
    pub stories: Vec<Story>,
}

/// The runs page projects every run event through the store's own rules.
impl super::kinds::Reads for Runs {
    const READS: u64 = crate::domain::ALL_EVENTS;
}

impl Runs {
    /// The batch the page is about: the running one, else the latest.
    pub fn current(&self) -> Option<&Batch> {
        self.batches.iter().find(|b| b.ended_at.is_none()).or(self.batches.first())
    }

    /// Applies a run event with the same rules the store uses, on the page's own rows.
    pub fn apply(&mut self, event: &super::Event) {
        if event.seq <= self.seq || !event.topics.iter().any(|t| t == topics::RUNS) {
            return;
        }
        self.seq = event.seq;
        let at = event.stamp();
        let mut set = EntitySet::default();
        let running = self.batches.iter().find(|b| b.ended_at.is_none());
        let state = RunState {
            id: RUN_STATE.into(),
            batch_id: running.map(|b| b.batch_id),
            cycle: running.and_then(|b| b.cycle),
        };
        set.preload(&state);
        self.batches.iter().for_each(|b| set.preload(b));
        self.cycles.iter().for_each(|c| set.preload(c));
        self.commands.iter().for_each(|c| set.preload(c));
        // Rows the page does not hold (an older batch's) read as absent; the page shows what it can.
        for _ in 0..16 {
            let mut body = event.body.clone();
            set.reset_writes();
            match body.project_own(&mut set, &at) {
                Err(Step::Need { kind, id }) => set.provide(kind, id, None),
                _ => break,
            }
        }
        for row in set.into_rows() {
            match row.kind {
                Batch::KIND => upsert(&mut self.batches, &row.data, true),
                Cycle::KIND => upsert(&mut self.cycles, &row.data, false),
                Command::KIND => upsert(&mut self.commands, &row.data, false),
                Story::KIND => upsert(&mut self.stories, &row.data, false),
                _ => {}
            }
        }
        if let EventBody::BatchStart(e) = &event.body {
            // A new batch: the page shows its cycles and commands from now on.
            self.cycles.retain(|c| c.batch_id == e.batch_id);
            self.commands.retain(|c| c.batch_id == Some(e.batch_id));
        }
    }
}

/// Replaces the row with the same id or adds it (at the front when `newest_first`).
fn upsert<T: Entity>(rows: &mut Vec<T>, data: &str, newest_first: bool) {
    let Ok(row) = serde_json::from_str::<T>(data) else { return };
    match rows.iter_mut().find(|r| r.id() == row.id()) {
        Some(existing) => *existing = row,
        None if newest_first => rows.insert(0, row),
        None => rows.push(row),
    }
}

#[cfg(test)]
mod tests {
    use super::{All, MaxCycles};

    #[test]
    fn max_cycles_is_a_number_or_all_and_anything_else_is_refused() {
        assert_eq!(serde_json::from_str::<MaxCycles>("3").unwrap(), MaxCycles::Count(3));
        assert_eq!(serde_json::from_str::<MaxCycles>(r#""all""#).unwrap(), MaxCycles::All(All::All));
        for bad in [r#""some""#, "-1", "4294967296", "1.5", "null"] {
            let err = serde_json::from_str::<MaxCycles>(bad).unwrap_err().to_string();
            assert!(err.contains("a number of cycles or \"all\""), "{bad}: {err}");
        }
    }
}

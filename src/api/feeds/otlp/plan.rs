//! What one export request turns into, and what it needs to know of the store to decide it: the
//! sessions its records start (committed first, outermost first, so each record's own events
//! stand alone), a group of events per record, and what it learned along the way (which sessions
//! run, which usage source a session counts, which activities exist).

use std::collections::{HashMap, HashSet};

use app::domain::{
    activity::Activity,
    agent::AgentHeartbeat,
    session::{Session, SessionStarted},
    EventBody,
};

use crate::{
    api::{
        compat,
        error::ApiError,
        ingest::{accept_once, Intake},
    },
    state::AppState,
    store::TokenRecord,
};

pub struct Plan<'a> {
    pub state: &'a AppState,
    caller: &'a TokenRecord,
    signal: &'static str,
    bytes: usize,
    /// Heartbeats of the agents the records name and the sessions they start, in order.
    first: Vec<EventBody>,
    groups: Vec<Vec<EventBody>>,
    unmapped: u64,
    /// Sessions looked up in the store, by id.
    stored: HashMap<String, Option<Session>>,
    /// Sessions this request starts.
    started: HashSet<String>,
    /// Sessions this request ends.
    ended: HashSet<String>,
    /// Agents this request has already said are alive.
    alive: HashSet<String>,
    /// The usage source each session counts, as far as this request knows.
    usage_sources: HashMap<String, Option<String>>,
    /// Activities looked up or logged, by id: the trace that reported each, when one did.
    activities: HashMap<String, Option<Option<String>>>,
}

/// How a request ended: records refused, and the first reason.
pub struct Outcome {
    pub rejected: i64,
    pub why: Option<String>,
}

impl<'a> Plan<'a> {
    pub fn new(state: &'a AppState, caller: &'a TokenRecord, signal: &'static str, bytes: usize) -> Plan<'a> {
        Plan {
            state,
            caller,
            signal,
            bytes,
            first: Vec::new(),
            groups: Vec::new(),
            unmapped: 0,
            stored: HashMap::new(),
            started: HashSet::new(),
            ended: HashSet::new(),
            alive: HashSet::new(),
            usage_sources: HashMap::new(),
            activities: HashMap::new(),
        }
    }

    pub fn workspace(&self) -> &str {
        &self.caller.workspace
    }

    /// A record that maps to nothing.
    pub fn unmapped(&mut self) {
        self.unmapped += 1;
    }

    pub fn add(&mut self, group: Vec<EventBody>) {
        if group.is_empty() {
            self.unmapped += 1;
        } else {
            self.groups.push(group);
        }
    }

    /// The stored session with this id (looked up once per request).
    pub async fn stored(&mut self, id: &str) -> Result<Option<Session>, ApiError> {
        if let Some(known) = self.stored.get(id) {
            return Ok(known.clone());
        }
        let session = super::super::session(self.state, self.caller, id).await?;
        self.stored.insert(id.to_string(), session.clone());
        Ok(session)
    }

    /// Whether the session is stored or this request starts it.
    pub async fn has_session(&mut self, id: &str) -> Result<bool, ApiError> {
        Ok(self.started.contains(id) || self.stored(id).await?.is_some())
    }

    /// Whether the session runs once this request's earlier records are in.
    pub async fn is_running(&mut self, id: &str) -> Result<bool, ApiError> {
        if self.ended.contains(id) {
            return Ok(false);
        }
        Ok(self.started.contains(id) || self.stored(id).await?.is_some_and(|s| s.is_active()))
    }

    /// Starts the session unless it is stored or already started by this request.
    pub async fn start(&mut self, started: SessionStarted) -> Result<(), ApiError> {
        if self.has_session(&started.id).await? {
            return Ok(());
        }
        self.started.insert(started.id.clone());
        self.first.push(EventBody::SessionStarted(started));
        Ok(())
    }

    /// An event every record builds on (a session learning its agent), committed before them.
    pub fn first(&mut self, event: EventBody) {
        self.first.push(event);
    }

    /// The agent's telemetry arrived: it is alive (once per request).
    pub fn alive(&mut self, agent: &str) {
        if self.alive.insert(agent.to_string()) {
            self.first.push(EventBody::AgentHeartbeat(AgentHeartbeat { id: agent.to_string(), task_id: None }));
        }
    }

    /// Whether this is the first end of a running session in this request; afterwards it is ended.
    pub async fn end(&mut self, id: &str) -> Result<bool, ApiError> {
        let running = self.is_running(id).await?;
        self.ended.insert(id.to_string());
        Ok(running)
    }

    /// Whether a report from `source` counts for the session: a session counts its first source
    /// only, and a report that would add nothing is not stored at all.
    pub async fn counts_usage(&mut self, session: &str, source: &str) -> Result<bool, ApiError> {
        if !self.usage_sources.contains_key(session) {
            let stored = self.stored(session).await?.and_then(|s| s.usage_source);
            self.usage_sources.insert(session.to_string(), stored);
        }
        let counted = self.usage_sources.get_mut(session).expect("just looked up");
        match counted {
            Some(first) => Ok(first == source),
            None => {
                *counted = Some(source.to_string());
                Ok(true)
            }
        }
    }

    /// The activity for a tool call: `base`, unless another trace reported that call id (the
    /// same `call_1` in two runs), then `base` scoped by this trace. A hook feed's entry, which no
    /// trace reported, is this very call. Says whether it exists (or this request logs it);
    /// afterwards it does, as this trace's.
    pub async fn tool_activity(&mut self, base: String, trace: Option<&str>) -> Result<(String, bool), ApiError> {
        let id = match (self.reporter(&base).await?, trace) {
            (Some(Some(theirs)), Some(ours)) if theirs != ours => crate::api::feeds::id_of(&format!("{base}-{ours}")),
            _ => base,
        };
        let exists = self.reporter(&id).await?.is_some();
        if !matches!(self.activities.get(&id), Some(Some(Some(_)))) {
            self.activities.insert(id.clone(), Some(trace.map(str::to_string)));
        }
        Ok((id, exists))
    }

    /// Whether the activity exists (`None` when not) and which trace reported it, looked up once
    /// per request.
    async fn reporter(&mut self, id: &str) -> Result<Option<Option<String>>, ApiError> {
        if let Some(known) = self.activities.get(id) {
            return Ok(known.clone());
        }
        let found = compat::find::<Activity>(self.state, &self.caller.workspace, id).await?;
        let known = found.map(|a| reported_by(&a));
        self.activities.insert(id.to_string(), known.clone());
        Ok(known)
    }

    /// Whether an activity exists (or this request logs it); afterwards it counts as existing.
    pub async fn claim_activity(&mut self, id: &str) -> Result<bool, ApiError> {
        let (_, exists) = self.tool_activity(id.to_string(), None).await?;
        Ok(exists)
    }

    /// Commits every group as one batch, the events they build on first; when that is refused,
    /// one by one, so one bad record costs only itself.
    pub async fn commit(self) -> Result<Outcome, ApiError> {
        let metrics = &self.state.metrics;
        let count = |outcome: &str, n: u64| {
            metrics.counter(crate::metrics::OTLP_RECORDS, &[("signal", self.signal), ("outcome", outcome)]).increment(n)
        };
        count("unmapped", self.unmapped);
        let mut outcome = Outcome { rejected: 0, why: None };
        let mut valid = Vec::new();
        for group in self.groups {
            match group.iter().find_map(|e| e.validate().err()) {
                Some(e) => outcome.refuse(e.to_string()),
                None => valid.push(group),
            }
        }
        // What the records build on goes first, each alone, so that a refused one costs only the
        // records that needed it.
        let first: Vec<Vec<EventBody>> =
            self.first.into_iter().filter(|e| e.validate().is_ok()).map(|e| vec![e]).collect();
        let mapped = valid.len() as u64;
        if valid.is_empty() {
            count("rejected", outcome.rejected as u64);
            return Ok(outcome);
        }
        let intake = |groups: usize| Intake { bytes: self.bytes.max(groups), ..Intake::default() };
        let all: Vec<EventBody> = first.iter().chain(&valid).flatten().cloned().collect();
        match accept_once(self.state, self.caller, all, intake(valid.len())).await {
            Ok(_) => count("mapped", mapped),
            Err(ApiError::Conflict(_) | ApiError::Invalid(_)) => {
                for group in first {
                    // A start refused here is one another request made first: the records go on.
                    match accept_once(self.state, self.caller, group, intake(1)).await {
                        Ok(_) | Err(ApiError::Conflict(_) | ApiError::Invalid(_)) => {}
                        Err(other) => return Err(other),
                    }
                }
                for group in valid {
                    match accept_once(self.state, self.caller, group, intake(1)).await {
                        Ok(_) => count("mapped", 1),
                        Err(e @ (ApiError::Conflict(_) | ApiError::Invalid(_))) => outcome.refuse(e.to_string()),
                        Err(other) => return Err(other),
                    }
                }
            }
            Err(other) => return Err(other),
        }
        count("rejected", outcome.rejected as u64);
        Ok(outcome)
    }
}

/// The trace an activity was reported by, as its metadata says (`otel_span.trace_id`).
fn reported_by(activity: &Activity) -> Option<String> {
    let trace = activity.metadata.as_ref()?.get("otel_span")?.get("trace_id")?.as_str()?;
    Some(trace.to_string())
}

impl Outcome {
    fn refuse(&mut self, why: String) {
        self.rejected += 1;
        self.why.get_or_insert(why);
    }
}

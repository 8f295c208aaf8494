//! OTLP traces: GenAI semantic-convention spans.
//!
//! - A trace is a session, `otel-<trace id>`, of its outermost `invoke_agent` span's agent
//!   (`gen_ai.agent.name`, else `gen_ai.agent.id`, else the resource's `service.name`), whether
//!   that span is the trace's root or sits under one (an HTTP server span, say).
//! - A nested `invoke_agent` span is a sub-agent session under its nearest agent's.
//! - `execute_tool` → an activity on the session of its nearest `invoke_agent` ancestor, else the
//!   trace's. Its id is `tool-<gen_ai.tool.call.id>`, so the Claude Code hook feed's entry for the
//!   same call is finished rather than repeated; when another trace already reported that call id
//!   (frameworks number their calls `call_1`, `call_2`…), the id is scoped by the trace.
//! - `gen_ai.usage.input_tokens` / `output_tokens` → `usage:reported` on that session. Inference
//!   spans and agent spans are two sources, and a session counts the first (another source's
//!   reports are not stored), so an agent span that sums its children's usage does not count
//!   twice.
//! - An agent span ends its session; the trace's root span ends the trace's session.
//!
//! Exporters send spans as they end, so children come before their parents when an agent runs
//! longer than one batch. What arrived first was placed as well as it could be; when the agent's
//! span arrives, the trace's session is renamed after its agent (`session:attributed`) and the
//! calls that were waiting for it move to its session (`activity:moved`). Calls remember the
//! span they wait for in their metadata (`otel_span.waiting_for`).
//!
//! Other spans map to nothing. The spans are linked once per export (`forest`): the work is linear
//! in the export's size whatever its parent links say.

use std::collections::HashMap;

use app::domain::{
    activity::{Activity, ActivityLogged, ActivityStatus, ActivityUpdated},
    entity::Query,
    ownership::{ActivityMoved, SessionAttributed},
    session::{SessionEnded, SessionOutcome},
    usage::UsageReported,
    EventBody,
};
use opentelemetry_proto::tonic::{collector::trace::v1::ExportTraceServiceRequest, trace::v1::Span};
use serde_json::{json, Value};

use super::{attr_text, attr_u64, attrs_json, forest::Forest, service, session_of, Plan};
use crate::api::{
    error::ApiError,
    feeds::{clip, id_of, metadata},
};

/// Status code of a failed span.
const STATUS_ERROR: i32 = 2;
/// Calls waiting for their agent that one late agent span looks through.
const WAITING: u32 = 1_000;

fn operation(span: &Span) -> Option<String> {
    attr_text(&span.attributes, "gen_ai.operation.name").or_else(|| {
        let first = span.name.split_whitespace().next()?;
        matches!(first, "invoke_agent" | "execute_tool").then(|| first.to_string())
    })
}

fn is_agent(span: &Span) -> bool {
    operation(span).as_deref() == Some("invoke_agent")
}

fn trace_session(span: &Span) -> String {
    format!("otel-{}", hex::encode(&span.trace_id))
}

fn agent_session(span: &Span) -> String {
    id_of(&format!("otel-{}-{}", hex::encode(&span.trace_id), hex::encode(&span.span_id)))
}

fn agent_name(span: &Span) -> Option<String> {
    attr_text(&span.attributes, "gen_ai.agent.name").or_else(|| attr_text(&span.attributes, "gen_ai.agent.id"))
}

fn short(span: &Span) -> String {
    hex::encode(&span.trace_id[..4.min(span.trace_id.len())])
}

/// Each span's session: an agent's own, or its nearest agent's, or the trace's.
fn sessions(forest: &Forest) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(forest.len());
    for i in 0..forest.len() {
        let span = forest.span(i);
        out.push(if forest.is_trace_agent(i) {
            trace_session(span)
        } else if forest.is_agent[i] {
            agent_session(span)
        } else {
            // Settled in any order: the home's own session is computed the same way.
            match forest.home[i] {
                Some(h) if forest.is_trace_agent(h) => trace_session(span),
                Some(h) => agent_session(forest.span(h)),
                None => trace_session(span),
            }
        });
    }
    out
}

pub async fn map(plan: &mut Plan<'_>, request: ExportTraceServiceRequest) -> Result<(), ApiError> {
    let spans: Vec<(String, &Span)> = request
        .resource_spans
        .iter()
        .flat_map(|r| {
            let agent = service(r.resource.as_ref());
            r.scope_spans.iter().flat_map(|s| &s.spans).map(move |span| (agent.clone(), span))
        })
        .collect();
    let forest = Forest::link(spans, is_agent);
    let sessions = sessions(&forest);
    let mut waiting = Waiting::default();
    // Outermost agents first, so each session's parent is started before it.
    let mut agents: Vec<usize> = (0..forest.len()).filter(|&i| forest.is_agent[i]).collect();
    agents.sort_by_key(|&i| forest.depth[i]);
    for &i in &agents {
        open_agent_session(plan, &forest, &sessions, i).await?;
    }
    for i in 0..forest.len() {
        let mut group = waiting.arrived(plan, &forest, &sessions, i).await?;
        group.extend(span_events(plan, &forest, &sessions, i).await?);
        plan.add(group);
    }
    Ok(())
}

/// The trace's session, started under the service's name when no agent has named it yet.
async fn open_trace_session(plan: &mut Plan<'_>, forest: &Forest<'_>, i: usize) -> Result<String, ApiError> {
    let (span, service_name) = (forest.span(i), forest.service(i));
    let id = trace_session(span);
    let title = format!("{service_name} · trace {}", short(span));
    plan.alive(&id_of(service_name));
    plan.start(session_of(&id, service_name, title, None)).await?;
    Ok(id)
}

/// Starts an agent span's session, or says what it learned of one started before: the trace's
/// agent names the trace's session, and a sub-agent learns the session it runs under.
async fn open_agent_session(
    plan: &mut Plan<'_>,
    forest: &Forest<'_>,
    sessions: &[String],
    i: usize,
) -> Result<(), ApiError> {
    let span = forest.span(i);
    let name = agent_name(span).unwrap_or_else(|| forest.service(i).to_string());
    let (id, agent) = (sessions[i].clone(), id_of(&name));
    plan.alive(&agent);
    let parent = match forest.home[i] {
        _ if forest.is_trace_agent(i) => None,
        Some(h) => Some(sessions[h].clone()),
        // Its agent has not arrived: under the trace's session until it does.
        None => Some(open_trace_session(plan, forest, i).await?),
    };
    match plan.stored(&id).await? {
        None => plan.start(session_of(&id, &name, name.clone(), parent)).await?,
        Some(stored) => {
            let renamed = stored.agent.as_deref() != Some(agent.as_str());
            // Only a sub-agent placed under the trace's session while its agent had not arrived
            // moves; a retried export that lacks its agent leaves it where it is.
            let provisional = stored.parent_id.as_deref() == Some(trace_session(span).as_str());
            let moved = forest.home[i].is_some() && provisional && stored.parent_id != parent;
            if renamed || moved {
                plan.first(EventBody::SessionAttributed(SessionAttributed {
                    id,
                    agent: renamed.then_some(agent),
                    title: renamed.then_some(name),
                    parent_id: parent.filter(|_| moved),
                    ..Default::default()
                }));
            }
        }
    }
    Ok(())
}

/// Calls on a trace's session that wait for a span that had not arrived, by the span they wait
/// for: read once per trace per request.
#[derive(Default)]
struct Waiting {
    by_trace: HashMap<String, HashMap<String, Vec<String>>>,
}

impl Waiting {
    /// The calls that waited for span `i` move to its session.
    async fn arrived(
        &mut self,
        plan: &mut Plan<'_>,
        forest: &Forest<'_>,
        sessions: &[String],
        i: usize,
    ) -> Result<Vec<EventBody>, ApiError> {
        let span = forest.span(i);
        let trace = trace_session(span);
        if sessions[i] == trace {
            return Ok(Vec::new());
        }
        if !self.by_trace.contains_key(&trace) {
            let found = match plan.stored(&trace).await? {
                Some(_) => waiting_calls(plan, &trace).await?,
                None => HashMap::new(),
            };
            self.by_trace.insert(trace.clone(), found);
        }
        let calls = self.by_trace.get_mut(&trace).and_then(|w| w.remove(&hex::encode(&span.span_id)));
        let moves = calls.unwrap_or_default().into_iter().map(|id| {
            EventBody::ActivityMoved(ActivityMoved { id, session_id: sessions[i].clone(), ..Default::default() })
        });
        Ok(moves.collect())
    }
}

/// The newest calls on the trace's session that wait for a span, by that span's id.
async fn waiting_calls(plan: &Plan<'_>, trace: &str) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let parent = app::domain::activity::session_parent(trace);
    let query = Query::children::<Activity>(&parent).newest(WAITING);
    let snapshot = plan.state.store.read(plan.workspace(), &[query]).await?;
    let rows = app::domain::entity::decode_rows::<Activity>(&snapshot.rows[0])
        .map_err(|e| ApiError::from(crate::store::StoreError::Corrupt(e)))?;
    let mut by_span: HashMap<String, Vec<String>> = HashMap::new();
    for activity in rows {
        let waits = activity.metadata.as_ref().and_then(|m| m.get("otel_span")?.get("waiting_for")?.as_str());
        if let Some(span) = waits {
            by_span.entry(span.to_string()).or_default().push(activity.id.clone());
        }
    }
    Ok(by_span)
}

async fn span_events(
    plan: &mut Plan<'_>,
    forest: &Forest<'_>,
    sessions: &[String],
    i: usize,
) -> Result<Vec<EventBody>, ApiError> {
    let span = forest.span(i);
    let attrs = &span.attributes;
    let op = operation(span);
    let usage = (attr_u64(attrs, "gen_ai.usage.input_tokens"), attr_u64(attrs, "gen_ai.usage.output_tokens"));
    let (is_agent, is_tool) = (forest.is_agent[i], op.as_deref() == Some("execute_tool"));
    let has_usage = usage.0.is_some() || usage.1.is_some();
    let is_root = span.parent_span_id.is_empty();
    let trace = trace_session(span);
    if !(is_agent || is_tool || has_usage || (is_root && plan.has_session(&trace).await?)) {
        return Ok(Vec::new());
    }
    let session = sessions[i].clone();
    // Whatever the trace's session holds first starts it (an agent's span has started its own).
    if session == trace && !plan.has_session(&trace).await? && (is_tool || has_usage) {
        open_trace_session(plan, forest, i).await?;
    }
    let failed = span.status.as_ref().is_some_and(|s| s.code == STATUS_ERROR);
    let mut out = Vec::new();
    if has_usage {
        let source = if is_agent { "otlp-agent-spans" } else { "otlp-inference-spans" };
        if plan.counts_usage(&session, source).await? {
            out.push(EventBody::UsageReported(UsageReported {
                session_id: Some(session.clone()),
                input_tokens: usage.0,
                output_tokens: usage.1,
                model: attr_text(attrs, "gen_ai.response.model").or_else(|| attr_text(attrs, "gen_ai.request.model")),
                source: Some(source.into()),
                ..Default::default()
            }));
        }
    }
    if is_tool {
        out.push(tool_call(plan, forest, &session, i).await?);
    }
    // An agent span, or the trace's root, arrives when it has ended.
    let ends = if is_agent { Some(session) } else { is_root.then_some(trace) };
    if let Some(ending) = ends {
        if plan.end(&ending).await? {
            let summary = span.status.as_ref().map(|s| s.message.clone()).filter(|m| !m.is_empty());
            let outcome = if failed { SessionOutcome::Failed } else { SessionOutcome::Completed };
            out.push(EventBody::SessionEnded(SessionEnded { id: ending, outcome, summary, ..Default::default() }));
        }
    }
    Ok(out)
}

/// A tool span: the call's activity, logged or finished.
async fn tool_call(plan: &mut Plan<'_>, forest: &Forest<'_>, session: &str, i: usize) -> Result<EventBody, ApiError> {
    let span = forest.span(i);
    let attrs = &span.attributes;
    let failed = span.status.as_ref().is_some_and(|s| s.code == STATUS_ERROR);
    let took = span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) / 1_000_000;
    let trace_id = hex::encode(&span.trace_id);
    let (id, exists) = match attr_text(attrs, "gen_ai.tool.call.id") {
        Some(call) => plan.tool_activity(id_of(&format!("tool-{call}")), Some(&trace_id)).await?,
        None => {
            let id = id_of(&format!("span-{}", hex::encode(&span.span_id)));
            let exists = plan.claim_activity(&id).await?;
            (id, exists)
        }
    };
    let status = Some(if failed { ActivityStatus::Failed } else { ActivityStatus::Succeeded });
    let mut at = json!({
        "trace_id": trace_id,
        "span_id": hex::encode(&span.span_id),
        "parent_span_id": hex::encode(&span.parent_span_id),
    });
    if let (None, Some(missing)) = (forest.home[i], &forest.waiting_for[i]) {
        at["waiting_for"] = Value::String(hex::encode(missing));
    }
    let fields = [("otel".to_string(), Value::Object(attrs_json(attrs))), ("otel_span".to_string(), at)];
    let meta = metadata(fields.into_iter().collect());
    if exists {
        return Ok(EventBody::ActivityUpdated(ActivityUpdated {
            id,
            status,
            duration_ms: Some(took),
            metadata: meta,
            ..Default::default()
        }));
    }
    let tool = attr_text(attrs, "gen_ai.tool.name").unwrap_or_else(|| span.name.clone());
    let actor = match forest.home[i] {
        Some(h) => agent_name(forest.span(h)).unwrap_or_else(|| forest.service(h).to_string()),
        None => forest.service(i).to_string(),
    };
    Ok(EventBody::ActivityLogged(ActivityLogged {
        id: Some(id),
        session_id: Some(session.to_string()),
        category: "tool".into(),
        message: clip(&tool, 500),
        actor: Some(id_of(&actor)),
        metadata: meta,
        status,
        duration_ms: Some(took),
        ..Default::default()
    }))
}

//! OTLP traces: GenAI semantic-convention spans.
//!
//! - A trace is a session, `otel-<trace id>`, of the agent its root `invoke_agent` span names
//!   (`gen_ai.agent.name`, else `gen_ai.agent.id`, else the resource's `service.name`). The trace's
//!   root span ending ends it, failed when the span's status is an error.
//! - A nested `invoke_agent` span (one with a parent) is a sub-agent session under it.
//! - `execute_tool` → an activity on the session of its nearest `invoke_agent` ancestor in the same
//!   export (else the trace's), `tool-<gen_ai.tool.call.id>` so the Claude Code hook feed's entry
//!   for the same call is finished rather than repeated.
//! - `gen_ai.usage.input_tokens` / `output_tokens` → `usage:reported` on that session. Inference
//!   spans and agent spans are two sources, and a session counts the first, so an agent span that
//!   sums its children's usage does not count it twice.
//!
//! Other spans map to nothing.

use std::collections::HashMap;

use app::domain::{
    activity::{ActivityLogged, ActivityStatus, ActivityUpdated},
    session::{SessionEnded, SessionOutcome, SessionStarted},
    usage::UsageReported,
    EventBody,
};
use opentelemetry_proto::tonic::{collector::trace::v1::ExportTraceServiceRequest, trace::v1::Span};

use super::{attr_text, attr_u64, attrs_json, service, session_of, Plan};
use crate::api::{
    error::ApiError,
    feeds::{clip, id_of, metadata},
};

/// Status code of a failed span.
const STATUS_ERROR: i32 = 2;

fn operation(span: &Span) -> Option<String> {
    attr_text(&span.attributes, "gen_ai.operation.name").or_else(|| {
        let first = span.name.split_whitespace().next()?;
        matches!(first, "invoke_agent" | "execute_tool").then(|| first.to_string())
    })
}

fn trace_session(span: &Span) -> String {
    format!("otel-{}", hex::encode(&span.trace_id))
}

fn agent_session(span: &Span) -> String {
    id_of(&format!("otel-{}-{}", hex::encode(&span.trace_id), hex::encode(&span.span_id)))
}

/// The spans of one export, by id, to find each one's agent.
struct Batch<'a> {
    spans: HashMap<&'a [u8], &'a Span>,
}

impl<'a> Batch<'a> {
    fn is_agent(span: &Span) -> bool {
        operation(span).as_deref() == Some("invoke_agent")
    }

    /// The nearest `invoke_agent` ancestor sent in this export.
    fn home(&self, span: &Span) -> Option<&'a Span> {
        let mut at = span;
        for _ in 0..64 {
            let parent = self.spans.get(at.parent_span_id.as_slice())?;
            if Self::is_agent(parent) {
                return Some(parent);
            }
            at = parent;
        }
        None
    }

    /// The sessions an agent's span (or, with `None`, the trace) needs, outermost first: a root
    /// agent's is the trace's, a nested one's its own under its own agent's.
    fn sessions(&self, agent: Option<&Span>, trace: &Span, service_name: &str) -> Vec<SessionStarted> {
        let Some(agent) = agent else {
            let title = format!("{service_name} · trace {}", short(trace));
            return vec![session_of(&trace_session(trace), service_name, title, None)];
        };
        let name = agent_name(agent).unwrap_or_else(|| service_name.to_string());
        if agent.parent_span_id.is_empty() {
            return vec![session_of(&trace_session(agent), &name, name.clone(), None)];
        }
        let mut outer = self.sessions(self.home(agent), trace, service_name);
        let parent = outer.last().map(|s| s.id.clone());
        outer.push(session_of(&agent_session(agent), &name, name.clone(), parent));
        outer
    }
}

fn agent_name(span: &Span) -> Option<String> {
    attr_text(&span.attributes, "gen_ai.agent.name").or_else(|| attr_text(&span.attributes, "gen_ai.agent.id"))
}

fn short(span: &Span) -> String {
    hex::encode(&span.trace_id[..4.min(span.trace_id.len())])
}

pub async fn map(plan: &mut Plan<'_>, request: ExportTraceServiceRequest) -> Result<(), ApiError> {
    let all: Vec<(String, &Span)> = request
        .resource_spans
        .iter()
        .flat_map(|r| {
            let agent = service(r.resource.as_ref());
            r.scope_spans.iter().flat_map(|s| &s.spans).map(move |span| (agent.clone(), span))
        })
        .collect();
    let batch = Batch { spans: all.iter().map(|(_, s)| (s.span_id.as_slice(), *s)).collect() };
    for (service_name, span) in &all {
        let group = span_events(plan, &batch, service_name, span).await?;
        plan.add(group);
    }
    Ok(())
}

async fn span_events(
    plan: &mut Plan<'_>,
    batch: &Batch<'_>,
    service_name: &str,
    span: &Span,
) -> Result<Vec<EventBody>, ApiError> {
    let attrs = &span.attributes;
    let op = operation(span);
    let usage = (attr_u64(attrs, "gen_ai.usage.input_tokens"), attr_u64(attrs, "gen_ai.usage.output_tokens"));
    let is_agent = op.as_deref() == Some("invoke_agent");
    let is_tool = op.as_deref() == Some("execute_tool");
    let has_usage = usage.0.is_some() || usage.1.is_some();
    let is_root = span.parent_span_id.is_empty();
    if !(is_agent || is_tool || has_usage || (is_root && plan.has_session(&trace_session(span)).await?)) {
        return Ok(Vec::new());
    }
    let failed = span.status.as_ref().is_some_and(|s| s.code == STATUS_ERROR);
    let chain = batch.sessions(if is_agent { Some(span) } else { batch.home(span) }, span, service_name);
    let session = chain.last().map(|s| s.id.clone()).unwrap_or_else(|| trace_session(span));
    let actor = chain.last().and_then(|s| s.agent.clone()).unwrap_or_else(|| id_of(service_name));
    let started_here = !plan.has_session(&session).await?;
    let mut out = Vec::new();
    for started in chain {
        out.extend(plan.start(started).await?);
    }
    if has_usage {
        let source = if is_agent { "otlp-agent-spans" } else { "otlp-inference-spans" };
        out.push(EventBody::UsageReported(UsageReported {
            session_id: Some(session.clone()),
            input_tokens: usage.0,
            output_tokens: usage.1,
            model: attr_text(attrs, "gen_ai.response.model").or_else(|| attr_text(attrs, "gen_ai.request.model")),
            source: Some(source.into()),
            ..Default::default()
        }));
    }
    let took = span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) / 1_000_000;
    if is_tool {
        let call = attr_text(attrs, "gen_ai.tool.call.id");
        let id = id_of(&match call {
            Some(call) => format!("tool-{call}"),
            None => format!("span-{}", hex::encode(&span.span_id)),
        });
        let status = Some(if failed { ActivityStatus::Failed } else { ActivityStatus::Succeeded });
        let meta = metadata([("otel".to_string(), serde_json::Value::Object(attrs_json(attrs)))].into_iter().collect());
        if plan.claim_activity(&id).await? {
            out.push(EventBody::ActivityUpdated(ActivityUpdated {
                id,
                status,
                duration_ms: Some(took),
                metadata: meta,
                ..Default::default()
            }));
        } else {
            let tool = attr_text(attrs, "gen_ai.tool.name").unwrap_or_else(|| span.name.clone());
            out.push(EventBody::ActivityLogged(ActivityLogged {
                id: Some(id),
                session_id: Some(session.clone()),
                category: "tool".into(),
                message: clip(&tool, 500),
                actor: Some(actor),
                metadata: meta,
                status,
                duration_ms: Some(took),
                ..Default::default()
            }));
        }
    }
    // An agent span, or the trace's root, arrives when it has ended.
    if is_agent || is_root {
        let running = started_here || plan.stored_session(&session).await?.is_some_and(|s| s.is_active());
        if running {
            let summary = span.status.as_ref().map(|s| s.message.clone()).filter(|m| !m.is_empty());
            let outcome = if failed { SessionOutcome::Failed } else { SessionOutcome::Completed };
            out.push(EventBody::SessionEnded(SessionEnded { id: session, outcome, summary, ..Default::default() }));
        }
    }
    Ok(out)
}

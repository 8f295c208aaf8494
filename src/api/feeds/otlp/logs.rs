//! OTLP logs: Claude Code's events (`claude_code.api_request`, `claude_code.tool_result`,
//! `claude_code.api_error`), named by the record's event name, its `event.name` attribute or its
//! body, on the session of their `session.id` — the same session its hooks feed.
//!
//! - `api_request` → `usage:reported` (tokens, cost, model; source `otlp-logs`).
//! - `tool_result` → the tool call's activity `tool-<tool_use_id>`: finished with its outcome and
//!   duration when the hook feed started it, logged whole otherwise.
//! - `api_error` → an activity `api_error`.
//!
//! Anything else, or a record without `session.id`, maps to nothing.

use app::domain::{
    activity::{ActivityLogged, ActivityStatus, ActivityUpdated},
    usage::UsageReported,
    EventBody,
};
use opentelemetry_proto::tonic::{collector::logs::v1::ExportLogsServiceRequest, logs::v1::LogRecord};

use super::{any_value_text, attr_f64, attr_text, attr_u64, attrs_json, service, session_of, Plan};
use crate::api::{
    error::ApiError,
    feeds::{clip, id_of, metadata},
};

pub async fn map(plan: &mut Plan<'_>, request: ExportLogsServiceRequest) -> Result<(), ApiError> {
    for resource in request.resource_logs {
        let agent = service(resource.resource.as_ref());
        for record in resource.scope_logs.into_iter().flat_map(|s| s.log_records) {
            let group = record_events(plan, &agent, &record).await?;
            plan.add(group);
        }
    }
    Ok(())
}

/// `api_request` whether it is called `claude_code.api_request` or not.
fn event_name(record: &LogRecord) -> Option<String> {
    let name = Some(record.event_name.clone())
        .filter(|n| !n.is_empty())
        .or_else(|| attr_text(&record.attributes, "event.name"))
        .or_else(|| record.body.as_ref()?.value.as_ref().map(any_value_text))?;
    Some(name.strip_prefix("claude_code.").unwrap_or(&name).to_string())
}

async fn record_events(plan: &mut Plan<'_>, agent: &str, record: &LogRecord) -> Result<Vec<EventBody>, ApiError> {
    let attrs = &record.attributes;
    let (Some(name), Some(session)) = (event_name(record), attr_text(attrs, "session.id")) else {
        return Ok(Vec::new());
    };
    if !matches!(name.as_str(), "api_request" | "tool_result" | "api_error") {
        return Ok(Vec::new());
    }
    let session = id_of(&session);
    let title = format!("{agent} · {}", session.chars().take(8).collect::<String>());
    plan.alive(&id_of(agent));
    plan.start(session_of(&session, agent, title, None)).await?;
    let mut out: Vec<EventBody> = Vec::new();
    let model = attr_text(attrs, "model");
    match name.as_str() {
        "api_request" if !plan.counts_usage(&session, "otlp-logs").await? => {}
        "api_request" => out.push(EventBody::UsageReported(UsageReported {
            session_id: Some(session),
            input_tokens: attr_u64(attrs, "input_tokens"),
            output_tokens: attr_u64(attrs, "output_tokens"),
            cost_usd: attr_f64(attrs, "cost_usd"),
            model,
            source: Some("otlp-logs".into()),
            ..Default::default()
        })),
        "tool_result" => {
            let ok = attr_text(attrs, "success").is_none_or(|s| s != "false");
            let status = Some(if ok { ActivityStatus::Succeeded } else { ActivityStatus::Failed });
            let duration_ms = attr_u64(attrs, "duration_ms");
            let mut otel = attrs_json(attrs);
            otel.retain(|k, _| !matches!(k.as_str(), "session.id" | "event.name" | "event.timestamp"));
            let meta = metadata([("otel".to_string(), serde_json::Value::Object(otel))].into_iter().collect());
            let id = attr_text(attrs, "tool_use_id").map(|t| id_of(&format!("tool-{t}")));
            match id {
                Some(id) if plan.claim_activity(&id).await? => out.push(EventBody::ActivityUpdated(ActivityUpdated {
                    id,
                    status,
                    duration_ms,
                    metadata: meta,
                    ..Default::default()
                })),
                id => {
                    let tool = attr_text(attrs, "tool_name").unwrap_or_else(|| "tool".into());
                    out.push(EventBody::ActivityLogged(ActivityLogged {
                        id,
                        session_id: Some(session),
                        category: "tool".into(),
                        message: tool,
                        actor: Some(id_of(agent)),
                        metadata: meta,
                        status,
                        duration_ms,
                        ..Default::default()
                    }))
                }
            }
        }
        _ => {
            let error = attr_text(attrs, "error").unwrap_or_else(|| "API error".into());
            out.push(EventBody::ActivityLogged(ActivityLogged {
                session_id: Some(session),
                category: "api_error".into(),
                message: clip(&error, 2_000),
                actor: Some(id_of(agent)),
                metadata: metadata(attrs_json(attrs)),
                status: Some(ActivityStatus::Failed),
                ..Default::default()
            }));
        }
    }
    Ok(out)
}

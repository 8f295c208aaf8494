//! OpenTelemetry in: GenAI spans as sessions, tool calls and usage; Claude Code's log events and
//! metrics joined to its hook feed; both encodings, gzip, partial success, and the refusals.

use std::io::Write;

use app::domain::{
    activity::{session_parent, Activity, ActivityStatus},
    budget::{Budget, WORKSPACE_BUDGET},
    entity::Query,
    session::{Session, SessionKind, SessionOutcome},
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::{any_value::Value as Any, AnyValue, KeyValue},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, Status},
};
use prost::Message;
use serde_json::{json, Value};

use crate::common::{TestServer, TOKEN};

const TRACE: [u8; 16] = [0xab; 16];

fn kv(key: &str, value: Any) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, Any::StringValue(value.into()))
}

fn span(id: u8, parent: Option<u8>, name: &str, attributes: Vec<KeyValue>, ms: u64, failed: bool) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        start_time_unix_nano: 1_764_676_800_000_000_000,
        end_time_unix_nano: 1_764_676_800_000_000_000 + ms * 1_000_000,
        attributes,
        status: failed.then(|| Status { message: "tool raised".into(), code: 2 }),
        ..Default::default()
    }
}

fn export(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![text("service.name", "travel-agents")], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}

/// Posts an OTLP body; returns the status, the content type and the raw answer.
async fn post(server: &TestServer, path: &str, kind: &str, body: Vec<u8>, gzip: bool) -> (u16, String, Vec<u8>) {
    let mut request = crate::common::client().post(server.http(path)).bearer_auth(TOKEN).header("content-type", kind);
    let body = if gzip {
        request = request.header("content-encoding", "gzip");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&body).unwrap();
        encoder.finish().unwrap()
    } else {
        body
    };
    let response = request.body(body).send().await.expect("request sent");
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

async fn post_json(server: &TestServer, path: &str, body: &Value) -> (u16, Value) {
    let (status, _, answer) = post(server, path, "application/json", body.to_string().into_bytes(), false).await;
    (status, serde_json::from_slice(&answer).unwrap_or(Value::Null))
}

#[tokio::test]
async fn genai_spans_become_a_session_with_a_sub_agent_tool_calls_and_usage_across_exports() {
    let server = TestServer::start().await;
    let usage = |i: i64, o: i64| {
        vec![kv("gen_ai.usage.input_tokens", Any::IntValue(i)), kv("gen_ai.usage.output_tokens", Any::IntValue(o))]
    };
    let tool = |name: &str, call: &str| {
        vec![
            text("gen_ai.operation.name", "execute_tool"),
            text("gen_ai.tool.name", name),
            text("gen_ai.tool.call.id", call),
        ]
    };
    // Children end first: the tools, the inference calls and the sub-agent go out before the root.
    let first = export(vec![
        span(3, Some(2), "execute_tool search_flights", tool("search_flights", "call_1"), 420, false),
        span(
            4,
            Some(2),
            "chat gpt-5",
            [vec![text("gen_ai.operation.name", "chat")], usage(1200, 300)].concat(),
            900,
            false,
        ),
        span(
            2,
            Some(1),
            "invoke_agent researcher",
            vec![text("gen_ai.operation.name", "invoke_agent"), text("gen_ai.agent.name", "researcher")],
            1500,
            false,
        ),
        span(5, Some(1), "execute_tool book_hotel", tool("book_hotel", "call_2"), 80, true),
    ]);
    let (status, kind, answer) =
        post(&server, "/v1/traces", "application/x-protobuf", first.encode_to_vec(), true).await;
    assert_eq!((status, kind.as_str()), (200, "application/x-protobuf"));
    let answer = ExportTraceServiceResponse::decode(answer.as_slice()).unwrap();
    assert_eq!(answer.partial_success, None, "all accepted");

    let root = span(
        1,
        None,
        "invoke_agent planner",
        [vec![text("gen_ai.operation.name", "invoke_agent"), text("gen_ai.agent.name", "planner")], usage(5000, 800)]
            .concat(),
        3000,
        false,
    );
    let (status, _, _) =
        post(&server, "/v1/traces", "application/x-protobuf", export(vec![root]).encode_to_vec(), false).await;
    assert_eq!(status, 200);

    let trace = format!("otel-{}", hex::encode(TRACE));
    let sub = format!("{trace}-{}", hex::encode([2u8; 8]));
    let sessions: Vec<Session> = server.rows(Query::all::<Session>()).await;
    assert_eq!(sessions.len(), 2, "{sessions:#?}");
    let planner = sessions.iter().find(|s| s.id == trace).expect("the trace's session");
    assert_eq!(planner.outcome, Some(SessionOutcome::Completed), "the root agent's span ended it");
    let researcher = sessions.iter().find(|s| s.id == sub).expect("the sub-agent's session");
    assert_eq!((researcher.kind, researcher.parent_id.as_deref()), (SessionKind::Subagent, Some(trace.as_str())));
    assert_eq!(researcher.agent.as_deref(), Some("researcher"));
    assert_eq!((researcher.usage.input_tokens, researcher.usage.output_tokens), (1200, 300));
    assert_eq!(planner.usage.input_tokens, 5000, "the planner's own span reported its usage");

    let in_sub: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(&sub))).await;
    assert_eq!(in_sub.len(), 1);
    assert_eq!((in_sub[0].id.as_str(), in_sub[0].duration_ms), ("tool-call_1", Some(420)));
    let in_trace: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(&trace))).await;
    assert_eq!((in_trace[0].message.as_str(), in_trace[0].status), ("book_hotel", Some(ActivityStatus::Failed)));

    let budget: Vec<Budget> = server.rows(Query::one::<Budget>(WORKSPACE_BUDGET)).await;
    assert_eq!(budget[0].input_tokens, 6200);

    // A retried export changes nothing.
    let (status, _, _) = post(&server, "/v1/traces", "application/x-protobuf", first.encode_to_vec(), false).await;
    assert_eq!(status, 200);
    let again: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(&sub))).await;
    assert_eq!(again.len(), 1);
}

#[tokio::test]
async fn claude_codes_log_events_join_its_hooks_and_its_metrics_fill_the_budget() {
    let server = TestServer::start().await;
    let session = "5d1c9e2a-0b7f-4a31-8c6e-2f9d4b7a1e03";
    let hook = json!({"hook_event_name": "PreToolUse", "session_id": session, "cwd": "/w/shop",
                      "tool_name": "Bash", "tool_input": {"command": "npm test"}, "tool_use_id": "toolu_77"});
    let (status, _) = server.post_to("/api/feeds/claude-code", &hook.to_string(), None).await;
    assert_eq!(status, 204);

    let attr = |k: &str, v: Value| json!({"key": k, "value": v});
    let record = |name: &str, mut attrs: Vec<Value>| {
        attrs.push(attr("session.id", json!({"stringValue": session})));
        attrs.push(attr("event.name", json!({"stringValue": name})));
        json!({"timeUnixNano": "1764676800000000000", "body": {"stringValue": format!("claude_code.{name}")}, "attributes": attrs})
    };
    let logs = json!({"resourceLogs": [{"resource": {"attributes": [attr("service.name", json!({"stringValue": "claude-code"}))]},
    "scopeLogs": [{"logRecords": [
        record("tool_result", vec![attr("tool_name", json!({"stringValue": "Bash"})), attr("success", json!({"stringValue": "false"})),
                                   attr("duration_ms", json!({"intValue": "2310"})), attr("tool_use_id", json!({"stringValue": "toolu_77"}))]),
        record("api_request", vec![attr("model", json!({"stringValue": "claude-sonnet-4-6"})), attr("input_tokens", json!({"intValue": 1500})),
                                   attr("output_tokens", json!({"intValue": "420"})), attr("cost_usd", json!({"doubleValue": 0.0108}))]),
        record("tool_decision", vec![]),
    ]}]}]});
    let (status, answer) = post_json(&server, "/v1/logs", &logs).await;
    assert_eq!((status, answer), (200, json!({})));

    let entries: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(session))).await;
    assert_eq!(entries.len(), 1, "the hook's entry and the log's are one tool call: {entries:#?}");
    assert_eq!((entries[0].status, entries[0].duration_ms), (Some(ActivityStatus::Failed), Some(2310)));
    assert_eq!(entries[0].metadata.as_ref().unwrap()["otel"]["tool_name"], "Bash");
    let stored: Vec<Session> = server.rows(Query::one::<Session>(session)).await;
    assert_eq!((stored[0].usage.input_tokens, stored[0].usage.output_tokens), (1500, 420));

    // Metrics about the same requests come from another source: the session counts its first.
    let point = |value: Value, kind: &str| {
        let mut p = json!({"timeUnixNano": "1764676860000000000", "attributes": [
            attr("session.id", json!({"stringValue": session})), attr("model", json!({"stringValue": "claude-sonnet-4-6"}))]});
        if !kind.is_empty() {
            p["attributes"].as_array_mut().unwrap().push(attr("type", json!({"stringValue": kind})));
        }
        p.as_object_mut().unwrap().extend(value.as_object().unwrap().clone());
        p
    };
    let metrics = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "claude_code.token.usage", "unit": "tokens", "sum": {"aggregationTemporality": 1, "isMonotonic": true,
            "dataPoints": [point(json!({"asInt": 1500}), "input"), point(json!({"asInt": "300"}), "cacheRead")]}},
        {"name": "claude_code.cost.usage", "unit": "USD", "sum": {"aggregationTemporality": 1, "dataPoints": [point(json!({"asDouble": 0.0108}), "")]}},
        {"name": "claude_code.session.count", "sum": {"aggregationTemporality": 1, "dataPoints": [point(json!({"asInt": 1}), "")]}}
    ]}]}]});
    let (status, answer) = post_json(&server, "/v1/metrics", &metrics).await;
    assert_eq!((status, answer), (200, json!({})));
    let stored: Vec<Session> = server.rows(Query::one::<Session>(session)).await;
    assert_eq!(stored[0].usage.input_tokens, 1500, "not counted twice");

    // A session only metrics report on: cumulative points add what grew.
    let other = "9a8b7c6d-0000-4000-8000-000000000001";
    let series = |value: f64, temporality: Value| {
        json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            {"name": "claude_code.cost.usage", "sum": {"aggregationTemporality": temporality, "dataPoints": [
                {"asDouble": value, "attributes": [attr("session.id", json!({"stringValue": other})), attr("model", json!({"stringValue": "m"}))]}]}},
            {"name": "claude_code.token.usage", "sum": {"aggregationTemporality": temporality, "dataPoints": [
                {"asInt": (value * 1000.0) as i64, "attributes": [attr("session.id", json!({"stringValue": other})), attr("type", json!({"stringValue": "output"}))]}]}}
        ]}]}]})
    };
    // Cumulative, named as some exporters name it (a name the decoder alone would drop the data of).
    for total in [0.5, 1.25] {
        let body = series(total, json!("AGGREGATION_TEMPORALITY_CUMULATIVE"));
        assert_eq!(post_json(&server, "/v1/metrics", &body).await.0, 200);
    }
    let stored: Vec<Session> = server.rows(Query::one::<Session>(other)).await;
    assert!((stored[0].usage.cost_usd - 1.25).abs() < 1e-9, "{:?}", stored[0].usage);
    assert_eq!(stored[0].usage.output_tokens, 1250);
    let budget: Vec<Budget> = server.rows(Query::one::<Budget>(WORKSPACE_BUDGET)).await;
    assert!((budget[0].spent_usd - (0.0108 + 1.25)).abs() < 1e-9, "{budget:?}");

    let page = crate::common::scrape_metrics(server.http("/metrics")).await;
    let line = |outcome: &str, signal: &str| {
        page.lines()
            .find(|l| {
                l.starts_with("flightdeck_otlp_records_total")
                    && l.contains(&format!("outcome=\"{outcome}\""))
                    && l.contains(&format!("signal=\"{signal}\""))
            })
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    assert_eq!(line("unmapped", "logs").as_deref(), Some("1"), "tool_decision is dropped and counted\n{page}");
    // cacheRead and session.count, and the two points of a second source, which are not stored.
    assert_eq!(line("unmapped", "metrics").as_deref(), Some("4"), "{page}");
    assert_eq!(line("mapped", "logs").as_deref(), Some("2"));
}

#[tokio::test]
async fn a_refused_record_is_counted_in_the_partial_success_and_the_rest_is_stored() {
    let server = TestServer::start().await;
    let long_model = "m".repeat(300);
    let spans = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": hex::encode(TRACE), "spanId": "0101010101010101", "name": "chat",
         "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "10"}},
                        {"key": "gen_ai.request.model", "value": {"stringValue": long_model}}]},
        {"traceId": hex::encode(TRACE), "spanId": "0202020202020202", "name": "execute_tool lookup",
         "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}}]}
    ]}]}]});
    let (status, answer) = post_json(&server, "/v1/traces", &spans).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], "1", "{answer}");
    assert!(answer["partialSuccess"]["errorMessage"].as_str().unwrap().contains("model"), "{answer}");
    let trace = format!("otel-{}", hex::encode(TRACE));
    let entries: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(&trace))).await;
    assert_eq!(entries.len(), 1, "the good span is stored");
}

#[tokio::test]
async fn otlp_refuses_what_it_cannot_read_and_stores_nothing() {
    let server = TestServer::start().await;
    let cases: [(&str, &str, &[u8], u16, &str); 5] = [
        ("/v1/traces", "text/plain", b"{}", 415, "application/x-protobuf"),
        ("/v1/traces", "application/x-protobuf", b"\xff\xff\xff", 400, "protobuf"),
        ("/v1/logs", "application/json", b"{not json", 400, "not valid JSON"),
        ("/v1/metrics", "application/json", br#"{"resourceMetrics": 3}"#, 422, "OTLP JSON"),
        ("/v1/logs", "application/json", br#"{"resourceLogs": []}"#, 200, "{}"),
    ];
    for (path, kind, body, status, says) in cases {
        let (got, _, answer) = post(&server, path, kind, body.to_vec(), false).await;
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(got, status, "{path} {kind}: {answer}");
        assert!(answer.contains(says), "{path} {kind}: {answer}");
    }
    let unauthorized = crate::common::client()
        .post(server.http("/v1/traces"))
        .bearer_auth("wrong")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);
    let (status, _, _) = post(&server, "/v1/traces", "application/json", b"{}".to_vec(), false).await;
    assert_eq!(status, 200);
    let mut zipped = crate::common::client().post(server.http("/v1/logs")).bearer_auth(TOKEN);
    zipped = zipped.header("content-type", "application/json").header("content-encoding", "gzip");
    let broken = zipped.body(b"not gzip at all".to_vec()).send().await.unwrap();
    assert_eq!(broken.status().as_u16() / 100, 4, "a body that is not gzip is refused");
    assert_eq!(server.head().await, 0, "nothing was stored");
}

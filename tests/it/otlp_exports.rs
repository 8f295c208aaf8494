//! OpenTelemetry exports as real SDKs and hostile clients send them: span graphs that loop or
//! run deep, roots under HTTP server spans, children exported before their agents, call ids that
//! repeat across traces, agents known only from telemetry, and usage from a second source.

use app::domain::{
    activity::{session_parent, Activity},
    agent::Agent,
    entity::Query,
    session::{Session, SessionOutcome},
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{any_value::Value as Any, AnyValue, KeyValue},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span},
};
use prost::Message;
use serde_json::json;

use crate::common::{client, TestServer, TOKEN};

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(Any::StringValue(value.into())) }),
        ..Default::default()
    }
}

fn tokens(input: i64) -> KeyValue {
    KeyValue {
        key: "gen_ai.usage.input_tokens".into(),
        value: Some(AnyValue { value: Some(Any::IntValue(input)) }),
        ..Default::default()
    }
}

fn span(trace: u8, id: u32, parent: Option<u32>, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: id.to_be_bytes().repeat(2),
        parent_span_id: parent.map(|p| p.to_be_bytes().repeat(2)).unwrap_or_default(),
        name: "span".into(),
        start_time_unix_nano: 1_764_676_800_000_000_000,
        end_time_unix_nano: 1_764_676_801_000_000_000,
        attributes,
        ..Default::default()
    }
}

fn agent(name: &str) -> Vec<KeyValue> {
    vec![text("gen_ai.operation.name", "invoke_agent"), text("gen_ai.agent.name", name)]
}

fn tool(name: &str, call: &str) -> Vec<KeyValue> {
    vec![
        text("gen_ai.operation.name", "execute_tool"),
        text("gen_ai.tool.name", name),
        text("gen_ai.tool.call.id", call),
    ]
}

fn export(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![text("service.name", "travel-api")], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

async fn post(server: &TestServer, body: Vec<u8>) -> u16 {
    let response = client()
        .post(server.http("/v1/traces"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("the server answers");
    response.status().as_u16()
}

async fn alive(server: &TestServer) {
    let answer = client().get(server.http("/healthz")).send().await.expect("the server still answers");
    assert_eq!(answer.status(), 200);
}

fn trace_session(trace: u8) -> String {
    format!("otel-{}", hex::encode([trace; 16]))
}

fn sub_session(trace: u8, span: u32) -> String {
    format!("{}-{}", trace_session(trace), hex::encode(span.to_be_bytes().repeat(2)))
}

#[tokio::test]
async fn a_span_that_is_its_own_parent_or_a_loop_of_them_is_answered_and_the_server_lives() {
    let server = TestServer::start().await;
    let own = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"1111111111111111","parentSpanId":"1111111111111111","name":"invoke_agent"}]}]}]}"#;
    let response = client()
        .post(server.http("/v1/traces"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(own)
        .send()
        .await
        .expect("answered, not a crash");
    assert_eq!(response.status(), 200);
    alive(&server).await;
    // Two agents, each the other's parent; and a loop of three through a tool.
    let pair = vec![span(2, 1, Some(2), agent("a")), span(2, 2, Some(1), agent("b"))];
    assert_eq!(post(&server, export(pair)).await, 200);
    let ring =
        vec![span(3, 1, Some(3), agent("a")), span(3, 2, Some(1), tool("t", "c")), span(3, 3, Some(2), agent("b"))];
    assert_eq!(post(&server, export(ring)).await, 200);
    alive(&server).await;
    let sessions: Vec<Session> = server.rows(Query::all::<Session>()).await;
    assert!(sessions.iter().all(|s| s.parent_id.as_deref() != Some(s.id.as_str())), "no session is its own parent");
}

#[tokio::test]
async fn a_chain_of_five_thousand_nested_agents_is_linear() {
    let server = TestServer::start().await;
    let chain: Vec<Span> = (1..=5_000u32).rev().map(|i| span(4, i, (i > 1).then(|| i - 1), agent("nested"))).collect();
    let body = export(chain);
    let started = std::time::Instant::now();
    assert_eq!(post(&server, body).await, 200);
    let took = started.elapsed();
    alive(&server).await;
    let sessions: Vec<Session> = server.rows(Query::all::<Session>()).await;
    assert_eq!(sessions.len(), 5_000, "one session per agent span, each started once");
    let deepest = sessions.iter().find(|s| s.id == sub_session(4, 5_000)).expect("the deepest agent's session");
    assert_eq!(deepest.parent_id.as_deref(), Some(sub_session(4, 4_999).as_str()));
    // Not a timing assertion: printed so a quadratic walk shows in the log.
    println!("5,000 nested agent spans mapped in {took:?}");
}

#[tokio::test]
async fn an_agent_under_an_http_server_span_in_one_export_ends_its_session() {
    let server = TestServer::start().await;
    // The SDK's batch processor sends the whole trace at once: tool, agent, then the HTTP root.
    let spans = vec![
        span(5, 3, Some(2), tool("search_flights", "call_1")),
        span(5, 2, Some(1), agent("planner")),
        span(5, 1, None, vec![text("http.request.method", "POST")]),
    ];
    assert_eq!(post(&server, export(spans)).await, 200);
    let sessions: Vec<Session> = server.rows(Query::all::<Session>()).await;
    assert_eq!(sessions.len(), 1, "the agent under the HTTP span is the trace's: {sessions:#?}");
    let trace = &sessions[0];
    assert_eq!((trace.id.as_str(), trace.agent.as_deref()), (trace_session(5).as_str(), Some("planner")));
    assert_eq!(trace.outcome, Some(SessionOutcome::Completed), "ended, not running for ever");
}

#[tokio::test]
async fn a_late_root_renames_the_trace_and_a_late_sub_agent_takes_its_calls() {
    let server = TestServer::start().await;
    // First batch: a tool of the sub-agent (its agent span not yet ended) and a tool of the root.
    let first = vec![span(6, 4, Some(3), tool("search", "call_1")), span(6, 5, Some(1), tool("book", "call_2"))];
    assert_eq!(post(&server, export(first)).await, 200);
    let trace = trace_session(6);
    let early: Vec<Session> = server.rows(Query::all::<Session>()).await;
    assert_eq!(early[0].agent.as_deref(), Some("travel-api"), "named after the service until its agent arrives");
    // Second batch: the sub-agent's span, then the root agent's.
    assert_eq!(post(&server, export(vec![span(6, 3, Some(1), agent("researcher"))])).await, 200);
    assert_eq!(post(&server, export(vec![span(6, 1, None, agent("planner"))])).await, 200);
    let sessions: Vec<Session> = server.rows(Query::all::<Session>()).await;
    let root = sessions.iter().find(|s| s.id == trace).unwrap();
    assert_eq!((root.agent.as_deref(), root.title.as_deref()), (Some("planner"), Some("planner")));
    let sub = sub_session(6, 3);
    let in_sub: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(&sub))).await;
    assert_eq!(
        in_sub.iter().map(|a| a.message.as_str()).collect::<Vec<_>>(),
        ["search"],
        "the call moved to its agent"
    );
    let in_root: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(&trace))).await;
    assert_eq!(in_root.iter().map(|a| a.message.as_str()).collect::<Vec<_>>(), ["book"]);
    // The agents page lists the agents the telemetry named, with their sessions.
    let agents: Vec<Agent> = server.rows(Query::all::<Agent>()).await;
    let planner = agents.iter().find(|a| a.id == "planner").expect("an agent known only from OTLP is listed");
    assert!(planner.sessions.iter().any(|s| s.id == trace), "{planner:#?}");
    let service = agents.iter().find(|a| a.id == "travel-api").unwrap();
    assert!(!service.sessions.iter().any(|s| s.id == trace), "the service no longer holds the planner's session");
    // The moves and the rename are in the log, for every page and every past moment.
    let (_, history) = server.get("/api/events?limit=1000").await;
    let types: Vec<&str> = history["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"activity:moved") && types.contains(&"session:attributed"), "{types:?}");
}

#[tokio::test]
async fn the_same_call_id_in_two_traces_is_two_activities() {
    let server = TestServer::start().await;
    for trace in [7u8, 8] {
        let spans = vec![span(trace, 2, Some(1), tool("lookup", "call_1")), span(trace, 1, None, agent("bot"))];
        assert_eq!(post(&server, export(spans.clone())).await, 200);
        // The exporter retries: still one activity per trace.
        assert_eq!(post(&server, export(spans)).await, 200);
    }
    let first: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(&trace_session(7)))).await;
    let second: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(&trace_session(8)))).await;
    assert_eq!((first.len(), second.len()), (1, 1), "{first:#?} {second:#?}");
    assert_ne!(first[0].id, second[0].id);
}

#[tokio::test]
async fn a_second_usage_source_stores_nothing() {
    let server = TestServer::start().await;
    // The agent span sums its inference span's usage: the first source the session saw counts.
    let spans = vec![
        span(9, 2, Some(1), vec![text("gen_ai.operation.name", "chat"), tokens(100)]),
        span(9, 1, None, [agent("bot"), vec![tokens(100)]].concat()),
    ];
    assert_eq!(post(&server, export(spans)).await, 200);
    let (_, history) = server.get("/api/events?limit=1000").await;
    let usage: Vec<&serde_json::Value> =
        history["events"].as_array().unwrap().iter().filter(|e| e["type"] == "usage:reported").collect();
    assert_eq!(usage.len(), 1, "one report stored, none empty: {}", json!(usage));
    let sessions: Vec<Session> = server.rows(Query::all::<Session>()).await;
    assert_eq!(sessions[0].usage.input_tokens, 100);
}

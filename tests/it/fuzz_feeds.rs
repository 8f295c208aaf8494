//! Property tests of the feeds against one real server: generated OTLP span graphs (cycles, deep
//! chains, wide fans, missing parents, traces split over exports in any order), hook bodies and
//! event batches. Every input ends with an answer that is not a server error, within the call
//! timeout, and the server stays healthy. A fixed number of cases per run.

use std::sync::OnceLock;

use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{any_value::Value as Any, AnyValue, KeyValue},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, Status},
};
use proptest::prelude::*;
use prost::Message;
use serde_json::{json, Value};

use crate::common::{client, TestServer, TOKEN};

/// One server and runtime for every case of this file: a server per case would spend the budget
/// on starting servers.
fn shared() -> &'static (tokio::runtime::Runtime, TestServer) {
    static SHARED: OnceLock<(tokio::runtime::Runtime, TestServer)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let server = runtime.block_on(TestServer::start_with(|c| {
            c.ingest_rate = 1_000_000;
            c.ingest_burst = 1_000_000;
        }));
        // Permission requests are decided by the policy at once, not held for a person (the
        // holding itself is tested in `held`).
        let allow_all = serde_json::json!({"rules": [{"tool": "*", "action": "allow"}]}).to_string();
        runtime.block_on(async {
            let put = client().put(server.http("/api/policy")).bearer_auth(TOKEN).body(allow_all).send().await;
            assert_eq!(put.unwrap().status(), 200, "the policy is set");
        });
        (runtime, server)
    })
}

/// Posts and returns the status; a server error or no answer fails the case.
fn post(path: &str, kind: &str, body: Vec<u8>) -> Result<u16, TestCaseError> {
    let (runtime, server) = shared();
    runtime.block_on(async {
        let answer = client()
            .post(server.http(path))
            .bearer_auth(TOKEN)
            .header("content-type", kind)
            .body(body)
            .send()
            .await
            .map_err(|e| TestCaseError::fail(format!("no answer from {path}: {e}")))?;
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap_or_default();
        prop_assert!(status < 500, "{path} answered {status}: {text}");
        let health = client().get(server.http("/healthz")).send().await;
        prop_assert!(health.is_ok_and(|h| h.status() == 200), "the server is unhealthy after {path}");
        Ok(status)
    })
}

#[derive(Clone, Debug)]
enum Parent {
    Root,
    Itself,
    Other(usize),
    Missing(u8),
}

#[derive(Clone, Debug)]
struct GenSpan {
    trace: u8,
    parent: Parent,
    op: u8,
    call: u8,
    tokens: Option<u16>,
    failed: bool,
}

fn gen_span() -> impl Strategy<Value = GenSpan> {
    let parent = prop_oneof![
        1 => Just(Parent::Root),
        1 => Just(Parent::Itself),
        6 => (0usize..400).prop_map(Parent::Other),
        1 => any::<u8>().prop_map(Parent::Missing),
    ];
    (0u8..3, parent, 0u8..4, 0u8..4, proptest::option::of(0u16..5_000), any::<bool>())
        .prop_map(|(trace, parent, op, call, tokens, failed)| GenSpan { trace, parent, op, call, tokens, failed })
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(Any::StringValue(value.into())) }),
        ..Default::default()
    }
}

/// The generated spans as OTLP spans; a chain every `chain`th case so deep ones come up.
fn spans(graph: &[GenSpan], run: u16) -> Vec<Span> {
    let id = |i: usize| ((i as u64) << 16 | u64::from(run)).to_be_bytes().to_vec();
    graph
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let parent = match &g.parent {
                Parent::Root => Vec::new(),
                Parent::Itself => id(i),
                Parent::Other(p) => id(p % graph.len()),
                Parent::Missing(m) => vec![*m; 8],
            };
            let mut attributes = match g.op {
                0 => vec![text("gen_ai.operation.name", "invoke_agent"), text("gen_ai.agent.name", "fuzz-agent")],
                1 => vec![
                    text("gen_ai.operation.name", "execute_tool"),
                    text("gen_ai.tool.call.id", &format!("call_{}", g.call)),
                ],
                2 => vec![text("gen_ai.operation.name", "chat")],
                _ => vec![],
            };
            if let Some(tokens) = g.tokens {
                let value = Some(AnyValue { value: Some(Any::IntValue(i64::from(tokens))) });
                attributes.push(KeyValue { key: "gen_ai.usage.input_tokens".into(), value, ..Default::default() });
            }
            Span {
                trace_id: vec![g.trace + 1; 16],
                span_id: id(i),
                parent_span_id: parent,
                name: "span".into(),
                attributes,
                status: g.failed.then(|| Status { code: 2, message: "failed".into() }),
                end_time_unix_nano: 1_000_000,
                ..Default::default()
            }
        })
        .collect()
}

fn export(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![text("service.name", "fuzz")], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_span_graph_in_any_split_is_answered(
        graph in proptest::collection::vec(gen_span(), 1..400),
        chain in any::<bool>(),
        splits in proptest::collection::vec(any::<u16>(), 0..3),
        run in any::<u16>(),
    ) {
        let mut graph = graph;
        if chain {
            // A deep chain of agents, sent deepest first.
            for (i, g) in graph.iter_mut().enumerate() {
                g.parent = if i == 0 { Parent::Root } else { Parent::Other(i - 1) };
                g.op = 0;
            }
            graph.reverse();
        }
        let mut all = spans(&graph, run);
        // Exports in any order: cut the spans into parts and send the last part first.
        let mut cuts: Vec<usize> = splits.iter().map(|s| *s as usize % all.len()).collect();
        cuts.sort_unstable();
        let mut parts = Vec::new();
        for cut in cuts.into_iter().rev() {
            parts.push(all.split_off(cut));
        }
        parts.push(all);
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let status = post("/v1/traces", "application/x-protobuf", export(part))?;
            prop_assert_eq!(status, 200);
        }
    }

    #[test]
    fn any_hook_body_is_answered(
        event in prop_oneof![Just("PreToolUse"), Just("PostToolUse"), Just("Stop"), Just("SubagentStart"),
                             Just("SubagentStop"), Just("PermissionRequest"), Just("SessionEnd"), Just("Odd")],
        session in "[a-z0-9-]{0,12}",
        tool_use in proptest::option::of("[a-z0-9_]{1,8}"),
        agent in proptest::option::of("[a-z]{1,6}"),
        extra in proptest::collection::vec(("[a-z_]{1,10}", any::<i32>()), 0..5),
        wrapped in any::<bool>(),
    ) {
        let mut hook = json!({"hook_event_name": event, "session_id": session, "cwd": "/w/fuzz"});
        if let Some(id) = tool_use {
            hook["tool_use_id"] = json!(id);
            hook["tool_name"] = json!("Bash");
        }
        if let Some(agent) = agent {
            hook["agent_id"] = json!(agent);
        }
        for (key, value) in extra {
            hook[key] = json!(value);
        }
        let (path, body) = match wrapped {
            false => ("/api/feeds/claude-code", hook),
            true => ("/api/feeds/observability", json!({"source_app": "fuzz", "session_id": session,
                "hook_event_type": event, "payload": hook, "chat": [{"role": "user", "content": "hi"}]})),
        };
        let status = post(path, "application/json", body.to_string().into_bytes())?;
        prop_assert!(status < 300 || status == 422, "{path}: {status}");
    }

    #[test]
    fn any_event_batch_is_stored_whole_or_not_at_all(
        ids in proptest::collection::vec("[a-z]{1,3}", 1..20),
        kinds in proptest::collection::vec(0u8..5, 1..20),
    ) {
        let (runtime, server) = shared();
        let batch: Vec<Value> = ids.iter().zip(kinds.iter().cycle()).map(|(id, kind)| match kind {
            0 => json!({"type": "task:created", "payload": {"id": id, "title": "t"}}),
            1 => json!({"type": "task:progress", "payload": {"id": id, "progress": 50}}),
            2 => json!({"type": "task:failed", "payload": {"id": id, "error": "x"}}),
            3 => json!({"type": "session:started", "payload": {"id": id, "kind": "subagent"}}),
            _ => json!({"type": "session:ended", "payload": {"id": id}}),
        }).collect();
        // A workspace of its own: its position moves only with these batches, whatever the other
        // properties post at the same time.
        static TOKEN: OnceLock<String> = OnceLock::new();
        let token = TOKEN.get_or_init(|| runtime.block_on(server.token("batches", flightdeck::store::Role::Ingest)));
        let position = || runtime.block_on(async {
            let (_, page) = server.get_as("/api/events?limit=1", token).await;
            page["head"].as_u64().unwrap_or(0)
        });
        let before = position();
        let answer = runtime.block_on(server.post_raw(Value::Array(batch.clone()).to_string().into_bytes(), Some(token)));
        prop_assert!(answer.0 < 500, "{:?}", answer);
        let stored = position() - before;
        match answer.0 {
            201 => prop_assert_eq!(answer.1["seqs"].as_array().map(Vec::len), Some(batch.len()), "a batch is stored whole"),
            _ => prop_assert_eq!(stored, 0, "refused: nothing stored"),
        }
    }
}

//! The OpenTelemetry SDKs as their users run them (Python's `opentelemetry-sdk` with the OTLP/HTTP
//! protobuf exporter, and the JS SDK), installed by `scripts/setup.sh`, exporting real agent runs
//! to a real server: a run in one batch under an HTTP server span, a run longer than the batch
//! delay whose children are exported before their agents, and two runs that number their tool
//! calls alike.

use std::{path::PathBuf, time::Duration};

use app::domain::{
    activity::{session_parent, Activity},
    entity::Query,
    session::{Session, SessionOutcome},
};

use crate::common::{TestServer, TOKEN};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Which SDK runs the scenario.
#[derive(Clone, Copy, Debug)]
enum Sdk {
    Python,
    Js,
}

impl Sdk {
    fn command(self) -> tokio::process::Command {
        let (program, script) = match self {
            Sdk::Python => {
                (root().join(".tools/otel-venv/bin/python"), root().join("tests/clients/otel-python/agent_run.py"))
            }
            Sdk::Js => (PathBuf::from("node"), root().join("tests/clients/otel-js/agent_run.mjs")),
        };
        assert!(
            script.exists() && (program.is_relative() || program.exists()),
            "{self:?}'s SDK is not installed: run scripts/setup.sh"
        );
        let mut command = tokio::process::Command::new(program);
        command.arg(script);
        command
    }
}

/// Runs a scenario against the server; returns the trace id it printed.
async fn run(sdk: Sdk, scenario: &str, server: &TestServer) -> String {
    let mut command = sdk.command();
    command
        .arg(scenario)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", server.http(""))
        .env("OTEL_EXPORTER_OTLP_HEADERS", format!("Authorization=Bearer%20{TOKEN}"))
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("{sdk:?} {scenario} did not finish within 60 s"))
        .expect("the SDK's script runs");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{sdk:?} {scenario}: {said}");
    assert!(!said.to_lowercase().contains("error"), "the exporter reported a failure: {said}");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

async fn sessions(server: &TestServer) -> Vec<Session> {
    server.rows(Query::all::<Session>()).await
}

async fn calls(server: &TestServer, session: &str) -> Vec<String> {
    let entries: Vec<Activity> = server.rows(Query::children::<Activity>(&session_parent(session))).await;
    entries.into_iter().map(|a| a.message).collect()
}

async fn one_export_lands_whole_and_call_ids_stay_apart(sdk: Sdk) {
    let server = TestServer::start().await;
    let first = run(sdk, "one-export", &server).await;
    let trace = format!("otel-{first}");
    let all = sessions(&server).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!((all[0].id.as_str(), all[0].agent.as_deref()), (trace.as_str(), Some("planner")));
    assert_eq!(all[0].outcome, Some(SessionOutcome::Completed), "not left running");
    assert_eq!(calls(&server, &trace).await, ["search_flights"]);
    // The same program again: a new trace whose tool call is also `call_1`.
    let second = run(sdk, "one-export", &server).await;
    assert_ne!(first, second);
    assert_eq!(calls(&server, &format!("otel-{second}")).await, ["search_flights"]);
    assert_eq!(calls(&server, &trace).await, ["search_flights"], "the first trace's call is untouched");
}

async fn late_children_find_their_agents(sdk: Sdk) {
    let server = TestServer::start().await;
    let trace_id = run(sdk, "late-root", &server).await;
    let trace = format!("otel-{trace_id}");
    let all = sessions(&server).await;
    let root = all.iter().find(|s| s.id == trace).expect("the trace's session");
    assert_eq!(root.agent.as_deref(), Some("planner"), "renamed after its agent when its span arrived");
    assert_eq!(root.outcome, Some(SessionOutcome::Completed));
    let researcher = all.iter().find(|s| s.agent.as_deref() == Some("researcher")).expect("the sub-agent's session");
    assert_eq!(researcher.parent_id.as_deref(), Some(trace.as_str()));
    assert_eq!(researcher.outcome, Some(SessionOutcome::Completed));
    assert_eq!(calls(&server, &researcher.id).await, ["search_flights"], "its call moved to it");
    assert_eq!(calls(&server, &trace).await, ["book_hotel"]);
}

#[tokio::test]
async fn the_python_sdk_one_export_under_an_http_span() {
    one_export_lands_whole_and_call_ids_stay_apart(Sdk::Python).await;
}

#[tokio::test]
async fn the_python_sdk_a_run_longer_than_the_batch_delay() {
    late_children_find_their_agents(Sdk::Python).await;
}

#[tokio::test]
async fn the_js_sdk_one_export_under_an_http_span() {
    one_export_lands_whole_and_call_ids_stay_apart(Sdk::Js).await;
}

#[tokio::test]
async fn the_js_sdk_a_run_longer_than_the_batch_delay() {
    late_children_find_their_agents(Sdk::Js).await;
}

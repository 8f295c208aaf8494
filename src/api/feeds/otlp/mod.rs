//! OpenTelemetry in: OTLP/HTTP at `/v1/traces`, `/v1/logs` and `/v1/metrics`, protobuf or JSON
//! (answered in the encoding it came in), gzip accepted, the token as the bearer header an
//! exporter sends from `OTEL_EXPORTER_OTLP_HEADERS`. The types are `opentelemetry-proto`'s.
//!
//! Each record maps to a few canonical events (see `traces`, `logs`, `metrics`). What maps to
//! nothing is counted (`flightdeck_otlp_records_total{outcome="unmapped"}`) and dropped: never an
//! error, which would make an exporter retry the same data forever. A record whose events are
//! refused is counted in the answer's `partialSuccess`, and the rest is stored.

mod bounds;
mod forest;
mod logs;
mod metrics;
mod plan;
mod traces;

use app::domain::session::{SessionKind, SessionStarted};
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};
use opentelemetry_proto::tonic::{
    collector::{logs::v1 as log_service, metrics::v1 as metric_service, trace::v1 as trace_service},
    common::v1::{any_value::Value as Any, KeyValue},
};
use prost::Message;
use serde::de::DeserializeOwned;

use super::id_of;
use crate::{api::error::ApiError, auth::Caller, state::AppState};
pub use plan::{Outcome, Plan};

/// How a request's body is encoded, and so its answer.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn of(headers: &HeaderMap) -> Result<Encoding, ApiError> {
        let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let kind = kind.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match kind.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
            "application/json" => Ok(Encoding::Json),
            other => Err(ApiError::UnsupportedMedia(format!(
                "OTLP bodies are application/x-protobuf or application/json, not `{other}`; nothing was stored"
            ))),
        }
    }

    /// Decodes the body, once [`bounds`] has found it within what a request may hold.
    fn decode<T: Message + Default + DeserializeOwned>(self, body: &[u8], kind: bounds::Kind) -> Result<T, ApiError> {
        match self {
            Encoding::Protobuf => bounds::protobuf(body, kind)?,
            Encoding::Json => bounds::json(body)?,
        };
        match self {
            Encoding::Protobuf => {
                T::decode(body).map_err(|e| ApiError::BadJson(format!("not an OTLP protobuf message: {e}")))
            }
            Encoding::Json => {
                let mut value: serde_json::Value = serde_json::from_slice(body)
                    .map_err(|e| ApiError::BadJson(format!("the body is not valid JSON: {e}")))?;
                enums_as_numbers(&mut value);
                serde_json::from_value(value)
                    .map_err(|e| ApiError::Invalid(format!("not an OTLP JSON message: {e}; nothing was stored")))
            }
        }
    }
}

/// One signal's answer: the partial success, in the request's encoding.
trait Answer: Message + Default {
    /// The message saying `rejected` records were refused, and why.
    fn partial(rejected: i64, why: String) -> Self;
    /// Its JSON field for the count (`rejectedSpans`, …).
    const COUNT: &'static str;
}

fn answer<A: Answer>(encoding: Encoding, outcome: &Outcome) -> Response {
    let (rejected, why) = (outcome.rejected, outcome.why.clone().unwrap_or_default());
    match encoding {
        Encoding::Protobuf => {
            let message = if rejected == 0 { A::default() } else { A::partial(rejected, why) };
            ([(header::CONTENT_TYPE, "application/x-protobuf")], message.encode_to_vec()).into_response()
        }
        Encoding::Json => {
            let body = if rejected == 0 {
                serde_json::json!({})
            } else {
                // int64 is a string in OTLP's JSON.
                serde_json::json!({"partialSuccess": {A::COUNT: rejected.to_string(), "errorMessage": why}})
            };
            ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }
    }
}

pub async fn post_traces(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (encoding, request) =
        decode::<trace_service::ExportTraceServiceRequest>(&headers, &body, bounds::Kind::TraceRequest)?;
    let mut plan = Plan::new(&state, &caller, "traces", body.len());
    traces::map(&mut plan, request).await?;
    finish::<trace_service::ExportTraceServiceResponse>(plan, encoding).await
}

pub async fn post_logs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (encoding, request) =
        decode::<log_service::ExportLogsServiceRequest>(&headers, &body, bounds::Kind::LogsRequest)?;
    let mut plan = Plan::new(&state, &caller, "logs", body.len());
    logs::map(&mut plan, request).await?;
    finish::<log_service::ExportLogsServiceResponse>(plan, encoding).await
}

pub async fn post_metrics(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (encoding, request) =
        decode::<metric_service::ExportMetricsServiceRequest>(&headers, &body, bounds::Kind::MetricsRequest)?;
    let mut plan = Plan::new(&state, &caller, "metrics", body.len());
    metrics::map(&mut plan, request).await?;
    finish::<metric_service::ExportMetricsServiceResponse>(plan, encoding).await
}

/// The request's encoding, and its message.
fn decode<T: Message + Default + DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    kind: bounds::Kind,
) -> Result<(Encoding, T), ApiError> {
    let encoding = Encoding::of(headers)?;
    Ok((encoding, encoding.decode(body, kind)?))
}

/// Commits what the request mapped to and answers in its encoding.
async fn finish<A: Answer>(plan: Plan<'_>, encoding: Encoding) -> Result<Response, ApiError> {
    let outcome = plan.commit().await?;
    Ok(answer::<A>(encoding, &outcome))
}

mod answers {
    use opentelemetry_proto::tonic::collector::{
        logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceResponse},
        metrics::v1::{ExportMetricsPartialSuccess, ExportMetricsServiceResponse},
        trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse},
    };

    use super::Answer;

    impl Answer for ExportTraceServiceResponse {
        const COUNT: &'static str = "rejectedSpans";
        fn partial(rejected_spans: i64, error_message: String) -> Self {
            Self { partial_success: Some(ExportTracePartialSuccess { rejected_spans, error_message }) }
        }
    }

    impl Answer for ExportLogsServiceResponse {
        const COUNT: &'static str = "rejectedLogRecords";
        fn partial(rejected_log_records: i64, error_message: String) -> Self {
            Self { partial_success: Some(ExportLogsPartialSuccess { rejected_log_records, error_message }) }
        }
    }

    impl Answer for ExportMetricsServiceResponse {
        const COUNT: &'static str = "rejectedDataPoints";
        fn partial(rejected_data_points: i64, error_message: String) -> Self {
            Self { partial_success: Some(ExportMetricsPartialSuccess { rejected_data_points, error_message }) }
        }
    }
}

/// A session the telemetry names but nothing has started yet.
fn session_of(id: &str, agent: &str, title: String, parent: Option<String>) -> SessionStarted {
    SessionStarted {
        id: id.to_string(),
        kind: if parent.is_some() { SessionKind::Subagent } else { SessionKind::Persistent },
        title: Some(title),
        task_id: None,
        agent: Some(id_of(agent)),
        parent_id: parent,
    }
}

/// An attribute's value.
fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Any> {
    attrs.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()
}

fn attr_text(attrs: &[KeyValue], key: &str) -> Option<String> {
    attr(attrs, key).map(any_value_text).filter(|s| !s.is_empty())
}

fn attr_u64(attrs: &[KeyValue], key: &str) -> Option<u64> {
    match attr(attrs, key)? {
        Any::IntValue(i) => u64::try_from(*i).ok(),
        Any::DoubleValue(d) if *d >= 0.0 => Some(*d as u64),
        Any::StringValue(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn attr_f64(attrs: &[KeyValue], key: &str) -> Option<f64> {
    match attr(attrs, key)? {
        Any::IntValue(i) => Some(*i as f64),
        Any::DoubleValue(d) => Some(*d),
        Any::StringValue(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Attributes as a JSON object for an activity's metadata.
fn attrs_json(attrs: &[KeyValue]) -> serde_json::Map<String, serde_json::Value> {
    attrs
        .iter()
        .filter_map(|kv| {
            Some((kv.key.clone(), serde_json::Value::String(any_value_text(kv.value.as_ref()?.value.as_ref()?))))
        })
        .collect()
}

/// An attribute value as text: strings as they are, anything else as JSON-ish text.
fn any_value_text(value: &Any) -> String {
    match value {
        Any::StringValue(s) => s.clone(),
        Any::BoolValue(b) => b.to_string(),
        Any::IntValue(i) => i.to_string(),
        Any::DoubleValue(d) => d.to_string(),
        Any::ArrayValue(a) => {
            let items: Vec<String> = a.values.iter().filter_map(|v| v.value.as_ref()).map(any_value_text).collect();
            format!("[{}]", items.join(", "))
        }
        Any::KvlistValue(list) => {
            let items: Vec<String> = list
                .values
                .iter()
                .filter_map(|kv| Some(format!("{}: {}", kv.key, any_value_text(kv.value.as_ref()?.value.as_ref()?))))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Any::BytesValue(b) => format!("({} bytes)", b.len()),
        Any::StringValueStrindex(i) => format!("(string #{i})"),
    }
}

/// The agent a resource's telemetry comes from: its `service.name`.
fn service(resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>) -> String {
    resource.and_then(|r| attr_text(&r.attributes, "service.name")).unwrap_or_else(|| "otel".into())
}

/// Enum fields OTLP's JSON writes as integers, and the names some exporters send instead.
const ENUMS: &[(&str, &str, &[&str])] = &[
    ("aggregationTemporality", "AGGREGATION_TEMPORALITY_", &["UNSPECIFIED", "DELTA", "CUMULATIVE"]),
    ("kind", "SPAN_KIND_", &["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]),
    ("code", "STATUS_CODE_", &["UNSET", "OK", "ERROR"]),
];

/// Enum names become their numbers before decoding. The crate reads a metric's data through a
/// flattened field, where a temporality given by name fails quietly: the metric would arrive with
/// no data points at all.
fn enums_as_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                let field = ENUMS.iter().find(|(field, _, _)| field == key);
                let number = match (&*inner, field) {
                    (Value::String(name), Some((_, prefix, names))) => {
                        let short = name.strip_prefix(prefix).unwrap_or(name);
                        names.iter().position(|n| *n == short)
                    }
                    _ => None,
                };
                match number {
                    Some(number) => *inner = Value::from(number),
                    None => enums_as_numbers(inner),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(enums_as_numbers),
        _ => {}
    }
}

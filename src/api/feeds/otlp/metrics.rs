//! OTLP metrics: Claude Code's `claude_code.token.usage` (by `type`: input, output; the cache
//! types map to nothing) and `claude_code.cost.usage`, per `session.id`, as `usage:reported`
//! (source `otlp-metrics`). Delta points add; cumulative points are a series' totals (one per
//! metric, type and model), which the session remembers so each adds only what grew.
//!
//! Other metrics, and cumulative points without a session, map to nothing.

use app::domain::{usage::UsageReported, EventBody};
use opentelemetry_proto::tonic::{
    collector::metrics::v1::ExportMetricsServiceRequest,
    metrics::v1::{metric::Data, number_data_point::Value as Number, AggregationTemporality, NumberDataPoint},
};

use super::{attr_text, service, session_of, Plan};
use crate::api::{error::ApiError, feeds::id_of};

pub async fn map(plan: &mut Plan<'_>, request: ExportMetricsServiceRequest) -> Result<(), ApiError> {
    for resource in request.resource_metrics {
        let agent = service(resource.resource.as_ref());
        for metric in resource.scope_metrics.into_iter().flat_map(|s| s.metrics) {
            let (points, cumulative) = match metric.data {
                Some(Data::Sum(sum)) => {
                    (sum.data_points, sum.aggregation_temporality == AggregationTemporality::Cumulative as i32)
                }
                Some(Data::Gauge(gauge)) => (gauge.data_points, true),
                Some(Data::Histogram(h)) => {
                    h.data_points.iter().for_each(|_| plan.unmapped());
                    continue;
                }
                _ => {
                    plan.unmapped();
                    continue;
                }
            };
            for point in points {
                let group = point_events(plan, &agent, &metric.name, &point, cumulative).await?;
                plan.add(group);
            }
        }
    }
    Ok(())
}

async fn point_events(
    plan: &mut Plan<'_>,
    agent: &str,
    name: &str,
    point: &NumberDataPoint,
    cumulative: bool,
) -> Result<Vec<EventBody>, ApiError> {
    let value = match point.value {
        Some(Number::AsInt(i)) => i.max(0) as f64,
        Some(Number::AsDouble(d)) if d.is_finite() && d >= 0.0 => d,
        _ => return Ok(Vec::new()),
    };
    let attrs = &point.attributes;
    let model = attr_text(attrs, "model");
    let session = attr_text(attrs, "session.id").map(|s| id_of(&s));
    let mut usage = UsageReported {
        session_id: session.clone(),
        model: model.clone(),
        cumulative,
        source: Some("otlp-metrics".into()),
        ..Default::default()
    };
    let kind = attr_text(attrs, "type").unwrap_or_default();
    match (name, kind.as_str()) {
        ("claude_code.token.usage", "input") => usage.input_tokens = Some(value as u64),
        ("claude_code.token.usage", "output") => usage.output_tokens = Some(value as u64),
        ("claude_code.cost.usage", _) => usage.cost_usd = Some(value),
        _ => return Ok(Vec::new()),
    }
    usage.series = Some(format!("{name}:{kind}:{}", model.as_deref().unwrap_or("")));
    match &session {
        Some(id) => {
            if !plan.counts_usage(id, "otlp-metrics").await? {
                return Ok(Vec::new());
            }
            let title = format!("{agent} · {}", id.chars().take(8).collect::<String>());
            plan.alive(&crate::api::feeds::id_of(agent));
            plan.start(session_of(id, agent, title, None)).await?;
        }
        None if cumulative => return Ok(Vec::new()),
        None => {}
    }
    Ok(vec![EventBody::UsageReported(usage)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_temporality_given_by_name_keeps_its_data_points() {
        let mut body = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "sum": {
            "aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
            "dataPoints": [{"asInt": 42}, {"asInt": "7"}, {"asDouble": 0.5}]}}]}]}]});
        super::super::enums_as_numbers(&mut body);
        let request: ExportMetricsServiceRequest = serde_json::from_value(body).unwrap();
        let metric = &request.resource_metrics[0].scope_metrics[0].metrics[0];
        let Some(Data::Sum(sum)) = &metric.data else { panic!("a sum: {metric:?}") };
        assert_eq!(sum.aggregation_temporality, AggregationTemporality::Cumulative as i32);
        let values: Vec<_> = sum.data_points.iter().map(|p| p.value).collect();
        assert_eq!(values, [Some(Number::AsInt(42)), Some(Number::AsInt(7)), Some(Number::AsDouble(0.5))]);
    }
}

//! What one export may cost before it is decoded. A protobuf message of empty sub-messages costs
//! a hundred times its size once decoded (a two-byte empty span is a 200-byte struct), and a
//! request that maps to no event is never rate-limited: so each body is walked first, without
//! allocating, counting the messages it holds and the records (spans, log records, data points)
//! among them, and refused whole (413) past either limit.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::api::error::ApiError;

/// Messages (spans, attributes, values, events…) one request may hold: a collector's largest
/// batches of 8,192 spans with a dozen attributes each fit.
pub const MAX_MESSAGES: u64 = 150_000;
/// Records (spans, log records, data points) one request may hold.
pub const MAX_RECORDS: u64 = 10_000;
/// How deeply messages may nest (values inside values).
const MAX_DEPTH: u32 = 32;

/// The message types of the three OTLP requests, as far as they hold sub-messages.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    TraceRequest,
    LogsRequest,
    MetricsRequest,
    ResourceSpans,
    ResourceLogs,
    ResourceMetrics,
    Resource,
    Scope,
    ScopeSpans,
    ScopeLogs,
    ScopeMetrics,
    Span,
    SpanEvent,
    SpanLink,
    Status,
    LogRecord,
    Metric,
    NumberPoints,
    HistogramPoints,
    ExponentialPoints,
    SummaryPoints,
    NumberPoint,
    HistogramPoint,
    ExponentialPoint,
    SummaryPoint,
    Buckets,
    Quantile,
    Exemplar,
    EntityRef,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

impl Kind {
    /// The type of field `field` when it is a message.
    fn child(self, field: u64) -> Option<Kind> {
        use Kind::*;
        Some(match (self, field) {
            (TraceRequest, 1) => ResourceSpans,
            (LogsRequest, 1) => ResourceLogs,
            (MetricsRequest, 1) => ResourceMetrics,
            (ResourceSpans | ResourceLogs | ResourceMetrics, 1) => Resource,
            (ResourceSpans, 2) => ScopeSpans,
            (ResourceLogs, 2) => ScopeLogs,
            (ResourceMetrics, 2) => ScopeMetrics,
            (Resource, 1) | (Scope, 3) | (Span, 9) | (SpanEvent, 3) | (SpanLink, 4) | (LogRecord, 6) => KeyValue,
            (Resource, 3) => EntityRef,
            (ScopeSpans | ScopeLogs | ScopeMetrics, 1) => Scope,
            (ScopeSpans, 2) => Span,
            (ScopeLogs, 2) => LogRecord,
            (ScopeMetrics, 2) => Metric,
            (Span, 11) => SpanEvent,
            (Span, 13) => SpanLink,
            (Span, 15) => Status,
            (LogRecord, 5) | (KeyValue, 2) | (ArrayValue, 1) => AnyValue,
            (Metric, 5 | 7) => NumberPoints,
            (Metric, 9) => HistogramPoints,
            (Metric, 10) => ExponentialPoints,
            (Metric, 11) => SummaryPoints,
            (Metric, 12) | (NumberPoint, 7) | (HistogramPoint, 9) | (ExponentialPoint, 1) => KeyValue,
            (SummaryPoint, 7) | (Exemplar, 7) | (KeyValueList, 1) => KeyValue,
            (NumberPoints, 1) => NumberPoint,
            (HistogramPoints, 1) => HistogramPoint,
            (ExponentialPoints, 1) => ExponentialPoint,
            (SummaryPoints, 1) => SummaryPoint,
            (NumberPoint, 5) | (HistogramPoint, 8) | (ExponentialPoint, 11) => Exemplar,
            (ExponentialPoint, 8 | 9) => Buckets,
            (SummaryPoint, 6) => Quantile,
            (AnyValue, 5) => ArrayValue,
            (AnyValue, 6) => KeyValueList,
            _ => return None,
        })
    }

    fn is_record(self) -> bool {
        use Kind::*;
        matches!(self, Span | LogRecord | NumberPoint | HistogramPoint | ExponentialPoint | SummaryPoint)
    }
}

/// What a body has been found to hold so far.
#[derive(Default, Debug)]
pub struct Tally {
    pub messages: u64,
    pub records: u64,
}

impl Tally {
    fn add(&mut self, record: bool) -> Result<(), ApiError> {
        self.messages += 1;
        self.records += u64::from(record);
        if self.messages > MAX_MESSAGES || self.records > MAX_RECORDS {
            return Err(too_large());
        }
        Ok(())
    }
}

fn too_large() -> ApiError {
    ApiError::TooLarge(format!(
        "an OTLP request may hold at most {MAX_RECORDS} spans, log records or data points and \
         {MAX_MESSAGES} messages in all; send smaller batches. Nothing was stored"
    ))
}

/// Walks a protobuf body of `kind` without decoding it. A malformed body is left for the decoder
/// to refuse with its own reason.
pub fn protobuf(body: &[u8], kind: Kind) -> Result<Tally, ApiError> {
    let mut tally = Tally::default();
    walk(body, kind, 0, &mut tally)?;
    Ok(tally)
}

fn walk(mut buf: &[u8], kind: Kind, depth: u32, tally: &mut Tally) -> Result<(), ApiError> {
    if depth > MAX_DEPTH {
        return Err(ApiError::TooLarge(format!("OTLP messages nest at most {MAX_DEPTH} deep; nothing was stored")));
    }
    while !buf.is_empty() {
        let Some(key) = varint(&mut buf) else { return Ok(()) };
        let skip = match key & 7 {
            0 => {
                if varint(&mut buf).is_none() {
                    return Ok(());
                }
                0
            }
            1 => 8,
            5 => 4,
            2 => {
                let Some(len) = varint(&mut buf).and_then(|l| usize::try_from(l).ok()) else { return Ok(()) };
                let Some(inner) = buf.get(..len) else { return Ok(()) };
                if let Some(child) = kind.child(key >> 3) {
                    tally.add(child.is_record())?;
                    walk(inner, child, depth + 1, tally)?;
                }
                len
            }
            // Groups are not used by OTLP: the decoder names the problem.
            _ => return Ok(()),
        };
        let Some(rest) = buf.get(skip..) else { return Ok(()) };
        buf = rest;
    }
    Ok(())
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Fields whose array elements are records, in OTLP's JSON.
const RECORD_ARRAYS: &[&str] = &["spans", "logRecords", "dataPoints"];

/// Walks a JSON body without building it, counting its objects as messages. A malformed body is
/// left for the decoder to refuse with its own reason.
pub fn json(body: &[u8]) -> Result<Tally, ApiError> {
    let mut tally = Tally::default();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let mut refused = None;
    let walked =
        Count { tally: &mut tally, records: false, depth: 0, refused: &mut refused }.deserialize(&mut deserializer);
    match (refused, walked) {
        (Some(e), _) => Err(e),
        _ => Ok(tally),
    }
}

/// One JSON value being counted; `records` when it is an element of a record array.
struct Count<'a> {
    tally: &'a mut Tally,
    records: bool,
    depth: u32,
    refused: &'a mut Option<ApiError>,
}

impl Count<'_> {
    fn enter(&mut self, record: bool) -> Result<(), String> {
        let result = match self.depth > MAX_DEPTH * 2 {
            true => {
                Err(ApiError::TooLarge(format!("OTLP JSON nests at most {} deep; nothing was stored", MAX_DEPTH * 2)))
            }
            false => self.tally.add(record),
        };
        result.map_err(|e| {
            *self.refused = Some(e);
            "limit".to_string()
        })
    }

    fn child(&mut self, records: bool) -> Count<'_> {
        Count { tally: self.tally, records, depth: self.depth + 1, refused: self.refused }
    }
}

impl<'de> DeserializeSeed<'de> for Count<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Count<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.enter(self.records).map_err(serde::de::Error::custom)?;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let records = RECORD_ARRAYS.contains(&key.as_ref());
            map.next_value_seed(self.child(records))?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.enter(false).map_err(serde::de::Error::custom)?;
        let records = self.records;
        while seq.next_element_seed(self.child(records))?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_spans_are_counted_before_they_are_decoded() {
        // ExportTraceServiceRequest { resource_spans: [{ scope_spans: [{ spans: [{}; n] }] }] }
        // The scope's fields: 20,000 times `spans` (2), each empty.
        let scope: Vec<u8> = std::iter::repeat_n([0x12u8, 0x00], 20_000).flatten().collect();
        let resource = [&[0x12u8][..], &prost_len(scope.len()), &scope].concat();
        let request = [&[0x0au8][..], &prost_len(resource.len()), &resource].concat();
        assert!(matches!(protobuf(&request, Kind::TraceRequest), Err(ApiError::TooLarge(_))));
        let few = protobuf(&request[..200], Kind::TraceRequest);
        assert!(few.is_ok(), "a cut body is the decoder's to refuse");
    }

    #[test]
    fn json_records_and_messages_are_counted() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"},{"name":"b","attributes":[{}]}]}]}]}"#;
        let tally = json(body).unwrap();
        assert_eq!((tally.records, tally.messages), (2, 10));
        let many =
            format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#, vec!["{}"; 10_001].join(","));
        assert!(matches!(json(many.as_bytes()), Err(ApiError::TooLarge(_))));
    }

    #[test]
    fn values_nested_past_the_depth_are_refused() {
        // A log record's body (5) holding an array (5) of a value holding an array…, 40 deep.
        let mut value: Vec<u8> = Vec::new();
        for _ in 0..40 {
            let array = [&[0x0au8][..], &prost_len(value.len()), &value].concat();
            value = [&[0x2au8][..], &prost_len(array.len()), &array].concat();
        }
        let record = [&[0x2au8][..], &prost_len(value.len()), &value].concat();
        let scope = [&[0x12u8][..], &prost_len(record.len()), &record].concat();
        let resource = [&[0x12u8][..], &prost_len(scope.len()), &scope].concat();
        let request = [&[0x0au8][..], &prost_len(resource.len()), &resource].concat();
        let refused = protobuf(&request, Kind::LogsRequest).unwrap_err();
        assert!(refused.to_string().contains("nest"), "{refused}");
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(matches!(json(deep.as_bytes()), Err(ApiError::TooLarge(_))));
    }

    fn prost_len(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }
}

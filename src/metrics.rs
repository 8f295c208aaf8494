//! What the server counts, through the `metrics` facade and its Prometheus exporter. Each server
//! has a recorder of its own rather than the process-wide one, so servers sharing a process (the
//! tests) count apart. Counters and histograms are recorded where things happen; gauges and the
//! hub's own counters are set when scraped (`api::metrics`, which also serves `GET /metrics`).
//! Recording imports nothing of the server: every layer may record.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

pub const INGESTED: &str = "flightdeck_events_ingested_total";
pub const COMMIT_EVENTS: &str = "flightdeck_commit_events";
pub const FANOUT: &str = "flightdeck_fanout_seconds";
pub const REFUSALS: &str = "flightdeck_refusals_total";
pub const STALLED: &str = "flightdeck_page_renders_stalled_total";
pub const OTLP_RECORDS: &str = "flightdeck_otlp_records_total";

static META: Metadata<'static> = Metadata::new("flightdeck", Level::INFO, Some(module_path!()));

/// Every metric, its kind and what it says.
const DESCRIBED: &[(&str, Kind, &str)] = &[
    (INGESTED, Kind::Counter, "Events committed by this instance, by type."),
    (COMMIT_EVENTS, Kind::Histogram, "Events per group commit."),
    (FANOUT, Kind::Histogram, "From an event going live to its frame written to a follower."),
    (REFUSALS, Kind::Counter, "Requests refused, by reason (the `error` code of the answer)."),
    (STALLED, Kind::Counter, "Page renders dropped after the render deadline (see src/render.rs)."),
    ("flightdeck_connections", Kind::Gauge, "Open sockets and event streams."),
    ("flightdeck_followers", Kind::Gauge, "Subscriptions, live or catching up from the log."),
    ("flightdeck_subscriptions", Kind::Gauge, "Followers of each kind of topic (board, task, …)."),
    ("flightdeck_writer_queued_bytes", Kind::Gauge, "Bytes of request bodies waiting for a commit."),
    ("flightdeck_live_ring_bytes", Kind::Gauge, "Bytes of frames the live ring holds."),
    ("flightdeck_lagged_total", Kind::Counter, "Followers that fell off the live ring and caught up from the log."),
    ("flightdeck_too_slow_total", Kind::Counter, "Followers dropped for falling behind the lag deadline."),
    ("flightdeck_resumes_total", Kind::Counter, "Subscriptions that resumed from a seq."),
    ("flightdeck_replays_total", Kind::Counter, "Subscriptions that began with a replay from the log."),
    ("flightdeck_resets_total", Kind::Counter, "Resumes answered with `reset` (the log could not serve them)."),
    ("flightdeck_commits_total", Kind::Counter, "Group commits."),
    (
        "flightdeck_store_commits_total",
        Kind::Counter,
        "PostgreSQL commits by how they took their seqs: on the head this instance left (unlocked), under the head's \
         lock (locked), and unlocked ones retried under the lock because another instance had committed (retried).",
    ),
    (
        OTLP_RECORDS,
        Kind::Counter,
        "OTLP records (spans, log records, data points) by signal and outcome: mapped, unmapped (dropped), rejected.",
    ),
];

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

pub struct Metrics {
    recorder: PrometheusRecorder,
    fanout: Histogram,
    commit_events: Histogram,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let latency = [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];
        let sizes = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(FANOUT.into()), &latency)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(COMMIT_EVENTS.into()), &sizes))
            .expect("bucket lists are not empty")
            .build_recorder();
        for (name, kind, help) in DESCRIBED {
            let (key, help) = (KeyName::from_const_str(name), SharedString::const_str(help));
            let unit = name.ends_with("_seconds").then_some(Unit::Seconds);
            match kind {
                Kind::Counter => recorder.describe_counter(key, unit, help),
                Kind::Gauge => recorder.describe_gauge(key, unit, help),
                Kind::Histogram => recorder.describe_histogram(key, unit, help),
            }
        }
        let fanout = recorder.register_histogram(&Key::from_static_name(FANOUT), &META);
        let commit_events = recorder.register_histogram(&Key::from_static_name(COMMIT_EVENTS), &META);
        Arc::new(Metrics { recorder, fanout, commit_events })
    }

    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        self.recorder.register_counter(&key(name, labels), &META)
    }

    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        self.recorder.register_gauge(&key(name, labels), &META)
    }

    /// A live frame was written to a follower, `after` it was published.
    pub fn delivered(&self, after: std::time::Duration) {
        self.fanout.record(after.as_secs_f64());
    }

    pub fn committed(&self, events: usize) {
        self.commit_events.record(events as f64);
    }

    /// Folds the samples recorded since the last call into the histograms' buckets. The exporter
    /// keeps every sample until then (one per delivery, so once per client per event): without it
    /// memory grows for as long as nobody scrapes.
    pub fn upkeep(&self) {
        self.recorder.handle().run_upkeep();
    }

    /// What was recorded, in Prometheus' text format.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }
}

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    Key::from_parts(name, labels.iter().map(|(k, v)| Label::new(*k, v.to_string())).collect::<Vec<_>>())
}

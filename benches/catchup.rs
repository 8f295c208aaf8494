//! Prints what catching a client up from the log costs: one topic-filtered page of history taken far
//! behind the head, and a whole replay of the `board` topic through a feed, with other topics' events
//! interleaved. Run with `cargo bench --bench catchup` (`CATCHUP_EVENTS=1000000` for a larger log);
//! it asserts nothing, it measures.

use std::time::Instant;

use app::{
    domain::{task::TaskCreated, task::TaskProgress, EventBody},
    topics::TopicSet,
};
use flightdeck::store::{self, Batch, LogQuery};

#[tokio::main]
async fn main() {
    let events: u64 = std::env::var("CATCHUP_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(200_000);
    // `CATCHUP_DB=path` keeps the log between runs (it is written only when the file is new).
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var("CATCHUP_DB").unwrap_or_else(|_| dir.path().join("catchup.db").display().to_string());
    let fresh = !std::path::Path::new(&path).exists();
    let store = store::open(&format!("sqlite://{path}")).await.unwrap();
    let started = Instant::now();
    let created = TaskCreated { id: Some("t".into()), title: "T".into(), ..TaskCreated::default() };
    if fresh {
        store
            .commit(vec![Batch::new("w".into(), vec![EventBody::TaskCreated(created)])], "2026-01-01T00:00:00.000Z")
            .await
            .unwrap();
    }
    // Every tenth event is on the board; the rest are heartbeats on `agents`.
    let mut written = if fresh { 1 } else { events };
    while written < events {
        let events: Vec<EventBody> = (0..1_000)
            .map(|i| match (written + i) % 10 {
                0 => EventBody::TaskProgress(TaskProgress {
                    id: "t".into(),
                    progress: Some(50),
                    ..TaskProgress::default()
                }),
                _ => EventBody::AgentHeartbeat(app::domain::agent::AgentHeartbeat { id: "ada".into(), task_id: None }),
            })
            .collect();
        store.commit(vec![Batch::new("w".into(), events)], "2026-01-01T00:00:01.000Z").await.unwrap();
        written += 1_000;
    }
    let head = store.head().await.unwrap();
    println!("log: {head} events written in {:.1} s", started.elapsed().as_secs_f64());

    for behind in [1_000u64, 100_000, head / 2, head - 1] {
        let query = LogQuery {
            workspace: "w".into(),
            after: head - behind,
            upto: head,
            topics: Some(vec!["board".into()]),
            limit: 256,
            newest: false,
            max_bytes: None,
        };
        let runs = 20;
        let start = Instant::now();
        for _ in 0..runs {
            store.read_log(&query).await.unwrap();
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / runs as f64;
        println!("one page of `board`, {behind:>7} events behind the head: {ms:.2} ms");
    }

    // A whole replay: a feed from the start, as a resuming client gets it.
    let hub = flightdeck::hub::Hub::new(
        16,
        1 << 20,
        flightdeck::hub::HubSettings {
            heartbeat: std::time::Duration::from_secs(30),
            pong_timeout: std::time::Duration::from_secs(10),
            send_timeout: std::time::Duration::from_secs(30),
            max_frame_bytes: 65_536,
            max_topics: 64,
            max_connections_per_token: 64,
            lag_deadline: std::time::Duration::from_secs(3_600),
        },
        flightdeck::metrics::Metrics::new(),
    );
    let set = TopicSet::new(["board".to_string()], "w");
    let start = Instant::now();
    let (mut feed, _) =
        flightdeck::hub::feed::Feed::start(store.clone(), hub, "w".into(), set, Some(0), None).await.unwrap();
    let mut delivered = 0;
    while delivered < head / 10 {
        match tokio::time::timeout(std::time::Duration::from_secs(60), feed.next()).await {
            Ok(Ok(_)) => delivered += 1,
            _ => break,
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let rate = delivered as f64 / seconds;
    println!("replay of {delivered} board events out of {head}: {seconds:.2} s ({rate:.0} events/s)");
}

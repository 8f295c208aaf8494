//! What the server does when its store misbehaves: a commit that panics refuses its requests (and
//! stores nothing) without taking the writer down, and readiness tells the truth throughout.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use app::domain::{
    entity::{Query, Snapshot},
    Seq,
};
use flightdeck::store::{Batch, Committed, LogQuery, Logged, Store, StoreError, TokenListing, TokenRecord};

use crate::common::{task_created, TOKEN};

/// A real SQLite store whose commits panic while `panic` is set, wait for `gate` while `stall` is,
/// and whose writes fail as on a full disk while `full` is; its next `stalled_reads` snapshot
/// reads never finish.
struct Faulty {
    inner: Arc<dyn Store>,
    panic: AtomicBool,
    stall: AtomicBool,
    full: AtomicBool,
    gate: tokio::sync::Semaphore,
    /// Commits begun, stalled or not.
    begun: std::sync::atomic::AtomicUsize,
    stalled_reads: std::sync::atomic::AtomicUsize,
}

impl Faulty {
    async fn open(url: &str) -> Arc<Faulty> {
        Arc::new(Faulty {
            inner: flightdeck::store::open(url).await.unwrap(),
            panic: AtomicBool::new(false),
            stall: AtomicBool::new(false),
            full: AtomicBool::new(false),
            gate: tokio::sync::Semaphore::new(0),
            begun: std::sync::atomic::AtomicUsize::new(0),
            stalled_reads: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    fn refuse_writes(&self) -> Result<(), StoreError> {
        match self.full.load(Ordering::SeqCst) {
            true => Err(StoreError::Unavailable("database or disk is full (on purpose)".into())),
            false => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl Store for Faulty {
    async fn commit(
        &self,
        batches: Vec<Batch>,
        ts: &str,
    ) -> Result<Vec<Result<Vec<Committed>, StoreError>>, StoreError> {
        self.begun.fetch_add(1, Ordering::SeqCst);
        if self.panic.load(Ordering::SeqCst) {
            panic!("a store bug, on purpose");
        }
        if self.stall.load(Ordering::SeqCst) {
            let _ = self.gate.acquire().await.map(|p| p.forget());
        }
        self.refuse_writes()?;
        self.inner.commit(batches, ts).await
    }
    async fn head(&self) -> Result<Seq, StoreError> {
        self.inner.head().await
    }
    fn epoch(&self) -> &str {
        self.inner.epoch()
    }
    async fn pruned_upto(&self, workspace: &str) -> Result<Seq, StoreError> {
        self.inner.pruned_upto(workspace).await
    }
    async fn position(&self, workspace: &str, upto: Seq) -> Result<Seq, StoreError> {
        self.inner.position(workspace, upto).await
    }
    async fn read_log(&self, query: &LogQuery) -> Result<Vec<(Seq, String)>, StoreError> {
        self.inner.read_log(query).await
    }
    async fn read_tail(&self, after: Seq, upto: Seq, limit: u32) -> Result<Vec<Logged>, StoreError> {
        self.inner.read_tail(after, upto, limit).await
    }
    async fn watch(&self) -> Result<Option<tokio::sync::watch::Receiver<u64>>, StoreError> {
        self.inner.watch().await
    }
    async fn prune(&self, keep: u64, slice: u64) -> Result<u64, StoreError> {
        self.inner.prune(keep, slice).await
    }
    async fn forget_keys(&self, before: &str, slice: u64) -> Result<u64, StoreError> {
        self.inner.forget_keys(before, slice).await
    }
    async fn probe(&self) -> Result<(), StoreError> {
        self.refuse_writes()?;
        self.inner.probe().await
    }
    async fn read(&self, workspace: &str, queries: &[Query]) -> Result<Snapshot, StoreError> {
        let stall = self.stalled_reads.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if stall.is_ok() {
            std::future::pending::<()>().await;
        }
        self.inner.read(workspace, queries).await
    }
    async fn take_snapshot(&self, every: u64) -> Result<Option<Seq>, StoreError> {
        self.refuse_writes()?;
        self.inner.take_snapshot(every).await
    }
    async fn snapshots_around(&self, at: Seq, from: Seq) -> Result<(Seq, Option<Seq>), StoreError> {
        self.inner.snapshots_around(at, from).await
    }
    async fn snapshot_row(
        &self,
        workspace: &str,
        kind: &'static str,
        id: &str,
        snapshot: Seq,
    ) -> Result<Option<String>, StoreError> {
        self.inner.snapshot_row(workspace, kind, id, snapshot).await
    }
    async fn snapshot_read(
        &self,
        workspace: &str,
        queries: &[(Query, u32)],
        snapshot: Seq,
    ) -> Result<Vec<Vec<(i64, String, String)>>, StoreError> {
        self.inner.snapshot_read(workspace, queries, snapshot).await
    }
    async fn scan(&self, kind: &str, status: Option<&str>) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.scan(kind, status).await
    }
    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.inner.find_token(hash).await
    }
    async fn create_token(&self, record: &TokenRecord, hash: &str) -> Result<(), StoreError> {
        self.inner.create_token(record, hash).await
    }
    async fn count_tokens(&self) -> Result<u64, StoreError> {
        self.inner.count_tokens().await
    }
    async fn list_tokens(&self) -> Result<Vec<TokenListing>, StoreError> {
        self.inner.list_tokens().await
    }
    async fn is_token_live(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.is_token_live(id).await
    }
    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.revoke_token(id).await
    }

    fn shared_limits(&self) -> Option<Arc<dyn flightdeck::limits::SharedLimits>> {
        self.inner.shared_limits()
    }
}

#[tokio::test]
async fn a_panicking_commit_refuses_its_request_and_the_writer_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("faulty.db").display());
    let mut config = flightdeck::config::ServeConfig::with("127.0.0.1:0".parse().unwrap(), &url);
    config.token = Some(TOKEN.into());
    let faulty = Faulty::open(&url).await;
    let running =
        flightdeck::server::start_with_store(config, flightdeck::clock::system(), faulty.clone()).await.unwrap();
    let base = format!("http://{}", running.addr);
    let post = |body: serde_json::Value| {
        let request =
            crate::common::client().post(format!("{base}/api/events")).bearer_auth(TOKEN).body(body.to_string());
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap())
        }
    };

    faulty.panic.store(true, Ordering::SeqCst);
    let (status, refused) = post(task_created("t1", "lost")).await;
    assert_eq!(status, 503, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("nothing was stored"), "{refused}");
    assert_eq!(running.state.store.head().await.unwrap(), 0, "and nothing was");

    faulty.panic.store(false, Ordering::SeqCst);
    let (status, stored) = post(task_created("t2", "after the panic")).await;
    assert_eq!(status, 201, "the writer survived: {stored}");
    assert_eq!(reqwest::get(format!("{base}/readyz")).await.unwrap().status(), 200);
    running.stop().await;
}

#[tokio::test]
async fn a_full_writer_queue_refuses_at_once_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("stalled.db").display());
    let mut config = flightdeck::config::ServeConfig::with("127.0.0.1:0".parse().unwrap(), &url);
    config.token = Some(TOKEN.into());
    config.writer_queue = 1;
    let faulty = Faulty::open(&url).await;
    let running =
        flightdeck::server::start_with_store(config, flightdeck::clock::system(), faulty.clone()).await.unwrap();
    let base = format!("http://{}", running.addr);
    let post = |id: &str| {
        let request = crate::common::client()
            .post(format!("{base}/api/events"))
            .bearer_auth(TOKEN)
            .body(task_created(id, "queued").to_string());
        async move { request.send().await.unwrap() }
    };
    faulty.stall.store(true, Ordering::SeqCst);
    let first = tokio::spawn(post("a"));
    while faulty.begun.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let second = tokio::spawn(post("b"));
    while running.state.writer.trouble().is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let refused = tokio::time::timeout(std::time::Duration::from_secs(2), post("c")).await.expect("answered at once");
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("nothing was stored"), "{body}");
    assert_eq!(reqwest::get(format!("{base}/readyz")).await.unwrap().status(), 503, "not ready while full");

    faulty.gate.add_permits(10);
    assert_eq!(first.await.unwrap().status(), 201);
    assert_eq!(second.await.unwrap().status(), 201);
    assert_eq!(running.state.store.head().await.unwrap(), 2, "the refused one stored nothing");
    running.stop().await;
}

/// Starts a server on a [`Faulty`] store, adjusted by `adjust`.
async fn faulty_server(
    dir: &tempfile::TempDir,
    adjust: impl FnOnce(&mut flightdeck::config::ServeConfig),
    prepare: impl FnOnce(&Faulty),
) -> (Arc<Faulty>, flightdeck::server::Running) {
    let url = format!("sqlite://{}", dir.path().join("faulty.db").display());
    let mut config = flightdeck::config::ServeConfig::with("127.0.0.1:0".parse().unwrap(), &url);
    config.token = Some(TOKEN.into());
    adjust(&mut config);
    let faulty = Faulty::open(&url).await;
    prepare(&faulty);
    let running =
        flightdeck::server::start_with_store(config, flightdeck::clock::system(), faulty.clone()).await.unwrap();
    (faulty, running)
}

async fn ready_status(base: &str) -> u16 {
    reqwest::get(format!("{base}/readyz")).await.unwrap().status().as_u16()
}

/// Waits (up to 5 s) for readiness to become `status`.
async fn until_ready_is(base: &str, status: u16) {
    for _ in 0..100 {
        if ready_status(base).await == status {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("/readyz never answered {status}");
}

#[tokio::test]
async fn readiness_notices_a_disk_that_takes_no_writes_before_any_request_and_after() {
    let dir = tempfile::tempdir().unwrap();
    // Full from the start: readiness says so although nobody has posted yet.
    let (faulty, running) = faulty_server(&dir, |_| {}, |f| f.full.store(true, Ordering::SeqCst)).await;
    let base = format!("http://{}", running.addr);
    until_ready_is(&base, 503).await;
    let body = reqwest::get(format!("{base}/readyz")).await.unwrap().text().await.unwrap();
    assert!(!body.contains("disk"), "the anonymous probe says only ready or not: {body}");

    let post = || {
        crate::common::client()
            .post(format!("{base}/api/events"))
            .bearer_auth(TOKEN)
            .body(task_created("t1", "on a full disk").to_string())
            .send()
    };
    let refused = post().await.unwrap();
    assert_eq!(refused.status(), 503);
    let refused: serde_json::Value = refused.json().await.unwrap();
    assert!(refused["message"].as_str().unwrap().contains("nothing was stored"), "{refused}");

    // Space again: readiness comes back by itself (the writer probes), and so do writes.
    faulty.full.store(false, Ordering::SeqCst);
    until_ready_is(&base, 200).await;
    assert_eq!(post().await.unwrap().status(), 201);

    // A disk that fills while serving: the failed commit turns readiness at once.
    faulty.full.store(true, Ordering::SeqCst);
    assert_eq!(post().await.unwrap().status(), 503);
    assert_eq!(ready_status(&base).await, 503);
    running.stop().await;
}

#[tokio::test]
async fn queued_requests_are_bounded_in_bytes_and_the_rest_refused_at_once() {
    const CAP: usize = 256 << 10;
    let dir = tempfile::tempdir().unwrap();
    let (faulty, running) = faulty_server(
        &dir,
        |c| {
            c.writer_queue = 10_000;
            c.writer_queue_bytes = CAP;
            c.ingest_rate = 100_000;
            c.ingest_burst = 100_000;
        },
        |f| f.stall.store(true, Ordering::SeqCst),
    )
    .await;
    let base = format!("http://{}", running.addr);
    // 5,000 POSTs of about 4 KiB each (20 MB) against a store that does not commit.
    let client = crate::common::client();
    let note = "x".repeat(4_000);
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // At most 256 in flight (so many connects at once would overflow the listen backlog); those
    // that wait in the queue keep their slot, the refused ones free theirs at once.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(256));
    let mut size = 0;
    for i in 0..5_000 {
        let body = serde_json::json!({"type": "task:created", "payload": {"id": format!("t{i:04}"), "title": "queued", "description": note}});
        let body = body.to_string();
        size = body.len();
        let request = client.post(format!("{base}/api/events")).bearer_auth(TOKEN).body(body);
        let (answered, in_flight) = (answered.clone(), in_flight.clone());
        tokio::spawn(async move {
            let _slot = in_flight.acquire_owned().await.unwrap();
            let status = request.send().await.unwrap().status().as_u16();
            assert_eq!(status, 503, "only refusals are answered while the store stalls");
            answered.fetch_add(1, Ordering::SeqCst);
        });
    }
    // Every POST ends up either waiting in the queue or refused; the queue never holds more than
    // its cap meanwhile.
    let mut peak = 0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let (refused, waiting) = loop {
        let queued = running.state.writer.queued_bytes();
        peak = peak.max(queued);
        let (refused, waiting) = (answered.load(Ordering::SeqCst), queued / size);
        if refused + waiting == 5_000 {
            break (refused, waiting);
        }
        assert!(tokio::time::Instant::now() < deadline, "{refused} refused and {waiting} waiting of 5,000");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(peak <= CAP, "queued {peak} bytes, cap {CAP}");
    assert_eq!(waiting, CAP / size, "the cap's worth waits ({refused} refused)");
    assert_eq!(ready_status(&base).await, 503, "a full queue is not ready");
    faulty.gate.add_permits(100_000);
    running.stop().await;
}

#[tokio::test]
async fn a_page_render_that_stalls_is_rendered_again_and_a_second_stall_is_a_503() {
    let dir = tempfile::tempdir().unwrap();
    let (faulty, running) = faulty_server(&dir, |c| c.page_render_timeout_ms = 300, |_| {}).await;
    let base = format!("http://{}", running.addr);
    let page = || crate::common::client().get(format!("{base}/")).header("cookie", format!("fd_token={TOKEN}")).send();
    // The first render's read never finishes: the page still arrives, from the second render.
    faulty.stalled_reads.store(1, Ordering::SeqCst);
    let answer = page().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("Active Sub-Agents"), "the whole page");
    // Both renders stall: a 503 that says to reload.
    faulty.stalled_reads.store(2, Ordering::SeqCst);
    let answer = page().await.unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["retry-after"], "1");
    assert!(answer.text().await.unwrap().contains("reload"));
    let metrics = crate::common::scrape_metrics(format!("{base}/metrics")).await;
    let stalled = metrics.lines().find(|l| l.starts_with("flightdeck_page_renders_stalled_total")).unwrap_or_default();
    assert!(stalled.ends_with(" 3"), "every stall counted: {stalled}");
    // The API is not a page: it is never cut.
    let events = crate::common::client().get(format!("{base}/api/events")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(events.status(), 200);
    running.stop().await;
}

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
use flightdeck::store::{Batch, Committed, LogQuery, Store, StoreError, TokenListing, TokenRecord};

use crate::common::{task_created, TOKEN};

/// A real SQLite store whose commits panic while `panic` is set, and wait for `gate` while
/// `stall` is.
struct Faulty {
    inner: Arc<dyn Store>,
    panic: AtomicBool,
    stall: AtomicBool,
    gate: tokio::sync::Semaphore,
    /// Commits begun, stalled or not.
    begun: std::sync::atomic::AtomicUsize,
}

impl Faulty {
    async fn open(url: &str) -> Arc<Faulty> {
        Arc::new(Faulty {
            inner: flightdeck::store::open(url).await.unwrap(),
            panic: AtomicBool::new(false),
            stall: AtomicBool::new(false),
            gate: tokio::sync::Semaphore::new(0),
            begun: std::sync::atomic::AtomicUsize::new(0),
        })
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
        self.inner.commit(batches, ts).await
    }
    async fn head(&self) -> Result<Seq, StoreError> {
        self.inner.head().await
    }
    fn epoch(&self) -> &str {
        self.inner.epoch()
    }
    async fn oldest(&self) -> Result<Seq, StoreError> {
        self.inner.oldest().await
    }
    async fn read_log(&self, query: &LogQuery) -> Result<Vec<(Seq, String)>, StoreError> {
        self.inner.read_log(query).await
    }
    async fn prune(&self, keep: u64) -> Result<u64, StoreError> {
        self.inner.prune(keep).await
    }
    async fn read(&self, workspace: &str, queries: &[Query]) -> Result<Snapshot, StoreError> {
        self.inner.read(workspace, queries).await
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
            reqwest::Client::new().post(format!("{base}/api/events")).bearer_auth(TOKEN).body(body.to_string());
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
        let request = reqwest::Client::new()
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

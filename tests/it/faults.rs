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

/// A real SQLite store whose commits panic while `panic` is set.
struct Faulty {
    inner: Arc<dyn Store>,
    panic: AtomicBool,
}

#[async_trait::async_trait]
impl Store for Faulty {
    async fn commit(
        &self,
        batches: Vec<Batch>,
        ts: &str,
    ) -> Result<Vec<Result<Vec<Committed>, StoreError>>, StoreError> {
        if self.panic.load(Ordering::SeqCst) {
            panic!("a store bug, on purpose");
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
    let faulty =
        Arc::new(Faulty { inner: flightdeck::store::open(&url).await.unwrap(), panic: AtomicBool::new(false) });
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

//! Test harness: a real server on a free port with a temporary SQLite file, a real HTTP client and
//! a real WebSocket client.
#![allow(dead_code)]

use std::{sync::Arc, time::Duration};

use app::domain::{
    entity::{decode_rows, Query},
    task::Task,
};
use flightdeck::{
    clock::ManualClock,
    config::ServeConfig,
    server::Running,
    store::{Role, TokenRecord},
};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{connect_async, tungstenite::Message, MaybeTlsStream, WebSocketStream};

pub const TOKEN: &str = "test-token-0123456789";

/// How long any one HTTP call of a test may take: a server that never answers fails the test with
/// the call it hung on, instead of holding the suite until CI's time runs out.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// An HTTP client whose every call times out after [`CALL_TIMEOUT`].
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

pub struct TestServer {
    pub running: Running,
    pub dir: tempfile::TempDir,
    pub config: ServeConfig,
    /// Set when the test drives time itself.
    pub clock: Option<Arc<ManualClock>>,
    /// The PostgreSQL schema the server stores in, when the suite runs on PostgreSQL.
    pub schema: Option<Arc<Schema>>,
}

/// Where the suite runs: `FLIGHTDECK_TEST_DATABASE=postgres://…` runs every server on PostgreSQL,
/// each in a schema of its own; without it, each on a temporary SQLite file.
pub const DATABASE_VARIABLE: &str = "FLIGHTDECK_TEST_DATABASE";

/// A PostgreSQL schema made for one test server, dropped with it.
pub struct Schema {
    base: String,
    name: String,
}

impl Schema {
    pub async fn create(base: &str) -> Schema {
        use sqlx::Connection;
        let name = format!("fd_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(base).await.expect("PostgreSQL answers");
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&mut conn).await.expect("schema created");
        Schema { base: base.to_string(), name }
    }

    /// The URL of the base database with this schema first on the search path, its connections
    /// named after it.
    pub fn url(&self) -> String {
        let join = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{join}options=-c%20search_path%3D{name}&application_name={name}", self.base, name = self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop runs inside the test's runtime: the cleanup gets a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                use sqlx::Connection;
                let Ok(mut conn) = sqlx::PgConnection::connect(&base).await else { return };
                // The server may still hold connections (and locks) on its runtime, which this
                // thread blocks: end them first.
                let _ =
                    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
                        .bind(&name)
                        .execute(&mut conn)
                        .await;
                let _ = sqlx::query("SET lock_timeout = '5s'").execute(&mut conn).await;
                let _ = sqlx::query(&format!("DROP SCHEMA {name} CASCADE")).execute(&mut conn).await;
            });
        });
        let _ = cleanup.join();
    }
}

/// The database URL for a new test server, and the schema to keep alive beside it.
pub async fn test_database(dir: &std::path::Path) -> (String, Option<Arc<Schema>>) {
    match std::env::var(DATABASE_VARIABLE) {
        Ok(base) if !base.is_empty() => {
            let schema = Schema::create(&base).await;
            (schema.url(), Some(Arc::new(schema)))
        }
        _ => (format!("sqlite://{}", dir.join("test.db").display()), None),
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServeConfig)) -> TestServer {
        TestServer::launch(adjust, None).await
    }

    /// A server whose time moves only when the test advances `clock`.
    pub async fn start_with_clock(adjust: impl FnOnce(&mut ServeConfig), clock: Arc<ManualClock>) -> TestServer {
        TestServer::launch(adjust, Some(clock)).await
    }

    async fn launch(adjust: impl FnOnce(&mut ServeConfig), clock: Option<Arc<ManualClock>>) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, schema) = test_database(dir.path()).await;
        let mut config = ServeConfig::with("127.0.0.1:0".parse().unwrap(), &url);
        config.token = Some(TOKEN.to_string());
        adjust(&mut config);
        let running = relaunch(config.clone(), clock.clone()).await;
        TestServer { running, dir, config, clock, schema }
    }

    /// Stops this server and starts a new one on the same database (and clock).
    pub async fn restart(self) -> TestServer {
        let TestServer { running, dir, config, clock, schema } = self;
        running.stop().await;
        let running = relaunch(config.clone(), clock.clone()).await;
        TestServer { running, dir, config, clock, schema }
    }

    /// Sends a JSON request with the test token and returns status and parsed body.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = client().request(method, self.http(path)).bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Posts a raw body to `path` with the test token (and an `Idempotency-Key` when given).
    pub async fn post_to(&self, path: &str, body: &str, key: Option<&str>) -> (u16, Value) {
        let mut request = client()
            .post(self.http(path))
            .header("content-type", "application/json")
            .bearer_auth(TOKEN)
            .body(body.to_string());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// A GET with `token`: status and parsed body.
    pub async fn get_as(&self, path: &str, token: &str) -> (u16, Value) {
        let response = client().get(self.http(path)).bearer_auth(token).send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Waits (up to 5 s) until pruning has reached `upto` in `workspace`.
    pub async fn until_pruned(&self, workspace: &str, upto: u64) {
        let store = self.running.state.store.clone();
        for _ in 0..250 {
            if store.pruned_upto(workspace).await.unwrap() >= upto {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("`{workspace}` was never pruned up to {upto}");
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.running.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws?token={TOKEN}", self.running.addr)
    }

    /// A new token for `workspace` with `role`, stored the way `flightdeck token create` does.
    pub async fn token(&self, workspace: &str, role: Role) -> String {
        let token = flightdeck::auth::generate_token();
        let record = TokenRecord {
            id: uuid::Uuid::new_v4().to_string(),
            workspace: workspace.into(),
            role,
            name: "test".into(),
        };
        self.running.state.store.create_token(&record, &flightdeck::auth::hash_token(&token)).await.unwrap();
        token
    }

    /// Posts a JSON body to `/api/events` with the test token; returns status and parsed body.
    pub async fn post(&self, body: &Value) -> (u16, Value) {
        self.post_raw(body.to_string().into_bytes(), Some(TOKEN)).await
    }

    pub async fn post_raw(&self, body: Vec<u8>, token: Option<&str>) -> (u16, Value) {
        let mut request = client().post(self.http("/api/events")).header("content-type", "application/json").body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The default workspace's tasks as stored, and the seq they were read at.
    pub async fn board(&self) -> Board {
        self.board_of("default").await
    }

    pub async fn board_of(&self, workspace: &str) -> Board {
        let snapshot = self.running.state.store.read(workspace, &[Query::all::<Task>()]).await.expect("read");
        Board { seq: snapshot.seq, tasks: decode_rows(&snapshot.rows[0]).expect("tasks decode") }
    }

    pub async fn tasks_of(&self, workspace: &str) -> Vec<Task> {
        self.board_of(workspace).await.tasks
    }

    /// The rows a query selects in the default workspace, as stored.
    pub async fn rows<T: app::domain::Entity>(&self, query: Query) -> Vec<T> {
        let snapshot = self.running.state.store.read("default", &[query]).await.expect("read");
        decode_rows(&snapshot.rows[0]).expect("rows decode")
    }

    /// Posts a Claude Code hook that is held open, and returns once its approval is stored: the
    /// approval's id, and the answer still to come.
    pub async fn held_hook(&self, body: &Value) -> (String, tokio::task::JoinHandle<(u16, String)>) {
        use app::domain::approval::Approval;
        let before: Vec<Approval> = self.rows(Query::all::<Approval>()).await;
        let request = client()
            .post(self.http("/api/feeds/claude-code"))
            .header("content-type", "application/json")
            .bearer_auth(TOKEN)
            .body(body.to_string());
        let answer = tokio::spawn(async move {
            let response = request.send().await.expect("request sent");
            (response.status().as_u16(), response.text().await.unwrap_or_default())
        });
        for _ in 0..500 {
            let now: Vec<Approval> = self.rows(Query::all::<Approval>()).await;
            if let Some(new) = now.into_iter().find(|a| !before.iter().any(|b| b.id == a.id)) {
                return (new.id, answer);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the hook asked no approval: {body}");
    }

    pub async fn head(&self) -> u64 {
        self.running.state.store.head().await.expect("head")
    }
}

/// Starts a server on `config`, on `clock` when one is given.
pub async fn relaunch(config: ServeConfig, clock: Option<Arc<ManualClock>>) -> Running {
    let started = match clock {
        Some(clock) => flightdeck::server::start_with_clock(config, clock).await,
        None => flightdeck::server::start(config).await,
    };
    started.expect("server starts")
}

pub struct Board {
    pub seq: u64,
    pub tasks: Vec<Task>,
}

/// What `GET /metrics` at `url` shows an admin.
pub async fn scrape_metrics(url: String) -> String {
    client().get(url).bearer_auth(TOKEN).send().await.unwrap().text().await.unwrap()
}

pub fn task_created(id: &str, title: &str) -> Value {
    serde_json::json!({"type": "task:created", "payload": {"id": id, "title": title}})
}

pub fn task_progress(id: &str, progress: u8) -> Value {
    serde_json::json!({"type": "task:progress", "payload": {"id": id, "progress": progress}})
}

pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Connects and reads the `hello` frame.
    pub async fn connect(server: &TestServer) -> (WsClient, Value) {
        WsClient::connect_to(&server.ws_url()).await
    }

    pub async fn connect_to(url: &str) -> (WsClient, Value) {
        let connecting = tokio::time::timeout(CALL_TIMEOUT, connect_async(url)).await;
        let (stream, _) = connecting.expect("the socket connects within the call timeout").expect("socket connects");
        let mut client = WsClient { stream };
        let hello = client.next_json().await;
        assert_eq!(hello["type"], "hello", "first frame is hello: {hello}");
        (client, hello)
    }

    pub async fn send(&mut self, frame: &Value) {
        self.stream.send(Message::text(frame.to_string())).await.expect("frame sent");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::text(text.to_string())).await.expect("frame sent");
    }

    /// Subscribes and returns the `subscribed` answer (skipping nothing else).
    pub async fn subscribe(&mut self, topics: &[&str], since: Option<u64>) -> Value {
        let mut op = serde_json::json!({"op": "subscribe", "topics": topics});
        if let Some(since) = since {
            op["since"] = since.into();
        }
        self.send(&op).await;
        self.next_json().await
    }

    /// The next text frame as JSON; fails the test after 5 s of silence.
    pub async fn next_json(&mut self) -> Value {
        self.next_json_within(Duration::from_secs(5)).await.expect("a frame within 5 s")
    }

    pub async fn next_json_within(&mut self, limit: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next()).await.ok()??;
            match message.expect("socket readable") {
                Message::Text(text) => return Some(serde_json::from_str(&text).expect("frame is JSON")),
                Message::Close(frame) => panic!("socket closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Reads until the server closes the socket and returns the close code it gave.
    pub async fn close_code(&mut self) -> Option<u16> {
        let reading = async {
            while let Some(Ok(message)) = self.stream.next().await {
                if let Message::Close(frame) = message {
                    return frame.map(|f| u16::from(f.code));
                }
            }
            None
        };
        tokio::time::timeout(CALL_TIMEOUT, reading).await.expect("the server closes the socket within the call timeout")
    }

    /// Reads `n` event frames and returns their seqs.
    pub async fn seqs(&mut self, n: usize) -> Vec<u64> {
        let mut seqs = Vec::with_capacity(n);
        while seqs.len() < n {
            let frame = self.next_json().await;
            let seq = frame["seq"].as_u64().unwrap_or_else(|| panic!("expected an event, got {frame}"));
            seqs.push(seq);
        }
        seqs
    }
}

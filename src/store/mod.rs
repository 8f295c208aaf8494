//! Durable state: the event log and the tables events are applied to, behind one trait.
//!
//! Callers see [`Store`] and never a backend. A backend holds only SQL: the domain rules that turn
//! an event into rows are applied once, for every backend, by [`project`]. [`sqlite`] is the
//! embedded default; [`postgres`] serves several instances on one database. [`open`] picks one by
//! the URL; [`sql`] holds the queries both write the same way.

mod cache;
pub mod past;
mod postgres;
pub mod project;
mod shared_limits;
mod sql;
mod sqlite;

use std::sync::Arc;

use app::domain::{
    entity::{Query, Refusal, Snapshot},
    EventBody, Seq,
};

pub use postgres::PgStore;
pub use shared_limits::{SharedLimits, INSTANCE_STALE_AFTER};
pub use sqlite::SqliteStore;

/// Events to commit together: all of them or none.
#[derive(Clone, Debug)]
pub struct Batch {
    pub workspace: String,
    pub events: Vec<EventBody>,
    /// Set when the caller gave an `Idempotency-Key`: a batch committed under it before is not
    /// committed again.
    pub once: Option<Once>,
    /// Per-event idempotency, parallel to `events` (empty when no event has a key): an event whose
    /// key was committed before is answered with that commit instead of being stored again.
    pub event_keys: Vec<Option<Once>>,
    /// Per-event preconditions, parallel to `events` (empty when none has one): the seq of its
    /// task the writer saw (`if_seq`). A task that changed since refuses the whole batch.
    pub if_seq: Vec<Option<Seq>>,
    /// The person who made these events, for actions taken on a page.
    pub by: Option<String>,
    /// What the batch holds in memory while it waits, in bytes: its request body's size.
    pub bytes: usize,
}

/// What an event made on the server (a job's verdict, a page's action) counts as while it waits.
pub const SMALL_EVENT_BYTES: usize = 512;

impl Batch {
    /// A batch of the server's own (a job's verdict), small and without a key.
    pub fn new(workspace: String, events: Vec<EventBody>) -> Batch {
        let bytes = events.len() * SMALL_EVENT_BYTES;
        Batch { workspace, events, once: None, event_keys: Vec::new(), if_seq: Vec::new(), by: None, bytes }
    }
}

/// A request's idempotency: its key, a hash of what it asked, and how far back a key counts.
#[derive(Clone, Debug, PartialEq)]
pub struct Once {
    pub key: String,
    pub hash: String,
    /// Keys remembered from before this time are forgotten (the retention window).
    pub not_before: String,
}

impl Once {
    /// The key of one event inside a batch. Stored with a prefix no request key can have (those are
    /// visible ASCII), so the two kinds never meet.
    pub fn for_event(key: &str, hash: String, not_before: String) -> Once {
        Once { key: format!("{EVENT_KEY}{key}"), hash, not_before }
    }

    /// The key as the client gave it, for messages.
    pub fn given(&self) -> &str {
        self.key.strip_prefix(EVENT_KEY).unwrap_or(&self.key)
    }
}

const EVENT_KEY: &str = "\u{1}event\u{1}";

/// An event as committed: its place in the log and its frame, serialised once for every reader.
#[derive(Clone, Debug)]
pub struct Committed {
    pub seq: Seq,
    pub workspace: Arc<str>,
    pub topics: Vec<String>,
    /// The JSON frame `{"seq", "ts", "timestamp", "topics", "type", "payload"}`, as stored and pushed.
    pub frame: Arc<str>,
    /// The commit time, RFC 3339.
    pub ts: String,
    /// Committed by an earlier request with the same idempotency key: answered again, not pushed.
    pub replayed: bool,
    /// The event as applied, with what projection filled in.
    pub body: EventBody,
    /// The person who made it, for an action taken on a page.
    pub by: Option<String>,
}

impl Committed {
    /// Where in the log, when and by whom the event landed.
    pub fn stamp(&self) -> app::domain::Stamp {
        app::domain::Stamp { seq: self.seq, ts: self.ts.clone(), by: self.by.clone() }
    }
}

/// An event as the log holds it, for publishing: what a follower needs to route and send it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub seq: Seq,
    pub workspace: Arc<str>,
    pub topics: Vec<String>,
    pub frame: Arc<str>,
}

impl Logged {
    /// An event read back from the log: its topics are in its frame.
    pub fn from_row(seq: Seq, workspace: String, frame: String) -> Result<Logged, StoreError> {
        #[derive(serde::Deserialize)]
        struct Routing {
            topics: Vec<String>,
        }
        let routing: Routing =
            serde_json::from_str(&frame).map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?;
        Ok(Logged { seq, workspace: workspace.into(), topics: routing.topics, frame: frame.into() })
    }
}

/// A page of the log, already filtered by workspace and topic.
#[derive(Clone, Debug, PartialEq)]
pub struct LogQuery {
    pub workspace: String,
    /// Only events with a larger seq.
    pub after: Seq,
    /// Only events up to and including this seq.
    pub upto: Seq,
    /// `None` means every topic.
    pub topics: Option<Vec<String>>,
    pub limit: u32,
    /// The newest `limit` events of the range (still returned oldest first) instead of the oldest.
    pub newest: bool,
    /// Stop before the frame that would take the page past this many bytes (the first frame is
    /// always returned), so a page's memory is bounded however large its events; oldest-first only.
    pub max_bytes: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything, including managing tokens.
    Admin,
    /// Posts events.
    Ingest,
    /// Reads only.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ingest => "ingest",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Admin, Role::Ingest, Role::Viewer].into_iter().find(|r| r.as_str() == s)
    }

    pub fn can_ingest(self) -> bool {
        matches!(self, Role::Admin | Role::Ingest)
    }
}

/// A token as stored: only its hash is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenRecord {
    pub id: String,
    pub workspace: String,
    pub role: Role,
    pub name: String,
}

impl TokenRecord {
    /// A token as read from its table.
    pub fn from_row(id: String, workspace: String, role: &str, name: String) -> Result<TokenRecord, StoreError> {
        let role = Role::parse(role).ok_or_else(|| StoreError::Corrupt(format!("unknown role `{role}`")))?;
        Ok(TokenRecord { id, workspace, role, name })
    }
}

/// A token as listed by `flightdeck token list`: never the token itself.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenListing {
    pub record: TokenRecord,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The event names something that already exists.
    #[error("{0}")]
    Conflict(String),
    /// The event refers to something that does not exist.
    #[error("{0}")]
    Unknown(String),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Too many requests wait for a commit: refused before anything was taken.
    #[error("{0}")]
    Busy(String),
    /// The writer stopped between taking a batch and answering: it may or may not be stored.
    #[error("{0}")]
    Lost(String),
    /// An idempotency key came back with another body.
    #[error("{0}")]
    KeyReused(String),
    /// An event's `if_seq` is not its task's seq any more: the task changed at `current`.
    #[error("{message}")]
    Stale { message: String, current: Seq },
    #[error("unsupported database URL `{0}`: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
}

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> StoreError {
        match r {
            Refusal::Conflict(m) => StoreError::Conflict(m),
            Refusal::Unknown(m) => StoreError::Unknown(m),
            Refusal::Stale { message, current } => StoreError::Stale { message, current },
        }
    }
}

impl StoreError {
    /// A refusal of one batch, as opposed to a failure of the database itself.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            StoreError::Conflict(_) | StoreError::Unknown(_) | StoreError::KeyReused(_) | StoreError::Stale { .. }
        )
    }
}

#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Commits several batches in one transaction at time `ts`, assigning gapless seqs in order. A
    /// batch that is refused (conflict, unknown reference) leaves no trace and gets its own error;
    /// the others commit.
    async fn commit(
        &self,
        batches: Vec<Batch>,
        ts: &str,
    ) -> Result<Vec<Result<Vec<Committed>, StoreError>>, StoreError>;

    /// Seq of the last committed event (0 for an empty log).
    async fn head(&self) -> Result<Seq, StoreError>;

    /// The log's epoch: made with the database, so a restored or replaced one has another.
    fn epoch(&self) -> &str;

    /// Up to where `workspace`'s log was pruned: any of its events at or below this seq may be gone,
    /// none above it is.
    async fn pruned_upto(&self, workspace: &str) -> Result<Seq, StoreError>;

    /// Where `workspace`'s log stands at `upto`: its last event at or below it, or the seq it was
    /// pruned up to when that is later. What a workspace is shown as "the head", so that no
    /// caller learns how many events other workspaces wrote; subscribing from it misses nothing.
    async fn position(&self, workspace: &str, upto: Seq) -> Result<Seq, StoreError>;

    /// Frames in seq order.
    async fn read_log(&self, query: &LogQuery) -> Result<Vec<(Seq, String)>, StoreError>;

    /// Every workspace's events in `(after, upto]`, at most `limit`, in seq order: for publishing
    /// what other instances committed.
    async fn read_tail(&self, after: Seq, upto: Seq, limit: u32) -> Result<Vec<Logged>, StoreError>;

    /// The highest head any instance's commit (this one's too) has announced, when other instances
    /// may write to this database (`None`: this server's writer is the only one). An announcement
    /// can be lost (a dropped connection): the relay also looks at the head now and then.
    async fn watch(&self) -> Result<Option<tokio::sync::watch::Receiver<Seq>>, StoreError>;

    /// One slice of pruning, in one short transaction: drops at most `slice` of the oldest events of
    /// the workspace furthest over `keep` events. Returns how many were dropped (0: none is over).
    async fn prune(&self, keep: u64, slice: u64) -> Result<u64, StoreError>;

    /// Forgets at most `slice` idempotency keys remembered before `before`; returns how many.
    async fn forget_keys(&self, before: &str, slice: u64) -> Result<u64, StoreError>;

    /// Checks that the database takes a write (a transaction that changes nothing): a full or
    /// read-only disk fails here before any request meets it.
    async fn probe(&self) -> Result<(), StoreError>;

    /// The rows each query selects in `workspace`, and the seq they were read at, from one
    /// consistent read.
    async fn read(&self, workspace: &str, queries: &[Query]) -> Result<Snapshot, StoreError>;

    /// Takes a snapshot of every workspace's rows at the head, when at least `every` events were
    /// committed since the last one (or there is none yet): the rows changed since then, so the
    /// state at a past seq is rebuilt from the nearest snapshot ([`past`]). Returns its seq.
    async fn take_snapshot(&self, every: u64) -> Result<Option<Seq>, StoreError>;

    /// The newest snapshot at or below `at` (0 when there is none), and the oldest at or above
    /// `from` (`None` when there is none).
    async fn snapshots_around(&self, at: Seq, from: Seq) -> Result<(Seq, Option<Seq>), StoreError>;

    /// A row as it was at `snapshot`; `None` when it did not exist then.
    async fn snapshot_row(
        &self,
        workspace: &str,
        kind: &'static str,
        id: &str,
        snapshot: Seq,
    ) -> Result<Option<String>, StoreError>;

    /// The rows each query selects as they were at `snapshot`, up to its limit, as
    /// `(sort, id, data)`: the base a past moment's later events are replayed on.
    async fn snapshot_read(
        &self,
        workspace: &str,
        queries: &[(Query, u32)],
        snapshot: Seq,
    ) -> Result<Vec<Vec<(i64, String, String)>>, StoreError>;

    /// Every row of `kind` (with this status, when given) in every workspace, as `(workspace, data)`:
    /// for the server's own jobs.
    async fn scan(&self, kind: &str, status: Option<&str>) -> Result<Vec<(String, String)>, StoreError>;

    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    async fn create_token(&self, record: &TokenRecord, hash: &str) -> Result<(), StoreError>;
    async fn count_tokens(&self) -> Result<u64, StoreError>;
    async fn list_tokens(&self) -> Result<Vec<TokenListing>, StoreError>;
    /// Whether the token with this id exists and is not revoked.
    async fn is_token_live(&self, id: &str) -> Result<bool, StoreError>;
    /// Revokes the token with this id; false when there is no such live token.
    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError>;

    /// Counters every instance on this database shares, so per-token limits hold across them
    /// (`None`: this process is the only one, and counts in memory).
    fn shared_limits(&self) -> Option<Arc<dyn SharedLimits>> {
        None
    }

    /// Commits so far by how they took their seqs, for `/metrics`; empty for a store that has one
    /// way (PostgreSQL: [`postgres`]'s module comment).
    fn commit_paths(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// Opens the store named by `url` and brings its schema up to date.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        return Ok(Arc::new(SqliteStore::open(path).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::open(url).await?));
    }
    Err(StoreError::UnsupportedUrl(url.to_string()))
}

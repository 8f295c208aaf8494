//! The embedded store: one SQLite file in WAL mode.
//!
//! All writes go through a pool of exactly one connection, so a commit never waits on SQLite's
//! file lock; reads use a separate pool and see a consistent snapshot thanks to WAL. Each entity
//! row keeps the entity as JSON (`data`) next to the few columns queries filter on.

use std::{str::FromStr, sync::Arc, time::Duration};

use app::{
    events::{Event, EventBody, Seq},
    model::{Agent, Board, Session, SessionKind, Task},
};
use axum::extract::ws::Utf8Bytes;
use serde::{de::DeserializeOwned, Serialize};
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Connection, SqliteConnection, SqlitePool,
};

use super::{Batch, Committed, LogQuery, Role, Store, StoreError, TokenListing, TokenRecord};

pub struct SqliteStore {
    /// Exactly one connection: SQLite allows one writer at a time, so queueing happens here, in order.
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    pub async fn open(path: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged event survives a power cut, not just a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer =
            SqlitePoolOptions::new().max_connections(1).min_connections(1).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
        Ok(SqliteStore { writer, reader })
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn commit(&self, batches: Vec<Batch>) -> Result<Vec<Result<Vec<Committed>, StoreError>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut head: i64 = sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1").fetch_one(&mut *tx).await?;
        let ts = crate::clock::now_rfc3339();
        let mut results = Vec::with_capacity(batches.len());
        for batch in batches {
            // A savepoint per batch: a refused batch rolls back alone, the others still commit.
            let mut savepoint = Connection::begin(&mut *tx).await?;
            match apply_batch(&mut savepoint, batch, head as Seq, &ts).await {
                Ok(committed) => {
                    savepoint.commit().await?;
                    head += committed.len() as i64;
                    results.push(Ok(committed));
                }
                Err(e) if e.is_rejection() => {
                    savepoint.rollback().await?;
                    results.push(Err(e));
                }
                Err(e) => return Err(e),
            }
        }
        sqlx::query("UPDATE log_state SET head = ? WHERE id = 1").bind(head).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(results)
    }

    async fn head(&self) -> Result<Seq, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1").fetch_one(&self.reader).await?;
        Ok(head as Seq)
    }

    async fn oldest(&self) -> Result<Seq, StoreError> {
        let mut tx = self.reader.begin().await?;
        let oldest: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM events").fetch_one(&mut *tx).await?;
        let head: i64 = sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1").fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(oldest.unwrap_or(head + 1) as Seq)
    }

    async fn read_log(&self, q: &LogQuery) -> Result<Vec<(Seq, Utf8Bytes)>, StoreError> {
        let (after, upto) = (q.after as i64, q.upto as i64);
        let rows: Vec<(i64, String)> =
            match &q.topics {
                None => sqlx::query_as(
                    "SELECT seq, frame FROM events WHERE workspace = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                )
                .bind(&q.workspace)
                .bind(after)
                .bind(upto)
                .bind(q.limit as i64)
                .fetch_all(&self.reader)
                .await?,
                Some(topics) => {
                    let topics = serde_json::to_string(topics).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    sqlx::query_as(
                        "SELECT e.seq, e.frame FROM events e WHERE e.seq IN ( \
                         SELECT DISTINCT seq FROM event_topics \
                         WHERE workspace = ? AND seq > ? AND seq <= ? \
                           AND topic IN (SELECT value FROM json_each(?))) \
                     ORDER BY e.seq LIMIT ?",
                    )
                    .bind(&q.workspace)
                    .bind(after)
                    .bind(upto)
                    .bind(topics)
                    .bind(q.limit as i64)
                    .fetch_all(&self.reader)
                    .await?
                }
            };
        Ok(rows.into_iter().map(|(seq, frame)| (seq as Seq, Utf8Bytes::from(frame))).collect())
    }

    async fn prune(&self, keep: u64) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin().await?;
        let head: i64 = sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1").fetch_one(&mut *tx).await?;
        let cutoff = head - keep.min(i64::MAX as u64) as i64;
        if cutoff <= 0 {
            return Ok(0);
        }
        sqlx::query("DELETE FROM event_topics WHERE seq <= ?").bind(cutoff).execute(&mut *tx).await?;
        let dropped = sqlx::query("DELETE FROM events WHERE seq <= ?").bind(cutoff).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(dropped.rows_affected())
    }

    async fn board(&self, workspace: &str) -> Result<Board, StoreError> {
        // One read transaction: the tasks and the seq come from the same snapshot.
        let mut tx = self.reader.begin().await?;
        let head: i64 = sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1").fetch_one(&mut *tx).await?;
        let rows: Vec<String> = sqlx::query_scalar("SELECT data FROM tasks WHERE workspace = ? ORDER BY created_seq")
            .bind(workspace)
            .fetch_all(&mut *tx)
            .await?;
        let active_subagents: Vec<String> =
            sqlx::query_scalar("SELECT id FROM sessions WHERE workspace = ? AND kind = 'subagent' AND active = 1")
                .bind(workspace)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        let tasks = rows.iter().map(|data| decode(data)).collect::<Result<Vec<Task>, _>>()?;
        Ok(Board { seq: head as Seq, tasks, active_subagents })
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row: Option<(String, String, String, String)> =
            sqlx::query_as("SELECT id, workspace, role, name FROM tokens WHERE hash = ? AND revoked_at IS NULL")
                .bind(hash)
                .fetch_optional(&self.reader)
                .await?;
        row.map(|(id, workspace, role, name)| token_record(id, workspace, &role, name)).transpose()
    }

    async fn list_tokens(&self) -> Result<Vec<TokenListing>, StoreError> {
        let rows: Vec<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, workspace, role, name, created_at, revoked_at FROM tokens ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|(id, workspace, role, name, created_at, revoked_at)| {
                Ok(TokenListing { record: token_record(id, workspace, &role, name)?, created_at, revoked_at })
            })
            .collect()
    }

    async fn is_token_live(&self, id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE id = ? AND revoked_at IS NULL")
            .bind(id)
            .fetch_one(&self.reader)
            .await?;
        Ok(n == 1)
    }

    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(crate::clock::now_rfc3339())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_token(&self, record: &TokenRecord, hash: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO tokens (id, workspace, role, name, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&record.id)
            .bind(&record.workspace)
            .bind(record.role.as_str())
            .bind(&record.name)
            .bind(hash)
            .bind(crate::clock::now_rfc3339())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn count_tokens(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(&self.reader).await?;
        Ok(n as u64)
    }
}

fn token_record(id: String, workspace: String, role: &str, name: String) -> Result<TokenRecord, StoreError> {
    let role = Role::parse(role).ok_or_else(|| StoreError::Corrupt(format!("unknown role `{role}`")))?;
    Ok(TokenRecord { id, workspace, role, name })
}

/// Applies and logs every event of one batch; `head` is the seq before the first of them.
async fn apply_batch(
    conn: &mut SqliteConnection,
    batch: Batch,
    head: Seq,
    ts: &str,
) -> Result<Vec<Committed>, StoreError> {
    let workspace: Arc<str> = batch.workspace.into();
    let mut committed = Vec::with_capacity(batch.events.len());
    for (offset, mut body) in batch.events.into_iter().enumerate() {
        let seq = head + 1 + offset as Seq;
        apply_event(conn, &workspace, &mut body, seq, ts).await?;
        // Topics after applying: a created task only has its id from here on.
        let event = Event { seq, ts: ts.to_string(), topics: body.topics(), body };
        let frame = serde_json::to_string(&event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("INSERT INTO events (seq, workspace, type, ts, frame) VALUES (?, ?, ?, ?, ?)")
            .bind(seq as i64)
            .bind(&*workspace)
            .bind(event.body.kind())
            .bind(ts)
            .bind(&frame)
            .execute(&mut *conn)
            .await?;
        // One statement for all of the event's topics.
        sqlx::query("INSERT INTO event_topics (workspace, topic, seq) SELECT ?, value, ? FROM json_each(?)")
            .bind(&*workspace)
            .bind(seq as i64)
            .bind(encode(&event.topics)?)
            .execute(&mut *conn)
            .await?;
        committed.push(Committed { seq, workspace: workspace.clone(), topics: event.topics, frame: frame.into() });
    }
    Ok(committed)
}

/// Applies one event to the state tables with the shared reducers of `app::model`.
async fn apply_event(
    conn: &mut SqliteConnection,
    workspace: &str,
    body: &mut EventBody,
    seq: Seq,
    ts: &str,
) -> Result<(), StoreError> {
    if let EventBody::TaskCreated(created) = body {
        let id = created.id.get_or_insert_with(|| uuid::Uuid::new_v4().to_string()).clone();
        if load::<Task>(conn, "tasks", workspace, &id).await?.is_some() {
            return Err(StoreError::Conflict(format!("task `{id}` already exists")));
        }
        return save_task(conn, workspace, &Task::created(created, id, seq, ts)).await;
    }
    match &*body {
        EventBody::AgentStatus(e) => update_agent(conn, workspace, &e.id, body, seq, ts).await,
        EventBody::AgentHeartbeat(e) => update_agent(conn, workspace, &e.id, body, seq, ts).await,
        EventBody::SessionStarted(e) => {
            if load::<Session>(conn, "sessions", workspace, &e.id).await?.is_some() {
                return Err(StoreError::Conflict(format!("session `{}` already exists", e.id)));
            }
            let session = Session {
                id: e.id.clone(),
                kind: e.kind,
                task_id: e.task_id.clone(),
                agent: e.agent.clone(),
                started_at: ts.to_string(),
                ended_at: None,
                outcome: None,
            };
            save_session(conn, workspace, &session).await
        }
        EventBody::SessionEnded(e) => {
            let mut session = load::<Session>(conn, "sessions", workspace, &e.id)
                .await?
                .ok_or_else(|| StoreError::Unknown(format!("unknown session `{}`", e.id)))?;
            if session.ended_at.is_some() {
                return Err(StoreError::Conflict(format!("session `{}` has already ended", e.id)));
            }
            session.ended_at = Some(ts.to_string());
            session.outcome = Some(e.outcome);
            save_session(conn, workspace, &session).await
        }
        task_event => {
            let id = task_event.task_id().unwrap_or_default();
            let mut task = load::<Task>(conn, "tasks", workspace, id)
                .await?
                .ok_or_else(|| StoreError::Unknown(format!("unknown task `{id}`")))?;
            task.apply(task_event, seq, ts);
            save_task(conn, workspace, &task).await
        }
    }
}

async fn update_agent(
    conn: &mut SqliteConnection,
    workspace: &str,
    id: &str,
    body: &EventBody,
    seq: Seq,
    ts: &str,
) -> Result<(), StoreError> {
    let mut agent = load::<Agent>(conn, "agents", workspace, id)
        .await?
        .unwrap_or_else(|| Agent { id: id.to_string(), ..Agent::default() });
    agent.apply(body, seq, ts);
    sqlx::query(
        "INSERT INTO agents (workspace, id, last_seq, data) VALUES (?, ?, ?, ?) \
         ON CONFLICT (workspace, id) DO UPDATE SET last_seq = excluded.last_seq, data = excluded.data",
    )
    .bind(workspace)
    .bind(id)
    .bind(seq as i64)
    .bind(encode(&agent)?)
    .execute(conn)
    .await?;
    Ok(())
}

async fn save_task(conn: &mut SqliteConnection, workspace: &str, task: &Task) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO tasks (workspace, id, status, created_seq, last_seq, data) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (workspace, id) DO UPDATE SET status = excluded.status, last_seq = excluded.last_seq, \
         data = excluded.data",
    )
    .bind(workspace)
    .bind(&task.id)
    .bind(task.status.as_str())
    .bind(task.created_seq as i64)
    .bind(task.last_seq as i64)
    .bind(encode(task)?)
    .execute(conn)
    .await?;
    Ok(())
}

async fn save_session(conn: &mut SqliteConnection, workspace: &str, session: &Session) -> Result<(), StoreError> {
    let kind = match session.kind {
        SessionKind::Persistent => "persistent",
        SessionKind::Subagent => "subagent",
        SessionKind::Design => "design",
    };
    sqlx::query(
        "INSERT INTO sessions (workspace, id, kind, task_id, active, data) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (workspace, id) DO UPDATE SET active = excluded.active, data = excluded.data",
    )
    .bind(workspace)
    .bind(&session.id)
    .bind(kind)
    .bind(&session.task_id)
    .bind(session.ended_at.is_none())
    .bind(encode(session)?)
    .execute(conn)
    .await?;
    Ok(())
}

/// `table` is always one of this module's literals, never input.
async fn load<T: DeserializeOwned>(
    conn: &mut SqliteConnection,
    table: &'static str,
    workspace: &str,
    id: &str,
) -> Result<Option<T>, StoreError> {
    let data: Option<String> = sqlx::query_scalar(&format!("SELECT data FROM {table} WHERE workspace = ? AND id = ?"))
        .bind(workspace)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    data.as_deref().map(decode).transpose()
}

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode<T: DeserializeOwned>(data: &str) -> Result<T, StoreError> {
    serde_json::from_str(data).map_err(|e| StoreError::Corrupt(e.to_string()))
}

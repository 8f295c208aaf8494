//! The embedded store: one SQLite file in WAL mode.
//!
//! All writes go through a pool of exactly one connection, so a commit never waits on SQLite's
//! file lock; reads use a separate pool and see a consistent snapshot thanks to WAL. This module
//! holds SQL only: what an event does to rows is decided in [`super::project`].

mod rows;

use std::{str::FromStr, time::Duration};

use app::domain::{
    entity::{Query, Snapshot},
    Seq,
};
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Connection, QueryBuilder, Sqlite, SqlitePool,
};

use super::{project, Batch, Committed, LogQuery, Role, Store, StoreError, TokenListing, TokenRecord};

pub struct SqliteStore {
    /// Exactly one connection: SQLite allows one writer at a time, so queueing happens here, in order.
    writer: SqlitePool,
    reader: SqlitePool,
    epoch: String,
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
        let epoch = sqlx::query_scalar("SELECT epoch FROM log_state WHERE id = 1").fetch_one(&writer).await?;
        Ok(SqliteStore { writer, reader, epoch })
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn commit(
        &self,
        batches: Vec<Batch>,
        ts: &str,
    ) -> Result<Vec<Result<Vec<Committed>, StoreError>>, StoreError> {
        // IMMEDIATE: take the write lock up front, so a read-then-write never meets another
        // connection's commit halfway (SQLITE_BUSY that no busy timeout retries).
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut head: i64 = sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1").fetch_one(&mut *tx).await?;
        let mut results = Vec::with_capacity(batches.len());
        for batch in batches {
            // A savepoint per batch: a refused batch rolls back alone, the others still commit.
            let mut savepoint = Connection::begin(&mut *tx).await?;
            let applied = project::apply_batch(&mut rows::SqliteRows(&mut savepoint), batch, head as Seq, ts).await;
            match applied {
                Ok(committed) => {
                    savepoint.commit().await?;
                    // A replay appended nothing: the head stays.
                    head += committed.iter().filter(|c| !c.replayed).count() as i64;
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

    fn epoch(&self) -> &str {
        &self.epoch
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

    async fn read_log(&self, q: &LogQuery) -> Result<Vec<(Seq, String)>, StoreError> {
        let mut sql = QueryBuilder::<Sqlite>::new("SELECT seq, frame FROM events WHERE workspace = ");
        sql.push_bind(&q.workspace).push(" AND seq > ").push_bind(q.after as i64);
        sql.push(" AND seq <= ").push_bind(q.upto as i64);
        if let Some(topics) = q.topics.as_ref().filter(|t| !t.is_empty()) {
            // Each topic's first `limit` seqs after the cursor, straight off the (workspace, topic,
            // seq) index: the page costs what it holds, however far behind the head it starts.
            sql.push(" AND seq IN (");
            for (i, topic) in topics.iter().enumerate() {
                if i > 0 {
                    sql.push(" UNION ");
                }
                sql.push("SELECT seq FROM (SELECT seq FROM event_topics WHERE workspace = ").push_bind(&q.workspace);
                sql.push(" AND topic = ").push_bind(topic).push(" AND seq > ").push_bind(q.after as i64);
                sql.push(" AND seq <= ").push_bind(q.upto as i64).push(" ORDER BY seq");
                sql.push(if q.newest { " DESC" } else { "" }).push(" LIMIT ").push_bind(q.limit as i64).push(")");
            }
            sql.push(")");
        }
        sql.push(if q.newest { " ORDER BY seq DESC LIMIT " } else { " ORDER BY seq LIMIT " }).push_bind(q.limit as i64);
        let mut rows: Vec<(i64, String)> = sql.build_query_as().fetch_all(&self.reader).await?;
        if q.newest {
            rows.reverse();
        }
        Ok(rows.into_iter().map(|(seq, frame)| (seq as Seq, frame)).collect())
    }

    async fn prune(&self, keep: u64) -> Result<u64, StoreError> {
        // IMMEDIATE: take the write lock up front, so a read-then-write never meets another
        // connection's commit halfway (SQLITE_BUSY that no busy timeout retries).
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
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

    async fn read(&self, workspace: &str, queries: &[Query]) -> Result<Snapshot, StoreError> {
        // One read transaction: every list and the seq come from the same snapshot.
        let mut tx = self.reader.begin().await?;
        let head: i64 = sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1").fetch_one(&mut *tx).await?;
        let mut lists = Vec::with_capacity(queries.len());
        for q in queries {
            let mut sql = QueryBuilder::<Sqlite>::new("SELECT data FROM entities WHERE workspace = ");
            sql.push_bind(workspace).push(" AND kind = ").push_bind(&q.kind);
            if let Some(id) = &q.id {
                sql.push(" AND id = ").push_bind(id);
            }
            if let Some(parent) = &q.parent {
                sql.push(" AND parent = ").push_bind(parent);
            }
            if !q.status.is_empty() {
                sql.push(" AND status IN (");
                let mut list = sql.separated(", ");
                for status in &q.status {
                    list.push_bind(status);
                }
                sql.push(")");
            }
            sql.push(if q.newest_first { " ORDER BY sort DESC, id" } else { " ORDER BY sort, id" });
            sql.push(" LIMIT ").push_bind(q.limit as i64);
            lists.push(sql.build_query_scalar::<String>().fetch_all(&mut *tx).await?);
        }
        tx.commit().await?;
        Ok(Snapshot { seq: head as Seq, epoch: self.epoch.clone(), rows: lists })
    }

    async fn scan(&self, kind: &str, status: Option<&str>) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT workspace, data FROM entities WHERE kind = ? AND (? IS NULL OR status = ?) ORDER BY workspace, id",
        )
        .bind(kind)
        .bind(status)
        .bind(status)
        .fetch_all(&self.reader)
        .await?)
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

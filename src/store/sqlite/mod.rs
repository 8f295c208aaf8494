//! The embedded store: one SQLite file in WAL mode.
//!
//! All writes go through a pool of exactly one connection, so a commit never waits on SQLite's
//! file lock; reads use a separate pool and see a consistent snapshot thanks to WAL. This module
//! holds SQL only: what an event does to rows is decided in [`super::project`].
//!
//! One server owns the file: its writer is the only one that appends to the log and writes entity
//! rows (`flightdeck token` only writes tokens). So the writer keeps the head and the rows commits
//! read in memory, and a commit is one call into the driver's worker thread: begin, the writes,
//! the log's counts and head, commit (and one more per row it has not seen yet, read before).

mod rows;
mod tokens;

use std::{str::FromStr, time::Duration};

use app::domain::{
    entity::{Query, Snapshot},
    Seq,
};
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Sqlite, SqlitePool,
};

use super::{project, sql, Batch, Committed, LogQuery, Logged, Store, StoreError, TokenListing, TokenRecord};

/// The page of the log as one text, for [`sql::log_page_joined`].
const JOINED: &str = "group_concat(seq || ':' || frame, char(10) ORDER BY seq)";

pub struct SqliteStore {
    /// Exactly one connection: SQLite allows one writer at a time, so queueing happens here, in order.
    writer: SqlitePool,
    reader: SqlitePool,
    /// Token checks have connections of their own, so long replays on `reader` never hold up a
    /// request's authentication (a check is still a read, so revocation counts at the next one).
    auth: SqlitePool,
    epoch: String,
    /// The head of the log as of the last commit; held for the whole of a commit, so commits run
    /// one after another from the head the one before left.
    head: tokio::sync::Mutex<Seq>,
    rows: super::cache::RowCache,
    tokens: tokens::TokenCache,
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
        // No ping before each use: an embedded database's connection does not go stale, and the
        // ping is one more round trip through the driver's worker thread on every request.
        let pool = || SqlitePoolOptions::new().test_before_acquire(false);
        let writer = pool().max_connections(1).min_connections(1).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let options = options.read_only(true);
        let reader = pool().max_connections(4).connect_with(options.clone()).await?;
        let auth = pool().max_connections(2).connect_with(options).await?;
        let (epoch, head): (String, i64) =
            sqlx::query_as("SELECT epoch, head FROM log_state WHERE id = 1").fetch_one(&writer).await?;
        let head = tokio::sync::Mutex::new(head as Seq);
        let rows = super::cache::RowCache::new(super::cache::ROW_CACHE_BYTES);
        let tokens = tokens::TokenCache::open(file_of(path))?;
        Ok(SqliteStore { writer, reader, auth, epoch, head, rows, tokens })
    }

    /// One commit after `head`: the new head and each batch's answer.
    async fn commit_from(
        &self,
        head: Seq,
        batches: Vec<Batch>,
        ts: &str,
    ) -> Result<(Seq, Vec<Result<Vec<Committed>, StoreError>>), StoreError> {
        // The rows the events read, on the writer's one connection: no other connection writes
        // entities or the log, so no transaction is needed around the reads.
        let mut conn = self.writer.acquire().await?;
        let applied =
            project::commit(&mut rows::SqliteRows { conn: &mut conn, cache: &self.rows }, batches, head, ts).await?;
        if applied.writes.is_empty() {
            return Ok((applied.head, applied.results));
        }
        // The transaction, the writes, the log's counts and the head: one call into the driver.
        // IMMEDIATE: take the write lock up front, so the writes never meet another connection's
        // commit halfway (SQLITE_BUSY that no busy timeout retries).
        let mut out = sql::Batched::<Sqlite>::new(sql::Statements::Joined);
        out.statement("BEGIN IMMEDIATE", 0);
        sql::writes(&applied.writes, &mut out);
        sql::log_counts(&applied.added, &mut out);
        if applied.head != head {
            out.statement("UPDATE log_state SET head = ", 1).push_bind(applied.head as i64).push(" WHERE id = 1");
        }
        out.statement("COMMIT", 0);
        for mut query in out.into_queries() {
            if let Err(e) = query.build().execute(&mut *conn).await {
                // A statement failed after BEGIN: leave nothing open for the next commit. (An error
                // here just means no transaction was open any more.)
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                return Err(e.into());
            }
        }
        // Durable: from now on these are the rows the database holds.
        for ((workspace, kind, id), row) in &applied.writes.rows {
            self.rows.put(workspace, kind, id, Some(row.data.clone()));
        }
        Ok((applied.head, applied.results))
    }
}

/// The database file a `sqlite://` path names, without its query; `None` for one in memory.
fn file_of(path: &str) -> Option<&str> {
    let file = path.split('?').next().unwrap_or(path);
    let memory = file.is_empty() || file.starts_with(":memory:") || path.contains("mode=memory");
    (!memory).then_some(file)
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn commit(
        &self,
        batches: Vec<Batch>,
        ts: &str,
    ) -> Result<Vec<Result<Vec<Committed>, StoreError>>, StoreError> {
        let mut head = self.head.lock().await;
        let result = self.commit_from(*head, batches, ts).await;
        match &result {
            Ok((new_head, _)) => *head = *new_head,
            // Whether a failed commit left anything behind is not known for certain (a COMMIT
            // that reports an error may still have reached the disk): read both again.
            Err(_) => {
                self.rows.clear();
                match sqlx::query_scalar::<_, i64>("SELECT head FROM log_state WHERE id = 1")
                    .fetch_one(&self.writer)
                    .await
                {
                    Ok(stored) => *head = stored as Seq,
                    Err(e) => tracing::error!(error = %e, "cannot read the log head after a failed commit"),
                }
            }
        }
        result.map(|(_, results)| results)
    }

    fn epoch(&self) -> &str {
        &self.epoch
    }

    async fn head(&self) -> Result<Seq, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1").fetch_one(&self.reader).await?;
        Ok(head as Seq)
    }

    async fn pruned_upto(&self, workspace: &str) -> Result<Seq, StoreError> {
        let upto: i64 = sqlx::query_scalar(
            "SELECT MAX(pruned_floor, COALESCE((SELECT pruned_upto FROM workspace_log WHERE workspace = ?), 0))
             FROM log_state WHERE id = 1",
        )
        .bind(workspace)
        .fetch_one(&self.reader)
        .await?;
        Ok(upto as Seq)
    }

    async fn position(&self, workspace: &str, upto: Seq) -> Result<Seq, StoreError> {
        let position: i64 = sqlx::query_scalar(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM events WHERE workspace = ?1 AND seq <= ?2), 0),
                        MIN(pruned_floor, ?2),
                        COALESCE((SELECT MIN(pruned_upto, ?2) FROM workspace_log WHERE workspace = ?1), 0))
             FROM log_state WHERE id = 1",
        )
        .bind(workspace)
        .bind(upto as i64)
        .fetch_one(&self.reader)
        .await?;
        Ok(position as Seq)
    }

    async fn read_log(&self, q: &LogQuery) -> Result<Vec<(Seq, String)>, StoreError> {
        if !q.newest {
            // Oldest first, as replay reads it: the page as one value.
            let joined: Option<String> =
                sql::log_page_joined::<Sqlite>(q, JOINED).build_query_scalar().fetch_one(&self.reader).await?;
            return sql::split_joined(joined);
        }
        let mut rows: Vec<(i64, String)> = sql::log_page::<Sqlite>(q).build_query_as().fetch_all(&self.reader).await?;
        // The newest `limit`, read newest first: put back in seq order.
        rows.reverse();
        Ok(rows.into_iter().map(|(seq, frame)| (seq as Seq, frame)).collect())
    }

    async fn read_tail(&self, after: Seq, upto: Seq, limit: u32) -> Result<Vec<Logged>, StoreError> {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT seq, workspace, frame FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?")
                .bind(after as i64)
                .bind(upto as i64)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await?;
        rows.into_iter().map(|(seq, workspace, frame)| Logged::from_row(seq as Seq, workspace, frame)).collect()
    }

    async fn watch(&self) -> Result<Option<tokio::sync::watch::Receiver<Seq>>, StoreError> {
        // One file, one writer connection: nobody else appends to this log.
        Ok(None)
    }

    async fn prune(&self, keep: u64, slice: u64) -> Result<u64, StoreError> {
        let keep = keep.min(i64::MAX as u64) as i64;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let over: Option<(String, i64)> =
            sqlx::query_as("SELECT workspace, events FROM workspace_log WHERE events > ? ORDER BY events DESC LIMIT 1")
                .bind(keep)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((workspace, events)) = over else { return Ok(0) };
        let drop = (events - keep).min(slice.max(1) as i64);
        let cutoff: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM events WHERE workspace = ? ORDER BY seq LIMIT 1 OFFSET ?")
                .bind(&workspace)
                .bind(drop - 1)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(cutoff) = cutoff else {
            return Err(StoreError::Corrupt(format!("workspace `{workspace}` counts {events} events but holds fewer")));
        };
        sqlx::query("DELETE FROM event_topics WHERE seq IN (SELECT seq FROM events WHERE workspace = ? AND seq <= ?)")
            .bind(&workspace)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        let dropped = sqlx::query("DELETE FROM events WHERE workspace = ? AND seq <= ?")
            .bind(&workspace)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE workspace_log SET events = events - ?, pruned_upto = ? WHERE workspace = ?")
            .bind(dropped as i64)
            .bind(cutoff)
            .bind(&workspace)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(dropped)
    }

    async fn forget_keys(&self, before: &str, slice: u64) -> Result<u64, StoreError> {
        let forgotten = sqlx::query(
            "DELETE FROM idempotency WHERE rowid IN
             (SELECT rowid FROM idempotency WHERE created_at < ? ORDER BY created_at LIMIT ?)",
        )
        .bind(before)
        .bind(slice.min(i64::MAX as u64) as i64)
        .execute(&self.writer)
        .await?;
        Ok(forgotten.rows_affected())
    }

    async fn probe(&self) -> Result<(), StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE log_state SET head = head WHERE id = 1").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn read(&self, workspace: &str, queries: &[Query]) -> Result<Snapshot, StoreError> {
        // One read transaction: every list and the seq come from the same snapshot.
        let mut tx = self.reader.begin().await?;
        let head: i64 = sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1").fetch_one(&mut *tx).await?;
        let mut lists = Vec::with_capacity(queries.len());
        for q in queries {
            lists.push(
                sql::entity_rows::<Sqlite>(workspace, q).build_query_scalar::<String>().fetch_all(&mut *tx).await?,
            );
        }
        tx.commit().await?;
        Ok(Snapshot { seq: head as Seq, epoch: self.epoch.clone(), rows: lists })
    }

    async fn take_snapshot(&self, every: u64) -> Result<Option<Seq>, StoreError> {
        const DUE: &str = "SELECT head, (SELECT MAX(seq) FROM snapshots) FROM log_state WHERE id = 1";
        let every = i64::try_from(every.max(1)).unwrap_or(i64::MAX);
        // Nothing to keep before the first event, nor before `every` more since the last snapshot
        // (or since the start: a server told to take none, with `every` at its maximum, takes none).
        let due = |(head, last): (i64, Option<i64>)| head > 0 && head - last.unwrap_or(0) >= every;
        // Asked on a reader first: most looks find nothing due and never hold up the writer.
        if !due(sqlx::query_as(DUE).fetch_one(&self.reader).await?) {
            return Ok(None);
        }
        // On the writer: the copy sees exactly the commits up to the head it records.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let (head, last): (i64, Option<i64>) = sqlx::query_as(DUE).fetch_one(&mut *tx).await?;
        if !due((head, last)) {
            return Ok(None);
        }
        let copied =
            sql::snapshot_copy::<Sqlite>(head, last.unwrap_or(-1)).build().execute(&mut *tx).await?.rows_affected();
        let mut mark = sql::snapshot_mark::<Sqlite>(head, copied as i64, crate::clock::now_rfc3339());
        mark.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(head as Seq))
    }

    async fn snapshots_around(&self, at: Seq, from: Seq) -> Result<(Seq, Option<Seq>), StoreError> {
        let (below, above): (Option<i64>, Option<i64>) =
            sql::snapshots_around::<Sqlite>(at, from).build_query_as().fetch_one(&self.reader).await?;
        Ok((below.unwrap_or(0) as Seq, above.map(|s| s as Seq)))
    }

    async fn snapshot_row(
        &self,
        workspace: &str,
        kind: &'static str,
        id: &str,
        snapshot: Seq,
    ) -> Result<Option<String>, StoreError> {
        let mut row = sql::snapshot_row::<Sqlite>(workspace, kind, id, snapshot);
        Ok(row.build_query_scalar().fetch_optional(&self.reader).await?)
    }

    async fn snapshot_read(
        &self,
        workspace: &str,
        queries: &[(Query, u32)],
        snapshot: Seq,
    ) -> Result<Vec<Vec<(i64, String, String)>>, StoreError> {
        let mut lists = Vec::with_capacity(queries.len());
        for (q, limit) in queries {
            let mut rows = sql::snapshot_rows::<Sqlite>(workspace, q, snapshot, *limit);
            lists.push(rows.build_query_as::<(String, i64, String)>().fetch_all(&self.reader).await?);
        }
        Ok(lists.into_iter().map(|l| l.into_iter().map(|(id, sort, data)| (sort, id, data)).collect()).collect())
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
        if let Some(known) = self.tokens.get(hash)? {
            return Ok(Some(known));
        }
        let row: Option<(String, String, String, String)> =
            sqlx::query_as("SELECT id, workspace, role, name FROM tokens WHERE hash = ? AND revoked_at IS NULL")
                .bind(hash)
                .fetch_optional(&self.auth)
                .await?;
        let found =
            row.map(|(id, workspace, role, name)| TokenRecord::from_row(id, workspace, &role, name)).transpose()?;
        if let Some(record) = &found {
            self.tokens.put(hash, record);
        }
        Ok(found)
    }

    async fn list_tokens(&self) -> Result<Vec<TokenListing>, StoreError> {
        let rows: Vec<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, workspace, role, name, created_at, revoked_at FROM tokens ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|(id, workspace, role, name, created_at, revoked_at)| {
                Ok(TokenListing { record: TokenRecord::from_row(id, workspace, &role, name)?, created_at, revoked_at })
            })
            .collect()
    }

    async fn is_token_live(&self, id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE id = ? AND revoked_at IS NULL")
            .bind(id)
            .fetch_one(&self.auth)
            .await?;
        Ok(n == 1)
    }

    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(crate::clock::now_rfc3339())
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 1 {
            self.tokens.revoked().map_err(|e| {
                StoreError::Unavailable(format!(
                    "revoked in the database, but servers running on this file may accept the token until \
                     they restart: {e}"
                ))
            })?;
        }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::Connection;

    use app::domain::{agent::AgentHeartbeat, EventBody};

    use super::*;
    use crate::store::Role;

    fn heartbeat() -> Vec<Batch> {
        vec![Batch::new("w".into(), vec![EventBody::AgentHeartbeat(AgentHeartbeat { id: "a".into(), task_id: None })])]
    }

    #[test]
    fn a_database_in_memory_has_no_file_beside_it() {
        assert_eq!(file_of("/var/lib/fd.db"), Some("/var/lib/fd.db"));
        assert_eq!(file_of("fd.db?mode=rwc"), Some("fd.db"));
        assert_eq!(file_of(":memory:"), None);
        assert_eq!(file_of("fd?mode=memory&cache=shared"), None);
    }

    #[tokio::test]
    async fn a_commit_that_fails_halfway_leaves_no_transaction_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fail.db").display().to_string();
        let store = SqliteStore::open(&path).await.unwrap();
        store.commit(heartbeat(), "2026-01-01T00:00:00.000Z").await.unwrap().remove(0).unwrap();
        // Something else takes seq 2 behind the writer's back: the next commit's insert fails
        // after its transaction has begun.
        let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{path}")).await.unwrap();
        let rogue = "INSERT INTO events (seq, workspace, type, ts, frame) VALUES (2, 'w', 'x', 't', '{}')";
        sqlx::query(rogue).execute(&mut other).await.unwrap();
        assert!(store.commit(heartbeat(), "2026-01-01T00:00:01.000Z").await.is_err());
        sqlx::query("DELETE FROM events WHERE seq = 2").execute(&mut other).await.unwrap();
        // The failed commit's transaction was rolled back: the next one begins and lands at seq 2.
        let committed = store.commit(heartbeat(), "2026-01-01T00:00:02.000Z").await.unwrap().remove(0).unwrap();
        assert_eq!(committed[0].seq, 2);
        assert_eq!(store.head().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn token_checks_are_answered_while_every_reader_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("auth.db").display().to_string()).await.unwrap();
        let record = TokenRecord { id: "t1".into(), workspace: "w".into(), role: Role::Viewer, name: "n".into() };
        store.create_token(&record, "hash-1").await.unwrap();
        // Long replays hold every reader connection.
        let mut held = Vec::new();
        for _ in 0..store.reader.options().get_max_connections() {
            held.push(store.reader.acquire().await.unwrap());
        }
        let found = tokio::time::timeout(Duration::from_secs(2), store.find_token("hash-1")).await;
        assert_eq!(found.expect("answered at once").unwrap(), Some(record));
        let live = tokio::time::timeout(Duration::from_secs(2), store.is_token_live("t1")).await;
        assert!(live.expect("answered at once").unwrap());
        // Revocation still counts at the very next check.
        assert!(store.revoke_token("t1").await.unwrap());
        assert!(!store.is_token_live("t1").await.unwrap());
        assert_eq!(store.find_token("hash-1").await.unwrap(), None);
        drop(held);
    }
}

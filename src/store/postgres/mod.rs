//! The PostgreSQL store, for several instances on one database.
//!
//! A commit assigns seqs after the log's head inside its transaction, so seqs stay gapless and in
//! commit order whichever instance commits: it locks the head row (`FOR UPDATE`) first, or, when
//! this instance made the last commit, moves the head only from the value it built on and is
//! retried under the lock when another instance got there first ([`head`]). This module
//! holds SQL only: what an event does to rows is decided in [`super::project`].

mod head;
mod limits;
mod rows;
mod tokens;

use std::{str::FromStr, time::Duration};

use app::domain::{
    entity::{Query, Snapshot},
    Seq,
};
use sqlx::{
    postgres::{PgConnectOptions, PgListener, PgPoolOptions},
    PgPool, Postgres,
};

use head::Path;

use super::{
    project, sql, Batch, Committed, LogQuery, Logged, SharedLimits, Store, StoreError, TokenListing, TokenRecord,
};

/// The page of the log as one text, for [`sql::log_page_joined`].
const JOINED: &str = "string_agg(seq::text || ':' || frame, E'\\n' ORDER BY seq)";

pub struct PgStore {
    pool: PgPool,
    /// The notification channel commits announce themselves on: one per schema, so two logs in one
    /// database never wake each other.
    channel: String,
    /// This store among the instances, in its commits' announcements, so that it skips its own.
    instance: String,
    /// Token checks have connections of their own, so long replays never hold up authentication.
    auth: PgPool,
    epoch: String,
    /// Per-token limits, counted on the authentication connections: both are quick checks made
    /// before a request's work.
    limits: std::sync::Arc<limits::PgLimits>,
    /// Live tokens kept in memory, forgotten on every revocation.
    tokens: std::sync::Arc<tokens::PgTokens>,
    /// The head as this instance's last commit left it.
    known: head::KnownHead,
}

impl PgStore {
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = pool_options()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        // Several instances may start at once: sqlx takes an advisory lock around the migrations.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let auth = pool_options().max_connections(4).connect_with(options).await?;
        let epoch = sqlx::query_scalar("SELECT epoch FROM log_state WHERE id = 1").fetch_one(&pool).await?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(&pool).await?;
        let limits = std::sync::Arc::new(limits::PgLimits { pool: auth.clone() });
        let tokens = tokens::PgTokens::new(auth.clone(), &schema);
        let known = head::KnownHead::default();
        let (channel, instance) = (format!("flightdeck_commits_{schema}"), uuid::Uuid::new_v4().simple().to_string());
        Ok(PgStore { pool, channel, instance, auth, epoch, limits, tokens, known })
    }
}

/// A connection that has been idle for longer than this is pinged before it is used again.
const PING_IDLE: Duration = Duration::from_secs(1);

/// Pools whose connections are pinged before use only when they have been idle for a while: a
/// ping is a round trip, and a request makes several acquires (its token, its rate, its commit).
/// A connection in steady use needs none: one that failed is dropped when it is released (sqlx
/// pings every connection on release), and one idle across a database restart is pinged first.
fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new().test_before_acquire(false).before_acquire(|conn, meta| {
        Box::pin(async move {
            if meta.idle_for >= PING_IDLE {
                sqlx::Connection::ping(conn).await?;
            }
            Ok(true)
        })
    })
}

impl PgStore {
    /// A commit on the head this instance left, without taking the head's lock: two round trips
    /// (the rows it reads, then its writes as one statement, which is its own transaction) where
    /// the locked commit takes five. The reads see no one head; the write checks that the head is
    /// still the one built on, and no commit changes a row without moving the head. `None`, with
    /// nothing written, when another instance had committed since: the caller commits again under
    /// the lock.
    async fn commit_unlocked(
        &self,
        batches: Vec<Batch>,
        ts: &str,
        head: Seq,
    ) -> Result<Option<Vec<Result<Vec<Committed>, StoreError>>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let applied =
            project::commit(&mut rows::PgRows { conn: &mut conn, cache: self.known.rows() }, batches, head, ts).await?;
        let mut queries = self.write(&applied, head);
        if applied.head == head || queries.len() != 1 {
            // Nothing appended (every batch replayed or refused), so no write would check that the
            // rows read were all the head's; or past one statement's parameters, where the parts
            // would commit apart. Both are rare: the lock costs them little.
            return Ok(None);
        }
        let done = queries[0].build().execute(&mut *conn).await;
        drop(queries);
        match done {
            Ok(_) => {
                self.known.committed(applied.head, &applied.writes, Path::Unlocked);
                Ok(Some(applied.results))
            }
            Err(e) if head_moved(&e) => {
                self.known.moved();
                Ok(None)
            }
            Err(e) => {
                self.known.forget();
                Err(e.into())
            }
        }
    }

    /// A commit under the head's lock, which it takes first: the way for every instance.
    async fn commit_locked(
        &self,
        batches: Vec<Batch>,
        ts: &str,
    ) -> Result<Vec<Result<Vec<Committed>, StoreError>>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The lock every instance's commit takes: seqs are assigned one commit after another.
        let head: i64 =
            sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1 FOR UPDATE").fetch_one(&mut *tx).await?;
        self.known.found(head as Seq);
        let mut rows = rows::PgRows { conn: &mut tx, cache: self.known.rows() };
        let applied = project::commit(&mut rows, batches, head as Seq, ts).await?;
        for mut query in self.write(&applied, head as Seq) {
            query.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.known.committed(applied.head, &applied.writes, Path::Locked);
        Ok(applied.results)
    }

    /// The statements that write `applied`, which was built on `head`: its rows and events, the
    /// log's counts, the head moved from `head` (an error when it was not there any more) and the
    /// notification, as one chain (more only past PostgreSQL's bound on a statement's
    /// parameters). The notification reaches every instance's listener when (and only if) the
    /// transaction commits.
    fn write<'a>(&'a self, applied: &'a project::Applied, head: Seq) -> Vec<sqlx::QueryBuilder<'a, Postgres>> {
        let mut out = sql::Batched::<Postgres>::new(sql::Statements::Chained);
        sql::writes(&applied.writes, &mut out);
        sql::log_counts(&applied.added, &mut out);
        // Four parameters: the new head, the old one, and the channel and instance the final select
        // binds.
        out.statement("UPDATE log_state SET head = ", 4)
            .push_bind(applied.head as i64)
            .push(" WHERE id = 1 AND head = ")
            .push_bind(head as i64)
            .push(" RETURNING head");
        let (channel, instance) = (self.channel.as_str(), self.instance.as_str());
        // The select runs the head's update first, so a commit that finds the head moved stops
        // there, before its other parts (which would also fail, on the events' seqs). It announces
        // `instance:head`.
        out.into_queries_selecting(|last, q| {
            q.push("SELECT pg_notify(")
                .push_bind(channel)
                .push(", ")
                .push_bind(instance)
                .push(format!(" || ':' || expect_head((SELECT head FROM {last}))::text)"));
        })
    }
}

/// The head another instance's commit announced.
fn foreign_head(payload: &str) -> Option<Seq> {
    payload.rsplit(':').next()?.parse().ok()
}

/// Whether a commit failed because another instance had moved the head: nothing of it was written.
fn head_moved(e: &sqlx::Error) -> bool {
    // serialization_failure from `expect_head`; a unique violation on an event's seq or a
    // deadlock when the statement met a commit still in flight.
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001" | "23505" | "40P01")))
}

#[async_trait::async_trait]
impl Store for PgStore {
    async fn commit(
        &self,
        batches: Vec<Batch>,
        ts: &str,
    ) -> Result<Vec<Result<Vec<Committed>, StoreError>>, StoreError> {
        if let Some(head) = self.known.unlocked() {
            if let Some(results) = self.commit_unlocked(batches.clone(), ts, head).await? {
                return Ok(results);
            }
        }
        let committed = self.commit_locked(batches, ts).await;
        if committed.is_err() {
            self.known.forget();
        }
        committed
    }

    fn epoch(&self) -> &str {
        &self.epoch
    }

    async fn head(&self) -> Result<Seq, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1").fetch_one(&self.pool).await?;
        Ok(head as Seq)
    }

    async fn pruned_upto(&self, workspace: &str) -> Result<Seq, StoreError> {
        let upto: i64 = sqlx::query_scalar(
            "SELECT GREATEST(pruned_floor, COALESCE((SELECT pruned_upto FROM workspace_log WHERE workspace = $1), 0)) \
             FROM log_state WHERE id = 1",
        )
        .bind(workspace)
        .fetch_one(&self.pool)
        .await?;
        Ok(upto as Seq)
    }

    async fn position(&self, workspace: &str, upto: Seq) -> Result<Seq, StoreError> {
        let position: i64 = sqlx::query_scalar(
            "SELECT GREATEST(COALESCE((SELECT MAX(seq) FROM events WHERE workspace = $1 AND seq <= $2), 0), \
                             LEAST(pruned_floor, $2), \
                             COALESCE((SELECT LEAST(pruned_upto, $2) FROM workspace_log WHERE workspace = $1), 0)) \
             FROM log_state WHERE id = 1",
        )
        .bind(workspace)
        .bind(upto as i64)
        .fetch_one(&self.pool)
        .await?;
        Ok(position as Seq)
    }

    async fn read_log(&self, q: &LogQuery) -> Result<Vec<(Seq, String)>, StoreError> {
        if !q.newest {
            // Oldest first, as replay reads it: the page as one value.
            let joined: Option<String> =
                sql::log_page_joined::<Postgres>(q, JOINED).build_query_scalar().fetch_one(&self.pool).await?;
            return sql::split_joined(joined);
        }
        let mut rows: Vec<(i64, String)> = sql::log_page::<Postgres>(q).build_query_as().fetch_all(&self.pool).await?;
        // The newest `limit`, read newest first: put back in seq order.
        rows.reverse();
        Ok(rows.into_iter().map(|(seq, frame)| (seq as Seq, frame)).collect())
    }

    async fn read_tail(&self, after: Seq, upto: Seq, limit: u32) -> Result<Vec<Logged>, StoreError> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT seq, workspace, frame FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
        )
        .bind(after as i64)
        .bind(upto as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|(seq, workspace, frame)| Logged::from_row(seq as Seq, workspace, frame)).collect()
    }

    async fn watch(&self) -> Result<Option<tokio::sync::watch::Receiver<Seq>>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(&self.channel).await?;
        let (announce, announced) = tokio::sync::watch::channel(0);
        let own = format!("{}:", self.instance);
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection; what was sent meanwhile is
                // lost, and the relay's periodic look at the head heals that.
                match listener.recv().await {
                    // This instance's own commits are published by its writer as they return.
                    Ok(notification) if notification.payload().starts_with(&own) => {}
                    // Another's announces `instance:head` (`write`); the release before, the head.
                    Ok(notification) => match foreign_head(notification.payload()) {
                        Some(head) => {
                            // Only a higher head wakes the relay.
                            announce.send_if_modified(|known| {
                                let higher = head > *known;
                                if higher {
                                    *known = head;
                                }
                                higher
                            });
                            if announce.is_closed() {
                                return;
                            }
                        }
                        None => tracing::warn!(payload = notification.payload(), "an announcement without a head"),
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "listening for other instances' commits failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(Some(announced))
    }

    async fn prune(&self, keep: u64, slice: u64) -> Result<u64, StoreError> {
        let keep = keep.min(i64::MAX as u64) as i64;
        let mut tx = self.pool.begin().await?;
        // Locks the workspace's row: two instances never prune the same workspace at once.
        let over: Option<(String, i64)> = sqlx::query_as(
            "SELECT workspace, events FROM workspace_log WHERE events > $1 ORDER BY events DESC LIMIT 1 \
             FOR UPDATE SKIP LOCKED",
        )
        .bind(keep)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((workspace, events)) = over else { return Ok(0) };
        let drop = (events - keep).min(slice.max(1) as i64);
        let cutoff: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM events WHERE workspace = $1 ORDER BY seq LIMIT 1 OFFSET $2")
                .bind(&workspace)
                .bind(drop - 1)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(cutoff) = cutoff else {
            return Err(StoreError::Corrupt(format!("workspace `{workspace}` counts {events} events but holds fewer")));
        };
        sqlx::query("DELETE FROM event_topics WHERE workspace = $1 AND seq <= $2")
            .bind(&workspace)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        let dropped = sqlx::query("DELETE FROM events WHERE workspace = $1 AND seq <= $2")
            .bind(&workspace)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE workspace_log SET events = events - $1, pruned_upto = $2 WHERE workspace = $3")
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
            "DELETE FROM idempotency WHERE (workspace, key) IN \
             (SELECT workspace, key FROM idempotency WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
        )
        .bind(before)
        .bind(slice.min(i64::MAX as u64) as i64)
        .execute(&self.pool)
        .await?;
        Ok(forgotten.rows_affected())
    }

    async fn probe(&self) -> Result<(), StoreError> {
        // A real write (a new row version, in the WAL) that changes nothing; it waits at most for
        // one commit's lock.
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE log_state SET head = head WHERE id = 1").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn read(&self, workspace: &str, queries: &[Query]) -> Result<Snapshot, StoreError> {
        // One repeatable-read transaction: every list and the seq come from the same snapshot.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
        let head: i64 = sqlx::query_scalar("SELECT head FROM log_state WHERE id = 1").fetch_one(&mut *tx).await?;
        let mut lists = Vec::with_capacity(queries.len());
        for q in queries {
            lists.push(
                sql::entity_rows::<Postgres>(workspace, q).build_query_scalar::<String>().fetch_all(&mut *tx).await?,
            );
        }
        tx.commit().await?;
        Ok(Snapshot { seq: head as Seq, epoch: self.epoch.clone(), rows: lists })
    }

    async fn take_snapshot(&self, every: u64) -> Result<Option<Seq>, StoreError> {
        // Repeatable read: the head and the rows copied come from one view of the database, which
        // holds whole commits only. The lock keeps two instances from taking the same snapshot.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
        let (head, last): (i64, Option<i64>) =
            sqlx::query_as("SELECT head, (SELECT MAX(seq) FROM snapshots) FROM log_state WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let every = i64::try_from(every.max(1)).unwrap_or(i64::MAX);
        // Nothing to keep before the first event, nor before `every` more since the last snapshot
        // (or since the start: a server told to take none, with `every` at its maximum, takes none).
        // Checked before the lock, so that an instance with nothing due never holds it.
        if head == 0 || head - last.unwrap_or(0) < every {
            return Ok(None);
        }
        let locked: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_xact_lock(hashtext('flightdeck_snapshot_' || current_schema()))",
        )
        .fetch_one(&mut *tx)
        .await?;
        if !locked {
            return Ok(None);
        }
        let copied =
            sql::snapshot_copy::<Postgres>(head, last.unwrap_or(-1)).build().execute(&mut *tx).await?.rows_affected();
        let mut mark = sql::snapshot_mark::<Postgres>(head, copied as i64, crate::clock::now_rfc3339());
        mark.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(head as Seq))
    }

    async fn snapshots_around(&self, at: Seq, from: Seq) -> Result<(Seq, Option<Seq>), StoreError> {
        let (below, above): (Option<i64>, Option<i64>) =
            sql::snapshots_around::<Postgres>(at, from).build_query_as().fetch_one(&self.pool).await?;
        Ok((below.unwrap_or(0) as Seq, above.map(|s| s as Seq)))
    }

    async fn snapshot_row(
        &self,
        workspace: &str,
        kind: &'static str,
        id: &str,
        snapshot: Seq,
    ) -> Result<Option<String>, StoreError> {
        let mut row = sql::snapshot_row::<Postgres>(workspace, kind, id, snapshot);
        Ok(row.build_query_scalar().fetch_optional(&self.pool).await?)
    }

    async fn snapshot_read(
        &self,
        workspace: &str,
        queries: &[(Query, u32)],
        snapshot: Seq,
    ) -> Result<Vec<Vec<(i64, String, String)>>, StoreError> {
        let mut lists = Vec::with_capacity(queries.len());
        for (q, limit) in queries {
            let mut rows = sql::snapshot_rows::<Postgres>(workspace, q, snapshot, *limit);
            lists.push(rows.build_query_as::<(String, i64, String)>().fetch_all(&self.pool).await?);
        }
        Ok(lists.into_iter().map(|l| l.into_iter().map(|(id, sort, data)| (sort, id, data)).collect()).collect())
    }

    async fn scan(&self, kind: &str, status: Option<&str>) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT workspace, data FROM entities WHERE kind = $1 AND ($2::text IS NULL OR status = $2) \
             ORDER BY workspace, id",
        )
        .bind(kind)
        .bind(status)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let generation = match self.tokens.get(hash) {
            Ok(record) => return Ok(Some(record)),
            Err(generation) => generation,
        };
        let row: Option<(String, String, String, String)> =
            sqlx::query_as("SELECT id, workspace, role, name FROM tokens WHERE hash = $1 AND revoked_at IS NULL")
                .bind(hash)
                .fetch_optional(&self.auth)
                .await?;
        let found =
            row.map(|(id, workspace, role, name)| TokenRecord::from_row(id, workspace, &role, name)).transpose()?;
        if let Some(record) = &found {
            self.tokens.keep(hash, record, generation);
        }
        Ok(found)
    }

    async fn list_tokens(&self) -> Result<Vec<TokenListing>, StoreError> {
        let rows: Vec<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, workspace, role, name, created_at, revoked_at FROM tokens ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, workspace, role, name, created_at, revoked_at)| {
                Ok(TokenListing { record: TokenRecord::from_row(id, workspace, &role, name)?, created_at, revoked_at })
            })
            .collect()
    }

    async fn is_token_live(&self, id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .fetch_one(&self.auth)
            .await?;
        Ok(n == 1)
    }

    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(crate::clock::now_rfc3339())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        // Counted and announced with the revocation itself: every listener hears it once it commits.
        let revocation: i64 =
            sqlx::query_scalar("UPDATE log_state SET revocations = revocations + 1 WHERE id = 1 RETURNING revocations")
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&self.tokens.channel)
            .bind(revocation.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.tokens.revoked(revocation).await?;
        Ok(true)
    }

    async fn create_token(&self, record: &TokenRecord, hash: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO tokens (id, workspace, role, name, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&record.id)
            .bind(&record.workspace)
            .bind(record.role.as_str())
            .bind(&record.name)
            .bind(hash)
            .bind(crate::clock::now_rfc3339())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn count_tokens(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(&self.pool).await?;
        Ok(n as u64)
    }

    fn shared_limits(&self) -> Option<std::sync::Arc<dyn SharedLimits>> {
        Some(self.limits.clone())
    }

    fn commit_paths(&self) -> Vec<(&'static str, u64)> {
        self.known.counts()
    }
}

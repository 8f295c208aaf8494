//! Rows and log appends inside an open PostgreSQL transaction: the SQL behind [`Rows`].

use app::domain::{entity::Row, Event, Seq};
use sqlx::PgConnection;

use crate::store::{project::Rows, Once, StoreError};

pub struct PgRows<'a>(pub &'a mut PgConnection);

#[async_trait::async_trait]
impl Rows for PgRows<'_> {
    async fn load(&mut self, workspace: &str, kind: &'static str, id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT data FROM entities WHERE workspace = $1 AND kind = $2 AND id = $3")
            .bind(workspace)
            .bind(kind)
            .bind(id)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn save(&mut self, workspace: &str, row: &Row) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO entities (workspace, kind, id, parent, status, sort, data) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (workspace, kind, id) DO UPDATE SET parent = excluded.parent, status = excluded.status, \
             sort = excluded.sort, data = excluded.data",
        )
        .bind(workspace)
        .bind(row.kind)
        .bind(&row.id)
        .bind(&row.index.parent)
        .bind(&row.index.status)
        .bind(row.index.sort)
        .bind(&row.data)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn append(&mut self, workspace: &str, event: &Event, frame: &str) -> Result<(), StoreError> {
        let seq = event.seq as i64;
        sqlx::query("INSERT INTO events (seq, workspace, type, ts, frame) VALUES ($1, $2, $3, $4, $5)")
            .bind(seq)
            .bind(workspace)
            .bind(event.body.kind())
            .bind(&event.ts)
            .bind(frame)
            .execute(&mut *self.0)
            .await?;
        // One statement for all of the event's topics.
        sqlx::query("INSERT INTO event_topics (workspace, topic, seq) SELECT $1, unnest($2::text[]), $3")
            .bind(workspace)
            .bind(&event.topics)
            .bind(seq)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn remembered(&mut self, workspace: &str, once: &Once) -> Result<Option<(String, Vec<Seq>)>, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT hash, seqs FROM idempotency WHERE workspace = $1 AND key = $2 AND created_at >= $3")
                .bind(workspace)
                .bind(&once.key)
                .bind(&once.not_before)
                .fetch_optional(&mut *self.0)
                .await?;
        row.map(|(hash, seqs)| Ok((hash, serde_json::from_str(&seqs).map_err(|e| StoreError::Corrupt(e.to_string()))?)))
            .transpose()
    }

    async fn remember(&mut self, workspace: &str, once: &Once, seqs: &[Seq], ts: &str) -> Result<(), StoreError> {
        let seqs = serde_json::to_string(seqs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO idempotency (workspace, key, hash, seqs, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (workspace, key) DO UPDATE SET hash = excluded.hash, seqs = excluded.seqs, \
             created_at = excluded.created_at",
        )
        .bind(workspace)
        .bind(&once.key)
        .bind(&once.hash)
        .bind(seqs)
        .bind(ts)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn logged(&mut self, seqs: &[Seq]) -> Result<Vec<(Seq, String)>, StoreError> {
        let seqs: Vec<i64> = seqs.iter().map(|s| *s as i64).collect();
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT seq, frame FROM events WHERE seq = ANY($1) ORDER BY seq")
            .bind(seqs)
            .fetch_all(&mut *self.0)
            .await?;
        Ok(rows.into_iter().map(|(seq, frame)| (seq as Seq, frame)).collect())
    }
}

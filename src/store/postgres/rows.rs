//! Reads inside an open PostgreSQL transaction: the SQL behind [`Rows`].

use app::domain::Seq;
use sqlx::PgConnection;

use crate::store::{
    cache::RowCache,
    project::{Load, Rows},
    Once, StoreError,
};

/// The connection a commit reads on, and the rows this instance knows (the caller makes sure the
/// cache holds the database's rows at the head the commit builds on).
pub struct PgRows<'a> {
    pub conn: &'a mut PgConnection,
    pub cache: &'a RowCache,
}

#[async_trait::async_trait]
impl Load for PgRows<'_> {
    async fn load(&mut self, workspace: &str, kind: &'static str, id: &str) -> Result<Option<String>, StoreError> {
        // Not sent yet: a future runs when awaited, and `through` awaits it only for a row it lacks.
        let read = sqlx::query_scalar("SELECT data FROM entities WHERE workspace = $1 AND kind = $2 AND id = $3")
            .bind(workspace)
            .bind(kind)
            .bind(id)
            .fetch_optional(&mut *self.conn);
        self.cache.through(workspace, kind, id, read).await
    }
}

#[async_trait::async_trait]
impl Rows for PgRows<'_> {
    async fn remembered(&mut self, workspace: &str, once: &Once) -> Result<Option<(String, Vec<Seq>)>, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT hash, seqs FROM idempotency WHERE workspace = $1 AND key = $2 AND created_at >= $3")
                .bind(workspace)
                .bind(&once.key)
                .bind(&once.not_before)
                .fetch_optional(&mut *self.conn)
                .await?;
        row.map(|(hash, seqs)| Ok((hash, serde_json::from_str(&seqs).map_err(|e| StoreError::Corrupt(e.to_string()))?)))
            .transpose()
    }

    async fn logged(&mut self, seqs: &[Seq]) -> Result<Vec<(Seq, String)>, StoreError> {
        let seqs: Vec<i64> = seqs.iter().map(|s| *s as i64).collect();
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT seq, frame FROM events WHERE seq = ANY($1) ORDER BY seq")
            .bind(seqs)
            .fetch_all(&mut *self.conn)
            .await?;
        Ok(rows.into_iter().map(|(seq, frame)| (seq as Seq, frame)).collect())
    }
}

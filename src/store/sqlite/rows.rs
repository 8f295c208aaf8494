//! Reads on the writer's connection, before a commit's transaction: the SQL behind [`Rows`].

use app::domain::Seq;
use sqlx::SqliteConnection;

use crate::store::{
    cache::RowCache,
    project::{Load, Rows},
    Once, StoreError,
};

/// The writer's connection, and the rows it already knows.
pub struct SqliteRows<'a> {
    pub conn: &'a mut SqliteConnection,
    pub cache: &'a RowCache,
}

#[async_trait::async_trait]
impl Load for SqliteRows<'_> {
    async fn load(&mut self, workspace: &str, kind: &'static str, id: &str) -> Result<Option<String>, StoreError> {
        // Not sent yet: a future runs when awaited, and `through` awaits it only for a row it lacks.
        let read = sqlx::query_scalar("SELECT data FROM entities WHERE workspace = ? AND kind = ? AND id = ?")
            .bind(workspace)
            .bind(kind)
            .bind(id)
            .fetch_optional(&mut *self.conn);
        self.cache.through(workspace, kind, id, read).await
    }
}

#[async_trait::async_trait]
impl Rows for SqliteRows<'_> {
    async fn remembered(&mut self, workspace: &str, once: &Once) -> Result<Option<(String, Vec<Seq>)>, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT hash, seqs FROM idempotency WHERE workspace = ? AND key = ? AND created_at >= ?")
                .bind(workspace)
                .bind(&once.key)
                .bind(&once.not_before)
                .fetch_optional(&mut *self.conn)
                .await?;
        row.map(|(hash, seqs)| Ok((hash, serde_json::from_str(&seqs).map_err(|e| StoreError::Corrupt(e.to_string()))?)))
            .transpose()
    }

    async fn logged(&mut self, seqs: &[Seq]) -> Result<Vec<(Seq, String)>, StoreError> {
        let seqs = serde_json::to_string(seqs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, frame FROM events WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq")
                .bind(seqs)
                .fetch_all(&mut *self.conn)
                .await?;
        Ok(rows.into_iter().map(|(seq, frame)| (seq as Seq, frame)).collect())
    }
}

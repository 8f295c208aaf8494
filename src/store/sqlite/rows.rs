//! Rows and log appends inside an open SQLite transaction: the SQL behind [`Rows`].

use app::domain::{entity::Row, Event};
use sqlx::SqliteConnection;

use crate::store::{project::Rows, StoreError};

pub struct SqliteRows<'a>(pub &'a mut SqliteConnection);

#[async_trait::async_trait]
impl Rows for SqliteRows<'_> {
    async fn load(&mut self, workspace: &str, kind: &'static str, id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT data FROM entities WHERE workspace = ? AND kind = ? AND id = ?")
            .bind(workspace)
            .bind(kind)
            .bind(id)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn save(&mut self, workspace: &str, row: &Row) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO entities (workspace, kind, id, parent, status, sort, data) VALUES (?, ?, ?, ?, ?, ?, ?) \
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
        sqlx::query("INSERT INTO events (seq, workspace, type, ts, frame) VALUES (?, ?, ?, ?, ?)")
            .bind(seq)
            .bind(workspace)
            .bind(event.body.kind())
            .bind(&event.ts)
            .bind(frame)
            .execute(&mut *self.0)
            .await?;
        // One statement for all of the event's topics.
        let topics = serde_json::to_string(&event.topics).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("INSERT INTO event_topics (workspace, topic, seq) SELECT ?, value, ? FROM json_each(?)")
            .bind(workspace)
            .bind(seq)
            .bind(topics)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}

//! Per-token limits counted in the database, so they hold across every instance on it. SQL only:
//! the rules are [`crate::limits`]'s.

use sqlx::PgPool;

use crate::store::{SharedLimits, StoreError, INSTANCE_STALE_AFTER};

pub struct PgLimits {
    pub pool: PgPool,
}

/// Marks `instance` alive now.
async fn seen(tx: &mut sqlx::PgConnection, instance: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO instances (id, seen_at) VALUES ($1, clock_timestamp())
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(instance)
    .execute(tx)
    .await?;
    Ok(())
}

/// Seconds after which an instance's connections stop counting.
fn stale_secs() -> f64 {
    INSTANCE_STALE_AFTER.as_secs_f64()
}

#[async_trait::async_trait]
impl SharedLimits for PgLimits {
    async fn take(&self, key: &str, events: u32, rate: u32, burst: u32) -> Result<Result<(), u64>, StoreError> {
        let (rate, burst, events) = (f64::from(rate.max(1)), f64::from(burst.max(1)), f64::from(events));
        // One statement: the refill, the check and the take happen atomically under the row lock.
        let taken: Option<f64> = sqlx::query_scalar(
            "INSERT INTO rate_buckets AS b (key, tokens, updated) VALUES ($1, $3 - $4, clock_timestamp())
             ON CONFLICT (key) DO UPDATE
                SET tokens = LEAST($3, b.tokens + EXTRACT(EPOCH FROM clock_timestamp() - b.updated) * $2) - $4,
                    updated = clock_timestamp()
              WHERE LEAST($3, b.tokens + EXTRACT(EPOCH FROM clock_timestamp() - b.updated) * $2) >= LEAST($4, $3)
             RETURNING tokens",
        )
        .bind(key)
        .bind(rate)
        .bind(burst)
        .bind(events)
        .fetch_optional(&self.pool)
        .await?;
        if taken.is_some() {
            return Ok(Ok(()));
        }
        let have: f64 = sqlx::query_scalar(
            "SELECT LEAST($2, tokens + EXTRACT(EPOCH FROM clock_timestamp() - updated) * $3) FROM rate_buckets WHERE key = $1",
        )
        .bind(key)
        .bind(burst)
        .bind(rate)
        .fetch_one(&self.pool)
        .await?;
        Ok(Err(((events.min(burst) - have) / rate).ceil().max(1.0) as u64))
    }

    async fn lease(&self, instance: &str, token_id: &str, limit: u32, want: u32) -> Result<u32, StoreError> {
        // One round trip: the lock, the count and the increment run in the function's transaction
        // (migration 0007).
        let granted: i64 = sqlx::query_scalar("SELECT lease_connections($1, $2, $3, $4, $5)")
            .bind(instance)
            .bind(token_id)
            .bind(i64::from(limit))
            .bind(stale_secs())
            .bind(i64::from(want))
            .fetch_one(&self.pool)
            .await?;
        Ok(granted.clamp(0, i64::from(want)) as u32)
    }

    async fn release(&self, instance: &str, token_id: &str, slots: u32) -> Result<(), StoreError> {
        sqlx::query("UPDATE open_connections SET open = GREATEST(open - $3, 0) WHERE instance = $1 AND token_id = $2")
            .bind(instance)
            .bind(token_id)
            .bind(i64::from(slots))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn beat(&self, instance: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        seen(&mut tx, instance).await?;
        // Long gone: six times the staleness, so a paused instance that comes back still finds its rows.
        let gone = stale_secs() * 6.0;
        sqlx::query(
            "DELETE FROM open_connections c USING instances i
             WHERE i.id = c.instance AND i.seen_at < clock_timestamp() - make_interval(secs => $1)",
        )
        .bind(gone)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM instances WHERE seen_at < clock_timestamp() - make_interval(secs => $1)")
            .bind(gone)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM open_connections WHERE instance = $1 AND open = 0")
            .bind(instance)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

//! Live tokens kept in memory on PostgreSQL, with revocation still refused at the next request on
//! every instance.
//!
//! Each instance that checks tokens listens for revocations and keeps a row in `token_listeners`:
//! the last revocation it has heard (its memory emptied since) and when it last reached the
//! database. A revocation is counted in `log_state.revocations` and announced with `NOTIFY` in its
//! transaction, then waits until every listener seen within [`LEASE`] has heard it. A listener
//! answers from memory only while its last visit to the database is younger than [`LEASE`], so
//! one that cannot reach the database stops answering by the time revokers stop waiting for it.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicI64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use sqlx::{postgres::PgListener, PgPool};

use crate::store::{StoreError, TokenRecord};

/// How long memory may answer after the listener last reached the database.
const LEASE: Duration = Duration::from_secs(2);
/// How often a listener says it is alive when nothing is revoked.
const BEAT: Duration = Duration::from_millis(500);
/// What a listener sends itself (every listener hears it) to check that its connection delivers.
const ALIVE: &str = "alive";

pub struct PgTokens {
    pool: PgPool,
    pub channel: String,
    /// This instance among the listeners.
    id: String,
    state: Mutex<State>,
    started: AtomicBool,
}

#[derive(Default)]
struct State {
    known: HashMap<String, TokenRecord>,
    /// Moves whenever `known` is emptied: a lookup that began before may not keep what it read.
    generation: u64,
    /// Until when memory may answer.
    valid_until: Option<Instant>,
}

impl PgTokens {
    pub fn new(pool: PgPool, schema: &str) -> Arc<PgTokens> {
        Arc::new(PgTokens {
            pool,
            channel: format!("flightdeck_revocations_{schema}"),
            id: uuid::Uuid::new_v4().simple().to_string(),
            state: Mutex::default(),
            started: AtomicBool::new(false),
        })
    }

    /// The live token with this hash when memory may answer, else the generation to hand back to
    /// [`PgTokens::keep`] with what the database says. Starts listening on first use.
    pub fn get(self: &Arc<Self>, hash: &str) -> Result<TokenRecord, u64> {
        // A load first: every request passes here, and only the first needs the swap.
        if !self.started.load(Ordering::Relaxed) && !self.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(self.clone().listen());
        }
        let state = self.lock();
        match (state.valid_until, state.known.get(hash)) {
            (Some(until), Some(record)) if until > Instant::now() => Ok(record.clone()),
            _ => Err(state.generation),
        }
    }

    /// Keeps a live token read from the database, unless memory was emptied since the read began.
    pub fn keep(&self, hash: &str, record: &TokenRecord, generation: u64) {
        let mut state = self.lock();
        if state.generation == generation {
            state.known.insert(hash.to_string(), record.clone());
        }
    }

    fn forget_all(&self) {
        let mut state = self.lock();
        state.known.clear();
        state.generation += 1;
    }

    /// After a revocation committed here: forget at once, then wait until every listener (this
    /// instance's own too, if it listens) has heard it.
    pub async fn revoked(&self, revocation: i64) -> Result<(), StoreError> {
        self.forget_all();
        let deadline = Instant::now() + LEASE + BEAT;
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM token_listeners
                 WHERE heard < $1 AND seen_at > now() - make_interval(secs => $2)",
            )
            .bind(revocation)
            .bind(LEASE.as_secs_f64())
            .fetch_one(&self.pool)
            .await?;
            if waiting == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                // Their memory has stopped answering by now: a listener whose connection delivered
                // nothing since its last beat stopped beating.
                tracing::warn!(waiting, "instances did not confirm a revocation in time");
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn listen(self: Arc<Self>) {
        loop {
            if let Err(e) = self.listen_once().await {
                tracing::warn!(error = %e, "listening for token revocations failed; checking tokens in the database meanwhile");
            }
            self.lock().valid_until = None;
            self.forget_all();
            tokio::time::sleep(BEAT).await;
        }
    }

    async fn listen_once(&self) -> Result<(), StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(&self.channel).await?;
        // Every revocation from here on is announced to this listener. Those counted before are
        // covered by emptying memory after reading the count.
        let counted: i64 =
            sqlx::query_scalar("SELECT revocations FROM log_state WHERE id = 1").fetch_one(&self.pool).await?;
        let heard = AtomicI64::new(counted);
        self.forget_all();
        // The rows of instances gone long ago (each start is a new listener).
        sqlx::query("DELETE FROM token_listeners WHERE seen_at < now() - interval '1 day'").execute(&self.pool).await?;
        self.beat(heard.load(Ordering::SeqCst)).await?;
        // When the listening connection last delivered anything.
        let delivered = Mutex::new(Instant::now());
        // Beats on a timer, and at once after each revocation heard; a notification is never
        // waited for under a timeout, so none is lost to a cancelled read. A beat proves more than
        // that the pool reaches the database: the `alive` sent before the pause must have come
        // back through the listening connection, or that connection may be missing revocations
        // (half-open, say) and memory must stop answering.
        let beats = async {
            loop {
                let asked = Instant::now();
                sqlx::query("SELECT pg_notify($1, $2)").bind(&self.channel).bind(ALIVE).execute(&self.pool).await?;
                tokio::time::sleep(BEAT).await;
                if *delivered.lock().unwrap_or_else(|p| p.into_inner()) < asked {
                    return Err(StoreError::Unavailable("the listening connection delivers nothing".into()));
                }
                self.beat(heard.load(Ordering::SeqCst)).await?;
            }
        };
        let revocations = async {
            loop {
                match listener.try_recv().await? {
                    Some(notification) => {
                        *delivered.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                        if notification.payload() == ALIVE {
                            continue;
                        }
                        self.forget_all();
                        if let Ok(revocation) = notification.payload().parse::<i64>() {
                            heard.fetch_max(revocation, Ordering::SeqCst);
                        }
                        self.beat(heard.load(Ordering::SeqCst)).await?;
                    }
                    None => return Err(StoreError::Unavailable("the listening connection was lost".into())),
                }
            }
        };
        tokio::select! {
            result = beats => result,
            result = revocations => result,
        }
    }

    /// Says this listener has heard revocations up to `heard` and reached the database now; memory
    /// may answer for [`LEASE`] from before the statement was sent.
    async fn beat(&self, heard: i64) -> Result<(), StoreError> {
        let sent = Instant::now();
        sqlx::query(
            "INSERT INTO token_listeners (id, heard, seen_at) VALUES ($1, $2, now())
             ON CONFLICT (id) DO UPDATE SET heard = GREATEST(token_listeners.heard, excluded.heard), seen_at = now()",
        )
        .bind(&self.id)
        .bind(heard)
        .execute(&self.pool)
        .await?;
        let mut state = self.lock();
        state.valid_until = state.valid_until.max(Some(sent + LEASE));
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

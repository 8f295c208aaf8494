//! What every handler may need, handed out by axum's `State` and Leptos' context.

use std::{path::Path, sync::Arc};

use app::domain::agent::HealthRules;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::{
    clock::SharedClock,
    hub::{ConnectionGuard, Hub},
    limits::{Limits, Refused},
    store::Store,
    writer::Writer,
};

/// A handle: every extractor and middleware takes one per request, so a clone is one reference
/// count, not a copy of every field (it was a visible share of a request's time).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Opens a socket's or a stream's connection slot of `token_id`: this process's count (the
    /// hub's) first, then the count instances share. Held until the guard is dropped.
    pub async fn open_connection(&self, token_id: &str) -> Result<ConnectionGuard, Refused> {
        let Some(mut guard) = self.hub.connect(token_id) else {
            return Err(Refused::Full(self.limits.max_connections()));
        };
        if let Some(release) = self.limits.lease_connection(token_id).await? {
            guard.on_release(release);
        }
        Ok(guard)
    }

    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The pages' renderer takes its options from the state.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos_options.clone()
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub store: Arc<dyn Store>,
    pub hub: Hub,
    /// The only way events enter the log.
    pub writer: Writer,
    /// Ingest rate and open connections per token, across instances where they share a database.
    pub limits: Arc<Limits>,
    /// Deliverable files: `<dir>/<workspace>/<path>`.
    pub artifacts_dir: Arc<Path>,
    pub clock: SharedClock,
    /// The thresholds agent health is judged by.
    pub health: Arc<HealthRules>,
    /// How long an idempotency key is remembered.
    pub idempotency_window: std::time::Duration,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Requests held open until an approval is decided.
    pub held: Arc<crate::held::Held>,
}

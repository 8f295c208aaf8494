//! What every handler may need, handed out by axum's `State` and Leptos' context.

use std::{path::Path, sync::Arc};

use app::domain::agent::HealthRules;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::{clock::SharedClock, hub::Hub, limits::Limits, store::Store, writer::Writer};

#[derive(Clone, FromRef)]
pub struct AppState {
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
}

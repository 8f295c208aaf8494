//! Wires the store, the writer, the hub, the API and the Leptos pages into one axum server.

use std::{net::SocketAddr, sync::Arc};

use app::{
    api::ssr::{SnapshotSource, Snapshots},
    model::Board,
    shell, App,
};
use axum::{
    extract::{DefaultBodyLimit, FromRef},
    middleware,
    routing::{get, post},
    serve::ListenerExt,
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tower_http::trace::TraceLayer;

use crate::{
    api::{self, limits::RateLimiter},
    auth,
    config::ServeConfig,
    hub::{self, Hub, HubSettings},
    store::{self, Store},
    writer::Writer,
};

/// Everything a handler may need, handed out by axum's `State` and Leptos' context.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Arc<dyn Store>,
    pub hub: Hub,
    pub writer: Writer,
    pub limiter: Arc<RateLimiter>,
    pub artifacts_dir: Arc<std::path::Path>,
}

/// A server that is accepting connections.
pub struct Running {
    pub addr: SocketAddr,
    /// The admin token created on first start, to be shown once.
    pub first_token: Option<String>,
    pub state: AppState,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Closes every socket and waits for in-flight requests to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

pub async fn start(config: ServeConfig) -> anyhow::Result<Running> {
    let store = store::open(&config.database_url).await?;
    let first_token = auth::bootstrap(&*store, config.token.as_deref()).await?;
    let hub = Hub::new(
        config.live_buffer,
        HubSettings {
            heartbeat: config.heartbeat(),
            pong_timeout: config.pong_timeout(),
            send_timeout: config.send_timeout(),
            max_frame_bytes: config.max_frame_bytes,
            max_topics: config.max_topics,
            max_connections_per_token: config.max_connections_per_token,
        },
    );
    let writer = Writer::start(store.clone(), hub.clone(), config.retain_events);

    let listener = TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let leptos_options = LeptosOptions::builder()
        .output_name("flightdeck")
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let limiter = Arc::new(RateLimiter::new(config.ingest_rate, config.ingest_burst));
    let state = AppState {
        leptos_options,
        store: store.clone(),
        hub: hub.clone(),
        writer,
        limiter,
        artifacts_dir: config.artifacts_dir.clone().into(),
    };

    let app = router(state.clone(), config.max_body_bytes);
    let listener = listener.tap_io(|tcp| {
        // Frames are small and latency matters more than packet count.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
                hub.shut_down();
            })
            .await
    });
    tracing::info!(%addr, database = %config.database_url, "flightdeck is listening");
    Ok(Running { addr, first_token, state, stop, task })
}

fn router(state: AppState, max_body_bytes: usize) -> Router {
    let snapshots = SnapshotSource(Arc::new(StoreSnapshots(state.store.clone())));
    let context = move || provide_context(snapshots.clone());
    let options = state.leptos_options.clone();
    Router::new()
        .merge(api::routes())
        .route("/ws", get(hub::socket::upgrade))
        .leptos_routes_with_context(&state, generate_route_list(App), context.clone(), move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout))
        .layer(middleware::from_fn_with_state(state.clone(), auth::gate))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Lets the pages' server functions read from the store without knowing it.
struct StoreSnapshots(Arc<dyn Store>);

#[async_trait::async_trait]
impl Snapshots for StoreSnapshots {
    async fn board(&self, workspace: &str) -> Result<Board, String> {
        self.0.board(workspace).await.map_err(|e| e.to_string())
    }
}

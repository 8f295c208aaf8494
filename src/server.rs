//! Assembles the server: opens the store, starts the writer, the hub and the jobs, and wires the
//! API and the Leptos pages into one axum router.

use std::sync::Arc;

use app::{
    server_fns::ssr::{ActionSource, HealthSettings, ReadSource},
    shell, App,
};
use axum::{
    extract::DefaultBodyLimit,
    http::{header, HeaderValue},
    middleware,
    routing::{get, post},
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::{net::TcpListener, sync::oneshot};
use tower_http::{compression::CompressionLayer, set_header::SetResponseHeaderLayer, trace::TraceLayer};

use crate::{
    api, auth,
    clock::{self, SharedClock},
    config::ServeConfig,
    hub::{relay::Relay, Hub, HubSettings},
    jobs,
    limits::Limits,
    state::{AppState, Shared},
    store::{self, Store},
    writer::{QueueLimits, Writer},
};

pub use crate::shutdown::Running;

pub async fn start(config: ServeConfig) -> anyhow::Result<Running> {
    start_with_clock(config, clock::system()).await
}

/// Starts a server whose timestamps and health rules run on `clock` (tests pass a manual one).
pub async fn start_with_clock(config: ServeConfig, clock: SharedClock) -> anyhow::Result<Running> {
    config.validate().map_err(|e| anyhow::anyhow!("invalid setting: {e}"))?;
    let store = store::open(&config.database_url).await?;
    start_with_store(config, clock, store).await
}

/// Starts a server on a store the caller opened (tests wrap one to make it fail on purpose).
pub async fn start_with_store(
    config: ServeConfig,
    clock: SharedClock,
    store: Arc<dyn Store>,
) -> anyhow::Result<Running> {
    config.validate().map_err(|e| anyhow::anyhow!("invalid setting: {e}"))?;
    let first_token = auth::bootstrap(&*store, config.token.as_deref()).await?;
    let metrics = crate::metrics::Metrics::new();
    let hub = Hub::new(
        config.live_buffer,
        config.live_buffer_bytes,
        HubSettings {
            heartbeat: config.heartbeat(),
            pong_timeout: config.pong_timeout(),
            send_timeout: config.send_timeout(),
            max_frame_bytes: config.max_frame_bytes,
            max_topics: config.max_topics,
            max_connections_per_token: config.max_connections_per_token,
            lag_deadline: std::time::Duration::from_millis(config.lag_deadline_ms),
        },
        metrics.clone(),
    );
    // Followers get every event once, in seq order: this writer's commits, and other instances'.
    let relay = Relay::start(store.clone(), hub.clone(), store.head().await?, store.watch().await?);
    let limits = QueueLimits { requests: config.writer_queue, bytes: config.writer_queue_bytes };
    let writer = Writer::start(store.clone(), relay, clock.clone(), limits, metrics.clone());

    let listener = TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let leptos_options = LeptosOptions::builder()
        .output_name("flightdeck")
        .site_root(config.site_root().as_str())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        // A release build's page names the wasm, JS and CSS by their content (`site`).
        .hash_files(crate::site::hashed())
        .build();
    let state = AppState::new(Shared {
        leptos_options,
        store: store.clone(),
        hub: hub.clone(),
        writer,
        limits: Arc::new(Limits::new(
            config.ingest_rate,
            config.ingest_burst,
            config.max_connections_per_token,
            store.shared_limits(),
        )),
        artifacts_dir: config.artifacts_dir.clone().into(),
        clock,
        health: Arc::new(config.health_rules()),
        idempotency_window: std::time::Duration::from_millis(config.idempotency_window_ms),
        metrics,
        held: crate::held::Held::new(config.max_held),
    });
    state.held.follow(&state.hub);
    jobs::health::spawn(&state, config.health_check());
    jobs::approvals::spawn(&state, config.approval_check());
    jobs::prune::spawn(&state, config.prune_every(), config.retain_events);
    jobs::snapshots::spawn(&state, config.snapshot_every);
    let limits = state.limits.clone();
    jobs::every(&state.hub, crate::limits::INSTANCE_STALE_AFTER / 5, "instance heartbeat", move || {
        let limits = limits.clone();
        async move { limits.beat().await }
    });
    let metrics = state.metrics.clone();
    jobs::every(&state.hub, std::time::Duration::from_secs(1), "metrics upkeep", move || {
        metrics.upkeep();
        std::future::ready(Ok(0))
    });

    let render = crate::render::RenderDeadline(std::time::Duration::from_millis(config.page_render_timeout_ms));
    let app = router(state.clone(), config.max_body_bytes, config.max_feed_body_bytes, render);
    // A client that stops reading is dropped after the send timeout, SSE and sockets alike; one
    // that sends no request in time is closed, and strangers are capped (`net`).
    let listener = crate::net::Guarded::new(listener, config.connection_deadlines());
    let (stop, stopped) = oneshot::channel::<()>();
    // Each connection's requests carry the connection, and keep it busy while they are answered.
    let per_connection = tower::service_fn(move |incoming: axum::serve::IncomingStream<'_, crate::net::Guarded>| {
        let conn = incoming.io().conn().clone();
        std::future::ready(Ok::<_, std::convert::Infallible>(crate::net::Tracked::new(app.clone(), conn)))
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, per_connection)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
                hub.shut_down();
            })
            .await
    });
    tracing::info!(%addr, database = %config.database_url, "flightdeck is listening");
    Ok(Running { addr, first_token, state, stop, task, deadline: config.shutdown_timeout() })
}

fn router(
    state: AppState,
    max_body_bytes: usize,
    max_feed_body_bytes: usize,
    render: crate::render::RenderDeadline,
) -> Router {
    let reads = ReadSource(Arc::new(api::pages::StoreReads(state.store.clone())));
    let actions = ActionSource(Arc::new(api::pages::IngestActions(state.clone())));
    let health = HealthSettings { heartbeat_ms: state.health.heartbeat_ms };
    let context = move || {
        provide_context(reads.clone());
        provide_context(actions.clone());
        provide_context(health);
    };
    let options = state.leptos_options.clone();
    // The wasm, JS and CSS: the release wasm is 1.2 MB as built and under 0.5 MB gzipped.
    // cargo-leptos empties the folder on every build, so a `.gz` never outlives its file.
    let pkg = format!("{}/{}", options.site_root, options.site_pkg_dir);
    Router::new()
        .merge(api::routes(max_feed_body_bytes))
        .nest_service(&format!("/{}", options.site_pkg_dir), crate::site::routes::<()>(pkg.into()))
        .leptos_routes_with_context(&state, generate_route_list(App), context.clone(), move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/ws", get(api::ws::upgrade))
        .route("/metrics", get(api::metrics::scrape))
        .layer(middleware::from_fn_with_state(state.clone(), auth::gate))
        .layer(middleware::from_fn_with_state((state.clone(), render), crate::render::rerender_stalled))
        // Outside the gate, so its refusals (401) are counted too.
        .layer(middleware::map_response_with_state(state.clone(), api::metrics::count_refusals))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        // Pages and JSON answers go gzipped to browsers that take it (a 5,000-task board's page
        // is mostly its hydration data, which compresses well); the event stream and the site's
        // precompressed files are left as they are.
        .layer(CompressionLayer::new().gzip(true))
        // No page of ours may be framed (pages also say so in their CSP), nor sniffed as another type.
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        // Spans name the path only: a query may hold `?token=`, which must never reach a log.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<axum::body::Body>| {
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(state)
}

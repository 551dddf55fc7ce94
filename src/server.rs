//! Wiring: shared state, the axum router made of web + api routes, security headers, and
//! serving with graceful shutdown. The only place (with `cli`) that knows every module.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Settings;
use crate::db::Store;
use crate::web::ratelimit::RateLimiter;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    /// Mints absolute URLs for this instance.
    pub urls: crate::urls::Urls,
    /// Failed sign-ins per client address and per username.
    pub login_limiter: Arc<RateLimiter>,
    /// Rendered public pages for anonymous visitors.
    pub page_cache: Arc<crate::web::cache::PageCache>,
    /// Bounds how many uploads are decoded at once (decoding is CPU- and memory-heavy).
    pub upload_slots: Arc<tokio::sync::Semaphore>,
    /// HTTP client, key cache and worker wake-ups for ActivityPub.
    pub federation: Arc<crate::federation::Federation>,
    /// The order-mail transport and its worker's wake-up.
    pub mail: Arc<crate::mail::Mailer>,
}

impl AppState {
    /// Call after any write that changes what pages show, what followers must hear or whom
    /// to mail: drops cached pages and wakes the federation outbox and mail workers.
    pub fn changed(&self) {
        self.page_cache.clear();
        self.federation.changed();
        self.mail.wake();
    }

    pub fn new(store: Store, settings: Settings) -> AppState {
        AppState {
            federation: Arc::new(crate::federation::Federation::new(
                settings.dev_federation,
                &settings.base_url(),
            )),
            store,
            mail: Arc::new(crate::mail::Mailer::new(&settings)),
            urls: crate::urls::Urls::new(settings.base_url()),
            settings: Arc::new(settings),
            login_limiter: Arc::new(RateLimiter::new(
                10,
                std::time::Duration::from_secs(15 * 60),
            )),
            page_cache: Arc::new(crate::web::cache::PageCache::new(
                std::time::Duration::from_secs(5),
                2_000,
            )),
            upload_slots: Arc::new(tokio::sync::Semaphore::new(2)),
        }
    }
}

/// Opens the database named by the settings (creating the data dir) and applies migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create data dir {}: {e}",
            settings.data_dir.display()
        )
    })?;
    std::fs::create_dir_all(settings.media_dir())?;
    let store = Store::connect(
        &settings.effective_database_url(),
        settings.db_max_connections,
    )
    .await?;
    store.migrate().await?;
    Ok(store)
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    // A product form carries up to four images; JSON API routes set their own, smaller limit.
    let upload_limit = state.settings.max_upload_bytes.saturating_mul(4) + 1024 * 1024;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::metrics::endpoint))
        .merge(crate::api::routes())
        .merge(crate::federation::routes())
        .merge(crate::web::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::federation::negotiate::middleware,
        ))
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; img-src 'self' https:; style-src 'self'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
        ))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if state.store.ping().await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if state.settings.dev_federation {
        tracing::warn!(
            "FEDISHOP_DEV_FEDERATION is on: plain http, explicit ports and loopback/private \
             addresses are allowed in remote URLs. Never use this in production."
        );
    }
    let (stop_workers, workers_stop) = tokio::sync::watch::channel(false);
    crate::federation::start_workers(state.clone(), workers_stop.clone());
    tokio::spawn(crate::mail::run(state.clone(), workers_stop.clone()));
    tokio::spawn(crate::housekeeping::run(state.clone(), workers_stop));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_workers.send(true);
    result?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

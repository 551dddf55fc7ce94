//! HTML pages (placeholder until the web module lands; the web engineer replaces this file).
pub mod cache;
pub mod ratelimit;
pub fn routes() -> axum::Router<crate::server::AppState> {
    axum::Router::new()
}

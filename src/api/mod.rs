//! The JSON API under `/api/v1`, bearer-token authenticated, described by `openapi.json`.
//! Handlers translate JSON to domain inputs and back; every rule lives in `domain`.

mod admin;
mod auth;
mod dto;
mod input;
mod media;
mod order_dto;
mod orders;
mod products;
mod shops;
mod social;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::error::Error;
use crate::server::AppState;

pub use auth::{ApiUser, MaybeApiUser};

/// The OpenAPI 3.1 document served at `/api/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Largest JSON body the API reads.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

pub fn routes() -> Router<AppState> {
    let json_routes = Router::new()
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/admin/federation", get(admin::federation))
        .route("/api/v1/shops", post(shops::create).get(shops::list))
        .route(
            "/api/v1/shops/{handle}",
            get(shops::show).patch(shops::update),
        )
        .route(
            "/api/v1/shops/{handle}/products",
            post(products::create).get(products::list),
        )
        .route(
            "/api/v1/products/{id}",
            get(products::show)
                .patch(products::update)
                .delete(products::delete),
        )
        .route(
            "/api/v1/follows",
            post(social::follow)
                .delete(social::unfollow)
                .get(social::list_follows),
        )
        .route("/api/v1/feed", get(social::feed))
        .route("/api/v1/orders", post(orders::place).get(orders::list))
        .route("/api/v1/orders/{id}", get(orders::show))
        .route("/api/v1/orders/{id}/cancel", post(orders::cancel))
        .route("/api/v1/shops/{handle}/orders", get(orders::shop_orders))
        .route(
            "/api/v1/shops/{handle}/checkout",
            get(orders::checkout_settings).put(orders::put_checkout_settings),
        )
        .route("/api/v1/shop-orders/{id}", get(orders::shop_order))
        .route("/api/v1/shop-orders/{id}/status", post(orders::set_status))
        .route(
            "/api/v1/reactions",
            post(social::react).delete(social::unreact),
        )
        .route("/api/v1/replies", post(social::reply))
        .route("/api/v1/shops/{handle}/replies", post(social::shop_reply))
        .route(
            "/api/v1/shops/{handle}/followers",
            get(social::shop_followers).post(social::answer_follower),
        )
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES));
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/media", post(media::upload))
        .merge(json_routes)
        .route("/api", any(not_found))
        .route("/api/{*rest}", any(not_found))
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

async fn not_found() -> Response {
    ApiError(Error::not_found("route")).into_response()
}

/// Wraps the crate error so it renders as `{"error": "...", "fields": {...}}`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.kind == crate::error::ErrorKind::Internal {
            tracing::error!(error = %e, "api request failed");
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let fields: serde_json::Map<String, serde_json::Value> = e
            .fields
            .0
            .iter()
            .map(|(k, v)| (k.clone(), json!(v.to_string())))
            .collect();
        let mut resp = (
            status,
            Json(json!({ "error": e.message, "fields": fields })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

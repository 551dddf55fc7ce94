//! `/api/v1/shops`: open, list, show and edit shops.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;

use super::dto::{PageDto, ShopDto};
use super::input::{or_empty, Fields, JsonObject, Paging};
use super::{ApiResult, ApiUser};
use crate::domain::catalog::service;
use crate::domain::catalog::{ShopChanges, ShopForm};
use crate::server::AppState;

/// `POST /api/v1/shops` `{"handle","name","summary","avatar_image"?,"banner_image"?,"links"?}`
pub async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<ShopDto>)> {
    let mut f = Fields::new(&body);
    let form = ShopForm {
        handle: or_empty(f.string("handle")),
        name: or_empty(f.string("name")),
        summary: or_empty(f.string("summary")),
        avatar_image: f.string("avatar_image"),
        banner_image: f.string("banner_image"),
        links: f.links("links").unwrap_or_default(),
        manually_approves_followers: f.boolean("manually_approves_followers").unwrap_or(false),
    };
    f.finish()?;
    let shop = service::create_shop(&state.store, &user, form).await?;
    state.changed();
    Ok((StatusCode::CREATED, Json(ShopDto::new(&state.urls, &shop))))
}

/// `GET /api/v1/shops?page=&per_page=`
pub async fn list(
    State(state): State<AppState>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<PageDto<ShopDto>>> {
    let (page, per_page) = service::paging(p.page, p.per_page, 50);
    let shops = service::list_shops(&state.store, page, per_page).await?;
    let items = shops
        .items
        .iter()
        .map(|s| ShopDto::new(&state.urls, s))
        .collect();
    Ok(Json(PageDto::new(&shops, items)))
}

/// `GET /api/v1/shops/{handle}`
pub async fn show(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> ApiResult<Json<ShopDto>> {
    let shop = service::shop_by_handle(&state.store, &handle).await?;
    Ok(Json(ShopDto::new(&state.urls, &shop)))
}

/// `PATCH /api/v1/shops/{handle}`: any of name, summary, avatar_image, banner_image (null
/// removes), links.
pub async fn update(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(handle): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<ShopDto>> {
    let mut f = Fields::new(&body);
    if f.has("handle") {
        f.errors.add("handle", crate::error::Problem::InvalidChoice);
    }
    let changes = ShopChanges {
        name: f.string("name"),
        summary: f.string("summary"),
        avatar_image: f.nullable_string("avatar_image"),
        banner_image: f.nullable_string("banner_image"),
        links: f.links("links"),
        manually_approves_followers: f.boolean("manually_approves_followers"),
    };
    f.finish()?;
    let shop = service::update_shop(&state.store, &user, &handle, changes).await?;
    state.changed();
    Ok(Json(ShopDto::new(&state.urls, &shop)))
}

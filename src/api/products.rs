//! `/api/v1/shops/{handle}/products` and `/api/v1/products/{id}`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;

use super::dto::{PageDto, ProductDto};
use super::input::{or_empty, Fields, JsonObject};
use super::{ApiResult, ApiUser, MaybeApiUser};
use crate::domain::catalog::{service, ProductChanges, ProductFilter, ProductForm, ProductStatus};
use crate::domain::ids::ProductId;
use crate::error::Error;
use crate::server::AppState;

fn parse_id(id: &str) -> Result<ProductId, Error> {
    ProductId::parse(id).ok_or_else(|| Error::not_found("product"))
}

/// `POST /api/v1/shops/{handle}/products`. Without `"status"`, the product is published.
pub async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(handle): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<ProductDto>)> {
    let mut f = Fields::new(&body);
    let stock_given = f.has("stock");
    let form = ProductForm {
        title: or_empty(f.string("title")),
        description: or_empty(f.string("description")),
        price: or_empty(f.string("price")),
        currency: or_empty(f.string("currency")),
        compare_at_price: f.string("compare_at_price"),
        stock: f.integer("stock").unwrap_or(0),
        sku: f.string("sku"),
        tags: f.string_array("tags").unwrap_or_default(),
        images: f.images("images").unwrap_or_default(),
        variants: f.variants("variants").unwrap_or_default(),
        status: f.string("status"),
    };
    if !stock_given && form.variants.is_empty() {
        f.errors.add("stock", crate::error::Problem::Required);
    }
    f.finish()?;
    let product =
        service::create_product(&state.store, &user, &handle, form, ProductStatus::Published)
            .await?;
    state.changed();
    let shop = service::shop_by_id(&state.store, &product.shop_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(ProductDto::new(&state.urls, &shop.handle, &product)),
    ))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    page: Option<i64>,
    per_page: Option<i64>,
    tag: Option<String>,
    q: Option<String>,
    /// `all` includes drafts and archived products (shop managers only).
    status: Option<String>,
}

/// `GET /api/v1/shops/{handle}/products?page=&per_page=&tag=&q=&status=all`
pub async fn list(
    State(state): State<AppState>,
    MaybeApiUser(viewer): MaybeApiUser,
    Path(handle): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<PageDto<ProductDto>>> {
    let shop = service::shop_by_handle(&state.store, &handle).await?;
    let include_unpublished = match q.status.as_deref() {
        None | Some("published") => false,
        Some("all") => {
            if !viewer
                .as_ref()
                .is_some_and(|u| service::can_manage(u, &shop))
            {
                return Err(Error::forbidden(
                    "only the shop's managers can list unpublished products",
                )
                .into());
            }
            true
        }
        Some(_) => return Err(Error::bad_request("status must be `published` or `all`").into()),
    };
    let (page, per_page) = service::paging(q.page, q.per_page, 24);
    let filter = ProductFilter {
        include_unpublished,
        tag: q.tag,
        query: q.q,
    };
    let products =
        service::shop_products(&state.store, viewer.as_ref(), &shop, filter, page, per_page)
            .await?;
    let items = products
        .items
        .iter()
        .map(|p| ProductDto::new(&state.urls, &shop.handle, p))
        .collect();
    Ok(Json(PageDto::new(&products, items)))
}

/// `GET /api/v1/products/{id}`: published products for anybody; others for their managers.
pub async fn show(
    State(state): State<AppState>,
    MaybeApiUser(viewer): MaybeApiUser,
    Path(id): Path<String>,
) -> ApiResult<Json<ProductDto>> {
    let (shop, product) =
        service::visible_product(&state.store, viewer.as_ref(), &parse_id(&id)?).await?;
    Ok(Json(ProductDto::new(&state.urls, &shop.handle, &product)))
}

/// `PATCH /api/v1/products/{id}`: any subset of the create fields; null clears
/// `compare_at_price` and `sku`.
pub async fn update(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<ProductDto>> {
    let id = parse_id(&id)?;
    let mut f = Fields::new(&body);
    let changes = ProductChanges {
        title: f.string("title"),
        description: f.string("description"),
        price: f.string("price"),
        currency: f.string("currency"),
        compare_at_price: f.nullable_string("compare_at_price"),
        stock: f.integer("stock"),
        sku: f.nullable_string("sku"),
        tags: f.string_array("tags"),
        images: f.images("images"),
        variants: f.variants("variants"),
        status: f.string("status"),
    };
    f.finish()?;
    let product = service::update_product(&state.store, &user, &id, changes).await?;
    state.changed();
    let shop = service::shop_by_id(&state.store, &product.shop_id).await?;
    Ok(Json(ProductDto::new(&state.urls, &shop.handle, &product)))
}

/// `DELETE /api/v1/products/{id}` -> 204.
pub async fn delete(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service::delete_product(&state.store, &user, &parse_id(&id)?).await?;
    state.changed();
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/v1/orders` (the buyer's side) and `/api/v1/shops/{handle}/orders`,
//! `/api/v1/shop-orders/{id}` (the seller's side), and a shop's checkout settings. Orders with
//! this instance's shops go through `domain::orders::service`; orders with another instance's
//! shop through `federation::orders`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};

use super::input::{or_empty, Fields, JsonObject};
use super::order_dto::OrderDto;
use super::{ApiResult, ApiUser};
use crate::db;
use crate::domain::catalog::service as catalog;
use crate::domain::orders::checkout::CheckoutSettings;
use crate::domain::orders::validate::{LineRequest, OrderRequest};
use crate::domain::orders::{history, service};
use crate::domain::orders::{Address, Buyer, OrderStatus, StatusChange};
use crate::error::{Error, Problem};
use crate::server::AppState;

/// Where the ordered products are.
enum Target {
    /// A shop of this instance, by handle.
    Local(String),
    /// A product on another instance (its URL or ActivityPub id).
    Remote(String),
}

/// Reads the order body: either `product` (+ `variant`, `quantity`) or `lines`, plus
/// `shipping`, `payment_method`, `idempotency_key`, `email`, `note`, `shipping_option`.
fn order_request(
    state: &AppState,
    body: &Map<String, Value>,
    header_key: Option<String>,
) -> Result<(Target, OrderRequest), Error> {
    let mut f = Fields::new(body);
    let mut raw_lines: Vec<(String, Option<String>, i64)> = Vec::new();
    if f.has("lines") {
        for (i, item) in f
            .object_items(
                "lines",
                "an array of {\"product\", \"variant\", \"quantity\"} objects",
            )
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let mut l = Fields::new(item);
            let product = or_empty(l.string("product"));
            let variant = l.string("variant");
            let quantity = l.integer("quantity").unwrap_or(1);
            let _ = f.absorb(&format!("lines[{i}]."), l.errors);
            raw_lines.push((product, variant, quantity));
        }
    } else {
        let product = or_empty(f.string("product"));
        let variant = f.string("variant");
        let quantity = f.integer("quantity").unwrap_or(1);
        raw_lines.push((product, variant, quantity));
    }
    let address = match f.object("shipping") {
        Some(o) => {
            let mut a = Fields::new(o);
            let address = Address {
                name: or_empty(a.string("name")),
                address_lines: a.string_array("address_lines").unwrap_or_default(),
                city: or_empty(a.string("city")),
                postal_code: or_empty(a.string("postal_code")),
                country: or_empty(a.string("country")),
                phone: or_empty(a.string("phone")),
            };
            let _ = f.absorb("shipping.", a.errors);
            address
        }
        None => Address::default(),
    };
    let body_key = f.string("idempotency_key");
    let req = OrderRequest {
        lines: vec![],
        email: or_empty(f.string("email")),
        address,
        shipping_option: f.string("shipping_option"),
        payment_method: or_empty(f.string("payment_method")),
        note: or_empty(f.string("note")),
        idempotency_key: body_key.or(header_key),
    };
    // Every line must name a product of one shop: ours (by its URL) or one remote product.
    let mut target: Option<Target> = None;
    let mut lines = Vec::new();
    for (i, (product, variant, quantity)) in raw_lines.into_iter().enumerate() {
        let field = if body.contains_key("lines") {
            format!("lines[{i}].product")
        } else {
            "product".to_string()
        };
        let product = product.trim().to_string();
        if product.is_empty() {
            f.errors.add(field, Problem::Required);
            continue;
        }
        let this = match state.urls.parse_product(&product) {
            Some((handle, id)) => {
                lines.push(LineRequest {
                    product: id.to_string(),
                    variant,
                    quantity,
                });
                Target::Local(handle)
            }
            None if state.urls.is_local(&product) => {
                f.errors.add(field, Problem::NotForSale);
                continue;
            }
            None if product.starts_with("https://") || product.starts_with("http://") => {
                lines.push(LineRequest {
                    product: product.clone(),
                    variant,
                    quantity,
                });
                Target::Remote(product)
            }
            None => {
                f.errors.add(field, Problem::InvalidUrl);
                continue;
            }
        };
        match (&target, &this) {
            (None, _) => target = Some(this),
            (Some(Target::Local(a)), Target::Local(b)) if a == b => {}
            // One order is with one shop; a remote order carries one product.
            _ => f.errors.add(field, Problem::NotForSale),
        }
    }
    f.finish()?;
    let target = target.ok_or_else(|| Error::field("product", Problem::Required))?;
    Ok((target, OrderRequest { lines, ..req }))
}

fn idempotency_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `POST /api/v1/orders`: 201 with the order for this instance's shops (200 and
/// `Idempotent-Replayed: true` when the same idempotency key was used before with the same
/// order); 202 with status `requested` for a shop on another instance.
pub async fn place(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let (target, req) = order_request(&state, &body, idempotency_header(&headers))?;
    match target {
        Target::Local(handle) => {
            let shop = catalog::shop_by_handle(&state.store, &handle)
                .await
                .map_err(|_| Error::field("product", Problem::NotForSale))?;
            let placed = service::place(
                &state.store,
                &state.urls,
                &shop,
                Buyer::Member(user.id.clone()),
                &req,
            )
            .await?;
            if !placed.replayed {
                state.changed();
            }
            let dto = OrderDto::new(&state.urls, &shop, &placed.order);
            let mut resp = if placed.replayed {
                (StatusCode::OK, Json(dto)).into_response()
            } else {
                (StatusCode::CREATED, Json(dto)).into_response()
            };
            if placed.replayed {
                resp.headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            Ok(resp)
        }
        Target::Remote(product) => remote::place(&state, &user, &product, &req).await,
    }
}

/// `GET /api/v1/orders`: the member's orders with every shop, here and elsewhere, newest first.
pub async fn list(State(state): State<AppState>, ApiUser(user): ApiUser) -> ApiResult<Json<Value>> {
    let mut items: Vec<(i64, Value)> = Vec::new();
    for o in db::orders::for_member(&state.store, &user.id, 200).await? {
        let shop = catalog::shop_by_id(&state.store, &o.shop_id).await?;
        let dto = OrderDto::new(&state.urls, &shop, &o);
        items.push((
            o.created_at,
            serde_json::to_value(dto).map_err(Error::internal)?,
        ));
    }
    items.extend(remote::list(&state, &user).await?);
    items.sort_by_key(|x| std::cmp::Reverse(x.0));
    Ok(Json(Value::Array(
        items.into_iter().map(|(_, v)| v).collect(),
    )))
}

/// `GET /api/v1/orders/{id}`: one of the member's orders, with its history.
pub async fn show(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    match service::for_member(&state.store, &user, &id).await {
        Ok(o) => {
            let shop = catalog::shop_by_id(&state.store, &o.shop_id).await?;
            let events = history::events(&state.store, &o).await?;
            let dto = OrderDto::new(&state.urls, &shop, &o).with_history(&events);
            Ok(Json(serde_json::to_value(dto).map_err(Error::internal)?))
        }
        Err(e) if e.kind == crate::error::ErrorKind::NotFound => {
            remote::show(&state, &user, &id).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/v1/orders/{id}/cancel`: the buyer calls off an order that is not paid yet.
pub async fn cancel(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    match service::for_member(&state.store, &user, &id).await {
        Ok(o) => {
            let change = StatusChange {
                status: OrderStatus::Cancelled.as_str().to_string(),
                ..Default::default()
            };
            let o = service::buyer_change(&state.store, &state.urls, o, &change).await?;
            state.changed();
            let shop = catalog::shop_by_id(&state.store, &o.shop_id).await?;
            let dto = OrderDto::new(&state.urls, &shop, &o);
            Ok(Json(serde_json::to_value(dto).map_err(Error::internal)?))
        }
        Err(e) if e.kind == crate::error::ErrorKind::NotFound => {
            remote::cancel(&state, &user, &id).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ShopOrdersQuery {
    pub status: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// `GET /api/v1/shops/{handle}/orders?status=&page=&per_page=`: the shop's orders, newest
/// first, for its manager.
pub async fn shop_orders(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(handle): Path<String>,
    Query(q): Query<ShopOrdersQuery>,
) -> ApiResult<Json<Value>> {
    let status = match q.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(
            OrderStatus::parse(s).ok_or_else(|| Error::field("status", Problem::InvalidChoice))?,
        ),
    };
    let (page, per_page) = catalog::paging(q.page, q.per_page, 50);
    let (shop, orders) =
        history::shop_orders(&state.store, &user, &handle, status, page, per_page).await?;
    let items: Vec<OrderDto> = orders
        .iter()
        .map(|o| OrderDto::new(&state.urls, &shop, o))
        .collect();
    Ok(Json(serde_json::json!({
        "items": items,
        "page": page,
        "per_page": per_page,
    })))
}

/// `GET /api/v1/shop-orders/{id}`: one order of a shop the caller manages, with its history.
pub async fn shop_order(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderDto>> {
    let (o, shop) = service::for_seller(&state.store, &user, &id).await?;
    let events = history::events(&state.store, &o).await?;
    Ok(Json(
        OrderDto::new(&state.urls, &shop, &o).with_history(&events),
    ))
}

/// `POST /api/v1/shop-orders/{id}/status` `{"status": "paid|shipped|delivered|cancelled|refunded",
/// "reason"?, "carrier"?, "tracking"?}`
pub async fn set_status(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<OrderDto>> {
    let mut f = Fields::new(&body);
    let change = StatusChange {
        status: or_empty(f.string("status")),
        reason: f.string("reason"),
        carrier: f.string("carrier"),
        tracking: f.string("tracking"),
    };
    f.finish()?;
    if change.status.trim().is_empty() {
        return Err(Error::field("status", Problem::Required).into());
    }
    let o = service::seller_change(&state.store, &state.urls, &user, &id, &change).await?;
    state.changed();
    let shop = catalog::shop_by_id(&state.store, &o.shop_id).await?;
    let events = history::events(&state.store, &o).await?;
    Ok(Json(
        OrderDto::new(&state.urls, &shop, &o).with_history(&events),
    ))
}

/// `GET /api/v1/shops/{handle}/checkout`: the shop's checkout settings (its manager only).
pub async fn checkout_settings(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(handle): Path<String>,
) -> ApiResult<Json<CheckoutSettings>> {
    let shop = catalog::managed_shop(&state.store, &user, &handle).await?;
    Ok(Json(service::settings(&state.store, &shop).await?))
}

/// `PUT /api/v1/shops/{handle}/checkout` with the whole settings document.
pub async fn put_checkout_settings(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(handle): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<CheckoutSettings>> {
    let input: CheckoutSettings = serde_json::from_value(Value::Object(body))
        .map_err(|e| Error::bad_request(format!("invalid checkout settings: {e}")))?;
    let saved = service::update_settings(&state.store, &user, &handle, &input).await?;
    state.changed();
    Ok(Json(saved))
}

/// Orders with shops on other instances (`federation::orders`): the member's copy, kept in
/// step by the shop's Accept, Reject and Update.
mod remote {
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::Json;
    use serde_json::{json, Value};

    use crate::api::ApiResult;
    use crate::domain::accounts::User;
    use crate::domain::orders::remote::{RemoteOrder, RemoteOrderInput};
    use crate::domain::orders::validate::OrderRequest;
    use crate::domain::rfc3339;
    use crate::error::{Error, Problem};
    use crate::federation::orders::send as fed;
    use crate::server::AppState;

    /// The member's copy as JSON: `origin: "remote"`, times as RFC 3339 like local orders.
    pub fn dto(state: &AppState, r: &RemoteOrder) -> Result<Value, Error> {
        let mut v = serde_json::to_value(r).map_err(Error::internal)?;
        v["origin"] = json!("remote");
        v["url"] = json!(state
            .urls
            .absolute(&crate::urls::Urls::remote_order_path(&r.id)));
        v["created_at"] = json!(rfc3339(r.created_at));
        v["updated_at"] = json!(rfc3339(r.updated_at));
        Ok(v)
    }

    pub async fn place(
        state: &AppState,
        user: &User,
        product: &str,
        req: &OrderRequest,
    ) -> ApiResult<Response> {
        let [line] = req.lines.as_slice() else {
            return Err(Error::field("lines", Problem::TooMany { max: 1 }).into());
        };
        let input = RemoteOrderInput {
            variant: line.variant.clone(),
            quantity: line.quantity,
            shipping: req.address.clone(),
            email: req.email.clone(),
            shipping_option: req.shipping_option.clone(),
            payment_method: req.payment_method.clone(),
            note: req.note.clone(),
            idempotency_key: req.idempotency_key.clone(),
        };
        let r = fed::place_remote(state, user, product, input).await?;
        state.changed();
        Ok((StatusCode::ACCEPTED, Json(dto(state, &r)?)).into_response())
    }

    pub async fn list(state: &AppState, user: &User) -> ApiResult<Vec<(i64, Value)>> {
        let mut out = Vec::new();
        for r in fed::remote_orders_of(state, user).await? {
            out.push((r.created_at, dto(state, &r)?));
        }
        Ok(out)
    }

    pub async fn show(state: &AppState, user: &User, id: &str) -> ApiResult<Json<Value>> {
        let r = fed::remote_order_of(state, user, id).await?;
        Ok(Json(dto(state, &r)?))
    }

    pub async fn cancel(state: &AppState, user: &User, id: &str) -> ApiResult<Json<Value>> {
        let r = fed::cancel_remote(state, user, id).await?;
        state.changed();
        Ok(Json(dto(state, &r)?))
    }
}

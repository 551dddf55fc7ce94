//! The buyer's side of an order: the guest's page behind the secret link
//! (`/orders/{id}/{secret}`), the member's page (`/orders/{id}`), cancelling while pending, and
//! a member's order history (`/orders`; its second section, orders with shops on other
//! instances, comes from `remote_orders`). These pages hold addresses: never cached, never
//! indexed, no referrer (the secret is in the URL).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::domain::catalog::service as catalog;
use crate::domain::orders::{history, service, Buyer, Order, OrderStatus, StatusChange};
use crate::error::ErrorKind;
use crate::server::AppState;
use crate::urls::Urls;
use crate::web::ctx::Visitor;
use crate::web::errors::WebResult;
use crate::web::forms::FormData;
use crate::web::i18n::Lang;
use crate::web::order_views::{status_label, OrderRow, OrderSection, OrderView};
use crate::web::remote_orders;
use crate::web::render::{private_page, see_other, Chrome};
use crate::web::social_views::date_of;
use crate::web::views::ShopView;

/// Adds the headers every order page needs, also to its error pages (which keep them).
pub fn private_headers(router: Router<AppState>) -> Router<AppState> {
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex, nofollow"),
        ))
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    t: Lang,
    c: Chrome,
    shop: ShopView,
    o: OrderView,
    /// Where the cancel form posts.
    cancel_action: String,
    /// A refused change, shown above the order.
    notice: Option<String>,
    guest: bool,
}

async fn render(
    state: &AppState,
    v: &Visitor,
    order: &Order,
    cancel_action: String,
    status: StatusCode,
    notice: Option<String>,
) -> WebResult {
    let shop = catalog::shop_by_id(&state.store, &order.shop_id).await?;
    let events = history::events(&state.store, order).await?;
    let tpl = OrderPage {
        t: v.lang,
        c: Chrome::with_forms(v),
        shop: ShopView::of(&shop, &state.settings.domain),
        o: OrderView::of(v.lang, order, &events),
        guest: order.buyer == Buyer::Guest,
        cancel_action,
        notice,
    };
    private_page(status, v, &tpl)
}

fn cancel_change() -> StatusChange {
    StatusChange {
        status: OrderStatus::Cancelled.as_str().to_string(),
        ..StatusChange::default()
    }
}

/// Cancels, then back to the page; a refused change (already paid, changed meanwhile) is
/// shown on the page with 409.
async fn cancel(state: &AppState, v: &Visitor, order: Order, back: String) -> WebResult {
    match service::buyer_change(&state.store, &state.urls, order.clone(), &cancel_change()).await {
        Ok(_) => {
            state.changed();
            Ok(see_other(&back))
        }
        Err(e) if e.kind == ErrorKind::Conflict => {
            let fresh = service::by_id(&state.store, &order.id).await?;
            let notice = Some(v.lang.s("order.cannot_cancel").to_string());
            render(
                state,
                v,
                &fresh,
                format!("{back}/cancel"),
                StatusCode::CONFLICT,
                notice,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn guest_page(
    State(state): State<AppState>,
    v: Visitor,
    Path((id, secret)): Path<(String, String)>,
) -> WebResult {
    let order = service::by_secret(&state.store, &id, &secret).await?;
    let action = format!("{}/cancel", Urls::order_secret_path(&id, &secret));
    render(&state, &v, &order, action, StatusCode::OK, None).await
}

pub async fn guest_cancel(
    State(state): State<AppState>,
    v: Visitor,
    Path((id, secret)): Path<(String, String)>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let order = service::by_secret(&state.store, &id, &secret).await?;
    cancel(&state, &v, order, Urls::order_secret_path(&id, &secret)).await
}

pub async fn member_page(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let user = v.require_user()?;
    let order = service::for_member(&state.store, user, &id).await?;
    let action = format!("{}/cancel", Urls::order_path(&id));
    render(&state, &v, &order, action, StatusCode::OK, None).await
}

pub async fn member_cancel(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    let order = service::for_member(&state.store, user, &id).await?;
    cancel(&state, &v, order, Urls::order_path(&id)).await
}

#[derive(Template)]
#[template(path = "orders.html")]
struct HistoryPage {
    t: Lang,
    c: Chrome,
    sections: Vec<OrderSection>,
}

/// The signed-in member's orders: a section for this instance's shops, one for shops on other
/// instances.
pub async fn history_page(State(state): State<AppState>, v: Visitor) -> WebResult {
    let user = v.require_user()?;
    let t = v.lang;
    let orders = history::member_orders(&state.store, user).await?;
    let mut shop_names = HashMap::new();
    let mut rows = Vec::new();
    for o in &orders {
        if !shop_names.contains_key(&o.shop_id) {
            let shop = catalog::shop_by_id(&state.store, &o.shop_id).await?;
            shop_names.insert(o.shop_id.clone(), shop.name);
        }
        let (date, datetime) = date_of(o.created_at);
        rows.push(OrderRow {
            shop_name: shop_names[&o.shop_id].clone(),
            number: o.number.clone(),
            status_code: o.status.as_str().to_string(),
            status_label: status_label(t, o.status).to_string(),
            total: o.total.display(),
            date,
            datetime,
            link: Urls::order_path(&o.id),
        });
    }
    let tpl = HistoryPage {
        t,
        c: Chrome::with_forms(&v),
        sections: vec![
            OrderSection {
                heading: t.s("orders.local_heading").to_string(),
                empty: t.s("orders.none").to_string(),
                rows,
            },
            OrderSection {
                heading: t.s("orders.remote_heading").to_string(),
                empty: t.s("orders.remote_none").to_string(),
                rows: remote_orders::history_rows(&state, t, user).await?,
            },
        ],
    };
    private_page(StatusCode::OK, &v, &tpl)
}

//! The seller's orders: the list with counts per status and paging, one order with address,
//! contact and timeline, the status-change forms the state machine allows for it (all posting
//! to `service::seller_change`), and the CSV export. Only the shop's manager gets any of it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;

use crate::domain::catalog::{Page, Shop};
use crate::domain::orders::{
    check_transition, history, service, Order, OrderStatus, Party, PaymentMethod, StatusChange,
};
use crate::error::{Error, ErrorKind, FieldErrors};
use crate::server::AppState;
use crate::urls::Urls;
use crate::web::ctx::Visitor;
use crate::web::errors::WebResult;
use crate::web::forms::{Errs, FormData};
use crate::web::i18n::Lang;
use crate::web::order_views::{status_label, OrderView};
use crate::web::orders_csv;
use crate::web::render::{private_page, see_other, Chrome};
use crate::web::social_views::date_of;
use crate::web::views::{page_number, Pager, ShopView};

/// Orders per page in the dashboard list.
const PER_PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    pub page: Option<String>,
}

/// A status filter link with its count.
struct Filter {
    label: String,
    href: String,
    count: i64,
    current: bool,
}

struct Row {
    number: String,
    link: String,
    date: String,
    datetime: String,
    buyer: String,
    items: i64,
    total: String,
    status_code: &'static str,
    status_label: &'static str,
}

#[derive(Template)]
#[template(path = "shop_orders.html")]
struct ListPage {
    t: Lang,
    c: Chrome,
    shop: ShopView,
    filters: Vec<Filter>,
    rows: Vec<Row>,
    pager: Pager,
    csv_path: String,
}

fn orders_path(handle: &str) -> String {
    format!("/dashboard/shops/{handle}/orders")
}

pub async fn list(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
    Query(q): Query<ListQuery>,
) -> WebResult {
    let user = v.require_user()?;
    let t = v.lang;
    let status = q.status.as_deref().and_then(OrderStatus::parse);
    let (shop, counts) = history::shop_counts(&state.store, user, &handle).await?;
    let page_no = page_number(q.page.as_deref());
    let (_, orders) =
        service::shop_orders(&state.store, user, &handle, status, page_no, PER_PAGE).await?;
    let base = orders_path(&shop.handle);
    let all: i64 = counts.iter().map(|(_, n)| n).sum();
    let mut filters = vec![Filter {
        label: t.s("shop_orders.all").to_string(),
        href: base.clone(),
        count: all,
        current: status.is_none(),
    }];
    for (s, n) in &counts {
        filters.push(Filter {
            label: status_label(t, *s).to_string(),
            href: format!("{base}?status={}", s.as_str()),
            count: *n,
            current: status == Some(*s),
        });
    }
    let total = match status {
        Some(s) => counts.iter().find(|(x, _)| *x == s).map_or(0, |(_, n)| *n),
        None => all,
    };
    let page: Page<()> = Page {
        items: vec![],
        total,
        page: page_no,
        per_page: PER_PAGE,
    };
    let status_param = status.map_or("", |s| s.as_str());
    let rows = orders
        .iter()
        .map(|o| {
            let (date, datetime) = date_of(o.created_at);
            Row {
                number: o.number.clone(),
                link: Urls::shop_order_path(&shop.handle, &o.id),
                date,
                datetime,
                buyer: if o.address.name.is_empty() {
                    "—".to_string()
                } else {
                    o.address.name.clone()
                },
                items: o.item_count(),
                total: o.total.display(),
                status_code: o.status.as_str(),
                status_label: status_label(t, o.status),
            }
        })
        .collect();
    let csv_path = match status {
        Some(s) => format!(
            "/dashboard/shops/{}/orders.csv?status={}",
            shop.handle,
            s.as_str()
        ),
        None => format!("/dashboard/shops/{}/orders.csv", shop.handle),
    };
    let tpl = ListPage {
        t,
        c: Chrome::with_forms(&v),
        shop: ShopView::of(&shop, &state.settings.domain),
        filters,
        rows,
        pager: Pager::of(&page, &base, &[("status", status_param)]),
        csv_path,
    };
    private_page(StatusCode::OK, &v, &tpl)
}

/// A status-change form offered for this order.
struct Action {
    status: &'static str,
    button: &'static str,
    /// Ask for carrier and tracking.
    tracking: bool,
    /// Ask for a (required) reason.
    reason: bool,
    danger: bool,
}

fn actions(o: &Order) -> Vec<Action> {
    let can = |to| check_transition(o.status, to, Party::Seller, o.payment_method).is_ok();
    let mut out = Vec::new();
    let delivered_button =
        if o.payment_method == PaymentMethod::PayAtPickup && o.status == OrderStatus::Pending {
            "shop_order.mark_collected"
        } else {
            "shop_order.mark_delivered"
        };
    for (to, button, tracking, reason, danger) in [
        (
            OrderStatus::Paid,
            "shop_order.mark_paid",
            false,
            false,
            false,
        ),
        (
            OrderStatus::Shipped,
            "shop_order.mark_shipped",
            true,
            false,
            false,
        ),
        (
            OrderStatus::Delivered,
            delivered_button,
            false,
            false,
            false,
        ),
        (
            OrderStatus::Cancelled,
            "shop_order.cancel",
            false,
            true,
            true,
        ),
        (
            OrderStatus::Refunded,
            "shop_order.refund",
            false,
            true,
            true,
        ),
    ] {
        if can(to) {
            out.push(Action {
                status: to.as_str(),
                button,
                tracking,
                reason,
                danger,
            });
        }
    }
    out
}

#[derive(Template)]
#[template(path = "shop_order.html")]
struct DetailPage {
    t: Lang,
    c: Chrome,
    shop: ShopView,
    o: OrderView,
    actions: Vec<Action>,
    /// The shipped order's tracking can be corrected.
    edit_tracking: bool,
    action_path: String,
    list_path: String,
    e: Errs,
    /// Which form the errors belong to.
    failed: String,
    notice: Option<String>,
    buyer_kind: &'static str,
}

async fn order_of(
    state: &AppState,
    v: &Visitor,
    handle: &str,
    id: &str,
) -> Result<(Order, Shop), Error> {
    let user = v
        .user
        .as_ref()
        .ok_or_else(|| Error::unauthorized("sign in first"))?;
    let (order, shop) = service::for_seller(&state.store, user, id).await?;
    if shop.handle != handle {
        return Err(Error::not_found("order"));
    }
    Ok((order, shop))
}

struct Outcome<'a> {
    problems: &'a FieldErrors,
    failed: String,
    notice: Option<String>,
    status: StatusCode,
}

async fn detail_page(
    state: &AppState,
    v: &Visitor,
    order: &Order,
    shop: &Shop,
    out: Outcome<'_>,
) -> WebResult {
    let events = history::events(&state.store, order).await?;
    let tpl = DetailPage {
        t: v.lang,
        c: Chrome::with_forms(v),
        shop: ShopView::of(shop, &state.settings.domain),
        o: OrderView::of(v.lang, order, &events),
        actions: actions(order),
        edit_tracking: order.status == OrderStatus::Shipped,
        action_path: format!("{}/status", Urls::shop_order_path(&shop.handle, &order.id)),
        list_path: orders_path(&shop.handle),
        e: Errs::from_fields(v.lang, out.problems, |f| f.to_string()),
        failed: out.failed,
        notice: out.notice,
        buyer_kind: v.lang.s(match order.buyer.kind() {
            "member" => "shop_order.buyer_member",
            "remote" => "shop_order.buyer_remote",
            _ => "shop_order.buyer_guest",
        }),
    };
    private_page(out.status, v, &tpl)
}

pub async fn detail(
    State(state): State<AppState>,
    v: Visitor,
    Path((handle, id)): Path<(String, String)>,
) -> WebResult {
    v.require_user()?;
    let (order, shop) = order_of(&state, &v, &handle, &id).await?;
    let out = Outcome {
        problems: &FieldErrors::new(),
        failed: String::new(),
        notice: None,
        status: StatusCode::OK,
    };
    detail_page(&state, &v, &order, &shop, out).await
}

/// One route for every status-change form.
pub async fn change(
    State(state): State<AppState>,
    v: Visitor,
    Path((handle, id)): Path<(String, String)>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    let (order, shop) = order_of(&state, &v, &handle, &id).await?;
    let opt = |k: &str| Some(form.text(k).to_string()).filter(|s| !s.trim().is_empty());
    let change = StatusChange {
        status: form.text("status").to_string(),
        reason: opt("reason"),
        carrier: opt("carrier"),
        tracking: opt("tracking"),
    };
    match service::seller_change(&state.store, &state.urls, user, &order.id, &change).await {
        Ok(_) => {
            state.changed();
            Ok(see_other(&Urls::shop_order_path(&shop.handle, &order.id)))
        }
        Err(e) if matches!(e.kind, ErrorKind::Validation | ErrorKind::Conflict) => {
            let fresh = service::by_id(&state.store, &order.id).await?;
            let conflict = e.kind == ErrorKind::Conflict;
            let out = Outcome {
                problems: &e.fields,
                failed: form.text("form").to_string(),
                notice: conflict.then(|| v.lang.s("shop_order.refused").to_string()),
                status: if conflict {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                },
            };
            detail_page(&state, &v, &fresh, &shop, out).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn export(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
    Query(q): Query<ListQuery>,
) -> WebResult {
    let user = v.require_user()?;
    let status = q.status.as_deref().and_then(OrderStatus::parse);
    let (shop, orders) = history::shop_export(&state.store, user, &handle, status).await?;
    let body = orders_csv::export(&orders);
    let name = match status {
        Some(s) => format!("orders-{}-{}.csv", shop.handle, s.as_str()),
        None => format!("orders-{}.csv", shop.handle),
    };
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

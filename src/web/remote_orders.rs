//! A member's orders with shops on other instances: the page of one (`/orders/remote/{id}`,
//! only its member; others 404) with what the shop reported (number, lines, totals, how to
//! pay, tracking) and the member's own address, asking the shop to cancel, and the rows of
//! the second section of `/orders`. The shop's instance decides everything about the order;
//! these pages only show its last word (`federation::orders::send`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::domain::accounts::User;
use crate::domain::money::{Currency, Money};
use crate::domain::orders::remote::{RemoteLine, RemoteOrder, RemoteStatus};
use crate::domain::orders::{OrderStatus, PaymentMethod};
use crate::error::ErrorKind;
use crate::federation::orders::send;
use crate::server::AppState;
use crate::urls::Urls;
use crate::web::ctx::Visitor;
use crate::web::errors::WebResult;
use crate::web::forms::FormData;
use crate::web::i18n::Lang;
use crate::web::order_views::{method_label, status_label, LineView, OrderRow};
use crate::web::render::{private_page, see_other, Chrome};
use crate::web::social_views::{date_of, web_link};

/// What the member's instance knows of the order's status, in words.
pub fn remote_status_label(t: Lang, s: RemoteStatus) -> &'static str {
    match s {
        RemoteStatus::Requested => t.s("order_status.requested"),
        RemoteStatus::Rejected => t.s("order_status.rejected"),
        RemoteStatus::Order(o) => status_label(t, o),
    }
}

/// A decimal amount as the shop reported it, formatted like our own when the currency is
/// known (as it is once the shop accepted), else as given.
fn amount(value: &str, currency: Option<&str>) -> String {
    match currency.and_then(Currency::from_code) {
        Some(c) => Money::parse(value, c)
            .map(|m| m.display())
            .unwrap_or_else(|_| format!("{value} {}", c.code)),
        None => value.to_string(),
    }
}

fn line_view(l: &RemoteLine, currency: Option<&str>) -> LineView {
    let money = currency
        .and_then(Currency::from_code)
        .and_then(|c| Money::parse(&l.unit_price, c).ok());
    LineView {
        title: l.title.clone(),
        variant: l.variant.clone().unwrap_or_default(),
        sku: l.sku.clone().unwrap_or_default(),
        quantity: l.quantity,
        unit: amount(&l.unit_price, currency),
        total: money
            .and_then(|m| m.checked_mul(l.quantity))
            .map(|m| m.display())
            .unwrap_or_default(),
    }
}

/// A link the shop's server gave us, only when it is a plain http(s) URL.
fn http_link(url: &Option<String>) -> Option<String> {
    url.clone().filter(|u| {
        let lower = u.to_ascii_lowercase();
        (lower.starts_with("https://") || lower.starts_with("http://"))
            && !u.chars().any(|c| c.is_control() || c.is_whitespace())
    })
}

/// The shop's name when known, else its actor id.
fn shop_label(r: &RemoteOrder) -> String {
    r.shop_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| r.shop_actor.clone())
}

/// `host[:port]` of the shop's actor id.
fn host_of(id: &str) -> String {
    let Ok(u) = url::Url::parse(id) else {
        return String::new();
    };
    match (u.host_str(), u.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

/// A remote order, ready for the template.
pub struct RemoteOrderView {
    pub title: String,
    pub product_link: Option<String>,
    pub variant: String,
    pub quantity: i64,
    pub shop_name: String,
    pub shop_link: Option<String>,
    pub shop_host: String,
    /// The shop's order number, once it accepted.
    pub number: Option<String>,
    pub status: RemoteStatus,
    pub status_code: &'static str,
    pub status_label: &'static str,
    pub date: String,
    pub datetime: String,
    pub updated: String,
    pub updated_datetime: String,
    pub lines: Vec<LineView>,
    pub subtotal: Option<String>,
    pub shipping: Option<String>,
    pub total: Option<String>,
    pub method_label: &'static str,
    /// Paragraphs of the shop's payment instructions.
    pub instructions: Vec<String>,
    pub payment_url: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub reason: Option<String>,
    /// Name, street lines, postal code and city, country, phone; empty once forgotten.
    pub address: Vec<String>,
    pub email: String,
    pub note: String,
}

impl RemoteOrderView {
    pub fn of(state: &AppState, t: Lang, r: &RemoteOrder) -> RemoteOrderView {
        let (date, datetime) = date_of(r.created_at);
        let (updated, updated_datetime) = date_of(r.updated_at);
        let currency = r.currency.as_deref();
        let a = &r.shipping;
        let mut address = Vec::new();
        if !a.name.is_empty() {
            address.push(a.name.clone());
            address.extend(a.address_lines.iter().filter(|l| !l.is_empty()).cloned());
            address.push(format!("{} {}", a.postal_code, a.city).trim().to_string());
            address.push(a.country.clone());
            if !a.phone.is_empty() {
                address.push(a.phone.clone());
            }
        }
        let method = PaymentMethod::parse(&r.payment_method);
        RemoteOrderView {
            title: if r.product_title.is_empty() {
                r.product.clone()
            } else {
                r.product_title.clone()
            },
            product_link: web_link(state, &r.product),
            variant: r.variant.clone().unwrap_or_default(),
            quantity: r.quantity,
            shop_name: shop_label(r),
            shop_link: web_link(state, &r.shop_actor),
            shop_host: host_of(&r.shop_actor),
            number: r.number.clone().filter(|n| !n.is_empty()),
            status: r.status,
            status_code: r.status.as_str(),
            status_label: remote_status_label(t, r.status),
            date,
            datetime,
            updated,
            updated_datetime,
            lines: r.lines.iter().map(|l| line_view(l, currency)).collect(),
            subtotal: r.subtotal.as_deref().map(|v| amount(v, currency)),
            shipping: r.shipping_price.as_deref().map(|v| amount(v, currency)),
            total: r.total.as_deref().map(|v| amount(v, currency)),
            method_label: method.map_or("", |m| method_label(t, m)),
            instructions: r
                .payment_instructions
                .as_deref()
                .unwrap_or_default()
                .split("\n\n")
                .map(str::to_string)
                .filter(|s| !s.trim().is_empty())
                .collect(),
            payment_url: http_link(&r.payment_url),
            carrier: r.carrier.clone(),
            tracking: r.tracking.clone(),
            reason: r.reason.clone().filter(|s| !s.trim().is_empty()),
            address,
            email: r.email.clone(),
            note: r.note.clone(),
        }
    }

    pub fn is_requested(&self) -> bool {
        self.status == RemoteStatus::Requested
    }

    pub fn is_rejected(&self) -> bool {
        self.status == RemoteStatus::Rejected
    }

    /// The member still has to pay: show how.
    pub fn awaits_payment(&self) -> bool {
        self.status == RemoteStatus::Order(OrderStatus::Pending)
            && (!self.instructions.is_empty() || self.payment_url.is_some())
    }

    pub fn cancellable(&self) -> bool {
        self.status.cancellable()
    }
}

#[derive(Template)]
#[template(path = "remote_order.html")]
struct RemoteOrderPage {
    t: Lang,
    c: Chrome,
    o: RemoteOrderView,
    cancel_action: String,
    /// A refused cancel (error style).
    notice: Option<String>,
    /// Something that went through (info style).
    info: Option<String>,
}

fn render(
    state: &AppState,
    v: &Visitor,
    r: &RemoteOrder,
    status: StatusCode,
    notice: Option<String>,
    info: Option<String>,
) -> WebResult {
    let tpl = RemoteOrderPage {
        t: v.lang,
        c: Chrome::with_forms(v),
        o: RemoteOrderView::of(state, v.lang, r),
        cancel_action: format!("{}/cancel", Urls::remote_order_path(&r.id)),
        notice,
        info,
    };
    private_page(status, v, &tpl)
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    cancel: Option<String>,
}

/// `GET /orders/remote/{id}`.
pub async fn page(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> WebResult {
    let user = v.require_user()?;
    let r = send::remote_order_of(&state, user, &id).await?;
    let info = (q.cancel.as_deref() == Some("asked") && r.status.cancellable())
        .then(|| v.lang.s("remote_order.cancel_asked").to_string());
    render(&state, &v, &r, StatusCode::OK, None, info)
}

/// `POST /orders/remote/{id}/cancel`: asks the shop to cancel (an `Undo` of the Offer). A
/// refusal (no answer from the shop yet, already paid) is shown on the page with 409.
pub async fn cancel(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    match send::cancel_remote(&state, user, &id).await {
        Ok(_) => {
            state.changed();
            Ok(see_other(&format!(
                "{}?cancel=asked",
                Urls::remote_order_path(&id)
            )))
        }
        Err(e) if e.kind == ErrorKind::Conflict => {
            let r = send::remote_order_of(&state, user, &id).await?;
            let key = if r.status == RemoteStatus::Requested {
                "remote_order.cannot_cancel_yet"
            } else {
                "order.cannot_cancel"
            };
            let notice = Some(v.lang.s(key).to_string());
            render(&state, &v, &r, StatusCode::CONFLICT, notice, None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The rows of the "other servers" section of the member's history.
pub async fn history_rows(state: &AppState, t: Lang, user: &User) -> WebResult<Vec<OrderRow>> {
    let orders = send::remote_orders_of(state, user).await?;
    Ok(orders
        .iter()
        .map(|r| {
            let (date, datetime) = date_of(r.created_at);
            OrderRow {
                shop_name: shop_label(r),
                number: r
                    .number
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "—".to_string()),
                status_code: r.status.as_str().to_string(),
                status_label: remote_status_label(t, r.status).to_string(),
                total: r
                    .total
                    .as_deref()
                    .map(|v| amount(v, r.currency.as_deref()))
                    .unwrap_or_default(),
                date,
                datetime,
                link: Urls::remote_order_path(&r.id),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_formatted_when_the_currency_is_known() {
        assert_eq!(amount("8.00", Some("EUR")), "€8.00");
        assert_eq!(amount("8.00", None), "8.00");
        assert_eq!(amount("8.0.0", Some("EUR")), "8.0.0 EUR");
        let l = RemoteLine {
            product: "https://a.example/p".into(),
            title: "Tea".into(),
            variant: None,
            sku: Some("T-1".into()),
            quantity: 3,
            unit_price: "2.50".into(),
        };
        let v = line_view(&l, Some("EUR"));
        assert_eq!((v.unit.as_str(), v.total.as_str()), ("€2.50", "€7.50"));
    }

    #[test]
    fn the_shops_server_is_named_with_its_port() {
        assert_eq!(host_of("https://a.example/shops/t"), "a.example");
        assert_eq!(host_of("http://127.0.0.1:8080/shops/t"), "127.0.0.1:8080");
        assert_eq!(host_of("not a url"), "");
    }

    #[test]
    fn only_http_payment_links_are_shown() {
        assert!(http_link(&Some("https://pay.example/x".into())).is_some());
        assert!(http_link(&Some("javascript:alert(1)".into())).is_none());
        assert!(http_link(&Some("https://pay.example/a b".into())).is_none());
        assert!(http_link(&None).is_none());
    }
}

//! View models of orders shared by the buyer's pages, the history and the seller's dashboard:
//! lines, totals, address, payment, tracking and the status timeline, ready for templates
//! (amounts formatted, labels translated). No I/O.

use crate::domain::orders::{Order, OrderEvent, OrderLine, OrderStatus, PaymentMethod};
use crate::web::i18n::Lang;
use crate::web::social_views::date_of;

pub fn status_label(t: Lang, s: OrderStatus) -> &'static str {
    t.s(match s {
        OrderStatus::Pending => "order_status.pending",
        OrderStatus::Paid => "order_status.paid",
        OrderStatus::Shipped => "order_status.shipped",
        OrderStatus::Delivered => "order_status.delivered",
        OrderStatus::Cancelled => "order_status.cancelled",
        OrderStatus::Refunded => "order_status.refunded",
        OrderStatus::Expired => "order_status.expired",
    })
}

pub fn method_label(t: Lang, m: PaymentMethod) -> &'static str {
    t.s(match m {
        PaymentMethod::BankTransfer => "payment.bank_transfer",
        PaymentMethod::CashOnDelivery => "payment.cash_on_delivery",
        PaymentMethod::PayAtPickup => "payment.pay_at_pickup",
        PaymentMethod::PaymentLink => "payment.payment_link",
    })
}

/// One ordered line.
#[derive(Clone, Debug)]
pub struct LineView {
    pub title: String,
    pub variant: String,
    pub sku: String,
    pub quantity: i64,
    pub unit: String,
    pub total: String,
}

impl LineView {
    pub fn of(l: &OrderLine) -> LineView {
        LineView {
            title: l.title.clone(),
            variant: l.variant_title.clone(),
            sku: l.sku.clone(),
            quantity: l.quantity,
            unit: l.unit_price.display(),
            total: l.line_total.display(),
        }
    }
}

/// One entry of the status timeline.
#[derive(Clone, Debug)]
pub struct EventView {
    pub status: &'static str,
    pub by: &'static str,
    pub reason: String,
    pub date: String,
    pub datetime: String,
}

impl EventView {
    fn of(t: Lang, e: &OrderEvent) -> EventView {
        let (date, datetime) = date_of(e.created_at);
        EventView {
            status: OrderStatus::parse(&e.to).map_or("?", |s| status_label(t, s)),
            by: t.s(match e.actor.as_str() {
                "seller" => "order.by_seller",
                "system" => "order.by_system",
                _ => "order.by_buyer",
            }),
            reason: e.reason.clone(),
            date: format!("{} {}", date, datetime.get(11..16).unwrap_or_default()),
            datetime,
        }
    }
}

/// A whole order as its buyer or its seller sees it.
#[derive(Clone, Debug)]
pub struct OrderView {
    pub number: String,
    pub status: OrderStatus,
    pub status_label: &'static str,
    pub date: String,
    pub datetime: String,
    pub lines: Vec<LineView>,
    pub subtotal: String,
    pub shipping_option: String,
    pub shipping: String,
    pub total: String,
    /// Name, street lines, postal code and city, country, phone; empty once erased.
    pub address: Vec<String>,
    pub email: String,
    pub note: String,
    pub method: PaymentMethod,
    pub method_label: &'static str,
    /// Paragraphs of the payment instructions.
    pub instructions: Vec<String>,
    pub payment_url: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub reason: Option<String>,
    /// When an unpaid order's hold ends, while it is pending.
    pub hold_until: Option<(String, String)>,
    pub timeline: Vec<EventView>,
}

impl OrderView {
    pub fn of(t: Lang, o: &Order, events: &[OrderEvent]) -> OrderView {
        let (date, datetime) = date_of(o.created_at);
        let a = &o.address;
        let mut address = Vec::new();
        if !o.address_erased && !a.name.is_empty() {
            address.push(a.name.clone());
            address.extend(a.address_lines.iter().cloned());
            address.push(format!("{} {}", a.postal_code, a.city).trim().to_string());
            address.push(a.country.clone());
            if !a.phone.is_empty() {
                address.push(a.phone.clone());
            }
        }
        OrderView {
            number: o.number.clone(),
            status: o.status,
            status_label: status_label(t, o.status),
            date,
            datetime,
            lines: o.lines.iter().map(LineView::of).collect(),
            subtotal: o.subtotal.display(),
            shipping_option: o.shipping_option.clone(),
            shipping: o.shipping.display(),
            total: o.total.display(),
            address,
            email: o.email.clone(),
            note: o.buyer_note.clone(),
            method: o.payment_method,
            method_label: method_label(t, o.payment_method),
            instructions: o
                .payment_instructions
                .split("\n\n")
                .map(str::to_string)
                .filter(|s| !s.trim().is_empty())
                .collect(),
            payment_url: o
                .payment_url
                .clone()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            carrier: o.carrier.clone(),
            tracking: o.tracking.clone(),
            reason: o.reason.clone(),
            hold_until: o
                .hold_until
                .filter(|_| o.status == OrderStatus::Pending)
                .map(date_of),
            timeline: events.iter().map(|e| EventView::of(t, e)).collect(),
        }
    }

    pub fn is_pending(&self) -> bool {
        self.status == OrderStatus::Pending
    }

    /// The buyer still has to pay in advance: show how.
    pub fn awaits_payment(&self) -> bool {
        self.status == OrderStatus::Pending
    }

    pub fn is_payment_link(&self) -> bool {
        self.method == PaymentMethod::PaymentLink
    }

    pub fn status_code(&self) -> &'static str {
        self.status.as_str()
    }
}

/// One order in a list (a member's history; remote orders join as further sections).
#[derive(Clone, Debug)]
pub struct OrderRow {
    pub shop_name: String,
    pub number: String,
    pub status_code: String,
    pub status_label: String,
    pub total: String,
    pub date: String,
    pub datetime: String,
    pub link: String,
}

/// A titled list of orders on the history page.
#[derive(Clone, Debug)]
pub struct OrderSection {
    pub heading: String,
    pub empty: String,
    pub rows: Vec<OrderRow>,
}

//! JSON shapes of orders and checkout settings. The buyer and the shop's manager see the
//! address and contact of an order; nobody else gets an order at all.

use serde::Serialize;

use crate::domain::catalog::Shop;
use crate::domain::orders::{Address, Buyer, Order, OrderEvent};
use crate::domain::rfc3339;
use crate::urls::Urls;

#[derive(Serialize)]
pub struct OrderLineDto {
    pub product: String,
    pub product_id: String,
    pub variant: Option<String>,
    pub variant_title: String,
    pub sku: String,
    pub title: String,
    pub quantity: i64,
    pub unit_price: String,
    pub line_total: String,
}

#[derive(Serialize)]
pub struct ShopRefDto {
    pub handle: String,
    pub name: String,
    pub url: String,
}

#[derive(Serialize)]
pub struct HistoryDto {
    pub from: String,
    pub to: String,
    pub by: String,
    pub reason: String,
    pub at: String,
}

impl HistoryDto {
    pub fn new(e: &OrderEvent) -> Self {
        HistoryDto {
            from: e.from.clone(),
            to: e.to.clone(),
            by: e.actor.clone(),
            reason: e.reason.clone(),
            at: rfc3339(e.created_at),
        }
    }
}

#[derive(Serialize)]
pub struct OrderDto {
    pub id: String,
    pub number: String,
    /// The order's page (for a member buyer) and its ActivityPub id.
    pub url: String,
    /// `local` for orders with this instance's shops, `remote` for orders sent to another
    /// instance's shop.
    pub origin: &'static str,
    pub shop: ShopRefDto,
    pub status: &'static str,
    /// guest, member or remote.
    pub buyer: &'static str,
    /// The remote buyer's actor id, for orders that came from another instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_actor: Option<String>,
    pub email: String,
    pub shipping: Address,
    pub note: String,
    pub lines: Vec<OrderLineDto>,
    pub currency: &'static str,
    pub subtotal: String,
    pub shipping_option: String,
    pub shipping_price: String,
    pub total: String,
    pub payment_method: &'static str,
    pub payment_instructions: String,
    pub payment_url: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub reason: Option<String>,
    /// Until when an unpaid order holds its stock.
    pub expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub paid_at: Option<String>,
    pub shipped_at: Option<String>,
    pub delivered_at: Option<String>,
    pub address_erased: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryDto>>,
}

impl OrderDto {
    pub fn new(urls: &Urls, shop: &Shop, o: &Order) -> Self {
        OrderDto {
            id: o.id.clone(),
            number: o.number.clone(),
            url: urls.order(&o.id),
            origin: "local",
            shop: ShopRefDto {
                handle: shop.handle.clone(),
                name: shop.name.clone(),
                url: urls.shop(&shop.handle),
            },
            status: o.status.as_str(),
            buyer: o.buyer.kind(),
            buyer_actor: match &o.buyer {
                Buyer::Remote { actor, .. } => Some(actor.clone()),
                _ => None,
            },
            email: o.email.clone(),
            shipping: o.address.clone(),
            note: o.buyer_note.clone(),
            lines: o
                .lines
                .iter()
                .map(|l| OrderLineDto {
                    product: urls.product(&shop.handle, &l.product_id),
                    product_id: l.product_id.to_string(),
                    variant: l.variant_id.clone(),
                    variant_title: l.variant_title.clone(),
                    sku: l.sku.clone(),
                    title: l.title.clone(),
                    quantity: l.quantity,
                    unit_price: l.unit_price.amount_string(),
                    line_total: l.line_total.amount_string(),
                })
                .collect(),
            currency: o.total.currency.code,
            subtotal: o.subtotal.amount_string(),
            shipping_option: o.shipping_option.clone(),
            shipping_price: o.shipping.amount_string(),
            total: o.total.amount_string(),
            payment_method: o.payment_method.as_str(),
            payment_instructions: o.payment_instructions.clone(),
            payment_url: o.payment_url.clone(),
            carrier: o.carrier.clone(),
            tracking: o.tracking.clone(),
            reason: o.reason.clone(),
            expires_at: o.hold_until.map(rfc3339),
            created_at: rfc3339(o.created_at),
            updated_at: rfc3339(o.updated_at),
            paid_at: o.paid_at.map(rfc3339),
            shipped_at: o.shipped_at.map(rfc3339),
            delivered_at: o.delivered_at.map(rfc3339),
            address_erased: o.address_erased,
            history: None,
        }
    }

    pub fn with_history(mut self, events: &[OrderEvent]) -> Self {
        self.history = Some(events.iter().map(HistoryDto::new).collect());
        self
    }
}

//! Orders: what a buyer asked for, what the shop's instance decided, and every status change.
//! Types and the state machine here; checkout settings in `checkout.rs`, input checks in
//! `validate.rs`, use cases (placing, status changes, expiry, retention) in `service.rs`,
//! notification texts in `notices.rs`, listings and timelines in `history.rs`. The seller's
//! instance alone decides prices, stock and totals. Imports no axum and nothing from
//! `federation`.

pub mod checkout;
pub mod history;
pub mod notices;
pub mod remote;
pub mod service;
pub mod status;
pub mod validate;

use std::fmt;

use crate::domain::ids::{ProductId, ShopId, UserId};
use crate::domain::money::Money;

pub use checkout::{CheckoutSettings, PaymentMethod, PaymentOption, ShippingOption};

/// Where an order is in its life. `pending` holds stock for the buyer; `cancelled`, `expired`
/// and `refunded` are final; `delivered` is final except for a refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Placed; stock reserved; waiting for payment (or for delivery, when paid on delivery).
    Pending,
    /// The seller recorded the payment.
    Paid,
    /// Handed to a carrier.
    Shipped,
    /// Received by the buyer (for cash on delivery and pickup, payment collected too).
    Delivered,
    /// Called off before payment; stock released.
    Cancelled,
    /// Money returned after payment; stock released unless the goods had left.
    Refunded,
    /// Not paid within the shop's hold time; stock released.
    Expired,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
        OrderStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL
            .into_iter()
            .find(|x| x.as_str() == s.trim())
    }

    /// No further change is possible.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Cancelled | OrderStatus::Refunded | OrderStatus::Expired
        )
    }

    /// The order is over (for retention of the address): final, or delivered.
    pub fn is_closed(self) -> bool {
        self.is_final() || self == OrderStatus::Delivered
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who asks for a status change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// The shop's owner (or an admin of its instance).
    Seller,
    /// Whoever placed the order.
    Buyer,
    /// The instance itself (hold time elapsed).
    System,
}

impl Party {
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Seller => "seller",
            Party::Buyer => "buyer",
            Party::System => "system",
        }
    }
}

/// Why a status change is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub by: Party,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} cannot move an order from {} to {}",
            self.by.as_str(),
            self.from,
            self.to
        )
    }
}

/// The state machine. `Ok(())` when `by` may move an order paid with `method` from `from` to
/// `to`. Staying in the same status is not a transition (callers treat it as a no-op).
///
/// - seller: pending → paid; paid → shipped; shipped → delivered; pending → cancelled;
///   paid, shipped or delivered → refunded; with cash on delivery pending → shipped; with
///   pay at pickup pending → delivered (collected and paid at the counter).
/// - buyer: pending → cancelled (after payment a buyer asks the seller for a refund).
/// - system: pending → expired, only for methods paid in advance.
pub fn check_transition(
    from: OrderStatus,
    to: OrderStatus,
    by: Party,
    method: PaymentMethod,
) -> Result<(), IllegalTransition> {
    use OrderStatus::*;
    let allowed = match by {
        Party::Seller => match (from, to) {
            (Pending, Paid) | (Paid, Shipped) | (Shipped, Delivered) | (Pending, Cancelled) => true,
            (Paid | Shipped | Delivered, Refunded) => true,
            (Pending, Shipped) => method == PaymentMethod::CashOnDelivery,
            (Pending, Delivered) => method == PaymentMethod::PayAtPickup,
            _ => false,
        },
        Party::Buyer => matches!((from, to), (Pending, Cancelled)),
        Party::System => from == Pending && to == Expired && method.paid_in_advance(),
    };
    if allowed {
        Ok(())
    } else {
        Err(IllegalTransition { from, to, by })
    }
}

/// Whether moving from `from` to `to` gives the reserved units back to the shop's stock: the
/// goods never left (cancelled, expired, or refunded before shipment).
pub fn releases_stock(from: OrderStatus, to: OrderStatus) -> bool {
    match to {
        OrderStatus::Cancelled | OrderStatus::Expired => true,
        OrderStatus::Refunded => matches!(from, OrderStatus::Pending | OrderStatus::Paid),
        _ => false,
    }
}

/// Whether reaching `to` from `from` means the seller has the money (records `paid_at`).
pub fn records_payment(from: OrderStatus, to: OrderStatus, method: PaymentMethod) -> bool {
    match to {
        OrderStatus::Paid => true,
        // Cash on delivery and pay at pickup: the hand-over is the payment.
        OrderStatus::Delivered => {
            method.paid_on_handover() && matches!(from, OrderStatus::Pending | OrderStatus::Shipped)
        }
        _ => false,
    }
}

/// Who placed an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Buyer {
    /// Someone without an account here, reached by e-mail and a secret link.
    Guest,
    /// A member of this instance.
    Member(UserId),
    /// An actor on another instance; `offer_id` is its `Offer` activity, `inbox` the actor's
    /// own inbox (answers about an order never go to a shared inbox).
    Remote {
        actor: String,
        inbox: String,
        offer_id: String,
    },
}

impl Buyer {
    pub fn kind(&self) -> &'static str {
        match self {
            Buyer::Guest => "guest",
            Buyer::Member(_) => "member",
            Buyer::Remote { .. } => "remote",
        }
    }
}

/// Where the goods go. Seen only by the buyer and the shop's owner.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Address {
    pub name: String,
    pub address_lines: Vec<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    #[serde(default)]
    pub phone: String,
}

/// One line as stored: a snapshot of what was sold, at the price the shop decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: ProductId,
    pub variant_id: Option<String>,
    pub title: String,
    /// "M / Red", or empty.
    pub variant_title: String,
    pub sku: String,
    pub unit_price: Money,
    pub quantity: i64,
    pub line_total: Money,
}

/// An order with one of this instance's shops.
#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    /// Short, human-friendly, unique: what the buyer quotes (also the bank transfer reference).
    pub number: String,
    pub shop_id: ShopId,
    pub status: OrderStatus,
    pub buyer: Buyer,
    pub email: String,
    /// Empty strings once erased after the retention period.
    pub address: Address,
    pub buyer_note: String,
    pub shipping_option: String,
    pub shipping: Money,
    pub payment_method: PaymentMethod,
    /// What the buyer must do to pay (bank details and reference, pickup place, ...).
    pub payment_instructions: String,
    /// FEP-0ea0 payment link, for the payment-link method.
    pub payment_url: Option<String>,
    pub lines: Vec<OrderLine>,
    pub subtotal: Money,
    pub total: Money,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    /// Why it was cancelled or refunded.
    pub reason: Option<String>,
    /// Unpaid orders paid in advance expire at this time.
    pub hold_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub paid_at: Option<i64>,
    pub shipped_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub address_erased: bool,
}

impl Order {
    pub fn item_count(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }
}

/// One stored status change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderEvent {
    pub from: String,
    pub to: String,
    /// "seller", "buyer", "system", or the actor id of a remote buyer.
    pub actor: String,
    pub reason: String,
    pub created_at: i64,
}

/// A status change asked for by the seller or the buyer.
#[derive(Clone, Debug, Default)]
pub struct StatusChange {
    pub status: String,
    pub reason: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
}

#[cfg(test)]
mod tests;

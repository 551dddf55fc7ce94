//! What the buyer and the seller are told about an order, as plain-text mails, and the payment
//! instructions printed on the order. Pure functions: the service queues what they return in
//! the transaction of the change.

use super::checkout::{CheckoutSettings, PaymentMethod, PaymentOption};
use super::{Buyer, Order, OrderStatus};
use crate::domain::catalog::Shop;
use crate::domain::money::Money;
use crate::urls::Urls;

/// One message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// What the buyer must do to pay, as stored on the order. Never claims a payment happened.
pub fn payment_instructions(p: &PaymentOption, number: &str, total: Money) -> String {
    let details = p.details.trim();
    let mut s = match p.method {
        PaymentMethod::BankTransfer => format!(
            "Please transfer {} quoting the reference {number}.",
            total.display()
        ),
        PaymentMethod::CashOnDelivery => {
            format!(
                "Pay {} in cash when the parcel is delivered.",
                total.display()
            )
        }
        PaymentMethod::PayAtPickup => {
            format!("Pay {} when you collect your order.", total.display())
        }
        PaymentMethod::PaymentLink => format!(
            "Pay {} on the shop's payment page, quoting the reference {number}.",
            total.display()
        ),
    };
    if !details.is_empty() {
        s.push_str("\n\n");
        s.push_str(details);
    }
    s
}

fn lines(order: &Order) -> String {
    let mut s = String::new();
    for l in &order.lines {
        let variant = if l.variant_title.is_empty() {
            String::new()
        } else {
            format!(" ({})", l.variant_title)
        };
        s.push_str(&format!(
            "  {} x {}{} — {}\n",
            l.quantity,
            l.title,
            variant,
            l.line_total.display()
        ));
    }
    s.push_str(&format!(
        "  Shipping: {} — {}\n  Total: {}\n",
        order.shipping_option,
        order.shipping.display(),
        order.total.display()
    ));
    s
}

/// Where the buyer follows the order: the secret link for guests, the member's page otherwise.
pub fn order_link(urls: &Urls, order: &Order, secret: Option<&str>) -> String {
    match (&order.buyer, secret) {
        (Buyer::Guest, Some(s)) => urls.absolute(&Urls::order_secret_path(&order.id, s)),
        _ => urls.absolute(&Urls::order_path(&order.id)),
    }
}

/// Mails for a new order: the buyer (when an address was given) and the seller (when the shop
/// set a notification address).
pub fn placed(
    urls: &Urls,
    shop: &Shop,
    settings: &CheckoutSettings,
    order: &Order,
    secret: &str,
) -> Vec<Mail> {
    let mut out = Vec::new();
    if !order.email.is_empty() {
        let link = order_link(urls, order, Some(secret));
        out.push(Mail {
            to: order.email.clone(),
            subject: format!("Your order {} with {}", order.number, shop.name),
            body: format!(
                "Thank you for your order with {}.\n\nOrder {}\n{}\nHow to pay:\n{}\n\n\
                 Follow your order here (keep this link private):\n{link}\n",
                shop.name,
                order.number,
                lines(order),
                order.payment_instructions
            ),
        });
    }
    if let Some(to) = &settings.notify_email {
        out.push(Mail {
            to: to.clone(),
            subject: format!("New order {} ({})", order.number, order.total.display()),
            body: format!(
                "A new order was placed with {}.\n\nOrder {}\n{}\nPayment method: {}\n\n\
                 Open it in your dashboard:\n{}\n",
                shop.name,
                order.number,
                lines(order),
                order.payment_method.as_str(),
                urls.absolute(&Urls::shop_order_path(&shop.handle, &order.id))
            ),
        });
    }
    out
}

/// The buyer's mail about a status change (when the order has an address).
pub fn status_changed(urls: &Urls, shop: &Shop, order: &Order) -> Vec<Mail> {
    if order.email.is_empty() {
        return vec![];
    }
    let what = match order.status {
        OrderStatus::Pending => return vec![],
        OrderStatus::Paid => "The shop has received your payment.".to_string(),
        OrderStatus::Shipped => {
            let mut s = "Your order is on its way.".to_string();
            if let Some(c) = &order.carrier {
                s.push_str(&format!("\nCarrier: {c}"));
            }
            if let Some(t) = &order.tracking {
                s.push_str(&format!("\nTracking: {t}"));
            }
            s
        }
        OrderStatus::Delivered => "Your order was delivered.".to_string(),
        OrderStatus::Cancelled => "Your order was cancelled.".to_string(),
        OrderStatus::Refunded => "Your order was refunded.".to_string(),
        OrderStatus::Expired => {
            "Your order expired because it was not paid in time; the items were released."
                .to_string()
        }
    };
    let reason = order
        .reason
        .as_deref()
        .filter(|_| matches!(order.status, OrderStatus::Cancelled | OrderStatus::Refunded))
        .map(|r| format!("\nReason: {r}"))
        .unwrap_or_default();
    let page = match order.buyer {
        Buyer::Guest => {
            "Your order page (the link in the first mail) shows every step.".to_string()
        }
        _ => format!("Your order page: {}", order_link(urls, order, None)),
    };
    vec![Mail {
        to: order.email.clone(),
        subject: format!(
            "Order {} with {}: {}",
            order.number, shop.name, order.status
        ),
        body: format!(
            "{what}{reason}\n\nOrder {}\n{}\n{page}\n",
            order.number,
            lines(order),
        ),
    }]
}

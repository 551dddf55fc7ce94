//! Domain events: what changed, recorded in the same transaction as the change (the
//! transactional outbox). The federation worker turns them into activities and deliveries, so
//! a change is never committed without its announcement, and nothing waits in memory.
//! Imports nothing from `federation`.

use crate::db::{outbox, Tx};
use crate::error::Result;

/// One change worth telling followers about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A product was created, edited, published, archived or set back to draft.
    ProductChanged { product_id: String },
    /// A product was deleted; its shop handle is kept to mint its id.
    ProductDeleted {
        product_id: String,
        shop_handle: String,
    },
    /// A shop's profile changed.
    ShopChanged { shop_id: String },
    /// An order was placed with one of our shops (a remote buyer gets the shop's `Accept`).
    OrderPlaced { order_id: String },
    /// An order moved to `status` (a remote buyer gets an `Update` of the order).
    OrderStatusChanged { order_id: String, status: String },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ProductChanged { .. } => "product_changed",
            Event::ProductDeleted { .. } => "product_deleted",
            Event::ShopChanged { .. } => "shop_changed",
            Event::OrderPlaced { .. } => "order_placed",
            Event::OrderStatusChanged { .. } => "order_status_changed",
        }
    }

    /// (subject, payload) as stored.
    fn parts(&self) -> (&str, &str) {
        match self {
            Event::ProductChanged { product_id } => (product_id, ""),
            Event::ProductDeleted {
                product_id,
                shop_handle,
            } => (product_id, shop_handle),
            Event::ShopChanged { shop_id } => (shop_id, ""),
            Event::OrderPlaced { order_id } => (order_id, ""),
            Event::OrderStatusChanged { order_id, status } => (order_id, status),
        }
    }

    /// Reads back a stored event; `None` for kinds this version does not know.
    pub fn from_stored(kind: &str, subject: &str, payload: &str) -> Option<Event> {
        let subject = subject.to_string();
        match kind {
            "product_changed" => Some(Event::ProductChanged {
                product_id: subject,
            }),
            "product_deleted" => Some(Event::ProductDeleted {
                product_id: subject,
                shop_handle: payload.to_string(),
            }),
            "shop_changed" => Some(Event::ShopChanged { shop_id: subject }),
            "order_placed" => Some(Event::OrderPlaced { order_id: subject }),
            "order_status_changed" => Some(Event::OrderStatusChanged {
                order_id: subject,
                status: payload.to_string(),
            }),
            _ => None,
        }
    }
}

/// Writes `event` inside `tx`.
pub async fn record(tx: &mut Tx, event: &Event, now: i64) -> Result<()> {
    let (subject, payload) = event.parts();
    outbox::record_event(tx, event.kind(), subject, payload, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_storage() {
        for e in [
            Event::ProductChanged {
                product_id: "p".into(),
            },
            Event::ProductDeleted {
                product_id: "p".into(),
                shop_handle: "tea".into(),
            },
            Event::OrderPlaced {
                order_id: "o".into(),
            },
            Event::OrderStatusChanged {
                order_id: "o".into(),
                status: "paid".into(),
            },
            Event::ShopChanged {
                shop_id: "s".into(),
            },
        ] {
            let (s, p) = e.parts();
            assert_eq!(Event::from_stored(e.kind(), s, p), Some(e.clone()));
        }
        assert_eq!(Event::from_stored("unknown", "", ""), None);
    }
}

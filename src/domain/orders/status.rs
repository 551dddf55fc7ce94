//! Status changes of an order: the seller's, the buyer's (here or through a remote `Undo`) and
//! the instance's own (expiry), all through `apply`, which checks the state machine, moves the
//! order only from the status it was read in, releases stock when the goods never left, logs,
//! and queues the buyer's notice and the remote buyer's `Update` in one transaction. Also the
//! retention of addresses.

use super::service::{by_id, for_seller, product_changed};
use super::{
    check_transition, notices, records_payment, releases_stock, Buyer, Order, OrderEvent,
    OrderStatus, Party, StatusChange,
};
use crate::db::orders::{self, StatusFields};
use crate::db::{self, Store};
use crate::domain::accounts::User;
use crate::domain::catalog::{service as catalog, Shop};
use crate::domain::events::{self, Event};
use crate::domain::{now_ms, text};
use crate::error::{Error, ErrorKind, FieldErrors, Problem, Result};
use crate::urls::Urls;

/// A status change by the shop's manager.
pub async fn seller_change(
    store: &Store,
    urls: &Urls,
    user: &User,
    id: &str,
    change: &StatusChange,
) -> Result<Order> {
    let (order, shop) = for_seller(store, user, id).await?;
    apply(
        store,
        urls,
        &shop,
        order,
        Party::Seller,
        "seller",
        change,
        None,
    )
    .await
}

/// A cancellation by the buyer: a member, or a guest holding the secret link.
pub async fn buyer_change(
    store: &Store,
    urls: &Urls,
    order: Order,
    change: &StatusChange,
) -> Result<Order> {
    let shop = catalog::shop_by_id(store, &order.shop_id).await?;
    apply(
        store,
        urls,
        &shop,
        order,
        Party::Buyer,
        "buyer",
        change,
        None,
    )
    .await
}

/// A status change asked for by a remote actor through an activity. Only the order's own
/// buyer may ask, and only for what a buyer may do; `activity_id` makes it idempotent.
pub async fn remote_buyer_change(
    store: &Store,
    urls: &Urls,
    actor: &str,
    id: &str,
    change: &StatusChange,
    activity_id: &str,
) -> Result<Order> {
    let order = by_id(store, id).await?;
    match &order.buyer {
        Buyer::Remote { actor: a, .. } if a == actor => {}
        _ => return Err(Error::forbidden("only the buyer may change this order")),
    }
    let shop = catalog::shop_by_id(store, &order.shop_id).await?;
    apply(
        store,
        urls,
        &shop,
        order,
        Party::Buyer,
        actor,
        change,
        Some(activity_id),
    )
    .await
}

struct CheckedChange {
    to: OrderStatus,
    reason: Option<String>,
    carrier: Option<String>,
    tracking: Option<String>,
}

fn check_change(change: &StatusChange, by: Party) -> Result<CheckedChange> {
    let mut e = FieldErrors::new();
    let to = OrderStatus::parse(&change.status);
    if to.is_none() {
        e.add("status", Problem::InvalidChoice);
    }
    let opt = |e: &mut FieldErrors, f: &str, v: &Option<String>, max: usize| {
        v.as_deref()
            .and_then(|v| text::check(e, f, v, 0, max, f == "reason"))
            .filter(|v| !v.is_empty())
    };
    let reason = opt(&mut e, "reason", &change.reason, 500);
    let carrier = opt(&mut e, "carrier", &change.carrier, 100);
    let tracking = opt(&mut e, "tracking", &change.tracking, 100);
    // A seller calling off or refunding an order says why; the buyer is told.
    if by == Party::Seller
        && matches!(to, Some(OrderStatus::Cancelled | OrderStatus::Refunded))
        && reason.is_none()
        && e.get("reason").is_none()
    {
        e.add("reason", Problem::Required);
    }
    e.into_result()?;
    Ok(CheckedChange {
        to: to.expect("checked"),
        reason,
        carrier,
        tracking,
    })
}

/// The one path for status changes: checks the state machine, moves the order only if it is
/// still where it was read, releases stock when the goods never left, logs, and queues the
/// buyer's notice and (for remote buyers) the activity, all in one transaction.
#[allow(clippy::too_many_arguments)]
async fn apply(
    store: &Store,
    urls: &Urls,
    shop: &Shop,
    order: Order,
    by: Party,
    actor: &str,
    change: &StatusChange,
    activity_id: Option<&str>,
) -> Result<Order> {
    let c = check_change(change, by)?;
    let from = order.status;
    let now = now_ms();
    if c.to == from {
        // Not a transition. A seller may add or correct tracking of a shipped order.
        if by == Party::Seller
            && from == OrderStatus::Shipped
            && (c.carrier.is_some() || c.tracking.is_some())
        {
            let _turn = store.write_turn().await;
            let mut tx = store.begin().await?;
            orders::set_tracking(
                &mut tx,
                &order.id,
                c.carrier.as_deref(),
                c.tracking.as_deref(),
                now,
            )
            .await?;
            tell_remote_buyer(&mut tx, &order, from, now).await?;
            tx.commit().await?;
            return by_id(store, &order.id).await;
        }
        return Ok(order);
    }
    check_transition(from, c.to, by, order.payment_method)
        .map_err(|t| Error::new(ErrorKind::Conflict, t.to_string()))?;
    let _turn = store.write_turn().await;
    let mut tx = store.begin().await?;
    let fields = StatusFields {
        carrier: c.carrier.as_deref(),
        tracking: c.tracking.as_deref(),
        reason: c.reason.as_deref(),
        paid: records_payment(from, c.to, order.payment_method),
    };
    if !orders::set_status(&mut tx, &order.id, from, c.to, &fields, now).await? {
        tx.rollback().await?;
        return Err(Error::conflict(
            "the order changed meanwhile; reload it and try again",
        ));
    }
    if releases_stock(from, c.to) {
        for p in orders::release(&mut tx, &order.id).await? {
            product_changed(&mut tx, &p, now).await?;
        }
    }
    orders::add_event(
        &mut tx,
        &order.id,
        &OrderEvent {
            from: from.as_str().to_string(),
            to: c.to.as_str().to_string(),
            actor: actor.to_string(),
            reason: c.reason.clone().unwrap_or_default(),
            created_at: now,
        },
        activity_id,
    )
    .await?;
    tell_remote_buyer(&mut tx, &order, c.to, now).await?;
    let mut after = order;
    after.status = c.to;
    after.reason = c.reason.or(after.reason);
    after.carrier = c.carrier.or(after.carrier);
    after.tracking = c.tracking.or(after.tracking);
    for m in notices::status_changed(urls, shop, &after) {
        db::mail::enqueue(&mut tx, &m.to, &m.subject, &m.body, now).await?;
    }
    tx.commit().await?;
    by_id(store, &after.id).await
}

/// A remote buyer hears of every change through the shop's `Update` (the outbox worker turns
/// this event into it); guests and members here read the order page and their mail.
async fn tell_remote_buyer(
    tx: &mut crate::db::Tx,
    order: &Order,
    status: OrderStatus,
    now: i64,
) -> Result<()> {
    if !matches!(order.buyer, Buyer::Remote { .. }) {
        return Ok(());
    }
    events::record(
        tx,
        &Event::OrderStatusChanged {
            order_id: order.id.clone(),
            status: status.as_str().to_string(),
        },
        now,
    )
    .await
}

/// Expires unpaid orders whose hold time is over, releasing their stock. Safe to run in
/// several processes at once: each order expires once. Returns how many this call expired.
pub async fn expire_due(store: &Store, urls: &Urls, now: i64) -> Result<usize> {
    let mut n = 0;
    for id in orders::due_for_expiry(store, now, 500).await? {
        let Some(order) = orders::by_id(store, &id).await? else {
            continue;
        };
        let shop = catalog::shop_by_id(store, &order.shop_id).await?;
        let change = StatusChange {
            status: OrderStatus::Expired.as_str().to_string(),
            reason: Some("not paid in time".to_string()),
            ..Default::default()
        };
        match apply(
            store,
            urls,
            &shop,
            order,
            Party::System,
            "system",
            &change,
            None,
        )
        .await
        {
            Ok(_) => n += 1,
            // Paid, cancelled or expired by another process meanwhile.
            Err(e) if e.kind == ErrorKind::Conflict => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Erases address and contact of orders closed more than `days` ago: the shop's orders, and
/// our members' copies of orders with remote shops. Offers already delivered lose their stored
/// body (it holds the address) at once. Returns how many orders were erased.
pub async fn erase_old_addresses(store: &Store, days: i64, now: i64) -> Result<u64> {
    let cutoff = now - days * 86_400_000;
    let mut n = orders::erase_addresses(store, cutoff, now).await?;
    loop {
        let batch = db::remote_orders::closed_with_address(store, cutoff, 200).await?;
        if batch.is_empty() {
            break;
        }
        for (id, json) in batch {
            let request: super::remote::RemoteRequest = serde_json::from_str(&json)
                .map_err(|e| Error::internal(anyhow::anyhow!("stored remote order {id}: {e}")))?;
            let erased =
                serde_json::to_string(&request.without_address()).map_err(Error::internal)?;
            db::remote_orders::erase_address(store, &id, &erased, now).await?;
            n += 1;
        }
    }
    db::outbox::forget_delivered_private(store, "Offer").await?;
    Ok(n)
}

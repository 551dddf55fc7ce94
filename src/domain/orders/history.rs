//! Reading orders beyond a single one, for the pages that list them: an order's status
//! timeline, a member's order history, a shop's counts per status and its full list for the
//! export. Read-only; permissions are checked here like in `service`.

use super::{Order, OrderEvent, OrderStatus};
use crate::db::{orders, Store};
use crate::domain::accounts::User;
use crate::domain::catalog::{service as catalog, Shop};
use crate::error::Result;

/// Most orders shown in a member's history.
pub const MEMBER_HISTORY_LIMIT: i64 = 200;
/// Most orders one export holds.
pub const EXPORT_LIMIT: i64 = 100_000;
const EXPORT_BATCH: i64 = 500;

/// Every status change of an order, oldest first. Callers have already checked that the
/// viewer may see the order (`by_secret`, `for_member`, `for_seller`).
pub async fn events(store: &Store, order: &Order) -> Result<Vec<OrderEvent>> {
    orders::events(store, &order.id).await
}

/// The member's orders with this instance's shops, newest first.
pub async fn member_orders(store: &Store, user: &User) -> Result<Vec<Order>> {
    orders::for_member(store, &user.id, MEMBER_HISTORY_LIMIT).await
}

/// How many orders a shop has in each status (only statuses with orders), for its manager.
pub async fn shop_counts(
    store: &Store,
    user: &User,
    handle: &str,
) -> Result<(Shop, Vec<(OrderStatus, i64)>)> {
    let shop = catalog::managed_shop(store, user, handle).await?;
    let mut out = Vec::new();
    for (status, n) in orders::counts(store, &shop.id).await? {
        if let Some(s) = OrderStatus::parse(&status) {
            out.push((s, n));
        }
    }
    out.sort_by_key(|(s, _)| OrderStatus::ALL.iter().position(|x| x == s));
    Ok((shop, out))
}

/// All of a shop's orders (optionally of one status), newest first, for its manager's export.
pub async fn shop_export(
    store: &Store,
    user: &User,
    handle: &str,
    status: Option<OrderStatus>,
) -> Result<(Shop, Vec<Order>)> {
    let shop = catalog::managed_shop(store, user, handle).await?;
    let mut all = Vec::new();
    loop {
        let batch =
            orders::for_shop(store, &shop.id, status, EXPORT_BATCH, all.len() as i64).await?;
        let n = batch.len() as i64;
        all.extend(batch);
        if n < EXPORT_BATCH || all.len() as i64 >= EXPORT_LIMIT {
            break;
        }
    }
    Ok((shop, all))
}

/// A page of a shop's orders for its manager, newest first.
pub async fn shop_orders(
    store: &Store,
    user: &User,
    handle: &str,
    status: Option<OrderStatus>,
    page: i64,
    per_page: i64,
) -> Result<(Shop, Vec<Order>)> {
    let shop = catalog::managed_shop(store, user, handle).await?;
    let list = orders::for_shop(store, &shop.id, status, per_page, (page - 1) * per_page).await?;
    Ok((shop, list))
}

//! Orders of this instance's shops: the order row with its snapshot lines, the status-change
//! log, and the stock reservation. Stock moves only through the conditional updates in
//! `reserve` and `release`, in the caller's transaction.

use std::collections::HashMap;

use sqlx::Row;

use super::{placeholders, Store, Tx};
use crate::domain::ids::{ProductId, ShopId, UserId};
use crate::domain::money::{Currency, Money};
use crate::domain::orders::{
    Address, Buyer, Order, OrderEvent, OrderLine, OrderStatus, PaymentMethod,
};
use crate::error::{Error, Result};

const COLUMNS: &str = "id, number, shop_id, status, buyer_kind, buyer_user_id, buyer_actor, \
     buyer_inbox, offer_id, email, ship_name, ship_address_lines, ship_city, ship_postal_code, \
     ship_country, ship_phone, buyer_note, shipping_option, shipping_minor, payment_method, \
     payment_instructions, payment_url, currency, subtotal_minor, total_minor, carrier, \
     tracking, reason, hold_until, created_at, updated_at, paid_at, shipped_at, delivered_at, \
     closed_at, address_erased_at";

fn bad(what: &str, v: &str) -> Error {
    Error::internal(anyhow::anyhow!("stored order has unknown {what} {v}"))
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Order> {
    let code: String = r.try_get("currency")?;
    let c = Currency::from_code(&code).ok_or_else(|| bad("currency", &code))?;
    let status: String = r.try_get("status")?;
    let method: String = r.try_get("payment_method")?;
    let kind: String = r.try_get("buyer_kind")?;
    let buyer = match kind.as_str() {
        "guest" => Buyer::Guest,
        "member" => Buyer::Member(UserId::from_db(r.try_get("buyer_user_id")?)),
        "remote" => Buyer::Remote {
            actor: r.try_get("buyer_actor")?,
            inbox: r.try_get("buyer_inbox")?,
            offer_id: r.try_get("offer_id")?,
        },
        other => return Err(bad("buyer kind", other)),
    };
    let lines: String = r.try_get("ship_address_lines")?;
    Ok(Order {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        shop_id: ShopId::from_db(r.try_get("shop_id")?),
        status: OrderStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        buyer,
        email: r.try_get("email")?,
        address: Address {
            name: r.try_get("ship_name")?,
            address_lines: lines
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            city: r.try_get("ship_city")?,
            postal_code: r.try_get("ship_postal_code")?,
            country: r.try_get("ship_country")?,
            phone: r.try_get("ship_phone")?,
        },
        buyer_note: r.try_get("buyer_note")?,
        shipping_option: r.try_get("shipping_option")?,
        shipping: Money::new(r.try_get("shipping_minor")?, c),
        payment_method: PaymentMethod::parse(&method)
            .ok_or_else(|| bad("payment method", &method))?,
        payment_instructions: r.try_get("payment_instructions")?,
        payment_url: r.try_get("payment_url")?,
        lines: vec![],
        subtotal: Money::new(r.try_get("subtotal_minor")?, c),
        total: Money::new(r.try_get("total_minor")?, c),
        carrier: r.try_get("carrier")?,
        tracking: r.try_get("tracking")?,
        reason: r.try_get("reason")?,
        hold_until: r.try_get("hold_until")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        paid_at: r.try_get("paid_at")?,
        shipped_at: r.try_get("shipped_at")?,
        delivered_at: r.try_get("delivered_at")?,
        closed_at: r.try_get("closed_at")?,
        address_erased: r.try_get::<Option<i64>, _>("address_erased_at")?.is_some(),
    })
}

/// What `insert` needs besides the order itself.
pub struct NewOrderMeta<'a> {
    pub idempotency_scope: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub request_hash: &'a str,
    pub secret_hash: &'a str,
}

/// Stores a new order with its lines. A unique violation (same number, offer or idempotency
/// key) is returned as `Conflict` for the caller to resolve.
pub async fn insert(tx: &mut Tx, o: &Order, meta: &NewOrderMeta<'_>) -> Result<()> {
    let (user, actor, inbox, offer) = match &o.buyer {
        Buyer::Guest => (None, None, None, None),
        Buyer::Member(u) => (Some(u.to_string()), None, None, None),
        Buyer::Remote {
            actor,
            inbox,
            offer_id,
        } => (
            None,
            Some(actor.clone()),
            Some(inbox.clone()),
            Some(offer_id.clone()),
        ),
    };
    sqlx::query(
        "INSERT INTO orders (id, number, shop_id, status, buyer_kind, buyer_user_id, \
         buyer_actor, buyer_inbox, offer_id, idempotency_scope, idempotency_key, request_hash, \
         secret_hash, email, ship_name, ship_address_lines, ship_city, ship_postal_code, \
         ship_country, ship_phone, buyer_note, shipping_option, shipping_minor, payment_method, \
         payment_instructions, payment_url, currency, subtotal_minor, total_minor, hold_until, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, \
         $30, $31, $31)",
    )
    .bind(&o.id)
    .bind(&o.number)
    .bind(o.shop_id.as_str())
    .bind(o.status.as_str())
    .bind(o.buyer.kind())
    .bind(user)
    .bind(actor)
    .bind(inbox)
    .bind(offer)
    .bind(meta.idempotency_scope)
    .bind(meta.idempotency_key)
    .bind(meta.request_hash)
    .bind(meta.secret_hash)
    .bind(&o.email)
    .bind(&o.address.name)
    .bind(o.address.address_lines.join("\n"))
    .bind(&o.address.city)
    .bind(&o.address.postal_code)
    .bind(&o.address.country)
    .bind(&o.address.phone)
    .bind(&o.buyer_note)
    .bind(&o.shipping_option)
    .bind(o.shipping.minor)
    .bind(o.payment_method.as_str())
    .bind(&o.payment_instructions)
    .bind(&o.payment_url)
    .bind(o.total.currency.code)
    .bind(o.subtotal.minor)
    .bind(o.total.minor)
    .bind(o.hold_until)
    .bind(o.created_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| super::unique_to_conflict(e, "order already exists"))?;
    for (i, l) in o.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO order_lines (order_id, position, product_id, variant_id, title, \
             variant_title, sku, unit_minor, quantity, line_minor) VALUES ($1, $2, $3, $4, $5, \
             $6, $7, $8, $9, $10)",
        )
        .bind(&o.id)
        .bind(i as i64)
        .bind(l.product_id.as_str())
        .bind(&l.variant_id)
        .bind(&l.title)
        .bind(&l.variant_title)
        .bind(&l.sku)
        .bind(l.unit_price.minor)
        .bind(l.quantity)
        .bind(l.line_total.minor)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Takes `qty` units of a product (or of one of its variants) if that many are left, in one
/// conditional update. Returns the units left afterwards, or `None` when there were too few
/// (or the product is no longer a published product of `shop`).
pub async fn reserve(
    tx: &mut Tx,
    shop: &ShopId,
    product: &ProductId,
    variant: Option<&str>,
    qty: i64,
) -> Result<Option<i64>> {
    let left: Option<i64> =
        match variant {
            None => {
                sqlx::query_scalar(
                    "UPDATE products SET stock = stock - $1 WHERE id = $2 AND shop_id = $3 \
             AND status = 'published' AND stock >= $1 RETURNING stock",
                )
                .bind(qty)
                .bind(product.as_str())
                .bind(shop.as_str())
                .fetch_optional(&mut **tx)
                .await?
            }
            Some(v) => sqlx::query_scalar(
                "UPDATE product_variants SET stock = stock - $1 WHERE id = $2 AND product_id = $3 \
             AND stock >= $1 AND EXISTS (SELECT 1 FROM products p WHERE p.id = $3 \
             AND p.shop_id = $4 AND p.status = 'published') RETURNING stock",
            )
            .bind(qty)
            .bind(v)
            .bind(product.as_str())
            .bind(shop.as_str())
            .fetch_optional(&mut **tx)
            .await?,
        };
    Ok(left)
}

/// Gives an order's reserved units back, once: only the call that flips `stock_released`
/// returns the units. Lines whose product or variant was deleted meanwhile give nothing back.
/// Returns the products whose stock went from 0 to more.
pub async fn release(tx: &mut Tx, order_id: &str) -> Result<Vec<ProductId>> {
    let flipped =
        sqlx::query("UPDATE orders SET stock_released = 1 WHERE id = $1 AND stock_released = 0")
            .bind(order_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if flipped == 0 {
        return Ok(vec![]);
    }
    let rows = sqlx::query(
        "SELECT product_id, variant_id, quantity FROM order_lines WHERE order_id = $1 \
         ORDER BY position",
    )
    .bind(order_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut restocked = Vec::new();
    for r in rows {
        let product: String = r.try_get("product_id")?;
        let variant: Option<String> = r.try_get("variant_id")?;
        let qty: i64 = r.try_get("quantity")?;
        let now: Option<i64> = match &variant {
            None => {
                sqlx::query_scalar(
                    "UPDATE products SET stock = stock + $1 WHERE id = $2 RETURNING stock",
                )
                .bind(qty)
                .bind(&product)
                .fetch_optional(&mut **tx)
                .await?
            }
            Some(v) => {
                sqlx::query_scalar(
                    "UPDATE product_variants SET stock = stock + $1 WHERE id = $2 \
                 AND product_id = $3 RETURNING stock",
                )
                .bind(qty)
                .bind(v)
                .bind(&product)
                .fetch_optional(&mut **tx)
                .await?
            }
        };
        if now == Some(qty) {
            restocked.push(ProductId::from_db(product));
        }
    }
    Ok(restocked)
}

/// Fields a status change may set besides the status.
#[derive(Clone, Debug, Default)]
pub struct StatusFields<'a> {
    pub carrier: Option<&'a str>,
    pub tracking: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub paid: bool,
}

/// Moves an order from `from` to `to` if it is still in `from` (so concurrent changes, or
/// several processes expiring orders, apply exactly once). `true` when this call moved it.
pub async fn set_status(
    tx: &mut Tx,
    id: &str,
    from: OrderStatus,
    to: OrderStatus,
    f: &StatusFields<'_>,
    now: i64,
) -> Result<bool> {
    let shipped = (to == OrderStatus::Shipped).then_some(now);
    let delivered = (to == OrderStatus::Delivered).then_some(now);
    let closed = to.is_closed().then_some(now);
    let paid = f.paid.then_some(now);
    let n = sqlx::query(
        "UPDATE orders SET status = $3, updated_at = $4, \
         paid_at = COALESCE(paid_at, $5), shipped_at = COALESCE($6, shipped_at), \
         delivered_at = COALESCE($7, delivered_at), closed_at = COALESCE($8, closed_at), \
         carrier = COALESCE($9, carrier), tracking = COALESCE($10, tracking), \
         reason = COALESCE($11, reason), hold_until = NULL \
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now)
    .bind(paid)
    .bind(shipped)
    .bind(delivered)
    .bind(closed)
    .bind(f.carrier)
    .bind(f.tracking)
    .bind(f.reason)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Updates carrier and tracking of an order already shipped.
pub async fn set_tracking(
    tx: &mut Tx,
    id: &str,
    carrier: Option<&str>,
    tracking: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE orders SET carrier = COALESCE($2, carrier), tracking = COALESCE($3, tracking), \
         updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(carrier)
    .bind(tracking)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Logs a status change. A repeated `activity_id` is a `Conflict` (the change was applied).
pub async fn add_event(
    tx: &mut Tx,
    order_id: &str,
    e: &OrderEvent,
    activity_id: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO order_events (id, order_id, from_status, to_status, actor, reason, \
         activity_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(order_id)
    .bind(&e.from)
    .bind(&e.to)
    .bind(&e.actor)
    .bind(&e.reason)
    .bind(activity_id)
    .bind(e.created_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| super::unique_to_conflict(e, "status change already applied"))?;
    Ok(())
}

pub async fn events(store: &Store, order_id: &str) -> Result<Vec<OrderEvent>> {
    let rows = sqlx::query(
        "SELECT from_status, to_status, actor, reason, created_at FROM order_events \
         WHERE order_id = $1 ORDER BY created_at, id",
    )
    .bind(order_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OrderEvent {
                from: r.try_get("from_status")?,
                to: r.try_get("to_status")?,
                actor: r.try_get("actor")?,
                reason: r.try_get("reason")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

async fn attach_lines(store: &Store, orders: &mut [Order]) -> Result<()> {
    if orders.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT order_id, product_id, variant_id, title, variant_title, sku, unit_minor, \
         quantity, line_minor FROM order_lines WHERE order_id IN ({}) ORDER BY order_id, position",
        placeholders(1, orders.len())
    );
    let mut q = sqlx::query(&sql);
    for o in orders.iter() {
        q = q.bind(&o.id);
    }
    let rows = q.fetch_all(store.pool()).await?;
    let index: HashMap<String, usize> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id.clone(), i))
        .collect();
    for r in rows {
        let id: String = r.try_get("order_id")?;
        let Some(&i) = index.get(&id) else { continue };
        let c = orders[i].total.currency;
        orders[i].lines.push(OrderLine {
            product_id: ProductId::from_db(r.try_get("product_id")?),
            variant_id: r.try_get("variant_id")?,
            title: r.try_get("title")?,
            variant_title: r.try_get("variant_title")?,
            sku: r.try_get("sku")?,
            unit_price: Money::new(r.try_get("unit_minor")?, c),
            quantity: r.try_get("quantity")?,
            line_total: Money::new(r.try_get("line_minor")?, c),
        });
    }
    Ok(())
}

async fn many(store: &Store, sql: &str, binds: &[&str], n: i64) -> Result<Vec<Order>> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    let rows = q.bind(n).fetch_all(store.pool()).await?;
    let mut orders = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    attach_lines(store, &mut orders).await?;
    Ok(orders)
}

pub async fn by_id(store: &Store, id: &str) -> Result<Option<Order>> {
    let sql = format!("SELECT {COLUMNS} FROM orders WHERE id = $1 LIMIT $2");
    Ok(many(store, &sql, &[id], 1).await?.pop())
}

/// The stored hash of an order's secret link.
pub async fn secret_hash(store: &Store, id: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT secret_hash FROM orders WHERE id = $1")
            .bind(id)
            .fetch_optional(store.pool())
            .await?,
    )
}

/// (order id, request fingerprint) of an earlier order with this idempotency key.
pub async fn by_idempotency(
    store: &Store,
    scope: &str,
    key: &str,
) -> Result<Option<(String, String)>> {
    let row = sqlx::query(
        "SELECT id, request_hash FROM orders WHERE idempotency_scope = $1 AND idempotency_key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(store.pool())
    .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("request_hash")?)))
        .transpose()
}

/// The order created from a remote `Offer`, if any.
pub async fn by_offer(store: &Store, offer_id: &str) -> Result<Option<Order>> {
    let sql = format!("SELECT {COLUMNS} FROM orders WHERE offer_id = $1 LIMIT $2");
    Ok(many(store, &sql, &[offer_id], 1).await?.pop())
}

/// A shop's orders, newest first, optionally of one status.
pub async fn for_shop(
    store: &Store,
    shop: &ShopId,
    status: Option<OrderStatus>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Order>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM orders WHERE shop_id = $1 AND ($2 = '' OR status = $2) \
         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET {}",
        offset.max(0)
    );
    many(
        store,
        &sql,
        &[shop.as_str(), status.map_or("", |s| s.as_str())],
        limit,
    )
    .await
}

/// A local member's orders with local shops, newest first.
pub async fn for_member(store: &Store, user: &UserId, limit: i64) -> Result<Vec<Order>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM orders WHERE buyer_user_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    );
    many(store, &sql, &[user.as_str()], limit).await
}

/// Unpaid orders whose hold time is over.
pub async fn due_for_expiry(store: &Store, now: i64, limit: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = 'pending' AND hold_until IS NOT NULL \
         AND hold_until <= $1 ORDER BY hold_until LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(store.pool())
    .await?)
}

/// When the next unpaid order's hold time ends.
pub async fn next_hold_end(store: &Store) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(hold_until) FROM orders WHERE status = 'pending' AND hold_until IS NOT NULL",
    )
    .fetch_one(store.pool())
    .await?)
}

/// Blanks the address and contact of orders closed before `closed_before`. Returns how many.
pub async fn erase_addresses(store: &Store, closed_before: i64, now: i64) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE orders SET email = '', ship_name = '', ship_address_lines = '', ship_city = '', \
         ship_postal_code = '', ship_phone = '', buyer_note = '', address_erased_at = $2 \
         WHERE address_erased_at IS NULL AND closed_at IS NOT NULL AND closed_at < $1",
    )
    .bind(closed_before)
    .bind(now)
    .execute(store.pool())
    .await?
    .rows_affected())
}

/// Orders per status for a shop (dashboard counters).
pub async fn counts(store: &Store, shop: &ShopId) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT status, COUNT(*) FROM orders WHERE shop_id = $1 GROUP BY status ORDER BY status",
    )
    .bind(shop.as_str())
    .fetch_all(store.pool())
    .await?)
}

//! Our members' orders with shops on other instances (the buyer's copy): the request as sent,
//! the shop's last answer, and the status. Rows are read and written here only; the rules
//! for what may change live in `domain::orders::remote`.

use sqlx::Row;

use super::{Store, Tx};
use crate::domain::ids::UserId;
use crate::error::Result;

const COLUMNS: &str = "id, user_id, shop_actor, shop_inbox, offer_id, order_ref, number, \
     status, idempotency_key, request_hash, request_json, result_json, currency, total_minor, \
     reason, created_at, updated_at";

/// One stored row, as it is in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteOrderRow {
    pub id: String,
    pub user_id: UserId,
    pub shop_actor: String,
    /// The shop actor's own inbox (never a shared inbox).
    pub shop_inbox: String,
    /// Our `Offer` activity's id.
    pub offer_id: String,
    /// The shop's order id (its Agreement), once it accepted.
    pub order_ref: Option<String>,
    pub number: Option<String>,
    pub status: String,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub request_json: String,
    pub result_json: Option<String>,
    pub currency: Option<String>,
    pub total_minor: Option<i64>,
    pub reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<RemoteOrderRow> {
    Ok(RemoteOrderRow {
        id: r.try_get("id")?,
        user_id: UserId::from_db(r.try_get("user_id")?),
        shop_actor: r.try_get("shop_actor")?,
        shop_inbox: r.try_get("shop_inbox")?,
        offer_id: r.try_get("offer_id")?,
        order_ref: r.try_get("order_ref")?,
        number: r.try_get("number")?,
        status: r.try_get("status")?,
        idempotency_key: r.try_get("idempotency_key")?,
        request_hash: r.try_get("request_hash")?,
        request_json: r.try_get("request_json")?,
        result_json: r.try_get("result_json")?,
        currency: r.try_get("currency")?,
        total_minor: r.try_get("total_minor")?,
        reason: r.try_get("reason")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Stores a new remote order in the caller's transaction. The same Offer or the same
/// idempotency key of the member again is a `Conflict`.
pub async fn insert(tx: &mut Tx, o: &RemoteOrderRow) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO remote_orders ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15, $16, $17)"
    ))
    .bind(&o.id)
    .bind(o.user_id.as_str())
    .bind(&o.shop_actor)
    .bind(&o.shop_inbox)
    .bind(&o.offer_id)
    .bind(&o.order_ref)
    .bind(&o.number)
    .bind(&o.status)
    .bind(&o.idempotency_key)
    .bind(&o.request_hash)
    .bind(&o.request_json)
    .bind(&o.result_json)
    .bind(&o.currency)
    .bind(o.total_minor)
    .bind(&o.reason)
    .bind(o.created_at)
    .bind(o.updated_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| super::unique_to_conflict(e, "this order was already sent"))?;
    Ok(())
}

async fn one(
    store: &Store,
    clause: &str,
    a: &str,
    b: Option<&str>,
) -> Result<Option<RemoteOrderRow>> {
    let sql = format!("SELECT {COLUMNS} FROM remote_orders WHERE {clause}");
    let mut q = sqlx::query(&sql).bind(a);
    if let Some(b) = b {
        q = q.bind(b);
    }
    q.fetch_optional(store.pool())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// A member's remote order by our id; `None` when it is not theirs.
pub async fn of_user(store: &Store, user: &UserId, id: &str) -> Result<Option<RemoteOrderRow>> {
    one(store, "id = $1 AND user_id = $2", id, Some(user.as_str())).await
}

/// The remote order a member sent with `key`.
pub async fn by_idempotency(
    store: &Store,
    user: &UserId,
    key: &str,
) -> Result<Option<RemoteOrderRow>> {
    one(
        store,
        "user_id = $1 AND idempotency_key = $2",
        user.as_str(),
        Some(key),
    )
    .await
}

/// The remote order our `Offer` `offer_id` asked for.
pub async fn by_offer(store: &Store, offer_id: &str) -> Result<Option<RemoteOrderRow>> {
    one(store, "offer_id = $1", offer_id, None).await
}

/// The remote order the shop knows as `order_ref`.
pub async fn by_order_ref(store: &Store, order_ref: &str) -> Result<Option<RemoteOrderRow>> {
    one(store, "order_ref = $1", order_ref, None).await
}

/// A member's remote orders, newest first.
pub async fn for_user(
    store: &Store,
    user: &UserId,
    limit: i64,
    offset: i64,
) -> Result<Vec<RemoteOrderRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM remote_orders WHERE user_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(user.as_str())
    .bind(limit)
    .bind(offset)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// What the shop said about an order, to store.
#[derive(Clone, Debug)]
pub struct ShopAnswer<'a> {
    pub status: &'a str,
    pub order_ref: Option<&'a str>,
    pub number: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub total_minor: Option<i64>,
    pub result_json: Option<&'a str>,
    pub reason: Option<&'a str>,
}

/// Records the shop's answer, only if the row is still in `expected_status` (so two answers
/// applied at once cannot both win). False when it moved meanwhile.
pub async fn set_answer(
    store: &Store,
    id: &str,
    expected_status: &str,
    a: &ShopAnswer<'_>,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE remote_orders SET status = $3, order_ref = COALESCE($4, order_ref), \
         number = COALESCE($5, number), currency = COALESCE($6, currency), \
         total_minor = COALESCE($7, total_minor), result_json = COALESCE($8, result_json), \
         reason = $9, updated_at = $10 WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(expected_status)
    .bind(a.status)
    .bind(a.order_ref)
    .bind(a.number)
    .bind(a.currency)
    .bind(a.total_minor)
    .bind(a.result_json)
    .bind(a.reason)
    .bind(now)
    .execute(store.pool())
    .await
    .map_err(|e| super::unique_to_conflict(e, "another order already has this reference"))?;
    Ok(r.rows_affected() == 1)
}

/// (id, request_json) of members' remote orders closed (rejected, delivered, cancelled,
/// refunded, expired) before `closed_before` whose address is still there.
pub async fn closed_with_address(
    store: &Store,
    closed_before: i64,
    limit: i64,
) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, request_json FROM remote_orders WHERE address_erased_at IS NULL \
         AND status IN ('rejected', 'delivered', 'cancelled', 'refunded', 'expired') \
         AND updated_at < $1 ORDER BY updated_at LIMIT $2",
    )
    .bind(closed_before)
    .bind(limit)
    .fetch_all(store.pool())
    .await?)
}

/// Replaces the stored request with its address-free version.
pub async fn erase_address(store: &Store, id: &str, request_json: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE remote_orders SET request_json = $2, address_erased_at = $3 \
         WHERE id = $1 AND address_erased_at IS NULL",
    )
    .bind(id)
    .bind(request_json)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(())
}

//! Each shop's checkout settings (payment methods, shipping options, hold time), one JSON
//! document per shop, validated by `domain::orders::checkout` before it is written.

use super::{Store, Tx};
use crate::domain::ids::ShopId;
use crate::error::Result;

pub async fn get(store: &Store, shop: &ShopId) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT settings_json FROM shop_checkout WHERE shop_id = $1")
            .bind(shop.as_str())
            .fetch_optional(store.pool())
            .await?,
    )
}

pub async fn put(tx: &mut Tx, shop: &ShopId, json: &str, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO shop_checkout (shop_id, settings_json, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (shop_id) DO UPDATE SET settings_json = $2, updated_at = $3",
    )
    .bind(shop.as_str())
    .bind(json)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

//! Products of remote shops that local members follow, for the home feed.

use sqlx::Row;

use super::Store;
use crate::domain::money::{Currency, Money};
use crate::domain::social::RemoteProduct;
use crate::error::{Error, Result};

const COLUMNS: &str = "id, actor, title, content_html, url, price, currency, stock, sku, \
                       image_url, image_alt, published, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<RemoteProduct> {
    let code: String = r.try_get("currency")?;
    let currency = Currency::from_code(&code)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("stored currency {code}")))?;
    let price: String = r.try_get("price")?;
    Ok(RemoteProduct {
        id: r.try_get("id")?,
        actor: r.try_get("actor")?,
        title: r.try_get("title")?,
        content_html: r.try_get("content_html")?,
        url: r.try_get("url")?,
        price: Money::parse(&price, currency)
            .map_err(|_| Error::internal(anyhow::anyhow!("stored price {price}")))?,
        stock: r.try_get("stock")?,
        sku: r.try_get("sku")?,
        image_url: r.try_get("image_url")?,
        image_alt: r.try_get("image_alt")?,
        published: r.try_get("published")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Inserts or replaces a remote product; only its own shop may replace it.
pub async fn upsert(store: &Store, p: &RemoteProduct) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO remote_products ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13) ON CONFLICT (id) DO UPDATE SET title = $3, content_html = $4, \
         url = $5, price = $6, currency = $7, stock = $8, sku = $9, image_url = $10, \
         image_alt = $11, updated_at = $13 WHERE remote_products.actor = $2"
    ))
    .bind(&p.id)
    .bind(&p.actor)
    .bind(&p.title)
    .bind(&p.content_html)
    .bind(&p.url)
    .bind(p.price.amount_string())
    .bind(p.price.currency.code)
    .bind(p.stock)
    .bind(&p.sku)
    .bind(&p.image_url)
    .bind(&p.image_alt)
    .bind(p.published)
    .bind(p.updated_at)
    .execute(store.pool())
    .await?;
    Ok(())
}

pub async fn by_id(store: &Store, id: &str) -> Result<Option<RemoteProduct>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM remote_products WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Deletes a product if `actor` owns it.
pub async fn delete(store: &Store, id: &str, actor: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM remote_products WHERE id = $1 AND actor = $2")
        .bind(id)
        .bind(actor)
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Newest products of the remote shops `follower` follows (accepted follows only).
pub async fn feed(store: &Store, follower: &str, limit: i64) -> Result<Vec<RemoteProduct>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM remote_products p JOIN follows f ON f.followee = p.actor \
         WHERE f.follower = $1 AND f.state = 'accepted' ORDER BY p.published DESC, p.id DESC LIMIT $2",
        COLUMNS
            .split(", ")
            .map(|c| format!("p.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(follower)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

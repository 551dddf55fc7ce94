//! Shops.

use sqlx::Row;

use super::{images, Store, Tx};
use crate::domain::catalog::validate::ValidShop;
use crate::domain::catalog::{Page, Shop, ShopLink};
use crate::domain::ids::{ImageId, ShopId, UserId};
use crate::error::{Error, Result};

const SHOP_COLUMNS: &str = "id, owner_id, handle, name, summary, summary_html, avatar_image_id, \
                            banner_image_id, links_json, manually_approves_followers, created_at, updated_at";

struct ShopRow {
    shop: Shop,
    avatar: Option<ImageId>,
    banner: Option<ImageId>,
}

fn shop_from_row(row: &sqlx::any::AnyRow) -> Result<ShopRow> {
    let links_json: String = row.try_get("links_json")?;
    let links: Vec<ShopLink> = serde_json::from_str(&links_json).map_err(Error::internal)?;
    Ok(ShopRow {
        shop: Shop {
            id: ShopId::from_db(row.try_get("id")?),
            owner_id: UserId::from_db(row.try_get("owner_id")?),
            handle: row.try_get("handle")?,
            name: row.try_get("name")?,
            summary: row.try_get("summary")?,
            summary_html: row.try_get("summary_html")?,
            avatar: None,
            banner: None,
            links,
            manually_approves_followers: row.try_get::<i64, _>("manually_approves_followers")? != 0,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        },
        avatar: row
            .try_get::<Option<String>, _>("avatar_image_id")?
            .map(ImageId::from_db),
        banner: row
            .try_get::<Option<String>, _>("banner_image_id")?
            .map(ImageId::from_db),
    })
}

/// Fills in avatar and banner images with one query.
async fn attach_images(store: &Store, rows: Vec<ShopRow>) -> Result<Vec<Shop>> {
    let ids: Vec<ImageId> = rows
        .iter()
        .flat_map(|r| r.avatar.iter().chain(r.banner.iter()).cloned())
        .collect();
    let found = if ids.is_empty() {
        vec![]
    } else {
        let mut conn = store.pool().acquire().await?;
        images::by_ids(&mut conn, &ids).await?
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let pick = |id: &Option<ImageId>| {
                id.as_ref()
                    .and_then(|id| found.iter().find(|i| &i.id == id).cloned())
            };
            Shop {
                avatar: pick(&r.avatar),
                banner: pick(&r.banner),
                ..r.shop
            }
        })
        .collect())
}

pub async fn insert(
    tx: &mut Tx,
    id: &ShopId,
    owner: &UserId,
    s: &ValidShop,
    now: i64,
) -> Result<()> {
    super::users::claim_name(tx, &s.handle, "shop", "handle").await?;
    sqlx::query(
        "INSERT INTO shops (id, owner_id, handle, name, summary, summary_html, avatar_image_id, \
         banner_image_id, links_json, manually_approves_followers, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $10, $10)",
    )
    .bind(id.as_str())
    .bind(owner.as_str())
    .bind(&s.handle)
    .bind(&s.name)
    .bind(&s.summary)
    .bind(&s.summary_html)
    .bind(s.avatar.as_ref().map(|i| i.as_str().to_string()))
    .bind(s.banner.as_ref().map(|i| i.as_str().to_string()))
    .bind(serde_json::to_string(&s.links).map_err(Error::internal)?)
    .bind(now)
    .bind(i64::from(s.manually_approves_followers))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Overwrites the editable fields (the handle never changes).
pub async fn update(tx: &mut Tx, id: &ShopId, s: &ValidShop, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE shops SET name = $2, summary = $3, summary_html = $4, avatar_image_id = $5, \
         banner_image_id = $6, links_json = $7, updated_at = $8, \
         manually_approves_followers = $9 WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(&s.name)
    .bind(&s.summary)
    .bind(&s.summary_html)
    .bind(s.avatar.as_ref().map(|i| i.as_str().to_string()))
    .bind(s.banner.as_ref().map(|i| i.as_str().to_string()))
    .bind(serde_json::to_string(&s.links).map_err(Error::internal)?)
    .bind(now)
    .bind(i64::from(s.manually_approves_followers))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn by_handle(store: &Store, handle: &str) -> Result<Option<Shop>> {
    one_where(store, "handle", handle).await
}

pub async fn by_id(store: &Store, id: &ShopId) -> Result<Option<Shop>> {
    one_where(store, "id", id.as_str()).await
}

/// The shop whose unique `column` (a fixed name, never user input) equals `value`.
async fn one_where(store: &Store, column: &'static str, value: &str) -> Result<Option<Shop>> {
    let row = sqlx::query(&format!(
        "SELECT {SHOP_COLUMNS} FROM shops WHERE {column} = $1"
    ))
    .bind(value)
    .fetch_optional(store.pool())
    .await?;
    match row {
        Some(r) => Ok(attach_images(store, vec![shop_from_row(&r)?]).await?.pop()),
        None => Ok(None),
    }
}

pub async fn by_owner(store: &Store, owner: &UserId) -> Result<Vec<Shop>> {
    let rows = sqlx::query(&format!(
        "SELECT {SHOP_COLUMNS} FROM shops WHERE owner_id = $1 ORDER BY handle"
    ))
    .bind(owner.as_str())
    .fetch_all(store.pool())
    .await?;
    let rows = rows.iter().map(shop_from_row).collect::<Result<Vec<_>>>()?;
    attach_images(store, rows).await
}

/// All shops, alphabetically, one page at a time.
pub async fn list(store: &Store, page: i64, per_page: i64) -> Result<Page<Shop>> {
    let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM shops")
        .fetch_one(store.pool())
        .await?
        .try_get("n")?;
    let rows = sqlx::query(&format!(
        "SELECT {SHOP_COLUMNS} FROM shops ORDER BY handle LIMIT $1 OFFSET $2"
    ))
    .bind(per_page)
    .bind((page - 1) * per_page)
    .fetch_all(store.pool())
    .await?;
    let rows = rows.iter().map(shop_from_row).collect::<Result<Vec<_>>>()?;
    Ok(Page {
        items: attach_images(store, rows).await?,
        total,
        page,
        per_page,
    })
}

//! Stored image records.

use sqlx::Row;

use super::{placeholders, Store};
use crate::domain::ids::{ImageId, UserId};
use crate::domain::images::Image;
use crate::error::Result;

pub(crate) const IMAGE_COLUMNS: &str =
    "i.id, i.owner_id, i.file_name, i.thumb_name, i.mime, i.width, i.height, i.thumb_width, i.thumb_height";

pub(crate) fn image_from_row(row: &sqlx::any::AnyRow) -> Result<Image> {
    Ok(Image {
        id: ImageId::from_db(row.try_get("id")?),
        owner_id: UserId::from_db(row.try_get("owner_id")?),
        file_name: row.try_get("file_name")?,
        thumb_name: row.try_get("thumb_name")?,
        mime: row.try_get("mime")?,
        width: row.try_get("width")?,
        height: row.try_get("height")?,
        thumb_width: row.try_get("thumb_width")?,
        thumb_height: row.try_get("thumb_height")?,
    })
}

pub async fn insert(store: &Store, i: &Image, byte_size: i64, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO images (id, owner_id, file_name, thumb_name, mime, width, height, thumb_width, \
         thumb_height, byte_size, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(i.id.as_str())
    .bind(i.owner_id.as_str())
    .bind(&i.file_name)
    .bind(&i.thumb_name)
    .bind(&i.mime)
    .bind(i.width)
    .bind(i.height)
    .bind(i.thumb_width)
    .bind(i.thumb_height)
    .bind(byte_size)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// The images with these ids that exist (in any order).
pub async fn by_ids(conn: &mut sqlx::AnyConnection, ids: &[ImageId]) -> Result<Vec<Image>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {IMAGE_COLUMNS} FROM images i WHERE i.id IN ({})",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.as_str());
    }
    let rows = q.fetch_all(&mut *conn).await?;
    rows.iter().map(image_from_row).collect()
}

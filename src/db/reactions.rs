//! Likes, boosts and replies that our products received.

use sqlx::Row;

use super::Store;
use crate::domain::social::{ReactionCounts, ReactionKind, Reply};
use crate::error::Result;

/// Records a like or boost; false when the same actor already did it (or the id was seen).
pub async fn add(
    store: &Store,
    activity_id: &str,
    kind: ReactionKind,
    actor: &str,
    object: &str,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO reactions (activity_id, kind, actor, object, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(activity_id)
    .bind(kind.as_str())
    .bind(actor)
    .bind(object)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Withdraws a like or boost by the activity id that made it, or by (kind, actor, object).
pub async fn remove(
    store: &Store,
    activity_id: Option<&str>,
    kind: ReactionKind,
    actor: &str,
    object: Option<&str>,
) -> Result<bool> {
    let r = sqlx::query(
        "DELETE FROM reactions WHERE kind = $1 AND actor = $2 \
         AND (activity_id = $3 OR object = $4)",
    )
    .bind(kind.as_str())
    .bind(actor)
    .bind(activity_id.unwrap_or(""))
    .bind(object.unwrap_or(""))
    .execute(store.pool())
    .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn counts(store: &Store, object: &str) -> Result<ReactionCounts> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, COUNT(*) FROM reactions WHERE object = $1 GROUP BY kind")
            .bind(object)
            .fetch_all(store.pool())
            .await?;
    let mut c = ReactionCounts::default();
    for (kind, n) in rows {
        match ReactionKind::parse(&kind) {
            Some(ReactionKind::Like) => c.likes = n,
            Some(ReactionKind::Announce) => c.announces = n,
            None => {}
        }
    }
    Ok(c)
}

/// Whether `actor` has liked or boosted `object`.
pub async fn exists(store: &Store, kind: ReactionKind, actor: &str, object: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM reactions WHERE kind = $1 AND actor = $2 AND object = $3",
    )
    .bind(kind.as_str())
    .bind(actor)
    .bind(object)
    .fetch_one(store.pool())
    .await?;
    Ok(n > 0)
}

fn reply_from_row(r: &sqlx::any::AnyRow) -> Result<Reply> {
    Ok(Reply {
        id: r.try_get("id")?,
        actor: r.try_get("actor")?,
        in_reply_to: r.try_get("in_reply_to")?,
        content_html: r.try_get("content_html")?,
        url: r.try_get("url")?,
        published: r.try_get("published")?,
    })
}

/// Stores a reply, or updates its text when the same id comes again (an edit).
pub async fn upsert_reply(store: &Store, r: &Reply, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO replies (id, actor, in_reply_to, content_html, url, published) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
         content_html = $4, url = $5, updated_at = $7 WHERE replies.actor = $2",
    )
    .bind(&r.id)
    .bind(&r.actor)
    .bind(&r.in_reply_to)
    .bind(&r.content_html)
    .bind(&r.url)
    .bind(r.published)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(())
}

pub async fn reply_by_id(store: &Store, id: &str) -> Result<Option<Reply>> {
    let row = sqlx::query(
        "SELECT id, actor, in_reply_to, content_html, url, published FROM replies WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(reply_from_row).transpose()
}

/// Deletes a reply if `actor` wrote it.
pub async fn delete_reply(store: &Store, id: &str, actor: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM replies WHERE id = $1 AND actor = $2")
        .bind(id)
        .bind(actor)
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Replies to `object`, oldest first.
pub async fn replies_to(store: &Store, object: &str, limit: i64) -> Result<Vec<Reply>> {
    let rows = sqlx::query(
        "SELECT id, actor, in_reply_to, content_html, url, published FROM replies \
         WHERE in_reply_to = $1 ORDER BY published, id LIMIT $2",
    )
    .bind(object)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(reply_from_row).collect()
}

/// The newest likes, boosts and replies on any product whose id starts with `prefix` (one
/// shop's products), for the seller's dashboard: (kind, activity or reply id, actor, object,
/// at, reply text).
#[allow(clippy::type_complexity)]
pub async fn recent_for_prefix(
    store: &Store,
    prefix: &str,
    limit: i64,
) -> Result<Vec<(String, String, String, String, i64, Option<String>)>> {
    let pattern = format!(
        "{}%",
        prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows: Vec<(String, String, String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT kind, activity_id, actor, object, created_at, CAST(NULL AS TEXT) FROM reactions WHERE object LIKE $1 ESCAPE '\\' \
         UNION ALL SELECT 'reply', id, actor, in_reply_to, published, content_html FROM replies \
         WHERE in_reply_to LIKE $1 ESCAPE '\\' ORDER BY 5 DESC LIMIT $2",
    )
    .bind(pattern)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    Ok(rows)
}

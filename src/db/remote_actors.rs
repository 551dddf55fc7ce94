//! Actors on other servers, as last fetched.

use sqlx::Row;

use super::Store;
use crate::domain::social::RemoteActor;
use crate::error::Result;

const COLUMNS: &str = "id, kind, username, host, name, summary_html, url, icon_url, inbox, \
                       shared_inbox, followers, key_id, public_key_pem, fetched_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<RemoteActor> {
    Ok(RemoteActor {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        username: r.try_get("username")?,
        host: r.try_get("host")?,
        name: r.try_get("name")?,
        summary_html: r.try_get("summary_html")?,
        url: r.try_get("url")?,
        icon_url: r.try_get("icon_url")?,
        inbox: r.try_get("inbox")?,
        shared_inbox: r.try_get("shared_inbox")?,
        followers: r.try_get("followers")?,
        key_id: r.try_get("key_id")?,
        public_key_pem: r.try_get("public_key_pem")?,
        fetched_at: r.try_get("fetched_at")?,
    })
}

/// Inserts or refreshes an actor.
pub async fn upsert(store: &Store, a: &RemoteActor) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO remote_actors ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14) ON CONFLICT (id) DO UPDATE SET kind = $2, username = $3, host = $4, \
         name = $5, summary_html = $6, url = $7, icon_url = $8, inbox = $9, shared_inbox = $10, \
         followers = $11, key_id = $12, public_key_pem = $13, fetched_at = $14"
    ))
    .bind(&a.id)
    .bind(&a.kind)
    .bind(&a.username)
    .bind(&a.host)
    .bind(&a.name)
    .bind(&a.summary_html)
    .bind(&a.url)
    .bind(&a.icon_url)
    .bind(&a.inbox)
    .bind(&a.shared_inbox)
    .bind(&a.followers)
    .bind(&a.key_id)
    .bind(&a.public_key_pem)
    .bind(a.fetched_at)
    .execute(store.pool())
    .await?;
    Ok(())
}

pub async fn by_id(store: &Store, id: &str) -> Result<Option<RemoteActor>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM remote_actors WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_key_id(store: &Store, key_id: &str) -> Result<Option<RemoteActor>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM remote_actors WHERE key_id = $1 ORDER BY fetched_at DESC LIMIT 1"
    ))
    .bind(key_id)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_handle(store: &Store, username: &str, host: &str) -> Result<Option<RemoteActor>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM remote_actors WHERE username = $1 AND host = $2 \
         ORDER BY fetched_at DESC LIMIT 1"
    ))
    .bind(username)
    .bind(host)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Several actors at once (for rendering replies and follower lists).
pub async fn by_ids(store: &Store, ids: &[String]) -> Result<Vec<RemoteActor>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM remote_actors WHERE id IN ({})",
        super::placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    q.fetch_all(store.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Forgets an actor that was deleted on its server, with everything it did here.
pub async fn delete_with_traces(store: &Store, id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    for sql in [
        "DELETE FROM follows WHERE follower = $1 OR followee = $1",
        "DELETE FROM reactions WHERE actor = $1",
        "DELETE FROM replies WHERE actor = $1",
        "DELETE FROM remote_products WHERE actor = $1",
        "DELETE FROM remote_actors WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

//! Follow relationships between actor ids, local or remote.

use sqlx::Row;

use super::Store;
use crate::domain::social::{Follow, FollowState};
use crate::error::Result;

fn from_row(r: &sqlx::any::AnyRow) -> Result<Follow> {
    Ok(Follow {
        follower: r.try_get("follower")?,
        followee: r.try_get("followee")?,
        state: FollowState::parse(&r.try_get::<String, _>("state")?),
        activity_id: r.try_get("activity_id")?,
        created_at: r.try_get("created_at")?,
    })
}

const COLUMNS: &str = "follower, followee, state, activity_id, created_at";

/// Records a follow; a repeated Follow replaces the activity id and keeps an accepted state.
pub async fn upsert(store: &Store, f: &Follow) -> Result<()> {
    sqlx::query(
        "INSERT INTO follows (follower, followee, state, activity_id, created_at, accepted_at) \
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $3 = 'accepted' THEN $5 ELSE NULL END) \
         ON CONFLICT (follower, followee) DO UPDATE SET activity_id = $4, \
         state = CASE WHEN follows.state = 'accepted' THEN 'accepted' ELSE $3 END",
    )
    .bind(&f.follower)
    .bind(&f.followee)
    .bind(f.state.as_str())
    .bind(&f.activity_id)
    .bind(f.created_at)
    .execute(store.pool())
    .await?;
    Ok(())
}

pub async fn get(store: &Store, follower: &str, followee: &str) -> Result<Option<Follow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM follows WHERE follower = $1 AND followee = $2"
    ))
    .bind(follower)
    .bind(followee)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Marks a pending follow accepted; false when there was none.
pub async fn accept(store: &Store, follower: &str, followee: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE follows SET state = 'accepted', accepted_at = $3 \
         WHERE follower = $1 AND followee = $2",
    )
    .bind(follower)
    .bind(followee)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Removes a follow; true when there was one.
pub async fn delete(store: &Store, follower: &str, followee: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM follows WHERE follower = $1 AND followee = $2")
        .bind(follower)
        .bind(followee)
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Follows of `actor` in one direction and state, newest first.
pub async fn list(
    store: &Store,
    actor: &str,
    followers_of: bool,
    state: FollowState,
    limit: i64,
    offset: i64,
) -> Result<Vec<Follow>> {
    let col = if followers_of { "followee" } else { "follower" };
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM follows WHERE {col} = $1 AND state = $2 \
         ORDER BY created_at DESC, follower LIMIT $3 OFFSET $4"
    ))
    .bind(actor)
    .bind(state.as_str())
    .bind(limit)
    .bind(offset)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn count(
    store: &Store,
    actor: &str,
    followers_of: bool,
    state: FollowState,
) -> Result<i64> {
    let col = if followers_of { "followee" } else { "follower" };
    let n: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM follows WHERE {col} = $1 AND state = $2"
    ))
    .bind(actor)
    .bind(state.as_str())
    .fetch_one(store.pool())
    .await?;
    Ok(n)
}

/// Distinct delivery inboxes (shared inbox when known) of the accepted remote followers of
/// `actor`.
pub async fn follower_inboxes(store: &Store, actor: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT COALESCE(a.shared_inbox, a.inbox) FROM follows f \
         JOIN remote_actors a ON a.id = f.follower \
         WHERE f.followee = $1 AND f.state = 'accepted'",
    )
    .bind(actor)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The follow of `followee` that the Follow activity `activity_id` made, in any state.
pub async fn by_activity_id(
    store: &Store,
    followee: &str,
    activity_id: &str,
) -> Result<Option<Follow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM follows WHERE followee = $1 AND activity_id = $2"
    ))
    .bind(followee)
    .bind(activity_id)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

//! Users, the shared actor-name namespace, web sessions and API tokens.

use sqlx::Row;

use super::{unique_to_conflict, Store, Tx};
use crate::domain::accounts::{Role, User};
use crate::domain::ids::{TokenId, UserId};
use crate::error::{Error, Problem, Result};

const USER_COLUMNS: &str = "id, username, display_name, role, created_at";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: UserId::from_db(row.try_get("id")?),
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(&role)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("bad role {role}")))?,
        created_at: row.try_get("created_at")?,
    })
}

/// Claims `name` for an actor of `kind`; `field` names the input for the error.
pub async fn claim_name(tx: &mut Tx, name: &str, kind: &str, field: &str) -> Result<()> {
    sqlx::query("INSERT INTO actor_names (name, kind) VALUES ($1, $2)")
        .bind(name)
        .bind(kind)
        .execute(&mut **tx)
        .await
        .map_err(|e| match unique_to_conflict(e, "taken") {
            e if e.kind == crate::error::ErrorKind::Conflict => {
                Error::field(field, Problem::HandleTaken)
            }
            e => e,
        })?;
    Ok(())
}

pub async fn insert(tx: &mut Tx, user: &User, password_hash: &str) -> Result<()> {
    claim_name(tx, &user.username, "user", "username").await?;
    sqlx::query(
        "INSERT INTO users (id, username, display_name, password_hash, role, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user.id.as_str())
    .bind(&user.username)
    .bind(&user.display_name)
    .bind(password_hash)
    .bind(user.role.as_str())
    .bind(user.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn admin_exists(store: &Store) -> Result<bool> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'")
        .fetch_one(store.pool())
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

pub async fn by_username(store: &Store, username: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
    ))
    .bind(username)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn by_username_with_hash(
    store: &Store,
    username: &str,
) -> Result<Option<(User, String)>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"
    ))
    .bind(username)
    .fetch_optional(store.pool())
    .await?;
    match row {
        Some(r) => Ok(Some((user_from_row(&r)?, r.try_get("password_hash")?))),
        None => Ok(None),
    }
}

pub async fn by_id(store: &Store, id: &UserId) -> Result<Option<User>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id.as_str())
        .fetch_optional(store.pool())
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn list(store: &Store) -> Result<Vec<User>> {
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY username"
    ))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(user_from_row).collect()
}

pub async fn insert_session(
    store: &Store,
    hash: &str,
    user: &UserId,
    now: i64,
    expires: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash)
        .bind(user.as_str())
        .bind(now)
        .bind(expires)
        .execute(store.pool())
        .await?;
    Ok(())
}

pub async fn session_user(store: &Store, hash: &str, now: i64) -> Result<Option<User>> {
    let row = sqlx::query(
        "SELECT u.id, u.username, u.display_name, u.role, u.created_at FROM sessions s \
         JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn delete_session(store: &Store, hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(hash)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Removes sessions that have expired.
pub async fn delete_expired_sessions(store: &Store, now: i64) -> Result<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected())
}

pub async fn insert_token(
    store: &Store,
    id: &TokenId,
    user: &UserId,
    hash: &str,
    label: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, token_hash, label, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.as_str())
    .bind(user.as_str())
    .bind(hash)
    .bind(label)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(())
}

pub async fn token_user(store: &Store, hash: &str) -> Result<Option<User>> {
    let row = sqlx::query(
        "SELECT u.id, u.username, u.display_name, u.role, u.created_at FROM api_tokens t \
         JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Number of accounts.
pub async fn count(store: &Store) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(store.pool())
        .await?)
}

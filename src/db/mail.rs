//! The mail outbox: notifications written in the same transaction as the change they tell
//! about, sent by the mail worker, deleted once sent. Recipients are personal data: they are
//! never logged.

use sqlx::Row;

use super::{Store, Tx};
use crate::error::Result;

/// One queued message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
}

pub async fn enqueue(
    tx: &mut Tx,
    recipient: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, recipient, subject, body, attempts, next_attempt_at, \
         created_at) VALUES ($1, $2, $3, $4, 0, $5, $5)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(recipient)
    .bind(subject)
    .bind(body)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn due(store: &Store, now: i64, limit: i64) -> Result<Vec<QueuedMail>> {
    let rows = sqlx::query(
        "SELECT id, recipient, subject, body, attempts FROM mail_outbox \
         WHERE next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(QueuedMail {
                id: r.try_get("id")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

/// Takes due rows for sending: pushes their next due time to `until` (so another process
/// skips them meanwhile) and counts the attempt. Returns the ids this call took.
pub async fn take(store: &Store, ids: &[String], now: i64, until: i64) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "UPDATE mail_outbox SET next_attempt_at = $1, attempts = attempts + 1 \
         WHERE next_attempt_at <= $2 AND id IN ({}) RETURNING id",
        super::placeholders(3, ids.len())
    );
    let mut q = sqlx::query_scalar(&sql).bind(until).bind(now);
    for id in ids {
        q = q.bind(id);
    }
    Ok(q.fetch_all(store.pool()).await?)
}

/// Deletes sent messages.
pub async fn sent(store: &Store, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "DELETE FROM mail_outbox WHERE id IN ({})",
        super::placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    q.execute(store.pool()).await?;
    Ok(())
}

pub async fn failed(store: &Store, id: &str, error: &str, retry_at: i64) -> Result<()> {
    sqlx::query("UPDATE mail_outbox SET last_error = $2, next_attempt_at = $3 WHERE id = $1")
        .bind(id)
        .bind(error)
        .bind(retry_at)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Messages still waiting (for /metrics and tests).
pub async fn pending(store: &Store) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox")
        .fetch_one(store.pool())
        .await?)
}

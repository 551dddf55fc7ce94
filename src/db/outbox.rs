//! The transactional outbox and its follow-ups: domain events written with the change,
//! activities our actors sent (their deliveries are queued in `deliveries`), what we have published
//! (to skip no-op Updates).

use sqlx::Row;

use super::deliveries::NewDelivery;
use super::{Store, Tx};
use crate::error::Result;

/// A domain change waiting to be federated.
#[derive(Clone, Debug)]
pub struct EventRow {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub payload: String,
}

/// Writes an event inside the transaction that makes the change.
pub async fn record_event(
    tx: &mut Tx,
    kind: &str,
    subject: &str,
    payload: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox_events (id, kind, subject, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(kind)
    .bind(subject)
    .bind(payload)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The oldest unprocessed events.
pub async fn pending_events(store: &Store, limit: i64) -> Result<Vec<EventRow>> {
    let rows = sqlx::query(
        "SELECT id, kind, subject, payload FROM outbox_events WHERE processed_at IS NULL \
         ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EventRow {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                subject: r.try_get("subject")?,
                payload: r.try_get("payload")?,
            })
        })
        .collect()
}

/// Records a failed attempt at an event; after `give_up_after` attempts it is set aside
/// (processed, with its last error kept for the admin).
pub async fn event_failed(
    store: &Store,
    id: &str,
    error: &str,
    give_up_after: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox_events SET attempts = attempts + 1, last_error = $2, \
         processed_at = CASE WHEN attempts + 1 >= $3 THEN $4 ELSE NULL END WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(give_up_after)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Marks an event done, in the transaction that stored what it led to. False when another
/// process got there first: the caller must roll back (so each event is federated once, also
/// with several processes on one PostgreSQL, where the second waits for the first's row lock).
pub async fn mark_event_processed(tx: &mut Tx, id: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE outbox_events SET processed_at = $2 WHERE id = $1 AND processed_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// An activity one of our actors sends.
#[derive(Clone, Debug)]
pub struct NewActivity<'a> {
    pub id: &'a str,
    pub actor: &'a str,
    pub kind: &'a str,
    pub object: &'a str,
    pub body: &'a str,
    /// Listed in the actor's public outbox.
    pub public: bool,
}

/// Stores an activity and queues one delivery per inbox, in the caller's transaction.
pub async fn enqueue(
    tx: &mut Tx,
    a: &NewActivity<'_>,
    deliveries: &[NewDelivery<'_>],
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO activities (id, actor, kind, object, body, public, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(a.id)
    .bind(a.actor)
    .bind(a.kind)
    .bind(a.object)
    .bind(a.body)
    .bind(i64::from(a.public))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    super::deliveries::queue(tx, a.id, a.actor, a.object, deliveries, now).await
}

/// A public activity by id (to serve it), as JSON text.
pub async fn public_activity(store: &Store, id: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT body FROM activities WHERE id = $1 AND public = 1")
            .bind(id)
            .fetch_optional(store.pool())
            .await?,
    )
}

/// A page of an actor's public activities, newest first, and the total.
pub async fn outbox_page(
    store: &Store,
    actor: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<String>, i64)> {
    let bodies: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM activities WHERE actor = $1 AND public = 1 \
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(actor)
    .bind(limit)
    .bind(offset)
    .fetch_all(store.pool())
    .await?;
    let total: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM activities WHERE actor = $1 AND public = 1")
            .bind(actor)
            .fetch_one(store.pool())
            .await?;
    Ok((bodies, total))
}

/// What we last published about an object: (content hash, state `live` or `deleted`).
pub async fn federated_object(store: &Store, id: &str) -> Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT content_hash, state FROM federated_objects WHERE id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    Ok(match row {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
        None => None,
    })
}

pub async fn set_federated_object(
    tx: &mut Tx,
    id: &str,
    actor: &str,
    hash: &str,
    state: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO federated_objects (id, actor, content_hash, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO UPDATE SET content_hash = $3, \
         state = $4, updated_at = $5",
    )
    .bind(id)
    .bind(actor)
    .bind(hash)
    .bind(state)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The newest activity of `kind` that `actor` sent about `object`.
pub async fn find_activity(
    store: &Store,
    actor: &str,
    kind: &str,
    object: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM activities WHERE actor = $1 AND kind = $2 AND object = $3 \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(actor)
    .bind(kind)
    .bind(object)
    .fetch_optional(store.pool())
    .await?)
}

/// Removes one of our activities (a withdrawn boost leaves the outbox); queued deliveries of
/// it are dropped with it.
pub async fn delete_activity(store: &Store, id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query("DELETE FROM deliveries WHERE activity_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM activities WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Empties the stored bodies of private activities of `kind` (an `Offer` carries the buyer's
/// address) once nothing is left to deliver: no queued, retrying or failed delivery refers to
/// them. Returns how many were emptied.
pub async fn forget_delivered_private(store: &Store, kind: &str) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE activities SET body = '' WHERE kind = $1 AND public = 0 AND body <> '' \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.activity_id = activities.id)",
    )
    .bind(kind)
    .execute(store.pool())
    .await?
    .rows_affected())
}

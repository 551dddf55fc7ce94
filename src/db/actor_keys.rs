//! RSA key pairs of our own actors, keyed by actor id.

use sqlx::Row;

use super::Store;
use crate::error::Result;

/// (public PEM, private PEM) of a local actor, if made already.
pub async fn get(store: &Store, actor: &str) -> Result<Option<(String, String)>> {
    let row =
        sqlx::query("SELECT public_key_pem, private_key_pem FROM actor_keys WHERE actor = $1")
            .bind(actor)
            .fetch_optional(store.pool())
            .await?;
    Ok(match row {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
        None => None,
    })
}

/// Stores a key pair unless the actor has one already (two racing creators keep the first).
pub async fn insert_if_absent(
    store: &Store,
    actor: &str,
    public_pem: &str,
    private_pem: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO actor_keys (actor, public_key_pem, private_key_pem, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (actor) DO NOTHING",
    )
    .bind(actor)
    .bind(public_pem)
    .bind(private_pem)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(())
}

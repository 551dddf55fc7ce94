//! Key pairs of our actors: made on first need (RSA generation takes ~0.2 s, so not inside
//! sign-up), stored in `actor_keys`, parsed once and cached.

use std::sync::Arc;

use super::fetch::SigningKey;
use super::signatures;
use crate::db::{actor_keys, Store};
use crate::domain::now_ms;
use crate::error::{Error, Result};
use crate::urls::Urls;

/// The public key PEM of a local actor, making its key pair if it has none yet.
pub async fn public_pem(store: &Store, actor_id: &str) -> Result<String> {
    Ok(ensure(store, actor_id).await?.0)
}

/// The key a local actor signs with.
pub async fn signing_key(
    store: &Store,
    cache: &std::sync::Mutex<std::collections::HashMap<String, SigningKey>>,
    actor_id: &str,
) -> Result<SigningKey> {
    if let Some(k) = cache.lock().expect("key cache").get(actor_id) {
        return Ok(k.clone());
    }
    let (_, private_pem) = ensure(store, actor_id).await?;
    let key = signatures::parse_private_key(&private_pem).map_err(Error::internal)?;
    let k = SigningKey {
        key_id: Urls::key_id(actor_id),
        key: Arc::new(key),
    };
    cache
        .lock()
        .expect("key cache")
        .insert(actor_id.to_string(), k.clone());
    Ok(k)
}

async fn ensure(store: &Store, actor_id: &str) -> Result<(String, String)> {
    if let Some(pair) = actor_keys::get(store, actor_id).await? {
        return Ok(pair);
    }
    let (public, private) = tokio::task::spawn_blocking(signatures::generate_key_pair)
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)?;
    actor_keys::insert_if_absent(store, actor_id, &public, &private, now_ms()).await?;
    // Another request may have won the race: use what is stored.
    actor_keys::get(store, actor_id)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("actor key vanished")))
}

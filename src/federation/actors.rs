//! Actors: the documents of our own (shops as `Organization`, members as `Person`, the
//! instance as `Application`), and reading, checking and caching other servers' actors, with
//! their parsed public keys kept in memory by key id (`KeyCache`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fetch::{authority, FetchError};
use super::protocol::{
    self, actor_context, id_of, many, str_of, type_of, Actor, Endpoints, ImageObject,
    PropertyValue, PublicKey,
};
use super::signatures::VerifyingKey;
use super::{keys, Federation};
use crate::db::{self, Store};
use crate::domain::accounts::User;
use crate::domain::catalog::Shop;
use crate::domain::social::RemoteActor;
use crate::domain::{markdown, now_ms, rfc3339};
use crate::error::Result;
use crate::server::AppState;
use crate::urls::Urls;

/// Actor types Mastodon accepts.
pub const ACTOR_TYPES: [&str; 5] = ["Person", "Organization", "Application", "Service", "Group"];

fn collection_urls(
    id: &str,
    inbox: String,
    shared: String,
) -> (String, String, String, String, Endpoints) {
    (
        inbox,
        format!("{id}/outbox"),
        format!("{id}/followers"),
        format!("{id}/following"),
        Endpoints {
            shared_inbox: shared,
        },
    )
}

fn image(urls: &Urls, img: &crate::domain::images::Image) -> ImageObject {
    ImageObject {
        kind: "Image".into(),
        url: urls.absolute(&img.path()),
        media_type: Some(img.mime.clone()),
        name: None,
        width: None,
        height: None,
    }
}

/// The `Organization` document of a shop (its key made on first need).
pub async fn shop_actor(state: &AppState, shop: &Shop) -> Result<Actor> {
    let id = state.urls.shop(&shop.handle);
    let public_key_pem = keys::public_pem(&state.store, &id).await?;
    Ok(shop_actor_doc(&state.urls, shop, public_key_pem))
}

/// The `Organization` document of a shop with the given public key.
pub fn shop_actor_doc(urls: &Urls, shop: &Shop, public_key_pem: String) -> Actor {
    let id = urls.shop(&shop.handle);
    let (inbox, outbox, followers, following, endpoints) =
        collection_urls(&id, format!("{id}/inbox"), urls.shared_inbox());
    Actor {
        context: actor_context(),
        kind: "Organization".into(),
        preferred_username: shop.handle.clone(),
        name: shop.name.clone(),
        summary: shop.summary_html.clone(),
        url: id.clone(),
        inbox,
        outbox,
        followers,
        following,
        endpoints,
        public_key: PublicKey {
            id: Urls::key_id(&id),
            owner: id.clone(),
            public_key_pem,
        },
        manually_approves_followers: shop.manually_approves_followers,
        discoverable: true,
        indexable: true,
        published: rfc3339(shop.created_at),
        icon: shop.avatar.as_ref().map(|i| image(urls, i)),
        image: shop.banner.as_ref().map(|i| image(urls, i)),
        attachment: shop
            .links
            .iter()
            .map(|l| PropertyValue {
                kind: "PropertyValue".into(),
                name: l.label.clone(),
                value: format!(
                    "<a href=\"{0}\" rel=\"me nofollow noopener noreferrer\" target=\"_blank\">{0}</a>",
                    markdown::escape_html(&l.url)
                ),
            })
            .collect(),
        id,
    }
}

/// The `Person` document of a member.
pub async fn user_actor(state: &AppState, user: &User) -> Result<Actor> {
    let id = state.urls.user(&user.username);
    let public_key_pem = keys::public_pem(&state.store, &id).await?;
    let (inbox, outbox, followers, following, endpoints) =
        collection_urls(&id, format!("{id}/inbox"), state.urls.shared_inbox());
    Ok(Actor {
        context: actor_context(),
        kind: "Person".into(),
        preferred_username: user.username.clone(),
        name: user.display_name.clone(),
        summary: String::new(),
        url: id.clone(),
        inbox,
        outbox,
        followers,
        following,
        endpoints,
        public_key: PublicKey {
            id: Urls::key_id(&id),
            owner: id.clone(),
            public_key_pem,
        },
        manually_approves_followers: false,
        discoverable: false,
        indexable: false,
        published: rfc3339(user.created_at),
        icon: None,
        image: None,
        attachment: vec![],
        id,
    })
}

/// The instance actor (`Application`, username = the domain): signs our fetches and is
/// served without a signature even under authorized fetch, so no two servers deadlock.
pub async fn instance_actor(state: &AppState) -> Result<Actor> {
    let id = state.urls.instance_actor();
    let public_key_pem = keys::public_pem(&state.store, &id).await?;
    let shared = state.urls.shared_inbox();
    let (_, outbox, followers, following, endpoints) =
        collection_urls(&id, shared.clone(), shared.clone());
    Ok(Actor {
        context: actor_context(),
        kind: "Application".into(),
        preferred_username: state.settings.domain.clone(),
        name: state.settings.domain.clone(),
        summary: String::new(),
        url: state.urls.absolute("/"),
        inbox: shared,
        outbox,
        followers,
        following,
        endpoints,
        public_key: PublicKey {
            id: Urls::key_id(&id),
            owner: id.clone(),
            public_key_pem,
        },
        manually_approves_followers: true,
        discoverable: false,
        indexable: false,
        published: rfc3339(0),
        icon: None,
        image: None,
        attachment: vec![],
        id,
    })
}

/// Reads an actor document, fetched (the fetcher checked that its `id` is the URL) or
/// embedded in an activity by the actor itself. Everything it names as its own must be on
/// its host.
pub fn parse_remote_actor(doc: &Value, now: i64) -> std::result::Result<RemoteActor, &'static str> {
    let id = str_of(doc, "id").ok_or("actor without id")?;
    let kind = type_of(doc).ok_or("actor without type")?;
    if !ACTOR_TYPES.contains(&kind) {
        return Err("not an actor type");
    }
    let url = url::Url::parse(id).map_err(|_| "actor id is not a URL")?;
    let host = authority(&url).ok_or("actor id without host")?;
    let inbox = str_of(doc, "inbox").ok_or("actor without inbox")?;
    let username = str_of(doc, "preferredUsername").ok_or("actor without preferredUsername")?;
    let key = doc.get("publicKey").ok_or("actor without publicKey")?;
    let key = many(Some(key))
        .into_iter()
        .find(|k| str_of(k, "owner") == Some(id) || str_of(k, "owner").is_none())
        .ok_or("no public key owned by the actor")?;
    let key_id = str_of(key, "id").ok_or("public key without id")?;
    let pem = str_of(key, "publicKeyPem").ok_or("public key without PEM")?;
    // Everything the actor names as its own must live on its host.
    let same_host = |u: &str| {
        url::Url::parse(u)
            .ok()
            .and_then(|u| authority(&u))
            .is_some_and(|h| h == host)
    };
    if !same_host(inbox) || !same_host(key_id) {
        return Err("inbox or key on another host");
    }
    let shared_inbox = doc
        .get("endpoints")
        .and_then(|e| str_of(e, "sharedInbox"))
        .or_else(|| str_of(doc, "sharedInbox"))
        .filter(|s| same_host(s))
        .map(str::to_string);
    let followers = str_of(doc, "followers")
        .filter(|s| same_host(s))
        .map(str::to_string);
    let icon_url = doc.get("icon").and_then(|i| match i {
        Value::String(s) => Some(s.clone()),
        other => many(Some(other))
            .first()
            .and_then(|i| i.get("url"))
            .and_then(|u| id_of(u).or_else(|| u.get("href").and_then(Value::as_str)))
            .map(str::to_string),
    });
    let profile_url = doc
        .get("url")
        .and_then(|u| {
            many(Some(u))
                .into_iter()
                .find_map(|x| id_of(x).or_else(|| str_of(x, "href")))
        })
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_string);
    let clip = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    Ok(RemoteActor {
        id: id.to_string(),
        kind: kind.to_string(),
        username: clip(username, 100),
        host,
        name: clip(str_of(doc, "name").unwrap_or(username), 200),
        summary_html: markdown::sanitize(&clip(str_of(doc, "summary").unwrap_or(""), 5000)),
        url: profile_url,
        icon_url,
        inbox: inbox.to_string(),
        shared_inbox,
        followers,
        key_id: key_id.to_string(),
        public_key_pem: pem.to_string(),
        fetched_at: now,
    })
}

/// How old a cached actor may be before it is fetched again.
const ACTOR_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// A remote actor by id: from the cache when fresh, else fetched (signed by the instance
/// actor), checked and stored.
pub async fn remote_actor(state: &AppState, id: &str, refresh: bool) -> Result<RemoteActor> {
    if !refresh {
        if let Some(a) = db::remote_actors::by_id(&state.store, id).await? {
            if now_ms() - a.fetched_at < ACTOR_TTL_MS {
                return Ok(a);
            }
        }
    }
    fetch_actor(state, id).await
}

async fn fetch_actor(state: &AppState, id: &str) -> Result<RemoteActor> {
    if state.urls.is_local(id) {
        return Err(crate::error::Error::bad_request(
            "that actor is on this server",
        ));
    }
    let fed = &state.federation;
    let signer = fed.instance_key(state).await?;
    let doc = fed
        .client
        .get_object(id, &signer)
        .await
        .map_err(fetch_error)?;
    if !protocol::has_as_context(&doc) {
        return Err(crate::error::Error::bad_request(format!(
            "{id} has no ActivityStreams @context"
        )));
    }
    let actor = parse_remote_actor(&doc, now_ms()).map_err(|why| {
        crate::error::Error::bad_request(format!("{id} is not a usable actor: {why}"))
    })?;
    db::remote_actors::upsert(&state.store, &actor).await?;
    Ok(actor)
}

/// The actor that owns a key id: by cache, else by fetching the key's document (an actor
/// with that key, or a key document whose `owner` is fetched next).
pub async fn actor_for_key(state: &AppState, key_id: &str, refresh: bool) -> Result<RemoteActor> {
    if !refresh {
        if let Some(a) = db::remote_actors::by_key_id(&state.store, key_id).await? {
            return Ok(a);
        }
    }
    let actor_url = super::signatures::actor_of_key_id(key_id);
    let actor = match remote_actor(state, actor_url, true).await {
        Ok(a) => a,
        Err(_) => {
            // A separate key document, or GoToSocial's `…/main-key`, which answers with a stub
            // whose id is the actor's: read the owner (top level or in `publicKey`) and fetch
            // that actor properly. The owner must live on the key's host.
            let fed = &state.federation;
            let signer = fed.instance_key(state).await?;
            let doc = fed
                .client
                .get_key_document(key_id, &signer)
                .await
                .map_err(fetch_error)?;
            let owner = str_of(&doc, "owner")
                .or_else(|| doc.get("publicKey").and_then(|k| str_of(k, "owner")))
                .ok_or_else(|| crate::error::Error::bad_request("key without owner"))?
                .to_string();
            let same_host = |u: &str| url::Url::parse(u).ok().and_then(|u| authority(&u));
            if same_host(&owner).is_none() || same_host(&owner) != same_host(key_id) {
                return Err(crate::error::Error::bad_request(
                    "the key's owner is on another host",
                ));
            }
            remote_actor(state, &owner, true).await?
        }
    };
    if actor.key_id != key_id {
        return Err(crate::error::Error::bad_request(
            "the key does not belong to its actor",
        ));
    }
    Ok(actor)
}

/// The verified owner of a key: what the inbox needs to know about a signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyOwner {
    /// The actor's id.
    pub id: String,
    /// `host[:port]` of the actor's id.
    pub host: String,
}

/// A key of a remote actor, parsed, with its owner.
#[derive(Clone)]
pub struct CachedKey {
    pub owner: KeyOwner,
    pub key: Arc<VerifyingKey>,
    cached_at: Instant,
}

/// Parsed public keys of remote actors by key id, so a steady sender costs neither a
/// database read nor a PEM parse per request. Entries live an hour at most (the inbox also
/// fetches the actor again whenever a cached key does not verify); at most `capacity` are
/// kept, expired ones and then the oldest going first.
pub struct KeyCache {
    entries: Mutex<HashMap<String, CachedKey>>,
    capacity: usize,
    ttl: Duration,
}

impl KeyCache {
    pub fn new(capacity: usize, ttl: Duration) -> KeyCache {
        KeyCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedKey>> {
        // The map stays consistent even if a holder panicked: every change is one call.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key cached for `key_id`, if it is fresh.
    pub fn get(&self, key_id: &str) -> Option<CachedKey> {
        let entries = self.lock();
        entries
            .get(key_id)
            .filter(|e| e.cached_at.elapsed() < self.ttl)
            .cloned()
    }

    /// Remembers `actor`'s key under `key_id`.
    pub fn insert(&self, key_id: &str, actor: &RemoteActor, key: Arc<VerifyingKey>) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(key_id) {
            let ttl = self.ttl;
            entries.retain(|_, e| e.cached_at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                // Still full of live keys: drop the oldest tenth.
                let mut ages: Vec<(Instant, String)> = entries
                    .iter()
                    .map(|(k, e)| (e.cached_at, k.clone()))
                    .collect();
                let n = (self.capacity / 10).max(1).min(ages.len());
                ages.select_nth_unstable_by_key(n - 1, |(at, _)| *at);
                for (_, k) in ages.into_iter().take(n) {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(
            key_id.to_string(),
            CachedKey {
                owner: KeyOwner {
                    id: actor.id.clone(),
                    host: actor.host.clone(),
                },
                key,
                cached_at: Instant::now(),
            },
        );
    }

    /// Forgets every key of an actor (it was updated or deleted).
    pub fn forget_actor(&self, actor_id: &str) {
        self.lock().retain(|_, e| e.owner.id != actor_id);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub fn fetch_error(e: FetchError) -> crate::error::Error {
    match e {
        FetchError::Gone(u) => crate::error::Error::not_found_msg(format!("{u} is gone")),
        // Our own rules refused the URL (scheme, port, private address): the input is wrong.
        e @ FetchError::Refused(..) => crate::error::Error::bad_request(e.to_string()),
        other => crate::error::Error::bad_gateway(other.to_string()),
    }
}

/// Loads a local user by actor id, for signing and addressing.
pub async fn local_user(store: &Store, username: &str) -> Result<Option<User>> {
    db::users::by_username(store, username).await
}

impl Federation {
    /// The instance actor's signing key.
    pub async fn instance_key(&self, state: &AppState) -> Result<super::fetch::SigningKey> {
        keys::signing_key(&state.store, &self.keys, &state.urls.instance_actor()).await
    }
}

#[cfg(test)]
mod tests;

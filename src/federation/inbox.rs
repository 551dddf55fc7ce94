//! Inboxes: verify, rate-limit, store, answer. A POST is accepted only when its draft-cavage
//! signature covers `(request-target)`, `host`, `date` and `digest`, the Digest is the body's,
//! the Date is within the window, the Host is ours, the key verifies, and the signer is the
//! activity's actor with the activity id on the actor's host. Every signature failure is a
//! 401. Then the signer's instance must be within its rate (else 429 with `Retry-After`), and
//! the activity is stored in the inbox queue (`inbox_queue`): 202 once it is committed. A
//! repeated activity id is acknowledged and has no second effect. `receive` applies it later,
//! in the inbox worker. Also verifies signed GETs for authorized fetch.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::actors::{self, KeyOwner};
use super::fetch::authority;
use super::inbox_queue::Stored;
use super::protocol::{self, id_of, str_of, type_of};
use super::signatures::{self, Incoming, SignatureError};
use crate::db::{self, inbox::NewInboxActivity};
use crate::domain::now_ms;
use crate::metrics::Metrics;
use crate::server::AppState;

/// Largest activity we read.
pub const MAX_INBOX_BYTES: usize = 256 * 1024;
/// Longest activity or actor id we store (longer ones are not real ids, and PostgreSQL
/// cannot index them).
pub const MAX_ID_BYTES: usize = 2048;

pub async fn shared_inbox(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, &method, &uri, &headers, &body).await
}

pub async fn shop_inbox(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if db::shops::by_handle(&state.store, &handle)
        .await
        .ok()
        .flatten()
        .is_none()
    {
        return reject(&state, StatusCode::NOT_FOUND, "no such actor");
    }
    self::handle(&state, &method, &uri, &headers, &body).await
}

pub async fn user_inbox(
    State(state): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if db::users::by_username(&state.store, &name)
        .await
        .ok()
        .flatten()
        .is_none()
    {
        return reject(&state, StatusCode::NOT_FOUND, "no such actor");
    }
    self::handle(&state, &method, &uri, &headers, &body).await
}

fn reject(state: &AppState, status: StatusCode, why: impl std::fmt::Display) -> Response {
    Metrics::inc(&state.federation.metrics.inbox_rejected);
    tracing::debug!(%status, reason = %why, "inbox refused an activity");
    (status, why.to_string()).into_response()
}

fn header_lookup(headers: &HeaderMap) -> impl Fn(&str) -> Option<String> + Sync + '_ {
    move |name: &str| {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

fn path_and_query(uri: &Uri) -> String {
    uri.path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string())
}

/// Verifies a request's signature and returns the signer. `body` is `Some` for POSTs.
pub async fn verify_request(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> Result<KeyOwner, SignatureError> {
    let lookup = header_lookup(headers);
    let target = path_and_query(uri);
    let req = Incoming {
        method: method.as_str(),
        path_and_query: &target,
        header: &lookup,
        body,
        our_host: &state.settings.domain,
        now: now_ms() / 1000,
    };
    let sig = signatures::precheck(&req)?;
    verify_signer(state, &req, &sig).await
}

/// Finds the signer of a prechecked request and verifies its key: the parsed key from the
/// in-memory cache, else the actor from the database or fetched. When the key does not
/// verify, the actor is fetched once more, in case the key was rotated.
async fn verify_signer(
    state: &AppState,
    req: &Incoming<'_>,
    sig: &signatures::SignatureHeader,
) -> Result<KeyOwner, SignatureError> {
    let cache = &state.federation.inbox.keys;
    let known = match cache.get(&sig.key_id) {
        Some(hit) => Some((hit.owner, hit.key)),
        None => {
            let signer = actors::actor_for_key(state, &sig.key_id, false)
                .await
                .map_err(|_| SignatureError::BadKey)?;
            signatures::parse_verifying_key(&signer.public_key_pem).map(|key| {
                let key = Arc::new(key);
                cache.insert(&sig.key_id, &signer, key.clone());
                let owner = KeyOwner {
                    id: signer.id,
                    host: signer.host,
                };
                (owner, key)
            })
        }
    };
    if let Some((owner, key)) = &known {
        match signatures::verify_with(req, sig, key) {
            Ok(()) => return Ok(owner.clone()),
            Err(SignatureError::Invalid) => {}
            Err(e) => return Err(e),
        }
    }
    // The key may have been rotated (or the cached entry just expired): fetch the actor once
    // more.
    let fresh = actors::actor_for_key(state, &sig.key_id, true)
        .await
        .map_err(|_| SignatureError::BadKey)?;
    let key =
        signatures::parse_verifying_key(&fresh.public_key_pem).ok_or(SignatureError::BadKey)?;
    if known.is_some_and(|(_, k)| k.as_ref().as_ref() == key.as_ref()) {
        return Err(SignatureError::Invalid);
    }
    signatures::verify_with(req, sig, &key)?;
    cache.insert(&sig.key_id, &fresh, Arc::new(key));
    Ok(KeyOwner {
        id: fresh.id,
        host: fresh.host,
    })
}

/// An id we are willing to store: short enough and without control characters.
fn storable_id(id: &str) -> bool {
    id.len() <= MAX_ID_BYTES && !id.chars().any(char::is_control)
}

async fn handle(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    // Cheap checks first: a request that cannot carry a valid signature costs no fetch.
    let lookup = header_lookup(headers);
    let target = path_and_query(uri);
    let pre = Incoming {
        method: method.as_str(),
        path_and_query: &target,
        header: &lookup,
        body: Some(body),
        our_host: &state.settings.domain,
        now: now_ms() / 1000,
    };
    let sig = match signatures::precheck(&pre) {
        Ok(sig) => sig,
        Err(e) => return reject(state, StatusCode::UNAUTHORIZED, e),
    };
    let activity: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return reject(
                state,
                StatusCode::BAD_REQUEST,
                "the body is not a JSON object",
            )
        }
    };
    let (Some(id), Some(kind), Some(actor_id)) = (
        str_of(&activity, "id"),
        type_of(&activity),
        activity.get("actor").and_then(id_of),
    ) else {
        return reject(
            state,
            StatusCode::BAD_REQUEST,
            "an activity needs id, type and actor",
        );
    };
    if !storable_id(id) || !storable_id(actor_id) {
        return reject(
            state,
            StatusCode::BAD_REQUEST,
            "the activity or actor id is too long or has control characters",
        );
    }
    if !protocol::has_as_context(&activity) {
        return reject(
            state,
            StatusCode::BAD_REQUEST,
            "no ActivityStreams @context",
        );
    }
    if state.urls.is_local(actor_id) {
        return reject(
            state,
            StatusCode::UNAUTHORIZED,
            "activities of local actors are not accepted here",
        );
    }
    // A deleted account's last word: if we never knew it, there is nothing to delete and
    // no key to fetch (the actor answers 410).
    if kind == "Delete" && activity.get("object").and_then(id_of) == Some(actor_id) {
        let known = db::remote_actors::by_id(&state.store, actor_id)
            .await
            .ok()
            .flatten();
        if known.is_none() {
            return StatusCode::ACCEPTED.into_response();
        }
    }
    let signer = match verify_signer(state, &pre, &sig).await {
        Ok(s) => s,
        Err(e) => return reject(state, StatusCode::UNAUTHORIZED, e),
    };
    if signer.id != actor_id {
        return reject(state, StatusCode::UNAUTHORIZED, SignatureError::WrongActor);
    }
    let same_host = url::Url::parse(id)
        .ok()
        .and_then(|u| authority(&u))
        .is_some_and(|h| h == signer.host);
    if !same_host {
        return reject(
            state,
            StatusCode::BAD_REQUEST,
            "the activity id is not on the actor's host",
        );
    }
    // A signed request from an instance we failed to reach: it is alive again.
    super::delivery::heard_from(state, &signer.host).await;
    let metrics = &state.federation.metrics;
    let inbox = &state.federation.inbox;
    let rate = state.settings.inbox_rate_limit;
    if let Err(wait) = inbox
        .limiter
        .check(&signer.host, rate, std::time::Instant::now())
    {
        Metrics::inc(&metrics.inbox_rate_limited);
        tracing::debug!(host = %signer.host, "inbox rate limit reached");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, wait.to_string())],
            "too many activities from this instance; try again later",
        )
            .into_response();
    }
    // serde_json accepted the body, so it is UTF-8.
    let Ok(text) = std::str::from_utf8(body) else {
        return reject(state, StatusCode::BAD_REQUEST, "the body is not UTF-8");
    };
    let row = NewInboxActivity {
        activity_id: id.to_string(),
        actor: signer.id,
        body: text.to_string(),
        received_at: now_ms(),
    };
    match inbox.store(&state.store, row).await {
        Ok(Stored::New) => {
            Metrics::inc(&metrics.inbox_accepted);
            StatusCode::ACCEPTED.into_response()
        }
        Ok(Stored::Duplicate) => {
            Metrics::inc(&metrics.inbox_duplicates);
            StatusCode::ACCEPTED.into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "inbox could not store an activity");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "10")],
                "the activity could not be stored; try again later",
            )
                .into_response()
        }
    }
}

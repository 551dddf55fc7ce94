//! Inboxes: verify, then hand over to `receive`. A POST is accepted only when its draft-cavage
//! signature covers `(request-target)`, `host`, `date` and `digest`, the Digest is the body's,
//! the Date is within the window, the Host is ours, the key verifies, and the signer is the
//! activity's actor with the activity id on the actor's host. Every signature failure is a
//! 401. A repeated activity id is acknowledged and has no second effect.
//! Also verifies signed GETs for authorized fetch.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::actors;
use super::fetch::authority;
use super::protocol::{self, id_of, str_of, type_of};
use super::receive;
use super::signatures::{self, Incoming, SignatureError};
use crate::db::{self, outbox};
use crate::domain::now_ms;
use crate::domain::social::RemoteActor;
use crate::error::ErrorKind;
use crate::server::AppState;

/// Largest activity we read.
pub const MAX_INBOX_BYTES: usize = 256 * 1024;

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
        return (StatusCode::NOT_FOUND, "no such actor").into_response();
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
        return (StatusCode::NOT_FOUND, "no such actor").into_response();
    }
    self::handle(&state, &method, &uri, &headers, &body).await
}

fn reject(status: StatusCode, why: impl std::fmt::Display) -> Response {
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
) -> Result<RemoteActor, SignatureError> {
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

/// Finds the signer of a prechecked request (cached, else fetched) and verifies its key.
async fn verify_signer(
    state: &AppState,
    req: &Incoming<'_>,
    sig: &signatures::SignatureHeader,
) -> Result<RemoteActor, SignatureError> {
    let signer = actors::actor_for_key(state, &sig.key_id, false)
        .await
        .map_err(|_| SignatureError::BadKey)?;
    match signatures::verify(req, sig, &signer.public_key_pem) {
        Ok(()) => Ok(signer),
        Err(SignatureError::Invalid) | Err(SignatureError::BadKey) => {
            // The key may have been rotated: fetch the actor once more.
            let fresh = actors::actor_for_key(state, &sig.key_id, true)
                .await
                .map_err(|_| SignatureError::BadKey)?;
            if fresh.public_key_pem == signer.public_key_pem {
                return Err(SignatureError::Invalid);
            }
            signatures::verify(req, sig, &fresh.public_key_pem)?;
            Ok(fresh)
        }
        Err(e) => Err(e),
    }
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
        Err(e) => return reject(StatusCode::UNAUTHORIZED, e),
    };
    let activity: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return reject(StatusCode::BAD_REQUEST, "the body is not a JSON object"),
    };
    let (Some(id), Some(kind), Some(actor_id)) = (
        str_of(&activity, "id"),
        type_of(&activity),
        activity.get("actor").and_then(id_of),
    ) else {
        return reject(
            StatusCode::BAD_REQUEST,
            "an activity needs id, type and actor",
        );
    };
    if !protocol::has_as_context(&activity) {
        return reject(StatusCode::BAD_REQUEST, "no ActivityStreams @context");
    }
    if state.urls.is_local(actor_id) {
        return reject(
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
        Err(e) => return reject(StatusCode::UNAUTHORIZED, e),
    };
    if signer.id != actor_id {
        return reject(StatusCode::UNAUTHORIZED, SignatureError::WrongActor);
    }
    let same_host = url::Url::parse(id)
        .ok()
        .and_then(|u| authority(&u))
        .is_some_and(|h| h == signer.host);
    if !same_host {
        return reject(
            StatusCode::BAD_REQUEST,
            "the activity id is not on the actor's host",
        );
    }
    match outbox::claim_inbox_id(&state.store, id, now_ms()).await {
        Ok(true) => {}
        Ok(false) => return StatusCode::ACCEPTED.into_response(),
        Err(e) => return reject(StatusCode::SERVICE_UNAVAILABLE, e),
    }
    match receive::activity(state, &signer, &activity).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => {
            let _ = outbox::release_inbox_id(&state.store, id).await;
            let status = match e.kind {
                ErrorKind::Forbidden => StatusCode::FORBIDDEN,
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                ErrorKind::BadRequest | ErrorKind::Validation => StatusCode::BAD_REQUEST,
                ErrorKind::BadGateway => StatusCode::BAD_GATEWAY,
                _ => {
                    tracing::warn!(error = ?e, activity = %id, "inbox processing failed");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            };
            reject(status, e.message)
        }
    }
}

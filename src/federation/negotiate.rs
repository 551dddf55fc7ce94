//! Content negotiation: actor and product URLs serve HTML to browsers and AS2 JSON to servers
//! that ask for `application/activity+json` or `application/ld+json`. A middleware in front of
//! the web routes answers the JSON side; HTML answers on those paths get `Vary: Accept` and a
//! `Link: rel="alternate"` header pointing at the JSON. Under authorized fetch, JSON GETs need
//! a valid signature (the instance actor stays public).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::protocol::ACTIVITY_JSON;
use super::{actors, inbox, notes};
use crate::db::{self, outbox, reactions};
use crate::domain::catalog::service;
use crate::domain::ids::ProductId;
use crate::server::AppState;

/// Whether an `Accept` header asks for ActivityPub rather than a web page.
pub fn wants_activitypub(accept: &str) -> bool {
    let a = accept.to_ascii_lowercase();
    (a.contains("application/activity+json") || a.contains("application/ld+json"))
        && !a.contains("text/html")
}

/// A JSON response with the ActivityPub media type.
pub fn activity_json(doc: Value) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/activity+json; charset=utf-8"),
            ),
            (header::VARY, HeaderValue::from_static("Accept")),
        ],
        doc.to_string(),
    )
        .into_response()
}

/// Under authorized fetch, a 401 unless the request carries a valid signature.
pub async fn require_signature(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), Response> {
    if !state.settings.authorized_fetch {
        return Ok(());
    }
    match inbox::verify_request(state, method, uri, headers, None).await {
        Ok(_) => Ok(()),
        Err(e) => Err((StatusCode::UNAUTHORIZED, e.to_string()).into_response()),
    }
}

/// The ActivityPub document behind a page path, if the path is one.
enum Target {
    Shop(String),
    User(String),
    Product(String, String),
}

fn target_of(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["shops", h] if !h.is_empty() => Some(Target::Shop(h.to_string())),
        ["users", n] if !n.is_empty() => Some(Target::User(n.to_string())),
        ["shops", h, "products", id] => Some(Target::Product(h.to_string(), id.to_string())),
        _ => None,
    }
}

/// Middleware: answers AS2 requests for actor and product URLs, passes everything else on.
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_get = req.method() == Method::GET || req.method() == Method::HEAD;
    let target = if is_get {
        target_of(req.uri().path())
    } else {
        None
    };
    let Some(target) = target else {
        return next.run(req).await;
    };
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if wants_activitypub(&accept) {
        let (parts, _) = req.into_parts();
        if let Err(resp) =
            require_signature(&state, &parts.method, &parts.uri, &parts.headers).await
        {
            return resp;
        }
        return serve(&state, target).await;
    }
    let alternate = state.urls.absolute(req.uri().path());
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Accept"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "<{alternate}>; rel=\"alternate\"; type=\"{ACTIVITY_JSON}\""
    )) {
        headers.append(header::LINK, v);
    }
    resp
}

async fn serve(state: &AppState, target: Target) -> Response {
    let result = match target {
        Target::Shop(h) => match db::shops::by_handle(&state.store, &h).await {
            Ok(Some(shop)) => actors::shop_actor(state, &shop).await.map(|a| json!(a)),
            Ok(None) => return StatusCode::NOT_FOUND.into_response(),
            Err(e) => Err(e),
        },
        Target::User(n) => match db::users::by_username(&state.store, &n).await {
            Ok(Some(user)) => actors::user_actor(state, &user).await.map(|a| json!(a)),
            Ok(None) => return StatusCode::NOT_FOUND.into_response(),
            Err(e) => Err(e),
        },
        Target::Product(h, id) => return product(state, &h, &id).await,
    };
    match result {
        Ok(doc) => activity_json(doc),
        Err(e) => {
            tracing::warn!(error = ?e, "serving an actor failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn product(state: &AppState, handle: &str, id: &str) -> Response {
    let Some(pid) = ProductId::parse(id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let ap_id = state.urls.product(handle, &pid);
    if let Ok((shop, p)) = service::visible_product(&state.store, None, &pid).await {
        if shop.handle == handle {
            let mut note = notes::product_note(&state.urls, &shop, &p);
            note.replies.total_items = reactions::replies_to(&state.store, &ap_id, 1000)
                .await
                .map(|r| r.len() as i64)
                .unwrap_or(0);
            return activity_json(json!(note));
        }
    }
    // Deleted (or withdrawn) after being published: 410 with a Tombstone.
    if let Ok(Some((_, s))) = outbox::federated_object(&state.store, &ap_id).await {
        if s == "deleted" {
            let body = json!({
                "@context": super::protocol::AS_CONTEXT,
                "id": ap_id,
                "type": "Tombstone",
            });
            let mut resp = activity_json(body);
            *resp.status_mut() = StatusCode::GONE;
            return resp;
        }
    }
    StatusCode::NOT_FOUND.into_response()
}

/// `GET /actor`: the instance actor, always without a signature.
pub async fn instance_actor(State(state): State<AppState>) -> Response {
    match actors::instance_actor(&state).await {
        Ok(a) => activity_json(json!(a)),
        Err(e) => {
            tracing::warn!(error = ?e, "serving the instance actor failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

//! Discovery: WebFinger (`acct:` and URL resources), host-meta (XRD) and NodeInfo 2.0/2.1.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::protocol::ACTIVITY_JSON;
use crate::db;
use crate::server::AppState;
use crate::urls::LocalActor;

#[derive(Deserialize)]
pub struct WebfingerQuery {
    resource: Option<String>,
}

fn jrd(body: serde_json::Value) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/jrd+json; charset=utf-8"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// `GET /.well-known/webfinger?resource=acct:name@host` (or the actor's URL).
pub async fn webfinger(State(state): State<AppState>, Query(q): Query<WebfingerQuery>) -> Response {
    let Some(resource) = q.resource.map(|r| r.trim().to_string()) else {
        return (StatusCode::BAD_REQUEST, "resource is required").into_response();
    };
    let domain = state.settings.domain.to_ascii_lowercase();
    let name = if let Some(acct) = resource.strip_prefix("acct:") {
        let acct = acct.trim_start_matches('@');
        match acct.rsplit_once('@') {
            Some((name, host)) if host.to_ascii_lowercase() == domain => name.to_ascii_lowercase(),
            _ => return (StatusCode::NOT_FOUND, "not on this server").into_response(),
        }
    } else {
        match state.urls.parse_actor(&resource) {
            Some(LocalActor::Shop(h)) => h,
            Some(LocalActor::User(n)) => n,
            Some(LocalActor::Instance) => domain.clone(),
            None => return (StatusCode::NOT_FOUND, "not on this server").into_response(),
        }
    };
    let (actor, profile) = if name == domain {
        (state.urls.instance_actor(), state.urls.absolute("/"))
    } else if let Ok(Some(shop)) = db::shops::by_handle(&state.store, &name).await {
        let id = state.urls.shop(&shop.handle);
        (id.clone(), id)
    } else if let Ok(Some(user)) = db::users::by_username(&state.store, &name).await {
        let id = state.urls.user(&user.username);
        (id.clone(), id)
    } else {
        return (StatusCode::NOT_FOUND, "no such account").into_response();
    };
    jrd(json!({
        "subject": format!("acct:{name}@{}", state.settings.domain),
        "aliases": [actor],
        "links": [
            {"rel": "self", "type": ACTIVITY_JSON, "href": actor},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": profile},
        ]
    }))
}

/// `GET /.well-known/host-meta`: where WebFinger lives (Pleroma and friends ask).
pub async fn host_meta(State(state): State<AppState>) -> Response {
    let template = state.urls.absolute("/.well-known/webfinger?resource={uri}");
    (
        [(header::CONTENT_TYPE, "application/xrd+xml; charset=utf-8")],
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  <Link rel=\"lrdd\" template=\"{}\"/>\n</XRD>\n",
            crate::domain::markdown::escape_html(&template)
        ),
    )
        .into_response()
}

/// `GET /.well-known/nodeinfo`: links to both schema versions and the instance actor (FEP-2677).
pub async fn nodeinfo_links(State(state): State<AppState>) -> Response {
    let body = json!({
        "links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": state.urls.absolute("/nodeinfo/2.0")},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": state.urls.absolute("/nodeinfo/2.1")},
            {"rel": "https://www.w3.org/ns/activitystreams#Application", "href": state.urls.instance_actor()},
        ]
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn nodeinfo(state: &AppState, version: &str) -> Response {
    let users = db::users::count(&state.store).await.unwrap_or(0);
    let posts = db::products::count_published(&state.store)
        .await
        .unwrap_or(0);
    let software = json!({"name": "fedishop", "version": env!("CARGO_PKG_VERSION")});
    let body = json!({
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": ["atom1.0"]},
        "openRegistrations": state.settings.open_registrations,
        "usage": {"users": {"total": users}, "localPosts": posts},
        "metadata": {"nodeName": state.settings.domain}
    });
    let ct = format!(
        "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/{version}#\""
    );
    ([(header::CONTENT_TYPE, ct)], body.to_string()).into_response()
}

pub async fn nodeinfo_20(State(state): State<AppState>) -> Response {
    nodeinfo(&state, "2.0").await
}

pub async fn nodeinfo_21(State(state): State<AppState>) -> Response {
    nodeinfo(&state, "2.1").await
}

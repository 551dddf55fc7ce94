//! Collections: paged outboxes (our public activities), paged followers and following
//! (accepted follows only, as on Mastodon), the replies of a product, members' reply notes,
//! and single public activities.

use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::negotiate::{activity_json, require_signature};
use super::protocol::AS_CONTEXT;
use crate::db::{self, follows, outbox, reactions};
use crate::domain::ids::ProductId;
use crate::domain::social::FollowState;
use crate::server::AppState;

const PAGE_SIZE: i64 = 20;

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

/// Which local actor a collection path belongs to; 404 when it does not exist.
async fn actor_id(state: &AppState, shop: Option<&str>, user: Option<&str>) -> Option<String> {
    if let Some(h) = shop {
        return db::shops::by_handle(&state.store, h)
            .await
            .ok()
            .flatten()
            .map(|s| state.urls.shop(&s.handle));
    }
    let n = user?;
    db::users::by_username(&state.store, n)
        .await
        .ok()
        .flatten()
        .map(|u| state.urls.user(&u.username))
}

async fn outbox_for(
    state: &AppState,
    actor: Option<String>,
    page: Option<i64>,
    r: &Parts,
) -> Response {
    if let Err(resp) = require_signature(state, &r.method, &r.uri, &r.headers).await {
        return resp;
    }
    let Some(actor) = actor else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let id = format!("{actor}/outbox");
    let page = page.unwrap_or(0).max(0);
    let (bodies, total) = match outbox::outbox_page(
        &state.store,
        &actor,
        PAGE_SIZE,
        (page.max(1) - 1) * PAGE_SIZE,
    )
    .await
    {
        Ok(x) => x,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    if page == 0 {
        return activity_json(json!({
            "@context": AS_CONTEXT,
            "id": id,
            "type": "OrderedCollection",
            "totalItems": total,
            "first": format!("{id}?page=1"),
        }));
    }
    let items: Vec<Value> = bodies
        .iter()
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .map(|mut v| {
            if let Some(o) = v.as_object_mut() {
                o.remove("@context");
            }
            v
        })
        .collect();
    // The items lose their own @context: the page declares the product terms for them.
    let mut doc = json!({
        "@context": super::protocol::note_context(),
        "id": format!("{id}?page={page}"),
        "type": "OrderedCollectionPage",
        "partOf": id,
        "totalItems": total,
        "orderedItems": items,
    });
    if page * PAGE_SIZE < total {
        doc["next"] = json!(format!("{id}?page={}", page + 1));
    }
    if page > 1 {
        doc["prev"] = json!(format!("{id}?page={}", page - 1));
    }
    activity_json(doc)
}

/// Followers or following of an actor, accepted follows only, paged like the outbox.
async fn follow_collection(
    state: &AppState,
    actor: Option<String>,
    followers: bool,
    page: Option<i64>,
    r: &Parts,
) -> Response {
    if let Err(resp) = require_signature(state, &r.method, &r.uri, &r.headers).await {
        return resp;
    }
    let Some(actor) = actor else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let suffix = if followers { "followers" } else { "following" };
    let id = format!("{actor}/{suffix}");
    let Ok(total) = follows::count(&state.store, &actor, followers, FollowState::Accepted).await
    else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let page = page.unwrap_or(0).max(0);
    if page == 0 {
        return activity_json(json!({
            "@context": AS_CONTEXT,
            "id": id,
            "type": "OrderedCollection",
            "totalItems": total,
            "first": format!("{id}?page=1"),
        }));
    }
    let rows = match follows::list(
        &state.store,
        &actor,
        followers,
        FollowState::Accepted,
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
    )
    .await
    {
        Ok(rows) => rows,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let items: Vec<&str> = rows
        .iter()
        .map(|f| {
            if followers {
                f.follower.as_str()
            } else {
                f.followee.as_str()
            }
        })
        .collect();
    let mut doc = json!({
        "@context": AS_CONTEXT,
        "id": format!("{id}?page={page}"),
        "type": "OrderedCollectionPage",
        "partOf": id,
        "totalItems": total,
        "orderedItems": items,
    });
    if page * PAGE_SIZE < total {
        doc["next"] = json!(format!("{id}?page={}", page + 1));
    }
    if page > 1 {
        doc["prev"] = json!(format!("{id}?page={}", page - 1));
    }
    activity_json(doc)
}

pub async fn shop_outbox(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(q): Query<PageQuery>,
    parts: Parts,
) -> Response {
    let actor = actor_id(&state, Some(&handle), None).await;
    outbox_for(&state, actor, q.page, &parts).await
}

pub async fn user_outbox(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
    parts: Parts,
) -> Response {
    let actor = actor_id(&state, None, Some(&name)).await;
    outbox_for(&state, actor, q.page, &parts).await
}

pub async fn shop_followers(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(q): Query<PageQuery>,
    parts: Parts,
) -> Response {
    let actor = actor_id(&state, Some(&handle), None).await;
    follow_collection(&state, actor, true, q.page, &parts).await
}

pub async fn shop_following(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(q): Query<PageQuery>,
    parts: Parts,
) -> Response {
    let actor = actor_id(&state, Some(&handle), None).await;
    follow_collection(&state, actor, false, q.page, &parts).await
}

pub async fn user_followers(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
    parts: Parts,
) -> Response {
    let actor = actor_id(&state, None, Some(&name)).await;
    follow_collection(&state, actor, true, q.page, &parts).await
}

pub async fn user_following(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
    parts: Parts,
) -> Response {
    let actor = actor_id(&state, None, Some(&name)).await;
    follow_collection(&state, actor, false, q.page, &parts).await
}

/// `GET /actor/outbox`, `/actor/followers`, `/actor/following`: the instance actor's
/// collections (empty: it only signs fetches and speaks for the server).
pub async fn instance_outbox(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    parts: Parts,
) -> Response {
    let actor = Some(state.urls.instance_actor());
    outbox_for(&state, actor, q.page, &parts).await
}

pub async fn instance_followers(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    parts: Parts,
) -> Response {
    let actor = Some(state.urls.instance_actor());
    follow_collection(&state, actor, true, q.page, &parts).await
}

pub async fn instance_following(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    parts: Parts,
) -> Response {
    let actor = Some(state.urls.instance_actor());
    follow_collection(&state, actor, false, q.page, &parts).await
}

/// `GET /users/{name}/notes/{id}` (a member's reply), `/shops/{handle}/notes/{id}` (a shop's
/// answer) and `…/activity` (its Create).
pub async fn user_note(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(resp) = require_signature(&state, &method, &uri, &headers).await {
        return resp;
    }
    let url = state.urls.absolute(uri.path());
    let (activity_id, whole) = match url.strip_suffix("/activity") {
        Some(_) => (url.clone(), true),
        None => (format!("{url}/activity"), false),
    };
    let Ok(Some(body)) = outbox::public_activity(&state.store, &activity_id).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(mut activity) = serde_json::from_str::<Value>(&body) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if whole {
        return activity_json(activity);
    }
    let mut note = activity["object"].take();
    note["@context"] = json!(AS_CONTEXT);
    activity_json(note)
}

/// `GET /shops/{handle}/products/{id}/replies`: ids of the replies we hold.
pub async fn product_replies(
    State(state): State<AppState>,
    Path((handle, id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(resp) = require_signature(&state, &method, &uri, &headers).await {
        return resp;
    }
    let Some(pid) = ProductId::parse(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let product_id = state.urls.product(&handle, &pid);
    match crate::domain::catalog::service::visible_product(&state.store, None, &pid).await {
        Ok((shop, _)) if shop.handle == handle => {}
        _ => return StatusCode::NOT_FOUND.into_response(),
    }
    let replies = reactions::replies_to(&state.store, &product_id, 100)
        .await
        .unwrap_or_default();
    let items: Vec<&str> = replies.iter().map(|r| r.id.as_str()).collect();
    activity_json(json!({
        "@context": AS_CONTEXT,
        "id": format!("{product_id}/replies"),
        "type": "Collection",
        "totalItems": items.len(),
        "items": items,
    }))
}

/// `GET /activities/{id}`: one of our public activities.
pub async fn activity(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(resp) = require_signature(&state, &method, &uri, &headers).await {
        return resp;
    }
    let id = state.urls.absolute(uri.path());
    match outbox::public_activity(&state.store, &id).await {
        Ok(Some(body)) => match serde_json::from_str::<Value>(&body) {
            Ok(v) => activity_json(v),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

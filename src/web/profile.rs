//! A member's public profile, `/users/{name}`: name, `@name@host`, how many they follow and
//! how many follow them, their shops, and a follow button. The same URL serves the member's
//! ActivityPub actor to servers (`federation::negotiate`). Cached for anonymous visitors.

use askama::Template;
use axum::extract::{Path, State};

use crate::domain::accounts;
use crate::domain::catalog::service;
use crate::error::Error;
use crate::federation::social;
use crate::server::AppState;
use crate::urls::Urls;
use crate::web::ctx::Visitor;
use crate::web::errors::WebResult;
use crate::web::i18n::Lang;
use crate::web::render::{cached, public_page, to_html, Chrome, HTML};
use crate::web::social_views::{date_of, FollowButton};

struct ShopLinkView {
    name: String,
    path: String,
    address: String,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    t: Lang,
    c: Chrome,
    display_name: String,
    address: String,
    ap_id: String,
    following: i64,
    followers: i64,
    since: String,
    shops: Vec<ShopLinkView>,
    signed_in: bool,
    /// For signed-in visitors other than the member.
    follow: Option<FollowButton>,
}

/// `GET /users/{name}`.
pub async fn user_page(
    State(state): State<AppState>,
    v: Visitor,
    Path(name): Path<String>,
) -> WebResult {
    if let Some(hit) = cached(&state, &v) {
        return Ok(hit);
    }
    let generation = state.page_cache.generation();
    let user = accounts::user_by_username(&state.store, &name)
        .await?
        .ok_or_else(|| Error::not_found("account"))?;
    let ap_id = state.urls.user(&user.username);
    let path = Urls::user_path(&user.username);
    let follow = match &v.user {
        Some(me) if me.id != user.id => Some(FollowButton::of(&state, me, &ap_id, &path).await?),
        _ => None,
    };
    let domain = &state.settings.domain;
    let (followers, following) = social::follow_counts(&state, &ap_id).await?;
    let (since, _) = date_of(user.created_at);
    let tpl = ProfilePage {
        t: v.lang,
        c: Chrome::public(&v),
        address: format!("@{}@{domain}", user.username),
        following,
        followers,
        shops: service::shops_of(&state.store, &user)
            .await?
            .into_iter()
            .map(|s| ShopLinkView {
                path: Urls::shop_path(&s.handle),
                address: format!("@{}@{domain}", s.handle),
                name: s.name,
            })
            .collect(),
        display_name: user.display_name,
        ap_id,
        since,
        signed_in: v.user.is_some(),
        follow,
    };
    Ok(public_page(&state, &v, generation, HTML, to_html(&tpl)?))
}

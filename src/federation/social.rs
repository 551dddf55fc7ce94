//! Social use cases shared by the web pages and the JSON API (one business path): following
//! shops and members anywhere by handle or URL, approving followers, the home feed, and
//! liking, boosting and replying to products. Local targets are handled in the database;
//! remote ones also send the activity through the outbox.

use serde_json::{json, Value};

use super::actors::{fetch_error, remote_actor};
use super::outbox::send_now;
use super::protocol::{str_of, PUBLIC};
use super::receive::send_follow_answer;
use crate::db::{self, follows, reactions, remote_products};
use crate::domain::accounts::User;
use crate::domain::catalog::{service, Shop};
use crate::domain::markdown;
use crate::domain::social::{
    FeedItem, Follow, FollowState, ReactionCounts, ReactionKind, RemoteActor, Reply,
};
use crate::domain::{now_ms, rfc3339};
use crate::error::{Error, Result};
use crate::server::AppState;
use crate::urls::LocalActor;

/// Whom a follow is aimed at.
#[derive(Clone, Debug)]
pub enum Target {
    Shop(Shop),
    User(User),
    Remote(RemoteActor),
}

impl Target {
    pub fn id(&self, state: &AppState) -> String {
        match self {
            Target::Shop(s) => state.urls.shop(&s.handle),
            Target::User(u) => state.urls.user(&u.username),
            Target::Remote(a) => a.id.clone(),
        }
    }
    pub fn handle(&self, state: &AppState) -> String {
        match self {
            Target::Shop(s) => format!("@{}@{}", s.handle, state.settings.domain),
            Target::User(u) => format!("@{}@{}", u.username, state.settings.domain),
            Target::Remote(a) => a.handle(),
        }
    }
    pub fn name(&self) -> String {
        match self {
            Target::Shop(s) => s.name.clone(),
            Target::User(u) => u.display_name.clone(),
            Target::Remote(a) => a.name.clone(),
        }
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn valid_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

async fn local_target(state: &AppState, local: LocalActor) -> Result<Target> {
    match local {
        LocalActor::Shop(h) => Ok(Target::Shop(
            service::shop_by_handle(&state.store, &h).await?,
        )),
        LocalActor::User(n) => db::users::by_username(&state.store, &n)
            .await?
            .map(Target::User)
            .ok_or_else(|| Error::not_found("account")),
        LocalActor::Instance => Err(Error::bad_request("the instance actor cannot be followed")),
    }
}

/// Resolves `@name@host`, `name@host` or an actor URL.
pub async fn resolve(state: &AppState, input: &str) -> Result<Target> {
    let input = input.trim();
    if input.starts_with("https://") || input.starts_with("http://") {
        if state.urls.is_local(input) {
            let local = state
                .urls
                .parse_actor(input)
                .ok_or_else(|| Error::not_found("account"))?;
            return local_target(state, local).await;
        }
        return Ok(Target::Remote(remote_actor(state, input, false).await?));
    }
    let (name, host) = input
        .trim_start_matches('@')
        .split_once('@')
        .ok_or_else(|| Error::bad_request("give an account as @name@host or an actor URL"))?;
    if !valid_name(name) || !valid_host(host) {
        return Err(Error::bad_request(
            "give an account as @name@host or an actor URL",
        ));
    }
    let host = host.to_ascii_lowercase();
    if host == state.settings.domain.to_ascii_lowercase() {
        let name = name.to_ascii_lowercase();
        if db::shops::by_handle(&state.store, &name).await?.is_some() {
            return local_target(state, LocalActor::Shop(name)).await;
        }
        return local_target(state, LocalActor::User(name)).await;
    }
    if let Some(a) = db::remote_actors::by_handle(&state.store, name, &host).await? {
        if now_ms() - a.fetched_at < 24 * 3600 * 1000 {
            return Ok(Target::Remote(a));
        }
    }
    let scheme = if state.federation.client.dev() {
        "http"
    } else {
        "https"
    };
    let url = format!("{scheme}://{host}/.well-known/webfinger?resource=acct:{name}@{host}");
    let signer = state.federation.instance_key(state).await?;
    let jrd = state
        .federation
        .client
        .get_json(&url, "application/jrd+json, application/json", &signer)
        .await
        .map_err(fetch_error)?;
    let href = jrd
        .get("links")
        .and_then(Value::as_array)
        .and_then(|links| {
            links.iter().find(|l| {
                str_of(l, "rel") == Some("self")
                    && str_of(l, "type").is_some_and(super::fetch::is_activitypub_type)
            })
        })
        .and_then(|l| str_of(l, "href"))
        .ok_or_else(|| Error::bad_gateway(format!("{host} did not name an actor for {name}")))?;
    let actor = remote_actor(state, href, true).await?;
    Ok(Target::Remote(actor))
}

/// Follows `input` as `user`. Local shops that approve followers, and every remote actor,
/// start as pending.
pub async fn follow(state: &AppState, user: &User, input: &str) -> Result<(Target, FollowState)> {
    let target = resolve(state, input).await?;
    let me = state.urls.user(&user.username);
    let target_id = target.id(state);
    if target_id == me {
        return Err(Error::bad_request("you cannot follow yourself"));
    }
    let activity_id = state.urls.new_activity();
    let initial = match &target {
        Target::Shop(s) => FollowState::on_request(s.manually_approves_followers),
        Target::User(_) => FollowState::on_request(false),
        // Until their server's Accept arrives.
        Target::Remote(_) => FollowState::Pending,
    };
    follows::upsert(
        &state.store,
        &Follow {
            follower: me.clone(),
            followee: target_id.clone(),
            state: initial,
            activity_id: activity_id.clone(),
            created_at: now_ms(),
        },
    )
    .await?;
    if let Target::Remote(actor) = &target {
        let activity = json!({
            "@context": super::protocol::AS_CONTEXT,
            "id": activity_id,
            "type": "Follow",
            "actor": me,
            "object": actor.id,
            "to": [actor.id],
        });
        send_now(
            state,
            &activity,
            &me,
            &actor.id,
            std::slice::from_ref(&actor.inbox),
            false,
        )
        .await?;
    }
    let now = follows::get(&state.store, &me, &target_id)
        .await?
        .map_or(initial, |f| f.state);
    state.changed();
    Ok((target, now))
}

/// Stops following; tells a remote followee with `Undo(Follow)`.
pub async fn unfollow(state: &AppState, user: &User, input: &str) -> Result<()> {
    let target = resolve(state, input).await?;
    let me = state.urls.user(&user.username);
    let target_id = target.id(state);
    let existing = follows::get(&state.store, &me, &target_id).await?;
    let Some(existing) = existing else {
        return Err(Error::not_found("follow"));
    };
    follows::delete(&state.store, &me, &target_id).await?;
    if let Target::Remote(actor) = &target {
        let activity = json!({
            "@context": super::protocol::AS_CONTEXT,
            "id": state.urls.new_activity(),
            "type": "Undo",
            "actor": me,
            "to": [actor.id],
            "object": {"id": existing.activity_id, "type": "Follow", "actor": me, "object": actor.id},
        });
        send_now(
            state,
            &activity,
            &me,
            &actor.id,
            std::slice::from_ref(&actor.inbox),
            false,
        )
        .await?;
    }
    state.changed();
    Ok(())
}

/// Everyone `user` follows (any state), newest first, with who they are.
pub async fn following(state: &AppState, user: &User) -> Result<Vec<(Follow, String, String)>> {
    let me = state.urls.user(&user.username);
    let mut out = vec![];
    for st in [FollowState::Accepted, FollowState::Pending] {
        for f in follows::list(&state.store, &me, false, st, 500, 0).await? {
            let (handle, name) = describe(state, &f.followee).await;
            out.push((f, handle, name));
        }
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.0.created_at));
    Ok(out)
}

/// `(@handle@host, display name)` of any actor id we know.
pub async fn describe(state: &AppState, actor: &str) -> (String, String) {
    match state.urls.parse_actor(actor) {
        Some(LocalActor::Shop(h)) => {
            let name = db::shops::by_handle(&state.store, &h)
                .await
                .ok()
                .flatten()
                .map_or_else(|| h.clone(), |s| s.name);
            (format!("@{h}@{}", state.settings.domain), name)
        }
        Some(LocalActor::User(n)) => {
            let name = db::users::by_username(&state.store, &n)
                .await
                .ok()
                .flatten()
                .map_or_else(|| n.clone(), |u| u.display_name);
            (format!("@{n}@{}", state.settings.domain), name)
        }
        _ => match db::remote_actors::by_id(&state.store, actor)
            .await
            .ok()
            .flatten()
        {
            Some(a) => (a.handle(), a.name),
            None => (actor.to_string(), actor.to_string()),
        },
    }
}

/// Followers of a shop the seller manages, in one state, with who they are.
pub async fn shop_followers(
    state: &AppState,
    user: &User,
    handle: &str,
    st: FollowState,
) -> Result<Vec<(Follow, String, String)>> {
    let shop = service::managed_shop(&state.store, user, handle).await?;
    let id = state.urls.shop(&shop.handle);
    let mut out = vec![];
    for f in follows::list(&state.store, &id, true, st, 500, 0).await? {
        let (h, n) = describe(state, &f.follower).await;
        out.push((f, h, n));
    }
    Ok(out)
}

/// The seller accepts (`accept`) or refuses a follow request, or removes a follower
/// (`accept = false` on an accepted follow). Remote followers hear Accept or Reject.
pub async fn answer_follower(
    state: &AppState,
    user: &User,
    handle: &str,
    follower: &str,
    accept: bool,
) -> Result<()> {
    let shop = service::managed_shop(&state.store, user, handle).await?;
    let id = state.urls.shop(&shop.handle);
    let f = follows::get(&state.store, follower, &id)
        .await?
        .ok_or_else(|| Error::not_found("follower"))?;
    if accept {
        follows::accept(&state.store, follower, &id, now_ms()).await?;
    } else {
        follows::delete(&state.store, follower, &id).await?;
    }
    if !state.urls.is_local(follower) {
        if let Some(actor) = db::remote_actors::by_id(&state.store, follower).await? {
            send_follow_answer(state, &id, &actor, &f.activity_id, accept).await?;
        }
    }
    state.changed();
    Ok(())
}

/// The member's home feed: products of every shop they follow, local and remote, newest first.
pub async fn feed(state: &AppState, user: &User, limit: i64) -> Result<Vec<FeedItem>> {
    let limit = limit.clamp(1, 100);
    let me = state.urls.user(&user.username);
    let mut items = vec![];
    for f in follows::list(&state.store, &me, false, FollowState::Accepted, 500, 0).await? {
        let Some(LocalActor::Shop(h)) = state.urls.parse_actor(&f.followee) else {
            continue;
        };
        let Ok(shop) = service::shop_by_handle(&state.store, &h).await else {
            continue;
        };
        let page =
            service::shop_products(&state.store, None, &shop, Default::default(), 1, limit).await?;
        for p in page.items {
            let img = p.images.first();
            items.push(FeedItem {
                id: state.urls.product(&shop.handle, &p.id),
                title: p.title.clone(),
                price: p.price,
                stock: Some(p.available()),
                url: state.urls.product(&shop.handle, &p.id),
                image_url: img.map(|i| state.urls.absolute(&i.image.thumb_path())),
                image_alt: img.map(|i| i.alt.clone()),
                summary_html: markdown::sanitize(&format!(
                    "<p>{}</p>",
                    markdown::escape_html(&markdown::plain_excerpt(&p.description, 280))
                )),
                shop_id: f.followee.clone(),
                shop_handle: format!("@{}@{}", shop.handle, state.settings.domain),
                shop_name: shop.name.clone(),
                published: p.published_at.unwrap_or(p.created_at),
            });
        }
    }
    for p in remote_products::feed(&state.store, &me, limit).await? {
        let (handle, name) = describe(state, &p.actor).await;
        items.push(FeedItem {
            url: p.url.clone().unwrap_or_else(|| p.id.clone()),
            id: p.id,
            title: p.title,
            price: p.price,
            stock: p.stock,
            image_url: p.image_url,
            image_alt: p.image_alt,
            summary_html: p.content_html,
            shop_id: p.actor,
            shop_handle: handle,
            shop_name: name,
            published: p.published,
        });
    }
    items.sort_by(|a, b| b.published.cmp(&a.published).then(b.id.cmp(&a.id)));
    items.truncate(limit as usize);
    Ok(items)
}

/// Where a product lives: (author actor id, author's inbox if remote). `None` when unknown.
async fn product_author(
    state: &AppState,
    object: &str,
) -> Result<Option<(String, Option<String>)>> {
    if let Some((handle, pid)) = state.urls.parse_product(object) {
        return Ok(
            match service::visible_product(&state.store, None, &pid).await {
                Ok((shop, _)) if shop.handle == handle => Some((state.urls.shop(&handle), None)),
                _ => None,
            },
        );
    }
    let Some(p) = remote_products::by_id(&state.store, object).await? else {
        return Ok(None);
    };
    let actor = remote_actor(state, &p.actor, false).await?;
    Ok(Some((actor.id.clone(), Some(actor.inbox))))
}

/// Inboxes of the remote followers of a member (for public boosts and replies).
async fn my_follower_inboxes(state: &AppState, me: &str) -> Result<Vec<String>> {
    follows::follower_inboxes(&state.store, me).await
}

/// Likes or boosts a product (local, or a remote one from the feed).
pub async fn react(state: &AppState, user: &User, object: &str, kind: ReactionKind) -> Result<()> {
    let (author, inbox) = product_author(state, object)
        .await?
        .ok_or_else(|| Error::not_found("product"))?;
    let me = state.urls.user(&user.username);
    let activity_id = state.urls.new_activity();
    let stored = reactions::add(&state.store, &activity_id, kind, &me, object, now_ms()).await?;
    if !stored {
        return Ok(()); // already done
    }
    let (type_, public) = match kind {
        ReactionKind::Like => ("Like", false),
        ReactionKind::Announce => ("Announce", true),
    };
    let mut inboxes: Vec<String> = inbox.into_iter().collect();
    if public {
        inboxes.extend(my_follower_inboxes(state, &me).await?);
        inboxes.sort();
        inboxes.dedup();
    }
    let (to, cc) = if public {
        (json!([PUBLIC]), json!([author, format!("{me}/followers")]))
    } else {
        (json!([author]), json!([]))
    };
    let activity = json!({
        "@context": super::protocol::AS_CONTEXT,
        "id": activity_id,
        "type": type_,
        "actor": me,
        "object": object,
        "published": rfc3339(now_ms()),
        "to": to,
        "cc": cc,
    });
    send_now(state, &activity, &me, object, &inboxes, public).await?;
    state.changed();
    Ok(())
}

/// Withdraws a like or boost with `Undo`.
pub async fn unreact(
    state: &AppState,
    user: &User,
    object: &str,
    kind: ReactionKind,
) -> Result<()> {
    let me = state.urls.user(&user.username);
    if !reactions::exists(&state.store, kind, &me, object).await? {
        return Err(Error::not_found("reaction"));
    }
    let original = db::outbox::find_activity(
        &state.store,
        &me,
        match kind {
            ReactionKind::Like => "Like",
            ReactionKind::Announce => "Announce",
        },
        object,
    )
    .await?;
    reactions::remove(&state.store, None, kind, &me, Some(object)).await?;
    let author = product_author(state, object).await?;
    if let (Some((author, inbox)), Some(original_id)) = (author, original) {
        // Whoever heard the Like or Announce hears its Undo: the remote author, and for a
        // boost our member's remote followers. The boost leaves the member's outbox.
        let mut inboxes: Vec<String> = inbox.into_iter().collect();
        if kind == ReactionKind::Announce {
            inboxes.extend(my_follower_inboxes(state, &me).await?);
            inboxes.sort();
            inboxes.dedup();
            db::outbox::delete_activity(&state.store, &original_id).await?;
        }
        let activity = json!({
            "@context": super::protocol::AS_CONTEXT,
            "id": state.urls.new_activity(),
            "type": "Undo",
            "actor": me,
            "to": [author],
            "object": {"id": original_id, "type": if kind == ReactionKind::Like { "Like" } else { "Announce" }, "actor": me, "object": object},
        });
        send_now(state, &activity, &me, object, &inboxes, false).await?;
    }
    state.changed();
    Ok(())
}

/// Replies to a product as a public note.
pub async fn reply(state: &AppState, user: &User, object: &str, text: &str) -> Result<Reply> {
    let text = crate::domain::social::reply_text(text)?;
    let (author, inbox) = product_author(state, object)
        .await?
        .ok_or_else(|| Error::not_found("product"))?;
    let me = state.urls.user(&user.username);
    let note_id = format!("{me}/notes/{}", uuid::Uuid::now_v7());
    let html = markdown::render(text);
    let now = now_ms();
    let reply = Reply {
        id: note_id.clone(),
        actor: me.clone(),
        in_reply_to: object.to_string(),
        content_html: html.clone(),
        url: None,
        published: now,
    };
    if inbox.is_none() {
        reactions::upsert_reply(&state.store, &reply, now).await?;
    }
    let mut inboxes: Vec<String> = inbox.into_iter().collect();
    inboxes.extend(my_follower_inboxes(state, &me).await?);
    inboxes.sort();
    inboxes.dedup();
    let (handle, _) = describe(state, &author).await;
    let activity = reply_activity(&me, &reply, object, Some((&author, &handle)));
    send_now(state, &activity, &me, &note_id, &inboxes, true).await?;
    state.changed();
    Ok(reply)
}

/// The public `Create` of a reply note by `actor`, mentioning `mention` (href, @handle) when
/// given; `url` is the product the thread belongs to.
pub fn reply_activity(
    actor: &str,
    reply: &Reply,
    url: &str,
    mention: Option<(&str, &str)>,
) -> Value {
    let mut cc = vec![json!(format!("{actor}/followers"))];
    let mut tag = vec![];
    if let Some((href, name)) = mention {
        cc.insert(0, json!(href));
        tag.push(json!({"type": "Mention", "href": href, "name": name}));
    }
    let published = rfc3339(reply.published);
    json!({
        "@context": super::protocol::AS_CONTEXT,
        "id": format!("{}/activity", reply.id),
        "type": "Create",
        "actor": actor,
        "published": published,
        "to": [PUBLIC],
        "cc": cc,
        "object": {
            "id": reply.id,
            "type": "Note",
            "attributedTo": actor,
            "inReplyTo": reply.in_reply_to,
            "url": url,
            "published": published,
            "to": [PUBLIC],
            "cc": cc,
            "content": reply.content_html,
            "tag": tag,
        },
    })
}

/// A reply with its author, for product pages.
#[derive(Clone, Debug)]
pub struct ReplyView {
    pub author_name: String,
    pub author_handle: String,
    pub author_url: String,
    pub content_html: String,
    pub published: i64,
}

/// Counts and replies of one of our products.
pub async fn interactions(
    state: &AppState,
    object: &str,
) -> Result<(ReactionCounts, Vec<ReplyView>)> {
    let counts = reactions::counts(&state.store, object).await?;
    let mut views = vec![];
    for r in reactions::replies_to(&state.store, object, 200).await? {
        let (handle, name) = describe(state, &r.actor).await;
        let author_url = match db::remote_actors::by_id(&state.store, &r.actor).await? {
            Some(a) => a.url.unwrap_or(a.id),
            None => r.actor.clone(),
        };
        views.push(ReplyView {
            author_name: name,
            author_handle: handle,
            author_url,
            content_html: r.content_html,
            published: r.published,
        });
    }
    Ok((counts, views))
}

/// (followers, following) counts of an actor, accepted follows only.
pub async fn follow_counts(state: &AppState, actor: &str) -> Result<(i64, i64)> {
    Ok((
        follows::count(&state.store, actor, true, FollowState::Accepted).await?,
        follows::count(&state.store, actor, false, FollowState::Accepted).await?,
    ))
}

/// The member's follow of `target` (an actor id), if any.
pub async fn follow_of(state: &AppState, user: &User, target: &str) -> Result<Option<Follow>> {
    follows::get(&state.store, &state.urls.user(&user.username), target).await
}

/// Whether the member has (liked, boosted) `object`.
pub async fn reacted(state: &AppState, user: &User, object: &str) -> Result<(bool, bool)> {
    let me = state.urls.user(&user.username);
    Ok((
        reactions::exists(&state.store, ReactionKind::Like, &me, object).await?,
        reactions::exists(&state.store, ReactionKind::Announce, &me, object).await?,
    ))
}

/// One like, boost or reply on a shop's products, newest first.
pub struct Interaction {
    /// `like`, `announce` or `reply`.
    pub kind: String,
    pub actor: String,
    pub object: String,
    pub at: i64,
    /// The reply's id and sanitised HTML.
    pub reply: Option<(String, String)>,
}

/// The newest likes, boosts and replies on the products of a shop the member manages.
pub async fn recent_interactions(
    state: &AppState,
    user: &User,
    handle: &str,
    limit: i64,
) -> Result<Vec<Interaction>> {
    let shop = service::managed_shop(&state.store, user, handle).await?;
    let prefix = format!("{}/products/", state.urls.shop(&shop.handle));
    Ok(reactions::recent_for_prefix(&state.store, &prefix, limit)
        .await?
        .into_iter()
        .map(|(kind, id, actor, object, at, reply_html)| Interaction {
            reply: reply_html.map(|html| (id, html)),
            kind,
            actor,
            object,
            at,
        })
        .collect())
}

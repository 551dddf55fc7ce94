//! The seller answers as the shop: a public reply note by the shop actor, to one of its
//! products or to a reply in a product's thread (product questions). It joins the thread on
//! the product page, reaches the person answered (a mention, so Mastodon notifies them) and
//! the shop's followers.

use super::outbox::send_now;
use super::social::{describe, reply_activity};
use crate::db::{follows, reactions, remote_actors};
use crate::domain::accounts::User;
use crate::domain::catalog::service;
use crate::domain::markdown;
use crate::domain::now_ms;
use crate::domain::social::{reply_text, Reply};
use crate::error::{Error, Result};
use crate::server::AppState;

/// Posts `text` (Markdown) as the shop `handle`, in reply to `in_reply_to`: one of the
/// shop's published products, or a reply we hold to one of them.
pub async fn answer(
    state: &AppState,
    user: &User,
    handle: &str,
    in_reply_to: &str,
    text: &str,
) -> Result<Reply> {
    let text = reply_text(text)?;
    let shop = service::managed_shop(&state.store, user, handle).await?;
    let shop_id = state.urls.shop(&shop.handle);
    let (product, answered) = match reactions::reply_by_id(&state.store, in_reply_to).await? {
        Some(r) => (r.in_reply_to, Some(r.actor)),
        None => (in_reply_to.to_string(), None),
    };
    let ours = match state.urls.parse_product(&product) {
        Some((h, pid)) if h == shop.handle => service::visible_product(&state.store, None, &pid)
            .await
            .is_ok(),
        _ => false,
    };
    if !ours {
        return Err(Error::not_found("product or reply"));
    }
    let now = now_ms();
    let reply = Reply {
        id: format!("{shop_id}/notes/{}", uuid::Uuid::now_v7()),
        actor: shop_id.clone(),
        in_reply_to: product.clone(),
        content_html: markdown::render(text),
        url: None,
        published: now,
    };
    reactions::upsert_reply(&state.store, &reply, now).await?;
    // On the wire it answers the note it answers, for threading everywhere else.
    let wire = Reply {
        in_reply_to: in_reply_to.to_string(),
        ..reply.clone()
    };
    let mut inboxes = follows::follower_inboxes(&state.store, &shop_id).await?;
    let mention = match &answered {
        Some(actor) if actor != &shop_id => {
            if let Some(remote) = remote_actors::by_id(&state.store, actor).await? {
                inboxes.push(remote.inbox.clone());
            }
            Some((actor.clone(), describe(state, actor).await.0))
        }
        _ => None,
    };
    inboxes.sort();
    inboxes.dedup();
    let activity = reply_activity(
        &shop_id,
        &wire,
        &product,
        mention.as_ref().map(|(h, n)| (h.as_str(), n.as_str())),
    );
    send_now(state, &activity, &shop_id, &reply.id, &inboxes, true).await?;
    state.changed();
    Ok(reply)
}

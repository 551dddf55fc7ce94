//! Applying verified activities. `signer` is the verified actor and equals `activity.actor`.
//! Each kind checks what it touches: an actor may only create, update or delete its own
//! objects (ids on its host, `attributedTo` itself, stored rows owned by it), may only accept
//! follows addressed to itself, and may only undo its own activities. Order messages (`Offer`,
//! and `Accept`, `Reject`, `Update`, `Undo` about orders) go to `orders::receive`. Unknown
//! kinds are acknowledged and ignored.

use serde_json::{json, Value};

use super::fetch::authority;
use super::notes;
use super::orders::receive as orders;
use super::outbox;
use super::protocol::{id_of, str_of, type_of};
use crate::db::{self, follows, reactions, remote_products};
use crate::domain::catalog::service;
use crate::domain::now_ms;
use crate::domain::social::{Follow, FollowState, ReactionKind, RemoteActor};
use crate::error::{Error, Result};
use crate::server::AppState;
use crate::urls::LocalActor;

pub async fn activity(state: &AppState, signer: &RemoteActor, a: &Value) -> Result<()> {
    let kind = type_of(a).unwrap_or_default();
    let object = a.get("object").unwrap_or(&Value::Null);
    match kind {
        "Follow" => follow(state, signer, a).await,
        "Offer" => orders::offer(state, signer, a).await,
        "Accept" | "Reject" => {
            let accepted = kind == "Accept";
            if orders::answer(state, signer, a, accepted).await? {
                return Ok(());
            }
            accept_or_reject(state, signer, object, accepted).await
        }
        "Undo" => {
            if orders::undo(state, signer, a).await? {
                return Ok(());
            }
            undo(state, signer, object).await
        }
        "Update" if orders::update(state, signer, a).await? => Ok(()),
        "Like" | "EmojiReact" => react(state, signer, a, ReactionKind::Like).await,
        "Announce" => react(state, signer, a, ReactionKind::Announce).await,
        "Create" => create_or_update(state, signer, object, false).await,
        "Update" => create_or_update(state, signer, object, true).await,
        "Delete" => delete(state, signer, object).await,
        "QuoteRequest" => super::quotes::request(state, signer, a).await,
        "Block" => block(state, signer, object).await,
        other => {
            tracing::debug!(kind = other, actor = %signer.id, "ignored activity");
            Ok(())
        }
    }
}

fn on_host(id: &str, host: &str) -> bool {
    url::Url::parse(id)
        .ok()
        .and_then(|u| authority(&u))
        .is_some_and(|h| h == host)
}

/// The local actor an id names, if it exists.
async fn local_actor_exists(state: &AppState, id: &str) -> Result<Option<LocalActor>> {
    Ok(match state.urls.parse_actor(id) {
        Some(LocalActor::Shop(h)) => db::shops::by_handle(&state.store, &h)
            .await?
            .map(|s| LocalActor::Shop(s.handle)),
        Some(LocalActor::User(n)) => db::users::by_username(&state.store, &n)
            .await?
            .map(|u| LocalActor::User(u.username)),
        _ => None,
    })
}

async fn follow(state: &AppState, signer: &RemoteActor, a: &Value) -> Result<()> {
    let target = a
        .get("object")
        .and_then(id_of)
        .ok_or_else(|| Error::bad_request("Follow without object"))?;
    let Some(local) = local_actor_exists(state, target).await? else {
        return Err(Error::not_found("actor"));
    };
    let manual = match &local {
        LocalActor::Shop(h) => {
            service::shop_by_handle(&state.store, h)
                .await?
                .manually_approves_followers
        }
        _ => false,
    };
    let activity_id = str_of(a, "id").unwrap_or_default().to_string();
    follows::upsert(
        &state.store,
        &Follow {
            follower: signer.id.clone(),
            followee: target.to_string(),
            state: FollowState::on_request(manual),
            activity_id: activity_id.clone(),
            created_at: now_ms(),
        },
    )
    .await?;
    let already = follows::get(&state.store, &signer.id, target).await?;
    if already.is_some_and(|f| f.state == FollowState::Accepted) {
        send_follow_answer(state, target, signer, &activity_id, true).await?;
    }
    Ok(())
}

/// Sends Accept or Reject of a received Follow from `followee` (local) to `follower`.
pub async fn send_follow_answer(
    state: &AppState,
    followee: &str,
    follower: &RemoteActor,
    follow_id: &str,
    accept: bool,
) -> Result<()> {
    let activity = json!({
        "@context": super::protocol::AS_CONTEXT,
        "id": state.urls.new_activity(),
        "type": if accept { "Accept" } else { "Reject" },
        "actor": followee,
        "to": [follower.id],
        "object": {
            "id": follow_id,
            "type": "Follow",
            "actor": follower.id,
            "object": followee,
        },
    });
    outbox::send_now(
        state,
        &activity,
        followee,
        follow_id,
        std::slice::from_ref(&follower.inbox),
        false,
    )
    .await
}

/// The followee answers one of our members' Follows (a Reject of an accepted follow removes
/// the member as a follower).
async fn accept_or_reject(
    state: &AppState,
    signer: &RemoteActor,
    object: &Value,
    accepted: bool,
) -> Result<()> {
    // The object is our Follow: the Follow itself, or its id.
    if type_of(object).is_some_and(|t| t != "Follow") {
        return Ok(()); // an answer to something else (we send nothing else that is answered)
    }
    let embedded_follower = object.get("actor").and_then(id_of).map(str::to_string);
    let follower = match (embedded_follower, id_of(object)) {
        (Some(f), _) => f,
        (None, Some(fid)) => match follows::by_activity_id(&state.store, &signer.id, fid).await? {
            Some(f) => f.follower,
            None => return Ok(()),
        },
        (None, None) => return Err(Error::bad_request("Accept without object")),
    };
    if !state.urls.is_local(&follower) {
        return Err(Error::forbidden("not a follow of ours"));
    }
    if follows::get(&state.store, &follower, &signer.id)
        .await?
        .is_none()
    {
        return Ok(());
    }
    if accepted {
        follows::accept(&state.store, &follower, &signer.id, now_ms()).await?;
        let (state, shop) = (state.clone(), signer.clone());
        tokio::spawn(async move {
            if let Err(e) = backfill_products(&state, &shop).await {
                tracing::info!(error = %e, actor = %shop.id, "could not read the outbox of a followed actor");
            }
        });
    } else {
        follows::delete(&state.store, &follower, &signer.id).await?;
    }
    Ok(())
}

async fn undo(state: &AppState, signer: &RemoteActor, object: &Value) -> Result<()> {
    let inner_kind = type_of(object);
    let inner_id = id_of(object);
    if let Value::Object(_) = object {
        if let Some(actor) = object.get("actor").and_then(id_of) {
            if actor != signer.id {
                return Err(Error::forbidden(
                    "an actor may only undo its own activities",
                ));
            }
        }
    }
    match inner_kind {
        Some("Follow") => {
            if let Some(target) = object.get("object").and_then(id_of) {
                follows::delete(&state.store, &signer.id, target).await?;
            }
        }
        Some("Like") | Some("EmojiReact") | Some("Announce") => {
            let kind = if inner_kind == Some("Announce") {
                ReactionKind::Announce
            } else {
                ReactionKind::Like
            };
            let target = object.get("object").and_then(id_of);
            reactions::remove(&state.store, inner_id, kind, &signer.id, target).await?;
        }
        _ => {
            // A bare id (Pleroma undoes likes and boosts this way): whatever it made.
            if let Some(id) = inner_id {
                for kind in [ReactionKind::Like, ReactionKind::Announce] {
                    reactions::remove(&state.store, Some(id), kind, &signer.id, None).await?;
                }
            }
        }
    }
    Ok(())
}

/// The product page URL of a published local product, if `id` names one.
async fn local_public_product(state: &AppState, id: &str) -> Result<bool> {
    let Some((handle, pid)) = state.urls.parse_product(id) else {
        return Ok(false);
    };
    match service::visible_product(&state.store, None, &pid).await {
        Ok((shop, _)) => Ok(shop.handle == handle),
        Err(_) => Ok(false),
    }
}

async fn react(
    state: &AppState,
    signer: &RemoteActor,
    a: &Value,
    kind: ReactionKind,
) -> Result<()> {
    let Some(object) = a.get("object").and_then(id_of) else {
        return Err(Error::bad_request("no object"));
    };
    if !local_public_product(state, object).await? {
        // Boosts and likes of things that are not our products are none of our business.
        return Ok(());
    }
    let id = str_of(a, "id").unwrap_or_default();
    reactions::add(&state.store, id, kind, &signer.id, object, now_ms()).await?;
    state.changed();
    Ok(())
}

async fn create_or_update(
    state: &AppState,
    signer: &RemoteActor,
    object: &Value,
    update: bool,
) -> Result<()> {
    let Value::Object(_) = object else {
        // A bare id: fetching it is not worth an unsolicited request.
        return Ok(());
    };
    let kind = type_of(object).unwrap_or_default();
    let id = str_of(object, "id").ok_or_else(|| Error::bad_request("object without id"))?;
    if update && super::actors::ACTOR_TYPES.contains(&kind) {
        if id != signer.id {
            return Err(Error::forbidden("an actor may only update itself"));
        }
        // The signer speaks for itself: take the embedded profile as it is (same checks as a
        // fetched one), without another request.
        let fresh = super::actors::parse_remote_actor(object, now_ms())
            .map_err(|why| Error::bad_request(format!("unusable actor update: {why}")))?;
        if fresh.host != signer.host {
            return Err(Error::forbidden("an actor may only update itself"));
        }
        db::remote_actors::upsert(&state.store, &fresh).await?;
        state.changed();
        return Ok(());
    }
    if !on_host(id, &signer.host) {
        return Err(Error::forbidden("the object is not on the actor's host"));
    }
    if kind != "Note" && kind != "Article" && kind != "Page" {
        return Ok(());
    }
    let author = object.get("attributedTo").and_then(id_of);
    if author != Some(signer.id.as_str()) {
        return Err(Error::forbidden(
            "the object is not attributed to the actor",
        ));
    }
    if let Some(parent) = object.get("inReplyTo").and_then(id_of) {
        // A reply to one of our products, or to a reply we hold (the thread stays flat,
        // under the product).
        let product = if local_public_product(state, parent).await? {
            Some(parent.to_string())
        } else {
            reactions::reply_by_id(&state.store, parent)
                .await?
                .map(|r| r.in_reply_to)
        };
        if let Some(product) = product {
            if let Some(reply) = notes::parse_reply(object, &signer.id, &product) {
                if update && reactions::reply_by_id(&state.store, id).await?.is_none() {
                    return Ok(());
                }
                reactions::upsert_reply(&state.store, &reply, now_ms()).await?;
                state.changed();
            }
            return Ok(());
        }
    }
    // A product of a shop one of our members follows.
    if !has_local_follower(state, &signer.id).await? {
        return Ok(());
    }
    if let Some(product) = notes::parse_remote_product(object, &signer.id) {
        if update && remote_products::by_id(&state.store, id).await?.is_none() {
            return Ok(());
        }
        remote_products::upsert(&state.store, &product).await?;
    }
    Ok(())
}

async fn has_local_follower(state: &AppState, actor: &str) -> Result<bool> {
    let rows = follows::list(&state.store, actor, true, FollowState::Accepted, 1000, 0).await?;
    Ok(rows.iter().any(|f| state.urls.is_local(&f.follower)))
}

async fn delete(state: &AppState, signer: &RemoteActor, object: &Value) -> Result<()> {
    let Some(id) = id_of(object) else {
        return Err(Error::bad_request("Delete without object"));
    };
    if id == signer.id {
        db::remote_actors::delete_with_traces(&state.store, &signer.id).await?;
        state.changed();
        return Ok(());
    }
    if !on_host(id, &signer.host) {
        return Err(Error::forbidden("an actor may only delete its own objects"));
    }
    // Owner checks are in the statements: rows of other actors are untouched.
    let a = reactions::delete_reply(&state.store, id, &signer.id).await?;
    let b = remote_products::delete(&state.store, id, &signer.id).await?;
    if a || b {
        state.changed();
    }
    Ok(())
}

/// Someone blocked one of our actors: no follow stays between them in either direction, so
/// nothing of ours is delivered to them any more. (Blocks are not always delivered, and
/// nothing is shown to our members about them.)
async fn block(state: &AppState, signer: &RemoteActor, object: &Value) -> Result<()> {
    let Some(target) = id_of(object).filter(|t| state.urls.parse_actor(t).is_some()) else {
        return Ok(());
    };
    follows::delete(&state.store, &signer.id, target).await?;
    follows::delete(&state.store, target, &signer.id).await?;
    state.changed();
    Ok(())
}

/// After a remote shop accepts one of our members, reads the first page of its outbox so the
/// member's feed shows the shop's current products at once. Only notes by that actor, on its
/// host, count; at most one page.
pub async fn backfill_products(state: &AppState, shop: &RemoteActor) -> Result<usize> {
    let signer = state.federation.instance_key(state).await?;
    let outbox_url = format!("{}/outbox", shop.id);
    let client = &state.federation.client;
    let collection = client
        .get_object(&outbox_url, &signer)
        .await
        .map_err(super::actors::fetch_error)?;
    let page = match collection.get("first") {
        Some(Value::String(url)) if on_host(url, &shop.host) => client
            .get_object(url, &signer)
            .await
            .map_err(super::actors::fetch_error)?,
        Some(v @ Value::Object(_)) => v.clone(),
        _ => collection,
    };
    let items = page
        .get("orderedItems")
        .or_else(|| page.get("items"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Newest first: the first activity about an object decides (a Delete hides older Creates).
    let mut seen = std::collections::HashSet::new();
    let mut stored = 0;
    for item in items.iter().take(40) {
        let kind = type_of(item).unwrap_or_default();
        if item.get("actor").and_then(id_of) != Some(&shop.id) {
            continue;
        }
        let Some(object_id) = item.get("object").and_then(id_of) else {
            continue;
        };
        if !seen.insert(object_id.to_string()) || !matches!(kind, "Create" | "Update") {
            continue;
        }
        let Some(note) = item.get("object").filter(|o| o.is_object()) else {
            continue;
        };
        if !on_host(object_id, &shop.host)
            || note.get("attributedTo").and_then(id_of) != Some(&shop.id)
        {
            continue;
        }
        if let Some(p) = notes::parse_remote_product(note, &shop.id) {
            remote_products::upsert(&state.store, &p).await?;
            stored += 1;
        }
    }
    Ok(stored)
}

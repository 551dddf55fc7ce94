//! Order messages arriving in an inbox, on both sides. The shop's instance takes a buyer's
//! `Offer` (placed through `domain::orders::service::place`, answered with `Reject` when it
//! cannot be) and `Undo` of it (the buyer cancels). The buyer's instance takes the shop's
//! `Accept`, `Reject` and `Update`, only from the shop that was asked, only about orders it
//! knows. Everything else about orders is refused: a buyer cannot answer its own Offer, a
//! third party cannot undo or update someone else's order. Nothing here logs a body.

use serde_json::Value;

use super::{announce, wire};
use crate::db::{self, remote_orders};
use crate::domain::catalog::service as catalog;
use crate::domain::orders::{remote, service, Buyer, OrderStatus, StatusChange};
use crate::domain::social::RemoteActor;
use crate::error::{Error, ErrorKind, Result};
use crate::federation::outbox::send_now;
use crate::federation::protocol::{id_of, str_of, type_of, PUBLIC};
use crate::server::AppState;
use crate::urls::LocalActor;

/// A buyer's Offer to one of our shops.
pub async fn offer(state: &AppState, signer: &RemoteActor, a: &Value) -> Result<()> {
    let offer_id = str_of(a, "id").ok_or_else(|| Error::bad_request("Offer without id"))?;
    let object = a.get("object").unwrap_or(&Value::Null);
    if type_of(object) != Some("Agreement") {
        return Ok(()); // Offers of anything else are not orders; ignored like unknown kinds
    }
    // An order goes to exactly one shop, and to no one else: never public, never followers.
    let to = wire::addressees(a);
    let mut shops = to.iter().filter_map(|t| match state.urls.parse_actor(t) {
        Some(LocalActor::Shop(h)) => Some(h),
        _ => None,
    });
    let handle = shops
        .next()
        .ok_or_else(|| Error::not_found_msg("the Offer is not addressed to one of our shops"))?;
    let shop_actor = state.urls.shop(&handle);
    if to.iter().any(|t| *t != shop_actor) || to.iter().any(|t| t == PUBLIC) {
        return Err(Error::bad_request(
            "an order must be addressed to the shop alone",
        ));
    }
    let shop = catalog::shop_by_handle(&state.store, &handle).await?;
    let request = match wire::parse_offer(&state.urls, &shop, object) {
        Ok(r) => r,
        Err(reason) => return send_reject(state, &shop_actor, signer, offer_id, &reason).await,
    };
    let buyer = Buyer::Remote {
        actor: signer.id.clone(),
        inbox: signer.inbox.clone(),
        offer_id: offer_id.to_string(),
    };
    match service::place(&state.store, &state.urls, &shop, buyer.clone(), &request).await {
        Ok(placed) if !placed.replayed => {
            // The Accept was queued as an event with the order.
            state.changed();
            Ok(())
        }
        Ok(placed) => {
            let same_buyer =
                matches!(&placed.order.buyer, Buyer::Remote { actor, .. } if *actor == signer.id);
            if !same_buyer {
                return Err(Error::forbidden("that Offer is someone else's"));
            }
            // The same Offer again: the same order; tell the buyer again.
            if let Some(o) = announce::order_activity(state, &placed.order.id, true).await? {
                send_now(
                    state,
                    &o.activity,
                    &o.actor,
                    &o.object_id,
                    &[o.inbox],
                    false,
                )
                .await?;
            }
            Ok(())
        }
        Err(e) if answerable(&e) => {
            send_reject(state, &shop_actor, signer, offer_id, &reason_of(&e)).await
        }
        Err(e) => Err(e),
    }
}

/// Errors that are the buyer's request's fault: answered with a Reject, not retried.
fn answerable(e: &Error) -> bool {
    matches!(
        e.kind,
        ErrorKind::Validation
            | ErrorKind::BadRequest
            | ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::Forbidden
    )
}

/// A reason for the buyer: the message and each field's problem (never a submitted value).
fn reason_of(e: &Error) -> String {
    let mut s = e.message.clone();
    for (field, problem) in &e.fields.0 {
        s.push_str(&format!("; {field} {problem}"));
    }
    s.chars().take(500).collect()
}

async fn send_reject(
    state: &AppState,
    shop_actor: &str,
    buyer: &RemoteActor,
    offer_id: &str,
    reason: &str,
) -> Result<()> {
    let activity = wire::reject(
        &state.urls.new_activity(),
        shop_actor,
        &buyer.id,
        offer_id,
        reason,
    );
    send_now(
        state,
        &activity,
        shop_actor,
        offer_id,
        std::slice::from_ref(&buyer.inbox),
        false,
    )
    .await
}

/// An `Accept` or `Reject` about an Offer. `Ok(false)` when it is not about orders (a Follow
/// answer), for the caller to handle.
pub async fn answer(
    state: &AppState,
    signer: &RemoteActor,
    a: &Value,
    accepted: bool,
) -> Result<bool> {
    let object = a.get("object").unwrap_or(&Value::Null);
    let Some((offer_id, typed)) = wire::offer_of(object) else {
        return Ok(false);
    };
    if remote_orders::by_offer(&state.store, offer_id)
        .await?
        .is_some()
    {
        if accepted {
            let result = a
                .get("result")
                .ok_or_else(|| Error::bad_request("Accept of an order without the order"))?;
            let (result, _) = wire::parse_agreement(result, signer)?;
            remote::record_accept(&state.store, &signer.id, offer_id, &result).await?;
        } else {
            let reason = wire::reject_reason(a);
            remote::record_reject(&state.store, &signer.id, offer_id, &reason).await?;
        }
        return Ok(true);
    }
    if db::orders::by_offer(&state.store, offer_id)
        .await?
        .is_some()
    {
        // An Offer made to one of our shops: only the shop answers it.
        return Err(Error::forbidden(
            "a buyer cannot accept or reject its own order",
        ));
    }
    if typed {
        return Err(Error::not_found_msg("no such order offer here"));
    }
    Ok(false)
}

/// An `Update` of an order (`Agreement`). `Ok(false)` when the object is something else.
pub async fn update(state: &AppState, signer: &RemoteActor, a: &Value) -> Result<bool> {
    let object = a.get("object").unwrap_or(&Value::Null);
    if type_of(object) != Some("Agreement") {
        return Ok(false);
    }
    if let Some(id) = id_of(object) {
        if state.urls.parse_order(id).is_some() || state.urls.is_local(id) {
            return Err(Error::forbidden("only the shop changes its orders"));
        }
    }
    let (result, offer) = wire::parse_agreement(object, signer)?;
    remote::record_update(&state.store, &signer.id, &result, offer.as_deref()).await?;
    Ok(true)
}

/// An `Undo` of an Offer: the buyer cancels its unpaid order. `Ok(false)` when the object is
/// not an order Offer.
pub async fn undo(state: &AppState, signer: &RemoteActor, a: &Value) -> Result<bool> {
    let object = a.get("object").unwrap_or(&Value::Null);
    let Some((offer_id, typed)) = wire::offer_of(object) else {
        return Ok(false);
    };
    let Some(order) = db::orders::by_offer(&state.store, offer_id).await? else {
        return if typed {
            Err(Error::not_found_msg("no such order here"))
        } else {
            Ok(false)
        };
    };
    if object
        .get("actor")
        .and_then(id_of)
        .is_some_and(|x| x != signer.id)
    {
        return Err(Error::forbidden(
            "an actor may only undo its own activities",
        ));
    }
    let undo_id = str_of(a, "id").ok_or_else(|| Error::bad_request("Undo without id"))?;
    let change = StatusChange {
        status: OrderStatus::Cancelled.as_str().to_string(),
        reason: Some("cancelled by the buyer".to_string()),
        ..Default::default()
    };
    // Only the order's own buyer may; the service checks it.
    service::remote_buyer_change(
        &state.store,
        &state.urls,
        &signer.id,
        &order.id,
        &change,
        undo_id,
    )
    .await?;
    state.changed();
    Ok(true)
}

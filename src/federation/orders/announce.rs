//! The shop's messages to a remote buyer, made from order events in the outbox worker (so
//! the order and its Accept or Update commit together): `Accept` when an order is placed,
//! `Update` when its status or tracking changes. Only for orders whose buyer is a remote
//! actor; addressed to that actor alone, delivered to its own inbox, never public.

use serde_json::Value;

use super::wire;
use crate::db;
use crate::domain::catalog::service;
use crate::domain::orders::Buyer;
use crate::error::Result;
use crate::server::AppState;

/// One private activity to store and deliver.
pub struct Outgoing {
    pub activity: Value,
    /// The shop actor.
    pub actor: String,
    /// The order's id.
    pub object_id: String,
    /// The buyer's own inbox.
    pub inbox: String,
}

/// The Accept (`placed`) or Update of order `order_id`, when its buyer is remote. Built from
/// the order as it is now, so a late event still tells the latest state.
pub async fn order_activity(
    state: &AppState,
    order_id: &str,
    placed: bool,
) -> Result<Option<Outgoing>> {
    let Some(order) = db::orders::by_id(&state.store, order_id).await? else {
        return Ok(None);
    };
    let Buyer::Remote {
        actor: buyer,
        inbox,
        offer_id,
    } = &order.buyer
    else {
        return Ok(None); // guests and local members hear by mail and on their pages
    };
    let shop = service::shop_by_id(&state.store, &order.shop_id).await?;
    let shop_actor = state.urls.shop(&shop.handle);
    let agreement = wire::agreement(&state.urls, &shop, &order);
    let id = state.urls.new_activity();
    let activity = if placed {
        wire::accept(&id, &shop_actor, buyer, offer_id, agreement)
    } else {
        wire::update(&id, &shop_actor, buyer, agreement)
    };
    Ok(Some(Outgoing {
        activity,
        actor: shop_actor,
        object_id: state.urls.order(&order.id),
        inbox: inbox.clone(),
    }))
}

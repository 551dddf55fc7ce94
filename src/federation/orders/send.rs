//! The buyer's instance: a member orders a product of a shop on another instance. The
//! request is checked like a local order, the product and its shop are resolved (fetched
//! when unknown), and the stored remote order and its `Offer` (signed by the member, sent
//! to the shop's own inbox only) commit together. Also cancelling (`Undo` of the Offer) and
//! the member's list of remote orders. Used by the JSON API and the web pages alike.

use std::collections::HashMap;

use super::wire;
use crate::db::remote_orders::{self, RemoteOrderRow};
use crate::db::{remote_actors, remote_products};
use crate::domain::accounts::User;
use crate::domain::now_ms;
use crate::domain::orders::remote::{self, RemoteOrder, RemoteOrderInput, RemoteStatus};
use crate::domain::social::{RemoteActor, RemoteProduct};
use crate::error::{Error, ErrorKind, Result};
use crate::federation::actors::{fetch_error, remote_actor};
use crate::federation::fetch::authority;
use crate::federation::notes::parse_remote_product;
use crate::federation::outbox::{enqueue, send_now};
use crate::federation::protocol::{has_as_context, id_of, str_of};
use crate::server::AppState;

/// How many remote orders a member's list shows.
const LIST_LIMIT: i64 = 200;

fn host_of(id: &str) -> Option<String> {
    url::Url::parse(id).ok().and_then(|u| authority(&u))
}

/// A remote product by its id, and its shop: stored ones first, else fetched and checked
/// (the note attributed to an actor on its own host).
async fn resolve_product(state: &AppState, id: &str) -> Result<(RemoteProduct, RemoteActor)> {
    let product = match remote_products::by_id(&state.store, id).await? {
        Some(p) => p,
        None => {
            let signer = state.federation.instance_key(state).await?;
            let doc = state
                .federation
                .client
                .get_object(id, &signer)
                .await
                .map_err(fetch_error)?;
            if !has_as_context(&doc) {
                return Err(Error::bad_request("that is not an ActivityPub product"));
            }
            let note_id = str_of(&doc, "id").unwrap_or_default();
            let author = doc
                .get("attributedTo")
                .and_then(id_of)
                .filter(|a| host_of(a).is_some() && host_of(a) == host_of(note_id))
                .ok_or_else(|| Error::bad_request("that product has no shop on its server"))?;
            parse_remote_product(&doc, author)
                .ok_or_else(|| Error::bad_request("that is not a product for sale"))?
        }
    };
    let shop = remote_actor(state, &product.actor, false).await?;
    if host_of(&product.id).as_deref() != Some(shop.host.as_str()) {
        return Err(Error::bad_request("that product has no shop on its server"));
    }
    Ok((product, shop))
}

/// The view of a row, with the shop's name when we know the shop.
async fn view(state: &AppState, row: RemoteOrderRow) -> Result<RemoteOrder> {
    let name = remote_actors::by_id(&state.store, &row.shop_actor)
        .await?
        .map(|a| a.name);
    RemoteOrder::from_row(row, name)
}

/// Orders `product` (the URL or ActivityPub id of a product of a shop on another instance)
/// for `user`. The same idempotency key with the same request returns the same order; with
/// another request it is a conflict. The order is `requested` until the shop answers.
pub async fn place_remote(
    state: &AppState,
    user: &User,
    product: &str,
    input: RemoteOrderInput,
) -> Result<RemoteOrder> {
    let (mut request, key) = remote::check(product, &input)?;
    let hash = request.fingerprint();
    if let Some(row) = remote::earlier(&state.store, user, key.as_deref(), &request).await? {
        return view(state, row).await;
    }
    if state.urls.is_local(&request.product) {
        return Err(Error::bad_request(
            "that product is sold on this server: order it from its page",
        ));
    }
    let (product, shop) = resolve_product(state, &request.product).await?;
    request.product = product.id.clone();
    request.product_title = product.title.clone();
    let member = state.urls.user(&user.username);
    let offer_id = state.urls.new_activity();
    let offer = wire::offer(&offer_id, &member, &shop.id, &request);
    let now = now_ms();
    let row = RemoteOrderRow {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.id.clone(),
        shop_actor: shop.id.clone(),
        // The shop's own inbox: an order never goes to a shared inbox.
        shop_inbox: shop.inbox.clone(),
        offer_id: offer_id.clone(),
        order_ref: None,
        number: None,
        status: RemoteStatus::Requested.as_str().to_string(),
        idempotency_key: key.clone(),
        request_hash: hash,
        request_json: serde_json::to_string(&request).map_err(Error::internal)?,
        result_json: None,
        currency: None,
        total_minor: None,
        reason: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.store.begin().await?;
    if let Err(e) = remote_orders::insert(&mut tx, &row).await {
        tx.rollback().await?;
        // A concurrent request with the same key won: answer with its order.
        if e.kind == ErrorKind::Conflict {
            if let Some(won) = remote::earlier(&state.store, user, key.as_deref(), &request).await?
            {
                return view(state, won).await;
            }
        }
        return Err(e);
    }
    enqueue(
        &mut tx,
        &offer,
        &member,
        &offer_id,
        std::slice::from_ref(&shop.inbox),
        false,
    )
    .await?;
    tx.commit().await?;
    state.federation.delivery_wake.notify_one();
    view(state, row).await
}

/// Asks the shop to cancel `user`'s remote order `id` (an `Undo` of the Offer). Only an
/// accepted, unpaid order can be cancelled; the status changes when the shop confirms.
pub async fn cancel_remote(state: &AppState, user: &User, id: &str) -> Result<RemoteOrder> {
    let row = remote_orders::of_user(&state.store, &user.id, id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    let status = RemoteStatus::parse(&row.status)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("stored status {}", row.status)))?;
    if status == RemoteStatus::Requested {
        return Err(Error::conflict(
            "the shop has not answered yet; cancel once it has accepted the order",
        ));
    }
    if !status.cancellable() {
        return Err(Error::conflict(
            "only an unpaid order can be cancelled; ask the shop for a refund",
        ));
    }
    let member = state.urls.user(&user.username);
    let undo = wire::undo(
        &state.urls.new_activity(),
        &member,
        &row.shop_actor,
        &row.offer_id,
    );
    send_now(
        state,
        &undo,
        &member,
        &row.offer_id,
        std::slice::from_ref(&row.shop_inbox),
        false,
    )
    .await?;
    view(state, row).await
}

/// `user`'s orders with remote shops, newest first.
pub async fn remote_orders_of(state: &AppState, user: &User) -> Result<Vec<RemoteOrder>> {
    let rows = remote_orders::for_user(&state.store, &user.id, LIST_LIMIT, 0).await?;
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if !names.contains_key(&row.shop_actor) {
            let name = remote_actors::by_id(&state.store, &row.shop_actor)
                .await?
                .map(|a| a.name);
            names.insert(row.shop_actor.clone(), name);
        }
        let name = names.get(&row.shop_actor).cloned().flatten();
        out.push(RemoteOrder::from_row(row, name)?);
    }
    Ok(out)
}

/// One of `user`'s remote orders; another member's looks missing.
pub async fn remote_order_of(state: &AppState, user: &User, id: &str) -> Result<RemoteOrder> {
    let row = remote_orders::of_user(&state.store, &user.id, id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    view(state, row).await
}

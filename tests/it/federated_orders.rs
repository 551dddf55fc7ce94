//! Buying across servers: a member of one instance orders a product of a shop on another,
//! over real HTTP with signatures. Accept with the shop's number and totals, status updates
//! back to the buyer, Rejects, idempotency of a repeated Offer, refusals of third parties,
//! and the address never in a public place.

use fedishop::db::{self, inbox, outbox};
use fedishop::domain::accounts::Role;
use fedishop::domain::orders::remote::{RemoteOrder, RemoteOrderInput};
use fedishop::domain::orders::{service, Address, Order, StatusChange};
use fedishop::federation::keys::signing_key;
use fedishop::federation::orders::{send, wire};
use serde_json::{json, Value};

use crate::support::orders::{pair, Pair};
use crate::support::{eventually, TestApp};

const STREET: &str = "7 Secret Garden Lane";

fn input(quantity: i64, key: &str) -> RemoteOrderInput {
    RemoteOrderInput {
        variant: None,
        quantity,
        shipping: Address {
            name: "Bob Buyer".into(),
            address_lines: vec![STREET.into()],
            city: "Lyon".into(),
            postal_code: "69001".into(),
            country: "FR".into(),
            phone: "+33 1 23 45 67 89".into(),
        },
        email: "bob@example.org".into(),
        shipping_option: None,
        payment_method: "bank_transfer".into(),
        note: "Ring twice".into(),
        idempotency_key: Some(key.into()),
    }
}

async fn remote(p: &Pair, id: &str) -> RemoteOrder {
    send::remote_order_of(&p.member.state, &p.bob, id)
        .await
        .unwrap()
}

async fn wait_status(p: &Pair, id: &str, status: &str) -> RemoteOrder {
    eventually(&format!("the remote order to become {status}"), || async {
        let o = remote(p, id).await;
        (o.status.as_str() == status).then_some(o)
    })
    .await
}

async fn shop_order(p: &Pair, offer_id: &str) -> Order {
    eventually("the order at the shop", || async {
        db::orders::by_offer(&p.shop.state.store, offer_id)
            .await
            .unwrap()
    })
    .await
}

async fn stock(p: &Pair) -> i64 {
    db::products::by_id(&p.shop.state.store, &p.product_id)
        .await
        .unwrap()
        .unwrap()
        .stock
}

async fn seller_sets(p: &Pair, order: &Order, status: &str, tracking: Option<&str>) {
    let change = StatusChange {
        status: status.into(),
        carrier: tracking.map(|_| "DHL".to_string()),
        tracking: tracking.map(str::to_string),
        reason: (status == "refunded" || status == "cancelled").then(|| "sorry".to_string()),
    };
    service::seller_change(
        &p.shop.state.store,
        &p.shop.state.urls,
        &p.alice,
        &order.id,
        &change,
    )
    .await
    .unwrap();
    p.shop.state.changed();
}

/// Signs `activity` as `actor` of `from` and posts it to `inbox`.
async fn post_signed(from: &TestApp, actor: &str, inbox: &str, activity: &Value) {
    let key = signing_key(&from.state.store, &from.state.federation.keys, actor)
        .await
        .unwrap();
    from.state
        .federation
        .client
        .post_activity(
            inbox,
            &fedishop::federation::fetch::OutgoingBody::new(activity.to_string()),
            &key,
        )
        .await
        .unwrap();
}

/// Waits until `app` applied or refused activity `id`; returns its state and error.
async fn outcome(app: &TestApp, id: &str) -> (String, Option<String>) {
    eventually("the inbox to apply the activity", || async {
        let e = inbox::entry(&app.state.store, id).await.unwrap()?;
        (e.state != "queued").then_some((e.state, e.last_error))
    })
    .await
}

#[tokio::test]
async fn a_member_buys_from_a_shop_on_another_server_and_follows_it_to_delivery() {
    let p = pair().await;
    let placed = send::place_remote(&p.member.state, &p.bob, &p.product, input(2, "k1"))
        .await
        .unwrap();
    assert_eq!(placed.status.as_str(), "requested");
    assert_eq!(placed.product_title, "Sencha");
    let shop_actor = p.shop.state.urls.shop("teashop");
    assert_eq!(placed.shop_actor, shop_actor);
    // The shop's own inbox, never the shared one.
    assert_eq!(placed.shop_inbox, format!("{shop_actor}/inbox"));
    // The same key and request: the same order, no second Offer.
    let again = send::place_remote(&p.member.state, &p.bob, &p.product, input(2, "k1"))
        .await
        .unwrap();
    assert_eq!(again.id, placed.id);
    // The same key with another request: a conflict.
    let e = send::place_remote(&p.member.state, &p.bob, &p.product, input(3, "k1"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 409);

    // The shop placed it with its own prices and reserved the stock.
    let order = shop_order(&p, &placed.offer_id).await;
    assert_eq!(order.total.amount_string(), "20.00");
    assert_eq!(order.address.address_lines, vec![STREET.to_string()]);
    assert_eq!(stock(&p).await, 3);

    // The buyer's instance shows the Accept: number, total, how to pay.
    let accepted = wait_status(&p, &placed.id, "pending").await;
    assert_eq!(accepted.number.as_deref(), Some(order.number.as_str()));
    assert_eq!(accepted.total.as_deref(), Some("20.00"));
    assert_eq!(accepted.currency.as_deref(), Some("EUR"));
    assert_eq!(accepted.order_ref, Some(p.shop.state.urls.order(&order.id)));
    assert!(accepted
        .payment_instructions
        .as_deref()
        .is_some_and(|s| s.contains("IBAN")));
    assert_eq!(accepted.lines.len(), 1);
    assert_eq!(accepted.lines[0].quantity, 2);
    assert_eq!(accepted.lines[0].unit_price, "8.00");

    seller_sets(&p, &order, "paid", None).await;
    wait_status(&p, &placed.id, "paid").await;
    seller_sets(&p, &order, "shipped", Some("TRACK-123")).await;
    let shipped = wait_status(&p, &placed.id, "shipped").await;
    assert_eq!(shipped.carrier.as_deref(), Some("DHL"));
    assert_eq!(shipped.tracking.as_deref(), Some("TRACK-123"));
    seller_sets(&p, &order, "delivered", None).await;
    wait_status(&p, &placed.id, "delivered").await;
    // A paid order can no longer be cancelled by the buyer.
    let e = send::cancel_remote(&p.member.state, &p.bob, &placed.id)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 409);

    // One history across shops.
    let list = send::remote_orders_of(&p.member.state, &p.bob)
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].shop_name.as_deref(), Some("Shop"));

    // Privacy: no address in any public place of either instance.
    let bob_actor = p.member.state.urls.user("bob");
    for (app, actor) in [(&p.shop, &shop_actor), (&p.member, &bob_actor)] {
        let (bodies, _) = outbox::outbox_page(&app.state.store, actor, 100, 0)
            .await
            .unwrap();
        assert!(bodies
            .iter()
            .all(|b| !b.contains(STREET) && !b.contains("Offer")));
    }
    assert!(
        outbox::public_activity(&p.member.state.store, &placed.offer_id)
            .await
            .unwrap()
            .is_none()
    );
    let accept = outbox::find_activity(
        &p.shop.state.store,
        &shop_actor,
        "Accept",
        &p.shop.state.urls.order(&order.id),
    )
    .await
    .unwrap()
    .expect("the Accept is stored");
    assert!(outbox::public_activity(&p.shop.state.store, &accept)
        .await
        .unwrap()
        .is_none());
    let resp = p
        .member
        .client
        .get(&placed.offer_id)
        .header("Accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn the_shop_rejects_what_it_cannot_sell_and_the_buyer_sees_why() {
    let p = pair().await;
    let too_many = send::place_remote(&p.member.state, &p.bob, &p.product, input(9, "a"))
        .await
        .unwrap();
    let mut with_variant = input(1, "b");
    with_variant.variant = Some("XL".into());
    let variant = send::place_remote(&p.member.state, &p.bob, &p.product, with_variant)
        .await
        .unwrap();
    let r = wait_status(&p, &too_many.id, "rejected").await;
    assert!(r.reason.as_deref().unwrap().contains("quantity"), "{r:?}");
    let r = wait_status(&p, &variant.id, "rejected").await;
    assert!(r.reason.as_deref().unwrap().contains("variant"), "{r:?}");
    assert!(!r.reason.as_deref().unwrap().contains(STREET));
    // Nothing was reserved or stored at the shop.
    assert_eq!(stock(&p).await, 5);
    assert!(
        db::orders::by_offer(&p.shop.state.store, &too_many.offer_id)
            .await
            .unwrap()
            .is_none()
    );
    // A rejected order cannot be cancelled.
    let e = send::cancel_remote(&p.member.state, &p.bob, &r.id)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 409);
}

#[tokio::test]
async fn the_same_offer_three_times_is_one_order_and_others_cannot_touch_it() {
    let p = pair().await;
    let (carol, _) = p.member.user("carol", Role::Member).await;
    let bob_actor = p.member.state.urls.user("bob");
    let carol_actor = p.member.state.urls.user(&carol.username);
    let shop_actor = p.shop.state.urls.shop("teashop");
    let shop_inbox = format!("{shop_actor}/inbox");

    // A hand-made Offer (as `place_remote` builds it), posted three times.
    let (mut request, _) =
        fedishop::domain::orders::remote::check(&p.product, &input(1, "x")).unwrap();
    request.product_title = "Sencha".into();
    let offer_id = p.member.state.urls.new_activity();
    let offer = wire::offer(&offer_id, &bob_actor, &shop_actor, &request);
    for _ in 0..3 {
        post_signed(&p.member, &bob_actor, &shop_inbox, &offer).await;
    }
    let order = shop_order(&p, &offer_id).await;
    assert_eq!(outcome(&p.shop, &offer_id).await.0, "done");
    let shop = fedishop::domain::catalog::service::shop_by_handle(&p.shop.state.store, "teashop")
        .await
        .unwrap();
    let all = db::orders::for_shop(&p.shop.state.store, &shop.id, None, 100, 0)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(stock(&p).await, 4);

    // The buyer cannot Accept its own order.
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": p.member.state.urls.new_activity(),
        "type": "Accept",
        "actor": bob_actor,
        "to": [shop_actor],
        "object": {"id": offer_id, "type": "Offer", "actor": bob_actor},
    });
    post_signed(&p.member, &bob_actor, &shop_inbox, &accept).await;
    let (state, error) = outcome(&p.shop, accept["id"].as_str().unwrap()).await;
    assert_eq!(state, "failed");
    assert!(error.unwrap().contains("own order"));

    // Someone else cannot cancel it.
    let undo = wire::undo(
        &p.member.state.urls.new_activity(),
        &carol_actor,
        &shop_actor,
        &offer_id,
    );
    post_signed(&p.member, &carol_actor, &shop_inbox, &undo).await;
    let (state, error) = outcome(&p.shop, undo["id"].as_str().unwrap()).await;
    assert_eq!(state, "failed");
    assert!(error.unwrap().contains("only the buyer"));
    let still = db::orders::by_id(&p.shop.state.store, &order.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.status.as_str(), "pending");

    // The buyer itself can: the order is cancelled and the stock is back.
    let undo = wire::undo(
        &p.member.state.urls.new_activity(),
        &bob_actor,
        &shop_actor,
        &offer_id,
    );
    post_signed(&p.member, &bob_actor, &shop_inbox, &undo).await;
    assert_eq!(
        outcome(&p.shop, undo["id"].as_str().unwrap()).await.0,
        "done"
    );
    let cancelled = db::orders::by_id(&p.shop.state.store, &order.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.status.as_str(), "cancelled");
    assert_eq!(stock(&p).await, 5);
}

#[tokio::test]
async fn the_buyer_cancels_and_only_the_shop_may_update_a_known_order() {
    let p = pair().await;
    let mut by_link = input(1, "c");
    by_link.payment_method = "payment_link".into();
    let placed = send::place_remote(&p.member.state, &p.bob, &p.product, by_link)
        .await
        .unwrap();
    let pending = wait_status(&p, &placed.id, "pending").await;
    // The FEP-0ea0 payment link reaches the buyer.
    assert_eq!(
        pending.payment_url.as_deref(),
        Some("https://pay.example/teashop")
    );
    let order = shop_order(&p, &placed.offer_id).await;
    let bob_actor = p.member.state.urls.user("bob");
    let bob_inbox = format!("{bob_actor}/inbox");
    let shop_actor = p.shop.state.urls.shop("teashop");

    // Another shop on the same server cannot update it.
    p.shop.seller_with_shop("mallory", "othershop").await;
    let other = p.shop.state.urls.shop("othershop");
    let mut forged = agreement_of(&p, &order).await;
    forged["orderStatus"] = json!("shipped");
    forged["attributedTo"] = json!(other);
    let update = json!({
        "@context": wire::order_context(),
        "id": p.shop.state.urls.new_activity(),
        "type": "Update",
        "actor": other,
        "to": [bob_actor],
        "object": forged,
    });
    post_signed(&p.shop, &other, &bob_inbox, &update).await;
    let (state, error) = outcome(&p.member, update["id"].as_str().unwrap()).await;
    assert_eq!(state, "failed");
    assert!(error.unwrap().contains("only the shop"));

    // An update for an order we do not know is refused, and writes nothing.
    let mut unknown = agreement_of(&p, &order).await;
    unknown["id"] = json!(p.shop.state.urls.order("no-such-order"));
    unknown.as_object_mut().unwrap().remove("offer");
    let update = json!({
        "@context": wire::order_context(),
        "id": p.shop.state.urls.new_activity(),
        "type": "Update",
        "actor": shop_actor,
        "to": [bob_actor],
        "object": unknown,
    });
    post_signed(&p.shop, &shop_actor, &bob_inbox, &update).await;
    let (state, error) = outcome(&p.member, update["id"].as_str().unwrap()).await;
    assert_eq!(state, "failed");
    assert!(error.unwrap().contains("no such order"));
    assert_eq!(remote(&p, &placed.id).await.status.as_str(), "pending");

    // The buyer cancels through its instance; the shop confirms with an Update.
    send::cancel_remote(&p.member.state, &p.bob, &pending.id)
        .await
        .unwrap();
    let cancelled = wait_status(&p, &placed.id, "cancelled").await;
    assert_eq!(cancelled.reason.as_deref(), Some("cancelled by the buyer"));
    assert_eq!(stock(&p).await, 5);
}

/// The shop's Agreement for `order`, as it sends it.
async fn agreement_of(p: &Pair, order: &Order) -> Value {
    let shop = fedishop::domain::catalog::service::shop_by_id(&p.shop.state.store, &order.shop_id)
        .await
        .unwrap();
    wire::agreement(&p.shop.state.urls, &shop, order)
}

#[tokio::test]
async fn the_json_api_orders_from_a_shop_on_another_instance() {
    let p = pair().await;
    let token = fedishop::domain::accounts::issue_token(&p.member.state.store, "bob", "t")
        .await
        .unwrap();
    let body = json!({
        "product": p.product,
        "quantity": 2,
        "shipping": {"name": "Bob Buyer", "address_lines": [STREET], "city": "Lyon", "postal_code": "69001", "country": "FR"},
        "payment_method": "bank_transfer",
        "idempotency_key": "api-1"
    });
    let (s, o) = p
        .member
        .post("/api/v1/orders", Some(&token), body.clone())
        .await;
    assert_eq!(s, reqwest::StatusCode::ACCEPTED, "{o}");
    assert_eq!(o["origin"], "remote");
    assert_eq!(o["status"], "requested");
    let id = o["id"].as_str().unwrap().to_string();
    // The same key again: the same order, not a second Offer.
    let (s, again) = p.member.post("/api/v1/orders", Some(&token), body).await;
    assert_eq!(s, reqwest::StatusCode::ACCEPTED);
    assert_eq!(again["id"], id.as_str());
    // Several lines cannot go to another instance in one order.
    let (s, e) = p
        .member
        .post(
            "/api/v1/orders",
            Some(&token),
            json!({"lines": [{"product": p.product}, {"product": p.product, "variant": "x"}],
                   "shipping": {"name": "B", "address_lines": ["1"], "city": "L", "country": "FR"},
                   "payment_method": "bank_transfer"}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    let accepted = eventually("the shop's Accept", || async {
        let (_, o) = p
            .member
            .get(&format!("/api/v1/orders/{id}"), Some(&token))
            .await;
        (o["status"] == "pending").then_some(o)
    })
    .await;
    assert_eq!(
        accepted["total"], "20.00",
        "2 x 8.00 + 4.00, priced by the shop"
    );
    assert!(accepted["number"].is_string());
    let (_, list) = p.member.get("/api/v1/orders", Some(&token)).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());

    let (s, c) = p
        .member
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{c}");
    eventually("the shop to confirm the cancellation", || async {
        let (_, o) = p
            .member
            .get(&format!("/api/v1/orders/{id}"), Some(&token))
            .await;
        (o["status"] == "cancelled").then_some(())
    })
    .await;
    let stock =
        fedishop::domain::catalog::service::product_by_id(&p.shop.state.store, &p.product_id)
            .await
            .unwrap()
            .stock;
    assert_eq!(stock, 5, "the shop released the reservation");

    // The Offer was delivered: its stored body (it holds the address) is emptied; a year and
    // a day after the order closed, the member's copy forgets the address too.
    let later = fedishop::domain::now_ms() + 366 * 86_400_000;
    let n = service::erase_old_addresses(&p.member.state.store, 365, later)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM activities WHERE kind = 'Offer'")
            .fetch_all(p.member.state.store.pool())
            .await
            .unwrap();
    assert!(
        !bodies.is_empty() && bodies.iter().all(|b| b.is_empty()),
        "{bodies:?}"
    );
    let (_, o) = p
        .member
        .get(&format!("/api/v1/orders/{id}"), Some(&token))
        .await;
    assert_eq!(o["shipping"]["address_lines"], json!([]));
    assert_eq!(o["shipping"]["name"], "");
    assert_eq!(o["status"], "cancelled");
}

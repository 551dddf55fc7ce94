//! Federation between real instances on loopback (`FEDISHOP_DEV_FEDERATION`): following by
//! handle, approval, publishing, editing and deleting products, likes, boosts and replies
//! from the other side, unfollowing. Every step goes over real HTTP with signatures.

use fedishop::db::{follows, outbox, reactions};
use fedishop::domain::accounts::Role;
use fedishop::domain::social::FollowState;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{eventually, TestApp};

async fn feed(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = app.get("/api/v1/feed", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

async fn follow_state(app: &TestApp, token: &str, target: &str) -> Option<String> {
    let (_, body) = app.get("/api/v1/follows", Some(token)).await;
    body["items"]
        .as_array()?
        .iter()
        .find(|f| f["target"] == target)
        .map(|f| f["state"].as_str().unwrap_or_default().to_string())
}

async fn update_count(app: &TestApp, object: &str) -> usize {
    let (bodies, _) =
        outbox::outbox_page(&app.state.store, &app.state.urls.shop("teashop"), 100, 0)
            .await
            .unwrap();
    bodies
        .iter()
        .filter(|b| b.contains("\"type\":\"Update\"") && b.contains(object))
        .count()
}

#[tokio::test]
async fn a_member_elsewhere_follows_a_shop_and_sees_its_products_come_and_go() {
    let shop_app = TestApp::spawn_federating().await;
    let member_app = TestApp::spawn_federating().await;
    let seller = shop_app.seller_with_shop("alice", "teashop").await;
    let (_, bob) = member_app.user("bob", Role::Member).await;
    let shop_id = shop_app.state.urls.shop("teashop");
    // Published before anyone follows: read from the shop's outbox once the follow is accepted.
    shop_app
        .product(&seller, "teashop", json!({"title": "Genmaicha", "price": "8.00", "currency": "EUR", "stock": 2, "status": "published"}))
        .await;
    eventually("the first Create in the shop's outbox", || async {
        let (_, n) = outbox::outbox_page(&shop_app.state.store, &shop_id, 1, 0)
            .await
            .unwrap();
        (n == 1).then_some(())
    })
    .await;

    // Follow by handle: WebFinger, actor fetch, Follow, Accept.
    let handle = format!("@teashop@{}", shop_app.domain());
    let (status, body) = member_app
        .post("/api/v1/follows", Some(&bob), json!({"target": handle}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["target"], shop_id);
    assert_eq!(body["state"], "pending");
    eventually("the shop's Accept", || async {
        (follow_state(&member_app, &bob, &shop_id).await.as_deref() == Some("accepted"))
            .then_some(())
    })
    .await;
    let bob_actor = member_app.state.urls.user("bob");
    // The shop's followers collection, paged, lists bob.
    let page: Value = shop_app
        .client
        .get(format!("{shop_id}/followers?page=1"))
        .header("Accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["type"], "OrderedCollectionPage");
    assert_eq!(page["totalItems"], 1);
    assert_eq!(page["orderedItems"], json!([bob_actor]));
    let f = follows::get(&shop_app.state.store, &bob_actor, &shop_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.state, FollowState::Accepted);

    // A profile edit reaches the follower's instance as Update(actor).
    let (s, b) = shop_app
        .patch(
            "/api/v1/shops/teashop",
            Some(&seller),
            json!({"name": "Tea Shop Deluxe"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    eventually("the profile update", || async {
        let a = fedishop::db::remote_actors::by_id(&member_app.state.store, &shop_id)
            .await
            .unwrap()?;
        (a.name == "Tea Shop Deluxe").then_some(())
    })
    .await;

    // Publish: the product reaches the member's feed with structured price and stock.
    let p = shop_app
        .product(
            &seller,
            "teashop",
            json!({"title": "Oolong", "description": "Roasted", "price": "24.00",
                   "currency": "EUR", "stock": 7, "tags": ["tea"], "status": "published"}),
        )
        .await;
    let product_id = shop_app.state.urls.product(
        "teashop",
        &fedishop::domain::ids::ProductId::parse(p["id"].as_str().unwrap()).unwrap(),
    );
    eventually("the older product, backfilled", || async {
        feed(&member_app, &bob)
            .await
            .into_iter()
            .find(|i| i["title"] == "Genmaicha")
    })
    .await;
    let item = eventually("the product in the feed", || async {
        feed(&member_app, &bob)
            .await
            .into_iter()
            .find(|i| i["id"] == product_id)
    })
    .await;
    assert_eq!(item["title"], "Oolong");
    assert_eq!(item["price"], "24.00");
    assert_eq!(item["currency"], "EUR");
    assert_eq!(item["stock"], 7);
    assert_eq!(item["shop"]["id"], shop_id);
    assert_eq!(item["shop"]["handle"], handle);

    // A stock change alone sends no Update; a title change does.
    let path = format!("/api/v1/products/{}", p["id"].as_str().unwrap());
    let (s, b) = shop_app
        .patch(&path, Some(&seller), json!({"stock": 6}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = shop_app
        .patch(&path, Some(&seller), json!({"title": "Oolong reserve"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    eventually("the edit in the feed", || async {
        feed(&member_app, &bob)
            .await
            .into_iter()
            .find(|i| i["id"] == product_id && i["title"] == "Oolong reserve")
    })
    .await;
    assert_eq!(update_count(&shop_app, &product_id).await, 1);

    // Like, boost and reply from the member's instance reach the shop.
    for kind in ["like", "boost"] {
        let (s, b) = member_app
            .post(
                "/api/v1/reactions",
                Some(&bob),
                json!({"object": product_id, "type": kind}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, b) = member_app
        .post(
            "/api/v1/replies",
            Some(&bob),
            json!({"object": product_id, "content": "Is it *smoky*?"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // The reply is a note of its own, fetchable by id.
    let reply_id = b["id"].as_str().unwrap().to_string();
    let note: Value = member_app
        .client
        .get(&reply_id)
        .header("Accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(note["type"], "Note");
    assert_eq!(note["inReplyTo"], product_id.as_str());
    eventually("likes, boosts and the reply at the shop", || async {
        let c = reactions::counts(&shop_app.state.store, &product_id)
            .await
            .unwrap();
        let r = reactions::replies_to(&shop_app.state.store, &product_id, 10)
            .await
            .unwrap();
        (c.likes == 1 && c.announces == 1 && r.len() == 1).then_some(r)
    })
    .await
    .pop()
    .filter(|r| r.content_html.contains("<em>smoky</em>") && r.actor == bob_actor)
    .expect("the reply as written");

    // The seller answers the question as the shop: it joins the thread and reaches bob.
    let question = reactions::replies_to(&shop_app.state.store, &product_id, 10)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let (s, answer) = shop_app
        .post(
            "/api/v1/shops/teashop/replies",
            Some(&seller),
            json!({"in_reply_to": question.id, "content": "Lightly, over charcoal."}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["in_reply_to"], product_id.as_str());
    let thread = reactions::replies_to(&shop_app.state.store, &product_id, 10)
        .await
        .unwrap();
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[1].actor, shop_id);
    let answer_activity = format!("{}/activity", answer["id"].as_str().unwrap());
    eventually("the answer applied at bob's instance", || async {
        let entry = fedishop::db::inbox::entry(&member_app.state.store, &answer_activity)
            .await
            .unwrap()?;
        (entry.state == "done").then_some(())
    })
    .await;
    // Only the shop's managers answer for it.
    let (_, mallory) = shop_app.user("mallory", Role::Seller).await;
    let (s, _) = shop_app
        .post(
            "/api/v1/shops/teashop/replies",
            Some(&mallory),
            json!({"in_reply_to": question.id, "content": "Buy mine instead."}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Unlike: the like goes away at the shop.
    let (s, _) = member_app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/reactions",
            Some(&bob),
            Some(json!({"object": product_id, "type": "like"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    eventually("the Undo(Like)", || async {
        let c = reactions::counts(&shop_app.state.store, &product_id)
            .await
            .unwrap();
        (c.likes == 0 && c.announces == 1).then_some(())
    })
    .await;

    // Delete: gone from the feed, and the object answers 410.
    let (s, _) = shop_app.delete(&path, Some(&seller)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    eventually("the Delete", || async {
        let items = feed(&member_app, &bob).await;
        (items.len() == 1 && items[0]["title"] == "Genmaicha").then_some(())
    })
    .await;
    let gone = shop_app
        .client
        .get(&product_id)
        .header("Accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::GONE);

    // Unfollow: the shop forgets the follower.
    let (s, b) = member_app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/follows",
            Some(&bob),
            Some(json!({"target": shop_id})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    eventually("the Undo(Follow)", || async {
        follows::get(&shop_app.state.store, &bob_actor, &shop_id)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_shop_that_approves_followers_decides_and_one_post_reaches_two_instances() {
    let shop_app = TestApp::spawn_federating().await;
    let b_app = TestApp::spawn_federating().await;
    let c_app = TestApp::spawn_federating().await;
    let seller = shop_app.seller_with_shop("alice", "teashop").await;
    let (s, b) = shop_app
        .patch(
            "/api/v1/shops/teashop",
            Some(&seller),
            json!({"manually_approves_followers": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let shop_id = shop_app.state.urls.shop("teashop");
    let (_, bob) = b_app.user("bob", Role::Member).await;
    let (_, carol) = c_app.user("carol", Role::Member).await;
    for (app, token) in [(&b_app, &bob), (&c_app, &carol)] {
        let (s, b) = app
            .post("/api/v1/follows", Some(token), json!({"target": shop_id}))
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    }
    // Both wait for the seller.
    let pending = eventually("two follow requests", || async {
        let (_, body) = shop_app
            .get(
                "/api/v1/shops/teashop/followers?state=pending",
                Some(&seller),
            )
            .await;
        let items = body["items"].as_array().cloned().unwrap_or_default();
        (items.len() == 2).then_some(items)
    })
    .await;
    let bob_actor = b_app.state.urls.user("bob");
    let carol_actor = c_app.state.urls.user("carol");
    assert!(pending.iter().any(|i| i["actor"] == bob_actor));
    // Approve bob, reject carol.
    for (actor, action) in [(&bob_actor, "approve"), (&carol_actor, "reject")] {
        let (s, b) = shop_app
            .post(
                "/api/v1/shops/teashop/followers",
                Some(&seller),
                json!({"actor": actor, "action": action}),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    }
    eventually("bob accepted", || async {
        (follow_state(&b_app, &bob, &shop_id).await.as_deref() == Some("accepted")).then_some(())
    })
    .await;
    eventually("carol rejected", || async {
        follow_state(&c_app, &carol, &shop_id)
            .await
            .is_none()
            .then_some(())
    })
    .await;
    // Carol asks again and is approved: now one product goes to both instances.
    let (s, _) = c_app
        .post("/api/v1/follows", Some(&carol), json!({"target": shop_id}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    eventually("carol's new request", || async {
        follows::get(&shop_app.state.store, &carol_actor, &shop_id)
            .await
            .unwrap()
    })
    .await;
    let (s, _) = shop_app
        .post(
            "/api/v1/shops/teashop/followers",
            Some(&seller),
            json!({"actor": carol_actor, "action": "approve"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    eventually("carol accepted", || async {
        (follow_state(&c_app, &carol, &shop_id).await.as_deref() == Some("accepted")).then_some(())
    })
    .await;
    shop_app
        .product(&seller, "teashop", json!({"title": "Sencha", "price": "9.50", "currency": "EUR", "stock": 3, "status": "published"}))
        .await;
    for (app, token) in [(&b_app, &bob), (&c_app, &carol)] {
        eventually("the product on both instances", || async {
            feed(app, token)
                .await
                .into_iter()
                .find(|i| i["title"] == "Sencha")
        })
        .await;
    }
    // The seller removes bob: his instance stops counting him as a follower.
    let (s, _) = shop_app
        .post(
            "/api/v1/shops/teashop/followers",
            Some(&seller),
            json!({"actor": bob_actor, "action": "remove"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    eventually("bob removed", || async {
        follow_state(&b_app, &bob, &shop_id)
            .await
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn members_are_actors_that_other_instances_follow() {
    let a = TestApp::spawn_federating().await;
    let b = TestApp::spawn_federating().await;
    a.user("ann", Role::Member).await;
    let (_, bob) = b.user("bob", Role::Member).await;
    let target = format!("@ann@{}", a.domain());
    let (s, body) = b
        .post("/api/v1/follows", Some(&bob), json!({"target": target}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let ann = a.state.urls.user("ann");
    eventually("ann accepts automatically", || async {
        (follow_state(&b, &bob, &ann).await.as_deref() == Some("accepted")).then_some(())
    })
    .await;
    let person: Value = a
        .client
        .get(&ann)
        .header("Accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(person["type"], "Person");
    assert_eq!(person["preferredUsername"], "ann");
}

#[tokio::test]
async fn bad_targets_are_clear_errors() {
    let a = TestApp::spawn_federating().await;
    let (_, bob) = a.user("bob", Role::Member).await;
    for (target, status) in [
        ("nobody", StatusCode::BAD_REQUEST),
        ("@x@bad host", StatusCode::BAD_REQUEST),
        ("", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (s, body) = a
            .post("/api/v1/follows", Some(&bob), json!({"target": target}))
            .await;
        assert_eq!(s, status, "{target}: {body}");
    }
    let (s, _) = a
        .post(
            "/api/v1/follows",
            Some(&bob),
            json!({"target": format!("@nosuchshop@{}", a.domain())}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // An unreachable server is a 502, and nothing is stored.
    let (s, _) = a
        .post(
            "/api/v1/follows",
            Some(&bob),
            json!({"target": "@shop@127.0.0.1:9"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    let (_, list) = a.get("/api/v1/follows", Some(&bob)).await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn without_dev_federation_loopback_and_plain_http_are_refused() {
    let target = TestApp::spawn_federating().await;
    target.seller_with_shop("alice", "teashop").await;
    let strict = TestApp::spawn().await;
    let (_, bob) = strict.user("bob", Role::Member).await;
    for t in [
        format!("@teashop@{}", target.domain()),
        target.state.urls.shop("teashop"),
        "https://localhost/users/x".to_string(),
        "https://10.0.0.1/users/x".to_string(),
    ] {
        let (s, body) = strict
            .post("/api/v1/follows", Some(&bob), json!({"target": t}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{t}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("refused"),
            "{body}"
        );
    }
    let (_, list) = strict.get("/api/v1/follows", Some(&bob)).await;
    assert_eq!(list["items"], json!([]));
}

//! Web pages for following, the home feed, interactions on product pages and follower
//! approval, over plain HTTP with real forms (CSRF token, redirect after post). Everything
//! happens on one instance: local follows need no network.

use fedishop::db::follows;
use fedishop::domain::accounts::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::browser::{csrf_of, Browser};
use crate::support::{eventually, TestApp};

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// A seller `alice` with shop `teashop` and one published product; returns its page path
/// and ActivityPub id.
async fn shop_with_product(app: &TestApp) -> (String, String) {
    let token = app.seller_with_shop("alice", "teashop").await;
    let p = app
        .product(
            &token,
            "teashop",
            json!({"title": "Oolong", "description": "Roasted *slowly*", "price": "24.00",
                   "currency": "EUR", "stock": 7, "status": "published"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/shops/teashop/products/{id}");
    (path.clone(), app.state.urls.absolute(&path))
}

#[tokio::test]
async fn a_member_follows_a_local_shop_sees_its_products_and_unfollows() {
    let app = TestApp::spawn().await;
    shop_with_product(&app).await;
    app.user("bob", Role::Member).await;

    let anon = Browser::new(&app);
    let resp = anon.client.get(app.url("/feed")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");

    let bob = Browser::signed_in(&app, "bob").await;
    let (status, html) = bob.get("/feed").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("href=\"/feed\""),
        "the navigation links the feed"
    );
    assert!(html.contains("Follow a shop anywhere"));
    assert!(!html.contains("Oolong"));

    let handle = format!("@teashop@{}", app.state.settings.domain);
    let resp = bob
        .submit("/follows", &[("target", &handle), ("back", "/feed")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/feed");

    let (_, html) = bob.get("/feed").await;
    assert!(html.contains(&handle), "the followed shop is listed");
    assert!(html.contains(">following<"), "state: following");
    assert!(html.contains("Oolong"), "the product is in the feed");
    assert!(html.contains("€24.00"), "with its price");
    assert!(html.contains("In stock (7)"), "and its stock");
    assert!(html.contains("View and buy"));

    // The shop page counts the follower and offers to unfollow.
    let (_, shop) = bob.get("/shops/teashop").await;
    assert!(
        shop.contains("<span class=\"followers-count\">1</span>"),
        "{shop}"
    );
    assert!(shop.contains("Unfollow"));
    assert!(shop.contains(&handle));
    assert!(shop.contains(&format!(
        "<link rel=\"alternate\" type=\"application/activity+json\" href=\"{}\">",
        app.state.urls.shop("teashop")
    )));

    // Unfollow from the feed page.
    let shop_id = app.state.urls.shop("teashop");
    let resp = bob
        .submit(
            "/follows/remove",
            &[("target", &shop_id), ("back", "/feed")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, html) = bob.get("/feed").await;
    assert!(!html.contains("Oolong"), "unfollowing empties the feed");
    assert!(html.contains("You do not follow anyone yet."));
    let bob_id = app.state.urls.user("bob");
    assert!(follows::get(&app.state.store, &bob_id, &shop_id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn follow_problems_are_shown_with_what_was_typed() {
    let app = TestApp::spawn().await;
    app.user("bob", Role::Member).await;
    let bob = Browser::signed_in(&app, "bob").await;
    let missing = format!("@nosuchshop@{}", app.state.settings.domain);
    let myself = format!("@bob@{}", app.state.settings.domain);
    for (typed, message) in [
        ("nobody", "Give an account as @name@host"),
        ("", "This field is required."),
        (missing.as_str(), "No such account was found."),
        (myself.as_str(), "You cannot follow yourself."),
    ] {
        let resp = bob
            .submit("/follows", &[("target", typed), ("back", "/feed")])
            .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        let html = resp.text().await.unwrap();
        assert!(html.contains(message), "{typed}: {html}");
        assert!(
            html.contains(&format!("name=\"target\" value=\"{typed}\"")),
            "{typed} is kept"
        );
        assert!(html.contains("aria-invalid=\"true\""));
    }
    // Chinese too.
    let resp = bob
        .client
        .post(app.url("/follows"))
        .header("accept-language", "zh-CN")
        .form(&[("target", "nobody"), ("csrf", &bob.csrf().await)])
        .send()
        .await
        .unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("请以 @名称@主机"), "{html}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error_on_the_feed_page() {
    let app = TestApp::spawn_federating().await;
    app.user("bob", Role::Member).await;
    let bob = Browser::signed_in(&app, "bob").await;
    let resp = bob
        .submit("/follows", &[("target", "@shop@127.0.0.1:9")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Could not reach that server"), "{html}");
    assert!(html.contains("Details:"));
    assert!(html.contains("value=\"@shop@127.0.0.1:9\""));
    let (_, feed) = bob.get("/feed").await;
    assert!(feed.contains("You do not follow anyone yet."));
}

#[tokio::test]
async fn a_shop_that_approves_followers_keeps_members_waiting_until_the_seller_decides() {
    let app = TestApp::spawn().await;
    shop_with_product(&app).await;
    app.user("bob", Role::Member).await;
    app.user("carol", Role::Member).await;
    let alice = Browser::signed_in(&app, "alice").await;

    // The seller turns on approval in the shop form.
    let (_, form) = alice.get("/dashboard/shops/teashop/edit").await;
    assert!(form.contains("name=\"manually_approves_followers\""));
    assert!(
        !form.contains("value=\"1\" aria-describedby=\"manually_approves_followers-hint\" checked")
    );
    let csrf = csrf_of(&form);
    let resp = alice
        .client
        .post(app.url("/dashboard/shops/teashop/edit"))
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf", csrf)
                .text("name", "Tea Shop")
                .text("summary", "")
                .text("manually_approves_followers", "1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, form) = alice.get("/dashboard/shops/teashop/edit").await;
    assert!(
        form.contains("manually_approves_followers-hint\" checked"),
        "{form}"
    );

    // Bob follows from the shop page and waits.
    let shop_id = app.state.urls.shop("teashop");
    let bob = Browser::signed_in(&app, "bob").await;
    let resp = bob
        .submit(
            "/follows",
            &[("target", &shop_id), ("back", "/shops/teashop")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/shops/teashop");
    let (_, shop) = bob.get("/shops/teashop").await;
    assert!(shop.contains("Requested"));
    assert!(shop.contains("<span class=\"followers-count\">0</span>"));
    let (_, feed) = bob.get("/feed").await;
    assert!(feed.contains(">requested<"), "{feed}");
    assert!(!feed.contains("Oolong"), "no products before approval");

    // Carol asks too.
    let carol = Browser::signed_in(&app, "carol").await;
    carol
        .submit("/follows", &[("target", &shop_id), ("back", "/feed")])
        .await;

    // The seller sees both requests and decides.
    let (status, dash) = alice.get("/dashboard/shops/teashop").await;
    assert_eq!(status, StatusCode::OK);
    assert!(dash.contains("Follow requests"));
    assert!(dash.contains(&format!("@bob@{}", app.state.settings.domain)));
    assert!(dash.contains(&format!("@carol@{}", app.state.settings.domain)));
    assert!(dash.contains("Approve") && dash.contains("Reject"));
    let bob_id = app.state.urls.user("bob");
    let carol_id = app.state.urls.user("carol");
    let resp = alice
        .submit(
            "/dashboard/shops/teashop/followers",
            &[("actor", &bob_id), ("action", "approve")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/dashboard/shops/teashop#followers");
    let resp = alice
        .submit(
            "/dashboard/shops/teashop/followers",
            &[("actor", &carol_id), ("action", "reject")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    let (_, feed) = bob.get("/feed").await;
    assert!(feed.contains(">following<"));
    assert!(feed.contains("Oolong"), "approved: the products arrive");
    let (_, feed) = carol.get("/feed").await;
    assert!(feed.contains("You do not follow anyone yet."), "rejected");
    let (_, shop) = bob.get("/shops/teashop").await;
    assert!(shop.contains("<span class=\"followers-count\">1</span>"));
    let (_, dash) = alice.get("/dashboard/shops/teashop").await;
    assert!(dash.contains("No requests waiting."));
    assert!(dash.contains("value=\"remove\""));

    // Removing a follower takes the products away again.
    let resp = alice
        .submit(
            "/dashboard/shops/teashop/followers",
            &[("actor", &bob_id), ("action", "remove")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, feed) = bob.get("/feed").await;
    assert!(!feed.contains("Oolong"));

    // Only the shop's managers may answer.
    let resp = bob
        .submit(
            "/dashboard/shops/teashop/followers",
            &[("actor", &carol_id), ("action", "approve")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_member_likes_boosts_and_replies_on_a_product_page() {
    let app = TestApp::spawn().await;
    let (path, ap_id) = shop_with_product(&app).await;
    app.user("bob", Role::Member).await;

    let anon = Browser::new(&app);
    let (_, html) = anon.get(&path).await;
    assert!(html.contains("<span class=\"likes-count\">0</span>"));
    assert!(html.contains("<span class=\"boosts-count\">0</span>"));
    assert!(html.contains("Sign in to like, boost or reply."));
    assert!(html.contains(&format!(
        "<link rel=\"alternate\" type=\"application/activity+json\" href=\"{ap_id}\">"
    )));

    let bob = Browser::signed_in(&app, "bob").await;
    let (_, html) = bob.get(&path).await;
    assert!(html.contains("action=\"/interact/like\""));
    assert!(html.contains("action=\"/interact/reply\""));
    let back = format!("{path}#replies");
    let resp = bob
        .submit("/interact/like", &[("object", &ap_id), ("back", &back)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), back);
    let resp = bob
        .submit("/interact/boost", &[("object", &ap_id), ("back", &path)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = bob
        .submit(
            "/interact/reply",
            &[
                ("object", &ap_id),
                ("back", &back),
                ("content", "Lovely tea, **really** <script>x</script>"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    let (_, html) = bob.get(&path).await;
    assert!(
        html.contains("<span class=\"likes-count\">1</span>"),
        "{html}"
    );
    assert!(html.contains("<span class=\"boosts-count\">1</span>"));
    assert!(html.contains("Lovely tea, <strong>really</strong>"));
    assert!(!html.contains("<script>x"));
    assert!(html.contains(&format!("@bob@{}", app.state.settings.domain)));
    assert!(html.contains("Unlike") && html.contains("Unboost"));
    // Anonymous visitors see it too (the page cache was cleared).
    let (_, html) = anon.get(&path).await;
    assert!(html.contains("<span class=\"likes-count\">1</span>"));
    assert!(html.contains("Lovely tea"));

    // An empty reply comes back on the product page with a message.
    let resp = bob
        .submit(
            "/interact/reply",
            &[("object", &ap_id), ("back", &back), ("content", "   ")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("This field is required."));
    assert!(html.contains("<h1>Oolong</h1>"));

    // The seller sees who did what.
    let alice = Browser::signed_in(&app, "alice").await;
    let (_, dash) = alice.get("/dashboard/shops/teashop").await;
    assert!(dash.contains("Recent likes, boosts and replies"));
    assert!(dash.contains("liked") && dash.contains("boosted") && dash.contains("replied to"));
    assert!(dash.contains("<strong>really</strong>"));
    assert!(dash.contains(&format!("href=\"{path}\">Oolong</a>")));

    // Unlike takes the like back; a second unlike is harmless.
    for _ in 0..2 {
        let resp = bob
            .submit("/interact/unlike", &[("object", &ap_id), ("back", &path)])
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    }
    let (_, html) = bob.get(&path).await;
    assert!(html.contains("<span class=\"likes-count\">0</span>"));

    // Likes from the feed come back to the feed.
    let shop_id = app.state.urls.shop("teashop");
    bob.submit("/follows", &[("target", &shop_id)]).await;
    let (_, feed) = bob.get("/feed").await;
    assert!(feed.contains(&format!("name=\"object\" value=\"{ap_id}\"")));
    let resp = bob
        .submit(
            "/interact/like",
            &[("object", &ap_id), ("back", "/feed#item-1")],
        )
        .await;
    assert_eq!(location(&resp), "/feed#item-1");
    let resp = bob
        .submit(
            "/interact/reply",
            &[
                ("object", &ap_id),
                ("back", "/feed#item-1"),
                ("content", ""),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("This field is required."));
    assert!(html.contains("<details class=\"reply-details\" open>"));
}

#[tokio::test]
async fn social_forms_need_the_csrf_token_and_only_go_back_to_local_pages() {
    let app = TestApp::spawn().await;
    let (path, ap_id) = shop_with_product(&app).await;
    app.user("bob", Role::Member).await;
    let bob = Browser::signed_in(&app, "bob").await;
    let shop_id = app.state.urls.shop("teashop");
    let bob_id = app.state.urls.user("bob");

    for (route, fields) in [
        ("/follows", vec![("target", shop_id.as_str())]),
        ("/interact/like", vec![("object", ap_id.as_str())]),
        (
            "/interact/reply",
            vec![("object", ap_id.as_str()), ("content", "hi")],
        ),
    ] {
        let resp = bob.post(route, &fields).await;
        assert_eq!(
            resp.status(),
            StatusCode::FORBIDDEN,
            "{route} without a token"
        );
        let mut forged = fields.clone();
        forged.push(("csrf", "forged"));
        let resp = bob.post(route, &forged).await;
        assert_eq!(
            resp.status(),
            StatusCode::FORBIDDEN,
            "{route} with a forged token"
        );
    }
    assert!(follows::get(&app.state.store, &bob_id, &shop_id)
        .await
        .unwrap()
        .is_none());
    let (_, html) = bob.get(&path).await;
    assert!(html.contains("<span class=\"likes-count\">0</span>"));
    assert!(html.contains("No replies yet."));

    // `back` must be a local path.
    for evil in ["//evil.example", "https://evil.example/", "/\\evil.example"] {
        let resp = bob
            .submit("/interact/like", &[("object", &ap_id), ("back", evil)])
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), path, "{evil} is not followed");
        let resp = bob
            .submit("/follows", &[("target", &shop_id), ("back", evil)])
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), "/feed", "{evil} is not followed");
    }

    // Anonymous visitors are sent to sign in.
    let anon = Browser::new(&app);
    let (_, login) = anon.get("/login").await;
    let csrf = csrf_of(&login);
    let resp = anon
        .post("/interact/like", &[("object", &ap_id), ("csrf", &csrf)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
}

#[tokio::test]
async fn members_have_profiles_and_at_addresses() {
    let app = TestApp::spawn().await;
    shop_with_product(&app).await;
    app.user("bob", Role::Member).await;
    let domain = app.state.settings.domain.clone();
    let bob = Browser::signed_in(&app, "bob").await;
    bob.submit("/follows", &[("target", &app.state.urls.shop("teashop"))])
        .await;

    let anon = Browser::new(&app);
    let (status, html) = anon.get("/users/bob").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>bob</h1>"));
    assert!(html.contains(&format!("@bob@{domain}")));
    assert!(html.contains("<dd class=\"following-count\">1</dd>"));
    assert!(html.contains("<dd class=\"followers-count\">0</dd>"));

    // Another member can follow bob from there.
    app.user("carol", Role::Member).await;
    let carol = Browser::signed_in(&app, "carol").await;
    let resp = carol
        .submit(
            "/follows",
            &[
                ("target", &app.state.urls.user("bob")),
                ("back", "/users/bob"),
            ],
        )
        .await;
    assert_eq!(location(&resp), "/users/bob");
    let (_, html) = carol.get("/users/bob").await;
    assert!(html.contains("<dd class=\"followers-count\">1</dd>"));
    assert!(html.contains("Unfollow"));
    let (_, html) = anon.get("/users/alice").await;
    assert!(
        html.contains("href=\"/shops/teashop\""),
        "a seller's shops are listed"
    );

    // `/@name` goes to the member or the shop.
    for (at, to) in [
        ("/@bob", "/users/bob"),
        ("/@teashop", "/shops/teashop"),
        ("/@Bob", "/users/bob"),
    ] {
        let resp = anon.client.get(app.url(at)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::MOVED_PERMANENTLY, "{at}");
        assert_eq!(location(&resp), to, "{at}");
    }
    let (status, _) = anon.get("/users/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_member_follows_a_shop_on_another_server_and_likes_and_replies_from_the_feed() {
    let shop_app = TestApp::spawn_federating().await;
    let member_app = TestApp::spawn_federating().await;
    let (path, ap_id) = shop_with_product(&shop_app).await;
    member_app.user("bob", Role::Member).await;
    let bob = Browser::signed_in(&member_app, "bob").await;

    let handle = format!("@teashop@{}", shop_app.domain());
    let resp = bob
        .submit("/follows", &[("target", &handle), ("back", "/feed")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let feed = eventually("the remote product in the feed", || async {
        let (_, html) = bob.get("/feed").await;
        (html.contains("Oolong") && html.contains(">following<")).then_some(html)
    })
    .await;
    assert!(feed.contains(&handle));
    assert!(
        feed.contains(&format!("href=\"{ap_id}\"")),
        "links to the product on its own server"
    );
    assert!(feed.contains("In stock (7)"));

    let resp = bob
        .submit(
            "/interact/like",
            &[("object", &ap_id), ("back", "/feed#item-1")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = bob
        .submit(
            "/interact/reply",
            &[
                ("object", &ap_id),
                ("back", "/feed#item-1"),
                ("content", "Is it *smoky*?"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, feed) = bob.get("/feed").await;
    assert!(feed.contains("Unlike"));

    let anon = Browser::new(&shop_app);
    eventually(
        "the like and the reply on the shop's product page",
        || async {
            let (_, html) = anon.get(&path).await;
            (html.contains("<span class=\"likes-count\">1</span>")
                && html.contains("Is it <em>smoky</em>?"))
            .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn the_seller_answers_a_question_as_the_shop_from_the_dashboard() {
    let app = TestApp::spawn().await;
    let (path, ap_id) = shop_with_product(&app).await;
    app.user("bob", Role::Member).await;
    let bob = Browser::signed_in(&app, "bob").await;
    let resp = bob
        .submit(
            "/interact/reply",
            &[
                ("object", &ap_id),
                ("back", &path),
                ("content", "Is it smoky?"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    let alice = Browser::signed_in(&app, "alice").await;
    let (_, dash) = alice.get("/dashboard/shops/teashop").await;
    assert!(dash.contains("Answer as the shop"));
    let marker = "name=\"in_reply_to\" value=\"";
    let at = dash.find(marker).expect("an answer form") + marker.len();
    let question = dash[at..at + dash[at..].find('"').unwrap()].to_string();
    let resp = alice
        .submit(
            "/dashboard/shops/teashop/answers",
            &[
                ("in_reply_to", &question),
                ("content", "Lightly, over *charcoal*."),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, html) = Browser::new(&app).get(&path).await;
    assert!(html.contains("Lightly, over <em>charcoal</em>."), "{html}");
    assert!(html.contains(&format!("@teashop@{}", app.state.settings.domain)));
    // Bob cannot answer for the shop; an empty answer changes nothing.
    let resp = bob
        .submit(
            "/dashboard/shops/teashop/answers",
            &[("in_reply_to", &question), ("content", "Mine is better")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = alice
        .submit(
            "/dashboard/shops/teashop/answers",
            &[("in_reply_to", &question), ("content", "  ")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, html) = Browser::new(&app).get(&path).await;
    assert!(!html.contains("Mine is better"));
}

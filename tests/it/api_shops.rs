//! Shops through the JSON API: creation, validation, ownership.

use fedishop::domain::accounts::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn a_seller_opens_a_shop() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user("alice", Role::Seller).await;
    let (status, body) = app
        .post(
            "/api/v1/shops",
            Some(&token),
            json!({"handle": "teashop", "name": "Tea Shop", "summary": "Fine **tea**"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["handle"], "teashop");
    assert_eq!(body["url"], app.url("/shops/teashop"));
    assert!(body["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(body["summary_html"], "<p>Fine <strong>tea</strong></p>\n");

    let (status, shown) = app.get("/api/v1/shops/teashop", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["name"], "Tea Shop");
}

#[tokio::test]
async fn handles_are_validated_and_unique_across_shops_and_users() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user("alice", Role::Seller).await;
    for bad in [
        "",
        "1tea",
        "tea shop",
        "tea-shop",
        "ÄPFEL",
        "admin",
        &"a".repeat(31),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/shops",
                Some(&token),
                json!({"handle": bad, "name": "X", "summary": ""}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(body["fields"]["handle"].is_string(), "{bad}: {body}");
        assert!(body["error"].is_string());
    }
    let (status, _) = app
        .post(
            "/api/v1/shops",
            Some(&token),
            json!({"handle": "tea", "name": "X", "summary": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .post(
            "/api/v1/shops",
            Some(&token),
            json!({"handle": "TEA", "name": "Y", "summary": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["fields"]["handle"], "is already taken");
    // A shop cannot take a user's name: both become @name@host.
    let (status, body) = app
        .post(
            "/api/v1/shops",
            Some(&token),
            json!({"handle": "alice", "name": "Y", "summary": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, list) = app.get("/api/v1/shops", None).await;
    assert_eq!(
        list["total"], 1,
        "nothing but the first shop was written: {list}"
    );
}

#[tokio::test]
async fn missing_fields_and_wrong_types_are_422_with_every_field() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user("alice", Role::Seller).await;
    let (status, body) = app
        .post(
            "/api/v1/shops",
            Some(&token),
            json!({"handle": 5, "summary": "  "}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"]["handle"], "must be a string");
    let (status, body) = app
        .post(
            "/api/v1/shops",
            Some(&token),
            json!({"handle": "ok", "name": " "}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["fields"]["name"], "is required");
    let (status, body) = app
        .post(
            "/api/v1/shops",
            Some(&token),
            json!({"handle": "ok", "name": "x".repeat(10_000)}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["name"]
        .as_str()
        .unwrap()
        .contains("too long"));
    let (status, body) = app
        .post("/api/v1/shops", Some(&token), json!({"handle": "ok", "name": "N", "links": [{"label": "x", "url": "javascript:alert(1)"}]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["links[0].url"].is_string(), "{body}");
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user("alice", Role::Seller).await;
    let resp = app
        .client
        .post(app.url("/api/v1/shops"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("invalid JSON"));
}

#[tokio::test]
async fn authentication_and_roles() {
    let app = TestApp::spawn().await;
    let body = json!({"handle": "tea", "name": "Tea", "summary": ""});
    let (status, err) = app.post("/api/v1/shops", None, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(err["error"].is_string());
    let (status, _) = app
        .post("/api/v1/shops", Some("not-a-token"), body.clone())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, member) = app.user("bob", Role::Member).await;
    let (status, _) = app.post("/api/v1/shops", Some(&member), body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, admin) = app.user("root_admin", Role::Admin).await;
    let (status, _) = app.post("/api/v1/shops", Some(&admin), body).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, me) = app.get("/api/v1/me", Some(&member)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "member");
}

#[tokio::test]
async fn a_seller_cannot_edit_another_sellers_shop() {
    let app = TestApp::spawn().await;
    let _alice = app.seller_with_shop("alice", "teashop").await;
    let (_, mallory) = app.user("mallory", Role::Seller).await;
    let (status, _) = app
        .patch(
            "/api/v1/shops/teashop",
            Some(&mallory),
            json!({"name": "Pwned"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, shop) = app.get("/api/v1/shops/teashop", None).await;
    assert_eq!(shop["name"], "Shop");
}

#[tokio::test]
async fn editing_a_shop_keeps_what_is_not_sent_and_refuses_a_new_handle() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    let (status, body) = app
        .patch("/api/v1/shops/teashop", Some(&token), json!({"summary": "New *summary*", "links": [{"label": "Site", "url": "https://tea.example/"}]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Shop");
    assert_eq!(body["links"][0]["url"], "https://tea.example/");
    let (status, _) = app
        .patch(
            "/api/v1/shops/teashop",
            Some(&token),
            json!({"handle": "other"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .patch("/api/v1/shops/teashop", Some(&token), json!({"name": ""}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, shop) = app.get("/api/v1/shops/teashop", None).await;
    assert_eq!(
        shop["summary"], "New *summary*",
        "a failed edit loses nothing"
    );
    assert_eq!(shop["name"], "Shop");
}

//! Products through the JSON API: the contract, bad input, ownership, drafts, listing.

use fedishop::domain::accounts::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::TestApp;

fn oolong() -> Value {
    json!({"title": "Oolong", "description": "Roasted *oolong*", "price": "24.00", "currency": "EUR", "stock": 7, "tags": ["tea", "Oolong"]})
}

async fn count(app: &TestApp, token: &str, shop: &str) -> i64 {
    let (status, list) = app
        .get(
            &format!("/api/v1/shops/{shop}/products?status=all"),
            Some(token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["total"].as_i64().unwrap()
}

#[tokio::test]
async fn create_read_list_and_delete() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    let p = app.product(&token, "teashop", oolong()).await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(p["url"], app.url(&format!("/shops/teashop/products/{id}")));
    assert_eq!(p["price"], "24.00");
    assert_eq!(p["currency"], "EUR");
    assert_eq!(p["stock"], 7);
    assert_eq!(p["status"], "published");
    assert_eq!(p["tags"], json!(["oolong", "tea"]));
    assert_eq!(p["description_html"], "<p>Roasted <em>oolong</em></p>\n");

    let (status, got) = app.get(&format!("/api/v1/products/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["title"], "Oolong");
    let (status, list) = app.get("/api/v1/shops/teashop/products", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["id"], id);
    assert_eq!(list["total"], 1);

    let (status, _) = app
        .delete(&format!("/api/v1/products/{id}"), Some(&token))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, err) = app.get(&format!("/api/v1/products/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(err["error"].is_string());
}

#[tokio::test]
async fn bad_input_is_422_per_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    let cases: Vec<(&str, Value)> = vec![
        ("title", json!("")),
        ("title", json!("   ")),
        ("title", json!("x".repeat(10 * 1024))),
        ("title", json!("bidi\u{202E}override")),
        ("price", json!("-1")),
        ("price", json!("1e9")),
        ("price", json!("12.345")),
        ("price", json!("")),
        ("price", json!(12)),
        ("price", json!("1000000000")),
        ("currency", json!("XYZ")),
        ("currency", json!("")),
        ("stock", json!(-1)),
        ("stock", json!(1.5)),
        ("stock", json!("7")),
        ("tags", json!(["ok", "no spaces"])),
        ("tags", json!("tea")),
        ("compare_at_price", json!("10.00")),
        ("status", json!("sold")),
    ];
    for (field, value) in cases {
        let mut body = oolong();
        body[field] = value.clone();
        let (status, err) = app
            .post("/api/v1/shops/teashop/products", Some(&token), body)
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}: {err}"
        );
        assert!(err["fields"][field].is_string(), "{field}={value}: {err}");
    }
    for field in ["title", "price", "currency", "stock"] {
        let mut body = oolong();
        body.as_object_mut().unwrap().remove(field);
        let (status, err) = app
            .post("/api/v1/shops/teashop/products", Some(&token), body)
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing {field}: {err}"
        );
        assert_eq!(err["fields"][field], "is required", "{err}");
    }
    assert_eq!(
        count(&app, &token, "teashop").await,
        0,
        "no invalid product was stored"
    );
}

#[tokio::test]
async fn currencies_honour_their_minor_units() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    let mut body = oolong();
    body["currency"] = json!("JPY");
    body["price"] = json!("1500");
    let p = app.product(&token, "teashop", body.clone()).await;
    assert_eq!(p["price"], "1500");
    body["price"] = json!("1500.5");
    let (status, _) = app
        .post("/api/v1/shops/teashop/products", Some(&token), body.clone())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    body["currency"] = json!("BHD");
    body["price"] = json!("1.5");
    let p = app.product(&token, "teashop", body).await;
    assert_eq!(p["price"], "1.500");
}

#[tokio::test]
async fn variants_have_their_own_sku_price_and_stock() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "shirts").await;
    let body = json!({
        "title": "T-shirt", "description": "", "price": "20.00", "currency": "EUR",
        "variants": [
            {"sku": "TS-S-RED", "options": [{"name": "Size", "value": "S"}, {"name": "Colour", "value": "Red"}], "stock": 3},
            {"sku": "TS-M-RED", "options": [{"name": "Size", "value": "M"}, {"name": "Colour", "value": "Red"}], "price": "22.00", "stock": 2}
        ]
    });
    let p = app.product(&token, "shirts", body).await;
    assert_eq!(p["stock"], 5, "available stock is the sum over variants");
    assert_eq!(p["variants"][0]["title"], "S / Red");
    assert_eq!(p["variants"][0]["price"], "20.00");
    assert_eq!(p["variants"][1]["price"], "22.00");
    let first_variant_id = p["variants"][0]["id"].clone();

    // Editing keeps variant ids for unchanged SKUs.
    let id = p["id"].as_str().unwrap();
    let (status, edited) = app
        .patch(
            &format!("/api/v1/products/{id}"),
            Some(&token),
            json!({"variants": [
                {"sku": "TS-S-RED", "options": {"Size": "S"}, "stock": 9},
                {"sku": "TS-L-RED", "options": {"Size": "L"}, "stock": 1}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["variants"][0]["id"], first_variant_id);
    assert_eq!(edited["stock"], 10);

    let (status, err) = app
        .patch(
            &format!("/api/v1/products/{id}"),
            Some(&token),
            json!({"variants": [{"sku": "A", "options": {"Size": "S"}, "stock": 1}, {"sku": "A", "options": {"Size": "M"}, "stock": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["fields"]["variants[1].sku"].is_string(), "{err}");
}

#[tokio::test]
async fn a_failed_edit_loses_nothing() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    let p = app.product(&token, "teashop", oolong()).await;
    let path = format!("/api/v1/products/{}", p["id"].as_str().unwrap());
    let (status, _) = app
        .patch(
            &path,
            Some(&token),
            json!({"title": "Better oolong", "price": "12.345"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, after) = app.get(&path, None).await;
    assert_eq!(after, p, "nothing changed after a failed edit");

    let (status, ok) = app
        .patch(
            &path,
            Some(&token),
            json!({"price": "19.50", "compare_at_price": "30.00"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    assert_eq!(ok["price"], "19.50");
    assert_eq!(ok["title"], "Oolong", "fields not sent are kept");
    let (_, ok) = app
        .patch(&path, Some(&token), json!({"compare_at_price": null}))
        .await;
    assert_eq!(ok["compare_at_price"], Value::Null);
}

#[tokio::test]
async fn sellers_cannot_touch_each_others_products() {
    let app = TestApp::spawn().await;
    let alice = app.seller_with_shop("alice", "teashop").await;
    let mallory = app.seller_with_shop("mallory", "evilshop").await;
    let p = app.product(&alice, "teashop", oolong()).await;
    let path = format!("/api/v1/products/{}", p["id"].as_str().unwrap());
    let (status, _) = app
        .patch(&path, Some(&mallory), json!({"price": "0.01"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.delete(&path, Some(&mallory)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post("/api/v1/shops/teashop/products", Some(&mallory), oolong())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.patch(&path, None, json!({"price": "0.01"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, after) = app.get(&path, None).await;
    assert_eq!(after["price"], "24.00");
    assert_eq!(count(&app, &alice, "teashop").await, 1);
    let (status, _) = app
        .get("/api/v1/shops/teashop/products?status=all", Some(&mallory))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An admin may manage any shop.
    let (_, admin) = app.user("boss", Role::Admin).await;
    let (status, _) = app
        .patch(&path, Some(&admin), json!({"status": "archived"}))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn drafts_and_archived_products_are_hidden_from_the_public() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    let mut body = oolong();
    body["status"] = json!("draft");
    let draft = app.product(&token, "teashop", body).await;
    assert_eq!(draft["published_at"], Value::Null);
    let path = format!("/api/v1/products/{}", draft["id"].as_str().unwrap());
    assert_eq!(app.get(&path, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&path, Some(&token)).await.0, StatusCode::OK);
    let (_, list) = app.get("/api/v1/shops/teashop/products", None).await;
    assert_eq!(list["total"], 0);

    let (_, published) = app
        .patch(&path, Some(&token), json!({"status": "published"}))
        .await;
    assert!(published["published_at"].is_string());
    assert_eq!(app.get(&path, None).await.0, StatusCode::OK);
    app.patch(&path, Some(&token), json!({"status": "archived"}))
        .await;
    assert_eq!(app.get(&path, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/api/v1/products/not-an-id", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn listing_paginates_filters_by_tag_and_searches() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    for i in 0..30 {
        let mut body = oolong();
        body["title"] = json!(format!("Tea number {i}"));
        body["tags"] = if i % 3 == 0 {
            json!(["green"])
        } else {
            json!(["black"])
        };
        if i == 7 {
            body["description"] = json!("A rare 100%_pure Darjeeling");
        }
        app.product(&token, "teashop", body).await;
    }
    let (_, page1) = app
        .get("/api/v1/shops/teashop/products?per_page=25", None)
        .await;
    assert_eq!(page1["total"], 30);
    assert_eq!(page1["items"].as_array().unwrap().len(), 25);
    assert_eq!(page1["items"][0]["title"], "Tea number 29", "newest first");
    let (_, page2) = app
        .get("/api/v1/shops/teashop/products?per_page=25&page=2", None)
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 5);
    let (_, green) = app
        .get("/api/v1/shops/teashop/products?tag=green", None)
        .await;
    assert_eq!(green["total"], 10);
    let (_, found) = app
        .get("/api/v1/shops/teashop/products?q=DARJEELING", None)
        .await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["title"], "Tea number 7");
    let (_, found) = app
        .get("/api/v1/shops/teashop/products?q=100%25_", None)
        .await;
    assert_eq!(found["total"], 1, "LIKE wildcards in the query are literal");
    let (_, none) = app
        .get("/api/v1/shops/teashop/products?q=r%25e", None)
        .await;
    assert_eq!(
        none["total"], 0,
        "`r%e` must not match `rare` as a wildcard"
    );
    let (status, _) = app.get("/api/v1/shops/nope/products", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    let expected = [
        ("/api/v1/me", vec!["get"]),
        ("/api/v1/shops", vec!["get", "post"]),
        ("/api/v1/shops/{handle}", vec!["get", "patch"]),
        ("/api/v1/shops/{handle}/products", vec!["get", "post"]),
        ("/api/v1/products/{id}", vec!["get", "patch", "delete"]),
        ("/api/v1/media", vec!["post"]),
        ("/healthz", vec!["get"]),
        ("/api/v1/follows", vec!["get", "post", "delete"]),
        ("/api/v1/feed", vec!["get"]),
        ("/api/v1/reactions", vec!["post", "delete"]),
        ("/api/v1/replies", vec!["post"]),
        ("/api/v1/shops/{handle}/followers", vec!["get", "post"]),
        ("/api/v1/shops/{handle}/replies", vec!["post"]),
        ("/api/v1/admin/federation", vec!["get"]),
        ("/metrics", vec!["get"]),
        ("/api/v1/orders", vec!["get", "post"]),
        ("/api/v1/orders/{id}", vec!["get"]),
        ("/api/v1/orders/{id}/cancel", vec!["post"]),
        ("/api/v1/shops/{handle}/orders", vec!["get"]),
        ("/api/v1/shops/{handle}/checkout", vec!["get", "put"]),
        ("/api/v1/shop-orders/{id}", vec!["get"]),
        ("/api/v1/shop-orders/{id}/status", vec!["post"]),
    ];
    for (path, methods) in expected {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from openapi.json"));
        for m in methods {
            assert!(
                item.get(m).is_some(),
                "{m} {path} missing from openapi.json"
            );
        }
    }
    assert_eq!(paths.len(), 22, "every documented path is tested above");
}

#[tokio::test]
async fn concurrent_writes_all_succeed() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..24 {
        let mut body = oolong();
        body["title"] = json!(format!("Tea {i}"));
        let request = app
            .client
            .post(app.url("/api/v1/shops/teashop/products"))
            .bearer_auth(&token)
            .json(&body);
        writes.spawn(async move { request.send().await.map(|r| r.status()) });
    }
    while let Some(result) = writes.join_next().await {
        assert_eq!(result.unwrap().unwrap(), StatusCode::CREATED);
    }
    assert_eq!(count(&app, &token, "teashop").await, 24);
}

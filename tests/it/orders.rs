//! Orders through the JSON API: checkout settings, placing, the seller's status changes, the
//! state machine, idempotency, bad input that reserves nothing, concurrency that never
//! oversells, expiry, mails and address retention. Runs on SQLite and PostgreSQL.

use std::sync::Arc;

use fedishop::domain::accounts::Role;
use fedishop::domain::now_ms;
use fedishop::domain::orders::service;
use fedishop::domain::orders::validate::{LineRequest, OrderRequest};
use fedishop::domain::orders::{Address, Buyer};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::TestApp;

fn checkout() -> Value {
    json!({
        "payment_methods": [
            {"method": "bank_transfer", "details": "Tea Ltd, IBAN DE89 3704 0044 0532 0130 00"},
            {"method": "cash_on_delivery"},
            {"method": "payment_link", "url": "https://pay.example/tea"}
        ],
        "shipping_options": [
            {"id": "standard", "name": "Standard parcel", "price": "4.90", "currency": "EUR", "countries": ["DE", "AT"]},
            {"id": "world", "name": "World", "price": "19.00", "currency": "EUR"}
        ],
        "hold_hours": 48,
        "notify_email": "orders@tea.example"
    })
}

/// A seller with an open checkout and one product (`stock` units at 12.50 EUR).
async fn shop(app: &TestApp, stock: i64) -> (String, Value) {
    let seller = app.seller_with_shop("sam", "tea").await;
    let (s, body) = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/shops/tea/checkout",
            Some(&seller),
            Some(checkout()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let product = app
        .product(
            &seller,
            "tea",
            json!({"title": "Sencha", "description": "Green", "price": "12.50", "currency": "EUR", "stock": stock}),
        )
        .await;
    (seller, product)
}

fn order_body(product: &Value, qty: Value, key: &str) -> Value {
    json!({
        "product": product["url"],
        "quantity": qty,
        "shipping": {"name": "Ann Buyer", "address_lines": ["Hauptstr. 1"], "city": "Berlin", "postal_code": "10115", "country": "de"},
        "payment_method": "bank_transfer",
        "email": "ann@example.org",
        "idempotency_key": key
    })
}

async fn stock_of(app: &TestApp, product: &Value) -> i64 {
    let (_, p) = app
        .get(
            &format!("/api/v1/products/{}", product["id"].as_str().unwrap()),
            None,
        )
        .await;
    p["stock"].as_i64().unwrap()
}

#[tokio::test]
async fn a_member_orders_and_the_seller_fulfils() {
    let app = TestApp::spawn().await;
    let (seller, product) = shop(&app, 5).await;
    let (_, buyer) = app.user("ann", Role::Member).await;

    let (s, o) = app
        .post(
            "/api/v1/orders",
            Some(&buyer),
            order_body(&product, json!(2), "k-1"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    assert_eq!(o["status"], "pending");
    assert_eq!(o["subtotal"], "25.00");
    assert_eq!(o["shipping_price"], "4.90", "first option shipping to DE");
    assert_eq!(o["total"], "29.90");
    assert_eq!(o["currency"], "EUR");
    assert_eq!(o["shipping"]["country"], "DE");
    assert!(o["payment_instructions"]
        .as_str()
        .unwrap()
        .contains(o["number"].as_str().unwrap()));
    assert!(
        o["expires_at"].is_string(),
        "bank transfers hold stock for a while"
    );
    assert_eq!(stock_of(&app, &product).await, 3, "reserved at placement");
    let id = o["id"].as_str().unwrap().to_string();

    // The buyer's history and the seller's list.
    let (_, mine) = app.get("/api/v1/orders", Some(&buyer)).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let (s, list) = app.get("/api/v1/shops/tea/orders", Some(&seller)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["items"][0]["shipping"]["name"], "Ann Buyer");

    // Other people see nothing.
    let (_, other) = app.user("eve", Role::Seller).await;
    let (s, _) = app.get("/api/v1/shops/tea/orders", Some(&other)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.get(&format!("/api/v1/orders/{id}"), Some(&other)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .get(&format!("/api/v1/shop-orders/{id}"), Some(&other))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post(
            &format!("/api/v1/shop-orders/{id}/status"),
            Some(&buyer),
            json!({"status": "paid"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a buyer cannot mark its own order paid"
    );

    // Illegal: shipping before payment (bank transfer), delivered before shipped.
    let status = |body: Value| {
        let app = &app;
        let seller = seller.clone();
        let id = id.clone();
        async move {
            app.post(
                &format!("/api/v1/shop-orders/{id}/status"),
                Some(&seller),
                body,
            )
            .await
        }
    };
    let (s, e) = status(json!({"status": "shipped"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, _) = status(json!({"status": "delivered"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, e) = status(json!({"status": "lost"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    let (s, o) = status(json!({"status": "paid"})).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert!(o["paid_at"].is_string());
    assert!(o["expires_at"].is_null(), "paid orders no longer expire");
    // The buyer can no longer cancel.
    let (s, _) = app
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            Some(&buyer),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, o) =
        status(json!({"status": "shipped", "carrier": "DHL", "tracking": "00340434"})).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["tracking"], "00340434");
    let (s, o) = status(json!({"status": "delivered"})).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let (_, o) = app.get(&format!("/api/v1/orders/{id}"), Some(&buyer)).await;
    assert_eq!(o["status"], "delivered");
    let steps: Vec<&str> = o["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["pending", "paid", "shipped", "delivered"]);
    // A refund needs a reason; the goods left, so stock stays where it is.
    let (s, e) = status(json!({"status": "refunded"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["fields"]["reason"].is_string());
    let (s, o) = status(json!({"status": "refunded", "reason": "arrived broken"})).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["reason"], "arrived broken");
    assert_eq!(stock_of(&app, &product).await, 3);
}

#[tokio::test]
async fn cancelling_releases_stock_exactly_once() {
    let app = TestApp::spawn().await;
    let (seller, product) = shop(&app, 4).await;
    let (_, buyer) = app.user("ann", Role::Member).await;
    let (_, o) = app
        .post(
            "/api/v1/orders",
            Some(&buyer),
            order_body(&product, json!(4), "k"),
        )
        .await;
    assert_eq!(stock_of(&app, &product).await, 0);
    let id = o["id"].as_str().unwrap();
    let (s, o) = app
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            Some(&buyer),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["status"], "cancelled");
    assert_eq!(stock_of(&app, &product).await, 4);
    // Again, by either side: nothing more comes back.
    let (s, _) = app
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            Some(&buyer),
            json!({}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "cancelling a cancelled order changes nothing"
    );
    let (s, _) = app
        .post(
            &format!("/api/v1/shop-orders/{id}/status"),
            Some(&seller),
            json!({"status": "refunded", "reason": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(stock_of(&app, &product).await, 4);
}

#[tokio::test]
async fn the_same_idempotency_key_creates_one_order() {
    let app = TestApp::spawn().await;
    let (_, product) = shop(&app, 10).await;
    let (_, buyer) = app.user("ann", Role::Member).await;
    let body = order_body(&product, json!(1), "same-key");
    let (s1, a) = app.post("/api/v1/orders", Some(&buyer), body.clone()).await;
    let (s2, b) = app.post("/api/v1/orders", Some(&buyer), body.clone()).await;
    let (s3, c) = app.post("/api/v1/orders", Some(&buyer), body).await;
    assert_eq!(s1, StatusCode::CREATED);
    assert_eq!((s2, s3), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a["id"], b["id"]);
    assert_eq!(a["id"], c["id"]);
    assert_eq!(stock_of(&app, &product).await, 9, "reserved once");
    // Same key, different order: refused, nothing reserved.
    let (s, e) = app
        .post(
            "/api/v1/orders",
            Some(&buyer),
            order_body(&product, json!(2), "same-key"),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(stock_of(&app, &product).await, 9);
    // Another member's identical key is theirs alone.
    let (_, bob) = app.user("bob", Role::Member).await;
    let (s, d) = app
        .post(
            "/api/v1/orders",
            Some(&bob),
            order_body(&product, json!(1), "same-key"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_ne!(d["id"], a["id"]);
    // The key may come as the Idempotency-Key header too.
    let mut body = order_body(&product, json!(1), "");
    body.as_object_mut().unwrap().remove("idempotency_key");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let resp = app
            .client
            .post(app.url("/api/v1/orders"))
            .bearer_auth(&bob)
            .header("Idempotency-Key", "hdr-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        let v: Value = resp.json().await.unwrap();
        ids.push(v["id"].clone());
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(stock_of(&app, &product).await, 7);
}

#[tokio::test]
async fn bad_orders_are_refused_and_reserve_nothing() {
    let app = TestApp::spawn().await;
    let (seller, product) = shop(&app, 5).await;
    let usd = app
        .product(
            &seller,
            "tea",
            json!({"title": "Import", "description": "", "price": "3.00", "currency": "USD", "stock": 5}),
        )
        .await;
    let shirt = app
        .product(
            &seller,
            "tea",
            json!({"title": "Shirt", "description": "", "price": "20.00", "currency": "EUR", "variants": [
                {"sku": "S", "options": [{"name": "Size", "value": "S"}], "stock": 1}
            ]}),
        )
        .await;
    app.seller_with_shop("olga", "other").await;
    let (_, buyer) = app.user("ann", Role::Member).await;
    let cases: Vec<(Value, &str)> = vec![
        (order_body(&product, json!(0), "a"), "lines[0].quantity"),
        (order_body(&product, json!(-3), "b"), "lines[0].quantity"),
        (order_body(&product, json!(1.5), "c"), "quantity"),
        (order_body(&product, json!(1e20), "d"), "quantity"),
        (order_body(&product, json!("2"), "e"), "quantity"),
        (order_body(&product, json!(6), "f"), "lines[0].quantity"),
        (order_body(&product, json!(1001), "g"), "lines[0].quantity"),
        (order_body(&usd, json!(1), "h"), "shipping_option"),
        (order_body(&shirt, json!(1), "i"), "lines[0].variant"),
        (
            {
                let mut b = order_body(&shirt, json!(1), "j");
                b["variant"] = json!("XXL");
                b
            },
            "lines[0].variant",
        ),
        (
            {
                let mut b = order_body(&product, json!(1), "k");
                b.as_object_mut().unwrap().remove("shipping");
                b
            },
            "shipping.name",
        ),
        (
            {
                let mut b = order_body(&product, json!(1), "l");
                b["shipping"]["name"] = json!("x".repeat(201));
                b
            },
            "shipping.name",
        ),
        (
            {
                let mut b = order_body(&product, json!(1), "m");
                b["shipping"]["country"] = json!("US");
                b["shipping_option"] = json!("standard");
                b
            },
            "shipping.country",
        ),
        (
            {
                let mut b = order_body(&product, json!(1), "n");
                b["payment_method"] = json!("pay_at_pickup");
                b
            },
            "payment_method",
        ),
        (
            {
                let mut b = order_body(&product, json!(1), "o");
                b["price"] = json!("0.01"); // ignored, not an error: see below
                b["product"] = json!(format!(
                    "{}/shops/other/products/{}",
                    app.base,
                    product["id"].as_str().unwrap()
                ));
                b
            },
            "lines[0].product",
        ),
        (
            {
                let mut b = order_body(&product, json!(1), "p");
                b["lines"] = json!([{"product": product["url"], "quantity": 1}, {"product": "ftp://x/y", "quantity": 1}]);
                b
            },
            "lines[1].product",
        ),
    ];
    for (body, field) in cases {
        let (s, e) = app.post("/api/v1/orders", Some(&buyer), body.clone()).await;
        assert!(
            s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST,
            "{body}: {s} {e}"
        );
        assert!(e["fields"][field].is_string(), "{field} in {e} for {body}");
    }
    assert_eq!(stock_of(&app, &product).await, 5, "nothing reserved");
    let (_, list) = app.get("/api/v1/shops/tea/orders", Some(&seller)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    // A buyer-supplied price is ignored: the shop's price decides.
    let mut b = order_body(&product, json!(1), "q");
    b["price"] = json!("0.01");
    b["total"] = json!("0.01");
    let (s, o) = app.post("/api/v1/orders", Some(&buyer), b).await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    assert_eq!(o["total"], "17.40");
}

#[tokio::test]
async fn a_thousand_concurrent_orders_for_a_hundred_units_sell_exactly_a_hundred() {
    let app = TestApp::spawn().await;
    let (_, product) = shop(&app, 100).await;
    let shop = fedishop::domain::catalog::service::shop_by_handle(&app.state.store, "tea")
        .await
        .unwrap();
    let shop = Arc::new(shop);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let state = app.state.clone();
        let shop = shop.clone();
        let product_id = product["id"].as_str().unwrap().to_string();
        tasks.spawn(async move {
            let req = OrderRequest {
                lines: vec![LineRequest {
                    product: product_id,
                    variant: None,
                    quantity: 1,
                }],
                email: format!("b{i}@example.org"),
                address: Address {
                    name: format!("Buyer {i}"),
                    address_lines: vec!["1 Street".into()],
                    city: "Town".into(),
                    postal_code: "1".into(),
                    country: "DE".into(),
                    phone: String::new(),
                },
                payment_method: "bank_transfer".into(),
                idempotency_key: Some(format!("c-{i}")),
                ..Default::default()
            };
            service::place(&state.store, &state.urls, &shop, Buyer::Guest, &req).await
        });
    }
    let (mut ok, mut sold_out, mut other) = (0, 0, Vec::new());
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(_) => ok += 1,
            Err(e)
                if e.fields
                    .0
                    .values()
                    .any(|p| matches!(p, fedishop::error::Problem::OutOfStock { .. })) =>
            {
                sold_out += 1
            }
            Err(e) => other.push(e.to_string()),
        }
    }
    assert!(
        other.is_empty(),
        "unexpected errors: {:?}",
        &other[..other.len().min(5)]
    );
    assert_eq!(ok, 100);
    assert_eq!(sold_out, 900);
    assert_eq!(stock_of(&app, &product).await, 0);
    let orders = fedishop::db::orders::for_shop(&app.state.store, &shop.id, None, 2000, 0)
        .await
        .unwrap();
    assert_eq!(orders.len(), 100);
}

#[tokio::test]
async fn unpaid_orders_expire_and_give_their_stock_back() {
    let app = TestApp::spawn().await;
    let (_, product) = shop(&app, 3).await;
    let (_, buyer) = app.user("ann", Role::Member).await;
    let (_, transfer) = app
        .post(
            "/api/v1/orders",
            Some(&buyer),
            order_body(&product, json!(2), "t"),
        )
        .await;
    let mut cod = order_body(&product, json!(1), "c");
    cod["payment_method"] = json!("cash_on_delivery");
    let (s, cod) = app.post("/api/v1/orders", Some(&buyer), cod).await;
    assert_eq!(s, StatusCode::CREATED, "{cod}");
    assert!(
        cod["expires_at"].is_null(),
        "paid on delivery: no hold time"
    );
    assert_eq!(stock_of(&app, &product).await, 0);
    // Not yet.
    let n = service::expire_due(&app.state.store, &app.state.urls, now_ms())
        .await
        .unwrap();
    assert_eq!(n, 0);
    // 49 hours later (the shop holds unpaid orders 48 hours).
    let later = now_ms() + 49 * 3_600_000;
    let n = service::expire_due(&app.state.store, &app.state.urls, later)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let n = service::expire_due(&app.state.store, &app.state.urls, later)
        .await
        .unwrap();
    assert_eq!(n, 0, "each order expires once");
    assert_eq!(stock_of(&app, &product).await, 2);
    let (_, t) = app
        .get(
            &format!("/api/v1/orders/{}", transfer["id"].as_str().unwrap()),
            Some(&buyer),
        )
        .await;
    assert_eq!(t["status"], "expired");
    let (_, c) = app
        .get(
            &format!("/api/v1/orders/{}", cod["id"].as_str().unwrap()),
            Some(&buyer),
        )
        .await;
    assert_eq!(c["status"], "pending");
}

#[tokio::test]
async fn order_mails_are_written_and_addresses_erased_after_retention() {
    let app = TestApp::spawn().await;
    let (seller, product) = shop(&app, 3).await;
    let (_, buyer) = app.user("ann", Role::Member).await;
    let (_, o) = app
        .post(
            "/api/v1/orders",
            Some(&buyer),
            order_body(&product, json!(1), "m"),
        )
        .await;
    let number = o["number"].as_str().unwrap().to_string();
    let id = o["id"].as_str().unwrap().to_string();
    // The file transport writes one .eml per message: the buyer's and the seller's.
    let dir = app.state.settings.mail_dir();
    let mails = crate::support::eventually("two mails", || {
        let dir = dir.clone();
        async move {
            let files: Vec<String> = std::fs::read_dir(&dir)
                .ok()?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                // Bodies are quoted-printable: undo soft line breaks and `=3D`.
                .map(|e| {
                    std::fs::read_to_string(e.path())
                        .unwrap()
                        .replace("=\r\n", "")
                        .replace("=3D", "=")
                })
                .collect();
            (files.len() == 2).then_some(files)
        }
    })
    .await;
    let to_buyer = mails
        .iter()
        .find(|m| m.contains("To: ann@example.org"))
        .unwrap();
    assert!(to_buyer.contains(&number));
    let to_seller = mails
        .iter()
        .find(|m| m.contains("To: orders@tea.example"))
        .unwrap();
    assert!(to_seller.contains(&format!("/dashboard/shops/tea/orders/{id}")));
    crate::support::eventually("the mail outbox to drain", || async {
        (fedishop::db::mail::pending(&app.state.store).await.unwrap() == 0).then_some(())
    })
    .await;

    for (status, extra) in [
        ("paid", json!({})),
        ("shipped", json!({"tracking": "T1"})),
        ("delivered", json!({})),
    ] {
        let mut body = json!({"status": status});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (s, e) = app
            .post(
                &format!("/api/v1/shop-orders/{id}/status"),
                Some(&seller),
                body,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{e}");
    }
    // Not yet erased; a year and a day later it is.
    let n = service::erase_old_addresses(&app.state.store, 365, now_ms())
        .await
        .unwrap();
    assert_eq!(n, 0);
    let n = service::erase_old_addresses(&app.state.store, 365, now_ms() + 366 * 86_400_000)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let (_, o) = app
        .get(&format!("/api/v1/shop-orders/{id}"), Some(&seller))
        .await;
    assert_eq!(o["address_erased"], true);
    assert_eq!(o["shipping"]["name"], "");
    assert_eq!(o["email"], "");
    assert_eq!(o["number"], number.as_str(), "the order itself stays");
}

#[tokio::test]
async fn checkout_settings_are_checked_and_only_for_the_shop_manager() {
    let app = TestApp::spawn().await;
    let seller = app.seller_with_shop("sam", "tea").await;
    let (_, other) = app.user("eve", Role::Seller).await;
    let put = |token: String, body: Value| {
        let app = &app;
        async move {
            app.send(
                reqwest::Method::PUT,
                "/api/v1/shops/tea/checkout",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let (s, _) = put(other.clone(), checkout()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut bad = checkout();
    bad["shipping_options"][0]["price"] = json!("-1");
    bad["payment_methods"][0]["details"] = json!("");
    let (s, e) = put(seller.clone(), bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["fields"]["shipping_options[0].price"].is_string());
    assert!(e["fields"]["payment_methods[0].details"].is_string());
    let (s, e) = put(seller.clone(), json!({"payment_methods": "cash"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, saved) = put(seller.clone(), checkout()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        saved["shipping_options"][0]["countries"],
        json!(["DE", "AT"])
    );
    let (s, got) = app.get("/api/v1/shops/tea/checkout", Some(&seller)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, saved);
    // A shop without settings takes no orders.
    let other_seller = app.seller_with_shop("olga", "other").await;
    let p = app
        .product(
            &other_seller,
            "other",
            json!({"title": "T", "description": "", "price": "1.00", "currency": "EUR", "stock": 1}),
        )
        .await;
    let (_, buyer) = app.user("ann", Role::Member).await;
    let (s, e) = app
        .post(
            "/api/v1/orders",
            Some(&buyer),
            order_body(&p, json!(1), "z"),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["fields"]["payment_method"].is_string());
}

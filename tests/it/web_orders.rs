//! Buying through the HTML pages over plain HTTP: the cart cookie against tampering, checkout
//! with a repeated submission, the guest's order page and its headers, the seller's CSV export
//! and who may see a shop's orders. (The click-through in a real browser is in
//! tests/browser/orders.test.mjs.)

use fedishop::domain::accounts::{Role, User};
use fedishop::domain::orders::validate::{LineRequest, OrderRequest};
use fedishop::domain::orders::{
    service, Address, Buyer, CheckoutSettings, PaymentMethod, PaymentOption, ShippingOption,
};
use reqwest::header::{CACHE_CONTROL, CONTENT_DISPOSITION, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::browser::{csrf_of, Browser};
use crate::support::TestApp;

struct Shop {
    seller: User,
    token: String,
    /// Tea with variants M (12.00, 5 in stock) and L (15.00, 3).
    tea: Value,
    /// Cup, 8.00, 4 in stock.
    cup: Value,
}

async fn shop(app: &TestApp) -> Shop {
    let (seller, token) = app.user("sella", Role::Seller).await;
    let (status, body) = app
        .post(
            "/api/v1/shops",
            Some(&token),
            json!({"handle": "teashop", "name": "Tea Shop", "summary": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let tea = app
        .product(
            &token,
            "teashop",
            json!({"title": "Tea", "description": "", "price": "12.00", "currency": "EUR",
                   "status": "published",
                   "variants": [
                       {"sku": "TEA-M", "options": [{"name": "Size", "value": "M"}], "stock": 5},
                       {"sku": "TEA-L", "options": [{"name": "Size", "value": "L"}], "price": "15.00", "stock": 3}
                   ]}),
        )
        .await;
    let cup = app
        .product(
            &token,
            "teashop",
            json!({"title": "Cup", "description": "", "price": "8.00", "currency": "EUR",
                   "stock": 4, "status": "published"}),
        )
        .await;
    let settings = CheckoutSettings {
        payment_methods: vec![PaymentOption {
            method: PaymentMethod::BankTransfer,
            details: "IBAN DE00 1234 5678".into(),
            url: None,
        }],
        shipping_options: vec![ShippingOption {
            id: "standard".into(),
            name: "Standard".into(),
            price: "4.90".into(),
            currency: "EUR".into(),
            countries: vec![],
        }],
        ..CheckoutSettings::default()
    };
    service::update_settings(&app.state.store, &seller, "teashop", &settings)
        .await
        .expect("checkout settings");
    Shop {
        seller,
        token,
        tea,
        cup,
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn simple(id: &str) -> String {
    id.replace('-', "")
}

async fn stock(app: &TestApp, token: &str, product: &Value) -> i64 {
    let (status, p) = app
        .get(&format!("/api/v1/products/{}", id(product)), Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    p["stock"].as_i64().unwrap()
}

/// A client without a cookie jar, for hand-made cookies.
fn bare() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name -> value` of every hidden input in `html` (values as our templates escape them).
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input type=\"hidden\" name=\"").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        let rest = &part[name.len()..];
        let v = rest.find("value=\"").unwrap() + 7;
        let value = &rest[v..v + rest[v..].find('"').unwrap()];
        let value = value
            .replace("&#43;", "+")
            .replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        out.push((name.to_string(), value));
    }
    out
}

fn cart_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("fedishop_cart="))
        .map(str::to_string)
}

#[tokio::test]
async fn tampered_cart_cookies_are_cleaned_not_fatal() {
    let app = TestApp::spawn().await;
    let s = shop(&app).await;
    let cup = simple(&id(&s.cup));
    let tea = simple(&id(&s.tea));
    let unknown = simple(&fedishop::domain::ids::ProductId::new().to_string());
    let raw = format!("{unknown}__1.{cup}__99999999.{tea}__-3.garbage.{tea}_{unknown}_1");
    let resp = bare()
        .get(app.url("/shops/teashop/cart"))
        .header("cookie", format!("fedishop_cart={raw}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let set = cart_cookie(&resp).expect("the cleaned cart is stored");
    assert!(set.contains("Path=/shops/teashop") && set.contains("HttpOnly"));
    assert!(set.contains("SameSite=Lax"), "{set}");
    assert!(
        set.starts_with(&format!("fedishop_cart={cup}__4;")),
        "only the cup remains, lowered to its stock: {set}"
    );
    assert_eq!(
        resp.headers()[CACHE_CONTROL],
        "no-store",
        "carts are private"
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("Cup") && html.contains("€32.00"), "{html}");
    assert!(html.contains("could not be read") && html.contains("no longer for sale"));

    // Nonsense and oversized cookies give an empty cart, not an error.
    for junk in ["%%%", &"9".repeat(5000)] {
        let resp = bare()
            .get(app.url("/shops/teashop/cart"))
            .header("cookie", format!("fedishop_cart={junk}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "cookie {junk:.10}");
    }

    // The add form refuses bad quantities and cross-site posts, and changes nothing.
    let b = Browser::new(&app);
    for qty in ["-1", "0", "5000", "x"] {
        let resp = b
            .post(
                "/shops/teashop/cart",
                &[("product", &id(&s.cup)), ("quantity", qty)],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "qty {qty}");
        assert!(cart_cookie(&resp).is_none(), "qty {qty} stores nothing");
    }
    let resp = b
        .post(
            "/shops/teashop/cart",
            &[("product", &id(&s.cup)), ("quantity", "5")],
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "more than in stock"
    );
    let resp = b
        .post(
            "/shops/teashop/cart",
            &[("product", &id(&s.tea)), ("quantity", "1")],
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "variant required"
    );
    let resp = b
        .client
        .post(app.url("/shops/teashop/cart"))
        .header("origin", "https://evil.example")
        .form(&[("product", id(&s.cup).as_str()), ("quantity", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "cross-site add");
}

/// A guest fills the cart (tea M ×2, cup ×1) and reviews; returns the review page's fields.
async fn review(app: &TestApp, b: &Browser, s: &Shop, name: &str) -> Vec<(String, String)> {
    let variant_m = s.tea["variants"][0]["id"].as_str().unwrap();
    let resp = b
        .post(
            "/shops/teashop/cart",
            &[
                ("product", &id(&s.tea)),
                ("variant", variant_m),
                ("quantity", "2"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = b
        .post(
            "/shops/teashop/cart",
            &[("product", &id(&s.cup)), ("quantity", "1")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (status, html) = b.get("/shops/teashop/checkout").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let mut fields = hidden_fields(&html);
    fields.retain(|(k, _)| k != "step");
    for (k, v) in [
        ("step", "review"),
        ("email", "guest@example.org"),
        ("ship_name", name),
        ("ship_line1", "Hauptstr. 1"),
        ("ship_city", "Berlin, Mitte"),
        ("ship_postal", "10115"),
        ("ship_country", "de"),
        ("shipping_option", "standard"),
        ("payment_method", "bank_transfer"),
        ("note", "Ring twice\nplease"),
    ] {
        fields.push((k.to_string(), v.to_string()));
    }
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let resp = b.post("/shops/teashop/checkout", &pairs).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("€36.90"),
        "the review shows the total: {html}"
    );
    let _ = app;
    hidden_fields(&html)
}

#[tokio::test]
async fn a_repeated_submission_places_one_order() {
    let app = TestApp::spawn().await;
    let s = shop(&app).await;
    let b = Browser::new(&app);
    let mut fields = review(&app, &b, &s, "Gus Guest").await;
    fields.push(("step".into(), "place".into()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let first = b.post("/shops/teashop/checkout", &pairs).await;
    let second = b.post("/shops/teashop/checkout", &pairs).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    let to = first.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(
        second.headers()[LOCATION].to_str().unwrap(),
        to,
        "same order page"
    );
    assert!(to.starts_with("/orders/"), "{to}");
    let cleared = cart_cookie(&first).expect("the cart is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (_, orders) = service::shop_orders(&app.state.store, &s.seller, "teashop", None, 1, 50)
        .await
        .unwrap();
    assert_eq!(orders.len(), 1, "one order for two submissions");
    assert_eq!(orders[0].total.display(), "€36.90");
    assert_eq!(stock(&app, &s.token, &s.cup).await, 3);

    // The guest's page: private headers, the payment reference and total.
    let resp = b.client.get(app.url(&to)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h[CACHE_CONTROL], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h["x-robots-tag"].to_str().unwrap().contains("noindex"));
    let html = resp.text().await.unwrap();
    assert!(html.contains(&orders[0].number) && html.contains("€36.90"));
    assert!(
        html.contains("IBAN DE00 1234 5678"),
        "payment details shown"
    );

    // A wrong secret is a 404, private too; so is someone else's member page.
    let (order_id, _) = to.trim_start_matches("/orders/").split_once('/').unwrap();
    let wrong = format!("/orders/{order_id}/{}", "A".repeat(43));
    let resp = bare().get(app.url(&wrong)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    app.user("mona", Role::Member).await;
    let mona = Browser::signed_in(&app, "mona").await;
    let (status, _) = mona.get(&format!("/orders/{order_id}")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a guest order is not a member's"
    );

    // The guest cancels while pending; the stock comes back.
    let (_, html) = b.get(&to).await;
    let csrf = csrf_of(&html);
    let resp = b.post(&format!("{to}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, html) = b.get(&to).await;
    assert!(html.contains("Cancelled"), "{html}");
    assert_eq!(stock(&app, &s.token, &s.cup).await, 4);
    let resp = b.post(&format!("{to}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "cancelling twice is a no-op"
    );
    assert_eq!(stock(&app, &s.token, &s.cup).await, 4, "released once");
}

#[tokio::test]
async fn csv_export_quotes_and_defuses_formulas() {
    let app = TestApp::spawn().await;
    let s = shop(&app).await;
    let shop = fedishop::domain::catalog::service::shop_by_handle(&app.state.store, "teashop")
        .await
        .unwrap();
    let req = OrderRequest {
        lines: vec![LineRequest {
            product: id(&s.tea),
            variant: Some("TEA-M".into()),
            quantity: 2,
        }],
        email: "x@example.org".into(),
        address: Address {
            name: "=HYPERLINK(\"http://evil.example\")".into(),
            address_lines: vec!["+1 Main St".into()],
            city: "Berlin, Mitte".into(),
            postal_code: "10115".into(),
            country: "DE".into(),
            phone: "@home".into(),
        },
        payment_method: "bank_transfer".into(),
        note: "two\nlines".into(),
        ..OrderRequest::default()
    };
    service::place(&app.state.store, &app.state.urls, &shop, Buyer::Guest, &req)
        .await
        .unwrap();
    let b = Browser::signed_in(&app, "sella").await;
    let resp = b
        .client
        .get(app.url("/dashboard/shops/teashop/orders.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let csv = resp.text().await.unwrap();
    let mut lines = csv.split("\r\n");
    assert!(lines.next().unwrap().starts_with("number,created,status"));
    assert!(
        csv.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\")\","),
        "{csv}"
    );
    assert!(csv.contains(",'+1 Main St,"), "{csv}");
    assert!(csv.contains(",\"Berlin, Mitte\","), "{csv}");
    assert!(csv.contains(",'@home,"), "{csv}");
    assert!(csv.contains("2× Tea (M)"), "{csv}");
    assert!(csv.contains("\"two\nlines\""), "{csv}");
    assert!(
        csv.contains(",pending,bank_transfer,EUR,24.00,4.90,28.90,"),
        "{csv}"
    );
    // The filtered export holds only that status.
    let (_, paid) = b
        .get("/dashboard/shops/teashop/orders.csv?status=paid")
        .await;
    assert_eq!(paid.split("\r\n").filter(|l| !l.is_empty()).count(), 1);
}

#[tokio::test]
async fn only_the_shop_manager_sees_its_orders() {
    let app = TestApp::spawn().await;
    let s = shop(&app).await;
    let shop = fedishop::domain::catalog::service::shop_by_handle(&app.state.store, "teashop")
        .await
        .unwrap();
    let req = OrderRequest {
        lines: vec![LineRequest {
            product: id(&s.cup),
            variant: None,
            quantity: 1,
        }],
        email: "secret-buyer@example.org".into(),
        address: Address {
            name: "Private Person".into(),
            address_lines: vec!["Secret Road 5".into()],
            city: "Hamburg".into(),
            postal_code: "20095".into(),
            country: "DE".into(),
            phone: String::new(),
        },
        payment_method: "bank_transfer".into(),
        ..OrderRequest::default()
    };
    let placed = service::place(&app.state.store, &app.state.urls, &shop, Buyer::Guest, &req)
        .await
        .unwrap();
    let detail = format!("/dashboard/shops/teashop/orders/{}", placed.order.id);

    app.user("olga", Role::Seller).await;
    let other = Browser::signed_in(&app, "olga").await;
    for path in [
        "/dashboard/shops/teashop/orders",
        "/dashboard/shops/teashop/orders.csv",
        "/dashboard/shops/teashop/checkout",
        detail.as_str(),
    ] {
        let (status, body) = other.get(path).await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
            "{path}: {status}"
        );
        assert!(!body.contains("Private Person") && !body.contains("secret-buyer"));
    }
    let (status, _) = Browser::new(&app)
        .get("/dashboard/shops/teashop/orders")
        .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "anonymous visitors are sent to sign in"
    );

    // The manager sees the order with address and contact, and can mark it paid and shipped.
    let seller = Browser::signed_in(&app, "sella").await;
    let (status, list) = seller.get("/dashboard/shops/teashop/orders").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(&placed.order.number) && list.contains("Private Person"));
    let (status, html) = seller.get(&detail).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("secret-buyer@example.org") && html.contains("Secret Road 5"));
    let action = format!("{detail}/status");
    let resp = seller.submit(&action, &[("status", "shipped")]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT, "not paid yet: refused");
    let resp = seller.submit(&action, &[("status", "cancelled")]).await;
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "reason required"
    );
    let resp = seller.submit(&action, &[("status", "paid")]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = seller
        .submit(
            &action,
            &[
                ("status", "shipped"),
                ("carrier", "DHL"),
                ("tracking", "JJD000123"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, html) = seller.get(&detail).await;
    assert!(html.contains("JJD000123") && html.contains("Shipped"));
}

#[tokio::test]
async fn members_check_out_through_the_same_pages() {
    let app = TestApp::spawn().await;
    let s = shop(&app).await;
    app.user("mia", Role::Member).await;
    let b = Browser::signed_in(&app, "mia").await;
    let resp = b
        .post(
            "/shops/teashop/cart",
            &[("product", &id(&s.cup)), ("quantity", "2")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (status, html) = b.get("/shops/teashop/checkout").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("E-mail (optional)"));
    let mut fields = hidden_fields(&html);
    fields.retain(|(k, _)| k != "step");
    for (k, v) in [
        ("step", "review"),
        ("ship_name", "Mia Member"),
        ("ship_line1", "Kirchweg 2"),
        ("ship_city", "Köln"),
        ("ship_country", "XX1"),
        ("payment_method", "bank_transfer"),
    ] {
        fields.push((k.to_string(), v.to_string()));
    }
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let resp = b.post("/shops/teashop/checkout", &pairs).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("id=\"ship_country-error\""),
        "error next to the field"
    );
    assert!(html.contains("value=\"Kirchweg 2\""), "values are kept");

    let mut fields: Vec<(String, String)> = fields
        .into_iter()
        .map(|(k, v)| {
            if k == "ship_country" {
                (k, "DE".into())
            } else {
                (k, v)
            }
        })
        .collect();
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let resp = b.post("/shops/teashop/checkout", &pairs).await;
    assert_eq!(resp.status(), StatusCode::OK);
    fields = hidden_fields(&resp.text().await.unwrap());
    fields.push(("step".into(), "place".into()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let resp = b.post("/shops/teashop/checkout", &pairs).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = resp.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(
        to.matches('/').count(),
        2,
        "a member goes to /orders/{{id}}: {to}"
    );
    let (status, html) = b.get(&to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("€20.90"), "2 × 8.00 + 4.90");
    let (_, history) = b.get("/orders").await;
    assert!(
        history.contains(&to) && history.contains("Tea Shop"),
        "{history}"
    );

    app.user("nils", Role::Member).await;
    let other = Browser::signed_in(&app, "nils").await;
    let (status, body) = other.get(&to).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("Kirchweg"));
    let (status, _) = Browser::new(&app).get(&to).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "anonymous: sign in first");
}

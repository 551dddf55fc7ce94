//! The HTML side over plain HTTP: sessions, CSRF, rate limits, languages, storefront markup.
//! (The full click-through in a real browser is in tests/browser.)

use fedishop::domain::accounts::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::browser::csrf_of;
use crate::support::TestApp;

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let resp = app.client.get(app.url(path)).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn login(app: &TestApp, username: &str, password: &str) -> StatusCode {
    let (_, html) = page(app, "/login").await;
    let csrf = csrf_of(&html);
    app.client
        .post(app.url("/login"))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn first_run_setup_creates_the_admin_once() {
    let app = TestApp::spawn().await;
    let (status, html) = page(&app, "/setup").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&html);
    let resp = app
        .client
        .post(app.url("/setup"))
        .form(&[
            ("username", "boss"),
            ("display_name", "Root"),
            ("password", "a long password"),
            ("password_confirm", "a long password"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/dashboard");
    let (status, _) = page(&app, "/dashboard").await;
    assert_eq!(status, StatusCode::OK, "signed in after setup");
    let resp = app.client.get(app.url("/setup")).send().await.unwrap();
    assert!(
        resp.status().is_redirection(),
        "setup is closed once an admin exists"
    );
    let (_, me) = app.get("/api/v1/shops", None).await;
    assert_eq!(me["total"], 0);
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Seller).await;
    let _ = page(&app, "/login").await; // gets the CSRF cookie
    let resp = app
        .client
        .post(app.url("/login"))
        .form(&[
            ("username", "alice"),
            ("password", "correct horse battery"),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        login(&app, "alice", "correct horse battery").await,
        StatusCode::SEE_OTHER
    );
    // Signed in, a write without the token is still refused.
    let resp = app
        .client
        .post(app.url("/dashboard/shops/new"))
        .multipart(
            reqwest::multipart::Form::new()
                .text("handle", "x")
                .text("name", "X"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (_, shops) = app.get("/api/v1/shops", None).await;
    assert_eq!(shops["total"], 0);
}

#[tokio::test]
async fn session_cookies_are_httponly_and_samesite() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Seller).await;
    let (_, html) = page(&app, "/login").await;
    let csrf = csrf_of(&html);
    let resp = app
        .client
        .post(app.url("/login"))
        .form(&[
            ("username", "alice"),
            ("password", "correct horse battery"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("fedishop_session="))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(
        cookie.contains("SameSite=Lax") || cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

#[tokio::test]
async fn sign_in_is_rate_limited() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Seller).await;
    let mut statuses = vec![];
    for _ in 0..12 {
        statuses.push(login(&app, "alice", "wrong password").await);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(
        *statuses.last().unwrap(),
        StatusCode::TOO_MANY_REQUESTS,
        "{statuses:?}"
    );
    assert_eq!(
        login(&app, "alice", "correct horse battery").await,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits until the window passes"
    );
}

/// The home page as a browser with this Accept-Language sees it.
async fn home_in(app: &TestApp, accept_language: &str) -> String {
    let resp = app
        .client
        .get(app.url("/"))
        .header("accept-language", accept_language)
        .send()
        .await
        .unwrap();
    resp.text().await.unwrap()
}

#[tokio::test]
async fn pages_speak_english_and_chinese() {
    let app = TestApp::spawn().await;
    assert!(home_in(&app, "zh-CN,zh;q=0.9,en;q=0.5")
        .await
        .contains("lang=\"zh-Hans\""));
    assert!(home_in(&app, "en-GB").await.contains("lang=\"en\""));
    // The switch wins over Accept-Language and only redirects to local paths.
    let resp = app
        .client
        .get(app.url("/lang?set=zh-Hans&back=//evil.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/");
    assert!(home_in(&app, "en").await.contains("lang=\"zh-Hans\""));
}

#[tokio::test]
async fn product_pages_carry_opengraph_json_ld_and_security_headers() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    let p = app
        .product(
            &token,
            "teashop",
            json!({"title": "Oolong </script><script>alert(1)</script>", "description": "Roasted **oolong**",
                   "price": "24.00", "currency": "EUR", "stock": 7, "tags": ["tea"]}),
        )
        .await;
    let path = format!("/shops/teashop/products/{}", p["id"].as_str().unwrap());
    let resp = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    let html = resp.text().await.unwrap();
    assert!(
        !html.contains("<script>alert(1)"),
        "title is escaped everywhere"
    );
    assert!(html.contains("property=\"og:title\""));
    assert!(html.contains("<strong>oolong</strong>"));
    let start = html.find("application/ld+json").expect("json-ld");
    let body_start = start + html[start..].find('>').unwrap() + 1;
    let body_end = body_start + html[body_start..].find("</script>").unwrap();
    let ld: serde_json::Value =
        serde_json::from_str(&html[body_start..body_end]).expect("valid JSON-LD");
    assert_eq!(ld["@type"], "Product");
    assert_eq!(ld["offers"]["price"], "24.00");
    assert_eq!(ld["offers"]["priceCurrency"], "EUR");

    // Edits show at once (the page cache is cleared on writes).
    let api_path = format!("/api/v1/products/{}", p["id"].as_str().unwrap());
    app.patch(&api_path, Some(&token), json!({"price": "19.50"}))
        .await;
    let (_, html) = page(&app, &path).await;
    assert!(html.contains("19.50"), "fresh price after an edit");
    app.patch(&api_path, Some(&token), json!({"status": "draft"}))
        .await;
    let (status, _) = page(&app, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "drafts are not public");
}

#[tokio::test]
async fn each_shop_has_an_atom_feed() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    app.product(
        &token,
        "teashop",
        json!({"title": "Tea & <Biscuits>", "price": "3.00", "currency": "EUR", "stock": 1}),
    )
    .await;
    let resp = app
        .client
        .get(app.url("/shops/teashop/feed.atom"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/atom+xml"));
    let xml = resp.text().await.unwrap();
    assert!(xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\""));
    assert!(xml.contains("Tea &amp; &lt;Biscuits&gt;"));
    let (status, _) = page(&app, "/shops/nope/feed.atom").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_check_answers() {
    let app = TestApp::spawn().await;
    let (status, _) = page(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_pages_are_html_404_and_unknown_api_routes_json_404() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let (status, body) = app.get("/api/v1/nothing/here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string(), "{body}");
}

async fn login_from(app: &TestApp, forwarded_for: &str, username: &str) -> StatusCode {
    let (_, html) = page(app, "/login").await;
    let csrf = csrf_of(&html);
    app.client
        .post(app.url("/login"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[
            ("username", username),
            ("password", "wrong password"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn behind_a_proxy_the_forwarded_address_is_limited_not_the_proxy() {
    let app = TestApp::spawn_with(|s| s.behind_proxy = true).await;
    for i in 0..12 {
        // The client may prepend anything; the proxy's last entry counts.
        login_from(&app, &format!("6.6.6.{i}, 10.0.0.1"), &format!("user{i}")).await;
    }
    assert_eq!(
        login_from(&app, "10.0.0.1", "someone").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, "10.0.0.2", "someone").await,
        StatusCode::UNAUTHORIZED
    );

    let direct = TestApp::spawn().await;
    for i in 0..12 {
        login_from(&direct, &format!("10.0.0.{i}"), &format!("user{i}")).await;
    }
    assert_eq!(
        login_from(&direct, "10.9.9.9", "someone").await,
        StatusCode::TOO_MANY_REQUESTS,
        "without the setting, X-Forwarded-For is ignored"
    );
}

#[tokio::test]
async fn the_home_page_lists_shops_and_their_newest_published_products() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    app.product(
        &token,
        "teashop",
        json!({"title": "Public oolong", "price": "3.00", "currency": "EUR", "stock": 1}),
    )
    .await;
    app.product(
        &token,
        "teashop",
        json!({"title": "Secret draft", "price": "3.00", "currency": "EUR", "stock": 1, "status": "draft"}),
    )
    .await;
    let (status, html) = page(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("/shops/teashop"));
    assert!(html.contains("Public oolong"));
    assert!(!html.contains("Secret draft"));
}

//! Image uploads through the API: sniffed, re-encoded, limited, attachable to products.

use fedishop::domain::accounts::Role;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{png, TestApp};

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>, name: &str) -> (StatusCode, Value) {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    let resp = app
        .client
        .post(app.url("/api/v1/media"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_uploaded_image_is_reencoded_served_and_attached() {
    let app = TestApp::spawn().await;
    let token = app.seller_with_shop("alice", "teashop").await;
    let (status, img) = upload(&app, &token, png(3000, 1000, [10, 120, 40]), "evil.html").await;
    assert_eq!(status, StatusCode::CREATED, "{img}");
    assert_eq!(img["width"], 2048, "downscaled");
    assert_eq!(
        img["media_type"], "image/jpeg",
        "opaque PNG re-encoded as JPEG"
    );
    let url = img["url"].as_str().unwrap();
    assert!(
        url.ends_with(".jpg") && !url.contains("evil"),
        "generated name: {url}"
    );
    let resp = app.client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    let thumb = app
        .client
        .get(img["thumbnail_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), StatusCode::OK);

    let p = app
        .product(
            &token,
            "teashop",
            json!({"title": "Matcha", "price": "9.00", "currency": "EUR", "stock": 1,
                   "images": [{"id": img["id"], "alt": "A bowl of matcha"}]}),
        )
        .await;
    assert_eq!(p["images"][0]["alt"], "A bowl of matcha");
    assert_eq!(p["images"][0]["url"], img["url"]);

    let (status, shop) = app
        .patch(
            "/api/v1/shops/teashop",
            Some(&token),
            json!({"avatar_image": img["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shop}");
    assert_eq!(shop["avatar"]["id"], img["id"]);
    let (_, shop) = app
        .patch(
            "/api/v1/shops/teashop",
            Some(&token),
            json!({"avatar_image": null}),
        )
        .await;
    assert_eq!(shop["avatar"], Value::Null);
}

#[tokio::test]
async fn non_images_and_oversized_uploads_are_refused() {
    let app = TestApp::spawn_with(|s| s.max_upload_bytes = 64 * 1024).await;
    let token = app.seller_with_shop("alice", "teashop").await;
    let (status, err) = upload(
        &app,
        &token,
        b"<html><script>alert(1)</script></html>".to_vec(),
        "x.png",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["fields"]["file"], "the file is not an image");
    let (status, err) = upload(
        &app,
        &token,
        b"BM\x00\x00\x00\x00\x00\x00".to_vec(),
        "x.bmp",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut big = png(8, 8, [1, 2, 3]);
    big.extend(noise);
    let (status, err) = upload(&app, &token, big, "big.png").await;
    assert!(
        status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::PAYLOAD_TOO_LARGE,
        "{status} {err}"
    );
    let (status, _) = upload(&app, &token, png(8, 8, [0, 0, 0]), "ok.png").await;
    assert_eq!(status, StatusCode::CREATED);
    let files = std::fs::read_dir(app.state.settings.media_dir())
        .unwrap()
        .count();
    assert_eq!(
        files, 2,
        "only the accepted image and its thumbnail were written"
    );
}

#[tokio::test]
async fn uploads_need_a_token_and_images_of_others_cannot_be_attached() {
    let app = TestApp::spawn().await;
    let form = Form::new().part("file", Part::bytes(png(4, 4, [0, 0, 0])).file_name("a.png"));
    let resp = app
        .client
        .post(app.url("/api/v1/media"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let alice = app.seller_with_shop("alice", "teashop").await;
    let (_, mallory) = app.user("mallory", Role::Seller).await;
    let (_, img) = upload(&app, &mallory, png(4, 4, [9, 9, 9]), "m.png").await;
    let (status, err) = app
        .post(
            "/api/v1/shops/teashop/products",
            Some(&alice),
            json!({"title": "T", "price": "1.00", "currency": "EUR", "stock": 1, "images": [{"id": img["id"], "alt": ""}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["fields"]["images[0].id"].is_string());
    let resp = app
        .client
        .get(app.url("/media/..%2Ffedishop.db"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

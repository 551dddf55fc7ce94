//! Our outgoing product Note is snapshot-tested (`tests/fixtures/snapshots/product_note.json`;
//! set `UPDATE_SNAPSHOTS=1` to rewrite it after an intended change) and round-trips: parsed back
//! as a wire struct it loses no field, and read as a remote product it keeps title, price,
//! currency, stock and sku.

use super::*;
use crate::domain::catalog::{ProductImage, ProductStatus, ShopLink};
use crate::domain::ids::{ImageId, ProductId, ShopId, UserId};
use crate::domain::images::Image;

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/snapshots/product_note.json"
);

fn fixture() -> (Shop, Product) {
    let shop = Shop {
        id: ShopId::from_db("0190a000-0000-7000-8000-000000000001".into()),
        owner_id: UserId::from_db("0190a000-0000-7000-8000-000000000002".into()),
        handle: "teashop".into(),
        name: "Tea Shop".into(),
        summary: "Fine **tea**".into(),
        summary_html: "<p>Fine <strong>tea</strong></p>".into(),
        avatar: None,
        banner: None,
        links: vec![ShopLink {
            label: "Blog".into(),
            url: "https://blog.example/".into(),
        }],
        manually_approves_followers: false,
        created_at: 1_790_000_000_000,
        updated_at: 1_790_000_000_000,
    };
    let eur = Currency::from_code("EUR").unwrap();
    let product = Product {
        id: ProductId::parse("0190a000-0000-7000-8000-000000000003").unwrap(),
        shop_id: shop.id.clone(),
        title: "Oolong <reserve> & more".into(),
        description: "Roasted over charcoal. **Smoky** and sweet.".into(),
        description_html: String::new(),
        price: Money::new(2400, eur),
        compare_at: Some(Money::new(2900, eur)),
        stock: 7,
        sku: Some("TEA-42".into()),
        status: ProductStatus::Published,
        tags: vec!["tea".into(), "绿茶".into()],
        images: vec![ProductImage {
            image: Image {
                id: ImageId::from_db("0190a000-0000-7000-8000-000000000004".into()),
                owner_id: shop.owner_id.clone(),
                file_name: "0190a000-0000-7000-8000-000000000004.jpg".into(),
                thumb_name: "0190a000-0000-7000-8000-000000000004-thumb.jpg".into(),
                mime: "image/jpeg".into(),
                width: 1200,
                height: 800,
                thumb_width: 400,
                thumb_height: 267,
            },
            alt: "A glass teapot of amber tea".into(),
        }],
        variants: vec![],
        created_at: 1_790_000_000_000,
        updated_at: 1_790_000_500_000,
        published_at: Some(1_790_000_100_000),
    };
    (shop, product)
}

#[test]
fn the_product_note_matches_its_snapshot() {
    let (shop, product) = fixture();
    let note = product_note(&Urls::new("https://shop.example"), &shop, &product);
    let actual = serde_json::to_string_pretty(&note).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(SNAPSHOT).expect("snapshot file");
    // Compared as JSON first: the key order inside `json!` values follows serde_json's map,
    // sorted, or insertion order when a dev-dependency (activitypub_federation, for the
    // fan-out benchmark) turns on its `preserve_order` feature in test builds.
    let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    if json(&actual) != json(&expected) {
        assert_eq!(
            actual, expected,
            "run with UPDATE_SNAPSHOTS=1 after an intended change"
        );
    }
}

#[test]
fn the_product_note_round_trips() {
    let (shop, product) = fixture();
    let note = product_note(&Urls::new("https://shop.example"), &shop, &product);
    let value = serde_json::to_value(&note).unwrap();
    let back: ProductNote = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(back, note);
    assert_eq!(serde_json::to_value(&back).unwrap(), value);
    let remote = parse_remote_product(&value, &note.attributed_to).expect("a product");
    assert_eq!(remote.id, note.id);
    assert_eq!(remote.title, product.title);
    assert_eq!(remote.price, product.price);
    assert_eq!(remote.stock, Some(7));
    assert_eq!(remote.sku.as_deref(), Some("TEA-42"));
    assert_eq!(
        remote.image_alt.as_deref(),
        Some("A glass teapot of amber tea")
    );
    assert_eq!(remote.published, 1_790_000_100_000);
    assert_eq!(remote.updated_at, 1_790_000_500_000);
}

#[test]
fn what_readers_see_is_escaped_and_stock_counts_do_not_change_it() {
    let (shop, mut product) = fixture();
    let urls = Urls::new("https://shop.example");
    let note = product_note(&urls, &shop, &product);
    assert!(note.content.contains("Oolong &lt;reserve&gt; &amp; more"));
    assert!(note.content.contains("24.00 EUR (was 29.00) · in stock"));
    let before = reader_hash(&note);
    product.stock = 3;
    assert_eq!(reader_hash(&product_note(&urls, &shop, &product)), before);
    product.stock = 0;
    assert_ne!(reader_hash(&product_note(&urls, &shop, &product)), before);
}

#[test]
fn notes_without_price_are_not_products_and_hostile_fields_are_cleaned() {
    let plain = serde_json::json!({"id": "https://m.example/n/1", "type": "Note", "content": "hi"});
    assert!(parse_remote_product(&plain, "https://m.example/u").is_none());
    let hostile = serde_json::json!({
        "id": "https://m.example/n/2", "type": "Note", "productName": "X",
        "price": "-1", "priceCurrency": "EUR"
    });
    assert!(parse_remote_product(&hostile, "https://m.example/u").is_none());
    let scripted = serde_json::json!({
        "id": "https://m.example/n/3", "type": "Note", "productName": "X",
        "price": "1.00", "priceCurrency": "EUR",
        "content": "<p onclick=\"x()\">ok<script>alert(1)</script></p>",
        "url": "javascript:alert(1)"
    });
    let p = parse_remote_product(&scripted, "https://m.example/u").unwrap();
    assert!(!p.content_html.contains("script") && !p.content_html.contains("onclick"));
    assert_eq!(p.url, None);
}

#[test]
fn a_date_in_the_future_does_not_pin_a_product_to_the_top() {
    let note = serde_json::json!({
        "id": "https://m.example/n/4", "type": "Note", "productName": "X",
        "price": "1.00", "priceCurrency": "EUR", "published": "2999-01-01T00:00:00Z"
    });
    let p = parse_remote_product(&note, "https://m.example/u").unwrap();
    assert!(p.published <= crate::domain::now_ms());
}

//! Order messages against the fixtures in `tests/fixtures/ap/fedishop/`: what we send is
//! exactly the fixture (set `FEDISHOP_UPDATE_FIXTURES=1` to rewrite them after a deliberate
//! change), what we read from them is right, and hostile variants are refused.

use serde_json::{json, Value};

use super::wire::*;
use crate::domain::catalog::Shop;
use crate::domain::ids::{ProductId, ShopId, UserId};
use crate::domain::money::{Currency, Money};
use crate::domain::orders::remote::RemoteRequest;
use crate::domain::orders::{Address, Buyer, Order, OrderLine, OrderStatus, PaymentMethod};
use crate::domain::social::RemoteActor;
use crate::urls::Urls;

const PRODUCT: &str = "0190f5c2-7d3a-7b4e-9a1c-3f5e6d7c8b9a";
const OFFER: &str = "https://buyer.example/activities/0190f5c3-0000-7000-8000-000000000001";
const BOB: &str = "https://buyer.example/users/bob";

fn shop_urls() -> Urls {
    Urls::new("https://shop.example")
}

fn shop() -> Shop {
    Shop {
        id: ShopId::from_db("0190f5c2-0000-7000-8000-00000000000a".into()),
        owner_id: UserId::from_db("0190f5c2-0000-7000-8000-00000000000b".into()),
        handle: "teashop".into(),
        name: "Tea Shop".into(),
        summary: String::new(),
        summary_html: String::new(),
        avatar: None,
        banner: None,
        links: vec![],
        manually_approves_followers: false,
        created_at: 0,
        updated_at: 0,
    }
}

fn shop_actor() -> RemoteActor {
    RemoteActor {
        id: "https://shop.example/shops/teashop".into(),
        kind: "Organization".into(),
        username: "teashop".into(),
        host: "shop.example".into(),
        name: "Tea Shop".into(),
        summary_html: String::new(),
        url: None,
        icon_url: None,
        inbox: "https://shop.example/shops/teashop/inbox".into(),
        shared_inbox: Some("https://shop.example/inbox".into()),
        followers: None,
        key_id: "https://shop.example/shops/teashop#main-key".into(),
        public_key_pem: String::new(),
        fetched_at: 0,
    }
}

fn product_url() -> String {
    format!("https://shop.example/shops/teashop/products/{PRODUCT}")
}

fn request() -> RemoteRequest {
    RemoteRequest {
        product: product_url(),
        product_title: "Sencha".into(),
        variant: Some("TEA-100".into()),
        quantity: 2,
        shipping: Address {
            name: "Bob Buyer".into(),
            address_lines: vec!["7 Garden Lane".into(), "Flat 2".into()],
            city: "Lyon".into(),
            postal_code: "69001".into(),
            country: "FR".into(),
            phone: "+33 1 23 45 67 89".into(),
        },
        email: "bob@example.org".into(),
        shipping_option: Some("standard".into()),
        payment_method: PaymentMethod::PaymentLink,
        note: "Ring twice".into(),
    }
}

fn order(status: OrderStatus) -> Order {
    let eur = Currency::from_code("EUR").unwrap();
    Order {
        id: "0190f5c4-0000-7000-8000-000000000002".into(),
        number: "7KQ2M-XR4TB".into(),
        shop_id: shop().id,
        status,
        buyer: Buyer::Remote {
            actor: BOB.into(),
            inbox: format!("{BOB}/inbox"),
            offer_id: OFFER.into(),
        },
        email: "bob@example.org".into(),
        address: request().shipping,
        buyer_note: String::new(),
        shipping_option: "Standard".into(),
        shipping: Money::new(400, eur),
        payment_method: PaymentMethod::PaymentLink,
        payment_instructions: "Pay by card on our page.".into(),
        payment_url: Some("https://pay.example/teashop".into()),
        lines: vec![OrderLine {
            product_id: ProductId::parse(PRODUCT).unwrap(),
            variant_id: Some("0190f5c2-0000-7000-8000-00000000000c".into()),
            title: "Sencha".into(),
            variant_title: "100 g".into(),
            sku: "TEA-100".into(),
            unit_price: Money::new(800, eur),
            quantity: 2,
            line_total: Money::new(1600, eur),
        }],
        subtotal: Money::new(1600, eur),
        total: Money::new(2000, eur),
        carrier: (status == OrderStatus::Shipped).then(|| "DHL".into()),
        tracking: (status == OrderStatus::Shipped).then(|| "TRACK-123".into()),
        reason: None,
        hold_until: None,
        created_at: 1_767_225_600_000,
        updated_at: 1_767_225_600_000
            + if status == OrderStatus::Shipped {
                86_400_000
            } else {
                0
            },
        paid_at: None,
        shipped_at: None,
        delivered_at: None,
        closed_at: None,
        address_erased: false,
    }
}

/// Compares with a fixture (or rewrites it when `FEDISHOP_UPDATE_FIXTURES` is set).
fn fixture(name: &str, sent: &Value) -> Value {
    let path = format!(
        "{}/tests/fixtures/ap/fedishop/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("FEDISHOP_UPDATE_FIXTURES").is_some() {
        let text = serde_json::to_string_pretty(sent).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(&stored, sent, "{name} differs from what we send");
    stored
}

#[test]
fn the_offer_carries_the_request_and_reads_back() {
    let sent = offer(OFFER, BOB, "https://shop.example/shops/teashop", &request());
    let offer = fixture("order-offer.json", &sent);
    let parsed = parse_offer(&shop_urls(), &shop(), &offer["object"]).unwrap();
    assert_eq!(parsed.lines.len(), 1);
    assert_eq!(parsed.lines[0].product, PRODUCT);
    assert_eq!(parsed.lines[0].quantity, 2);
    assert_eq!(parsed.lines[0].variant.as_deref(), Some("TEA-100"));
    assert_eq!(parsed.address, request().shipping);
    assert_eq!(parsed.payment_method, "payment_link");
    assert_eq!(parsed.shipping_option.as_deref(), Some("standard"));
    assert_eq!(parsed.email, "bob@example.org");
    assert_eq!(parsed.note, "Ring twice");
    // Declared terms: every key we use is in the context.
    let ctx = order_context();
    for key in [
        "stipulates",
        "deliveryAddress",
        "paymentMethod",
        "variant",
        "satisfies",
    ] {
        assert!(ctx[1].get(key).is_some(), "{key}");
    }
}

#[test]
fn a_hostile_offer_is_answered_with_a_reason() {
    let urls = shop_urls();
    let base = offer(OFFER, BOB, "https://shop.example/shops/teashop", &request());
    let bad = |f: &dyn Fn(&mut Value)| {
        let mut o = base["object"].clone();
        f(&mut o);
        parse_offer(&urls, &shop(), &o).unwrap_err()
    };
    // A product of another shop, here or elsewhere.
    let other = format!("https://shop.example/shops/other/products/{PRODUCT}");
    assert!(bad(&|o| o["stipulates"]["resourceConformsTo"] = json!(other)).contains("this shop"));
    let far = format!("https://evil.example/shops/teashop/products/{PRODUCT}");
    assert!(bad(&|o| o["stipulates"]["resourceConformsTo"] = json!(far)).contains("this shop"));
    // Not a whole quantity, a wrong unit, a variant that is not text.
    let q = |v: Value| move |o: &mut Value| o["stipulates"]["resourceQuantity"] = v.clone();
    assert!(bad(&q(json!({"hasUnit": "one", "hasNumericalValue": "1.5"}))).contains("quantity"));
    assert!(bad(&q(json!({"hasUnit": "kg", "hasNumericalValue": "1"}))).contains("quantity"));
    assert!(bad(&|o| o["stipulates"]["variant"] = json!({"x": 1})).contains("variant"));
    assert!(bad(&|o| o["stipulates"] = json!(vec![json!({}); 51])).contains("at most"));
    assert!(bad(&|o| {
        o.as_object_mut().unwrap().remove("deliveryAddress");
    })
    .contains("address"));
    // Reasons never repeat what was sent.
    assert!(!bad(&|o| o["stipulates"]["variant"] = json!(7)).contains("Garden"));
}

#[test]
fn the_accept_carries_the_shops_order_without_the_address() {
    let urls = shop_urls();
    let agreement = agreement(&urls, &shop(), &order(OrderStatus::Pending));
    let sent = accept(
        "https://shop.example/activities/0190f5c4-0000-7000-8000-000000000003",
        "https://shop.example/shops/teashop",
        BOB,
        OFFER,
        agreement,
    );
    let accept = fixture("order-accept.json", &sent);
    let text = accept.to_string();
    assert!(!text.contains("Garden") && !text.contains("bob@example.org"));
    assert_eq!(offer_of(&accept["object"]), Some((OFFER, true)));
    let (r, offer) = parse_agreement(&accept["result"], &shop_actor()).unwrap();
    assert_eq!(offer.as_deref(), Some(OFFER));
    assert_eq!(r.number, "7KQ2M-XR4TB");
    assert_eq!(r.status, "pending");
    assert_eq!((r.total.as_str(), r.currency.as_str()), ("20.00", "EUR"));
    assert_eq!(r.shipping_price, "4.00");
    assert_eq!(
        r.payment_url.as_deref(),
        Some("https://pay.example/teashop")
    );
    assert_eq!(r.lines[0].unit_price, "8.00");
    assert_eq!(r.lines[0].variant.as_deref(), Some("100 g"));
    assert_eq!(
        r.order_ref,
        "https://shop.example/orders/0190f5c4-0000-7000-8000-000000000002"
    );
}

#[test]
fn an_update_tells_status_and_tracking() {
    let urls = shop_urls();
    let agreement = agreement(&urls, &shop(), &order(OrderStatus::Shipped));
    let sent = update(
        "https://shop.example/activities/0190f5c4-0000-7000-8000-000000000004",
        "https://shop.example/shops/teashop",
        BOB,
        agreement,
    );
    let update = fixture("order-update.json", &sent);
    let (r, _) = parse_agreement(&update["object"], &shop_actor()).unwrap();
    assert_eq!(r.status, "shipped");
    assert_eq!(r.carrier.as_deref(), Some("DHL"));
    assert_eq!(r.tracking.as_deref(), Some("TRACK-123"));
    assert_eq!(r.updated, 1_767_225_600_000 + 86_400_000);
}

#[test]
fn a_reject_and_an_undo_name_the_offer() {
    let sent = reject(
        "https://shop.example/activities/0190f5c4-0000-7000-8000-000000000005",
        "https://shop.example/shops/teashop",
        BOB,
        OFFER,
        "invalid input; lines[0].quantity only 1 left",
    );
    let r = fixture("order-reject.json", &sent);
    assert_eq!(offer_of(&r["object"]), Some((OFFER, true)));
    assert!(reject_reason(&r).contains("only 1 left"));
    assert_eq!(reject_reason(&json!({})), "the shop declined the order");
    let sent = undo(
        "https://buyer.example/activities/0190f5c4-0000-7000-8000-000000000006",
        BOB,
        "https://shop.example/shops/teashop",
        OFFER,
    );
    let u = fixture("order-undo.json", &sent);
    assert_eq!(offer_of(&u["object"]), Some((OFFER, true)));
}

#[test]
fn a_hostile_agreement_is_refused() {
    let urls = shop_urls();
    let good = agreement(&urls, &shop(), &order(OrderStatus::Pending));
    let refused = |f: &dyn Fn(&mut Value)| {
        let mut a = good.clone();
        f(&mut a);
        parse_agreement(&a, &shop_actor()).unwrap_err().status()
    };
    assert_eq!(
        refused(&|a| a["id"] = json!("https://evil.example/orders/1")),
        403
    );
    assert_eq!(
        refused(&|a| a["attributedTo"] = json!("https://shop.example/shops/other")),
        403
    );
    assert_eq!(refused(&|a| a["orderStatus"] = json!("teleported")), 400);
    assert_eq!(refused(&|a| a["totalPrice"] = json!("-1")), 400);
    assert_eq!(refused(&|a| a["totalPrice"] = json!(20)), 400);
    assert_eq!(refused(&|a| a["priceCurrency"] = json!("XXX1")), 400);
    assert_eq!(refused(&|a| a["type"] = json!("Note")), 400);
    // Long texts are clipped, control characters dropped, links must be http(s).
    let mut a = good.clone();
    a["paymentInstructions"] = json!(format!("pay\u{202E}{}", "x".repeat(5000)));
    a["url"] = json!([{"type": "Link", "rel": ["payment"], "href": "javascript:alert(1)"}]);
    let (r, _) = parse_agreement(&a, &shop_actor()).unwrap();
    assert_eq!(r.payment_instructions.chars().count(), 2000);
    assert!(r.payment_instructions.starts_with("payx"));
    assert_eq!(r.payment_url, None);
}

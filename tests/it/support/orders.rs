//! Two federating instances for order tests: shop `teashop` of alice on one (Sencha, 8.00 EUR,
//! 5 in stock; bank transfer or a payment page; standard shipping 4.00), member bob on the other.

use fedishop::db;
use fedishop::domain::accounts::{Role, User};
use fedishop::domain::ids::ProductId;
use fedishop::domain::orders::checkout::{CheckoutSettings, PaymentOption, ShippingOption};
use fedishop::domain::orders::{service, PaymentMethod};
use serde_json::json;

use super::TestApp;

pub struct Pair {
    pub shop: TestApp,
    pub member: TestApp,
    pub alice: User,
    pub bob: User,
    pub product: String,
    pub product_id: ProductId,
}

pub async fn pair() -> Pair {
    let shop = TestApp::spawn_federating().await;
    let member = TestApp::spawn_federating().await;
    let token = shop.seller_with_shop("alice", "teashop").await;
    let alice = db::users::by_username(&shop.state.store, "alice")
        .await
        .unwrap()
        .unwrap();
    let settings = CheckoutSettings {
        payment_methods: vec![
            PaymentOption {
                method: PaymentMethod::BankTransfer,
                details: "IBAN DE00 1234, Alice Tea".into(),
                url: None,
            },
            PaymentOption {
                method: PaymentMethod::PaymentLink,
                details: "Pay by card".into(),
                url: Some("https://pay.example/teashop".into()),
            },
        ],
        shipping_options: vec![ShippingOption {
            id: "standard".into(),
            name: "Standard".into(),
            price: "4.00".into(),
            currency: "EUR".into(),
            countries: vec![],
        }],
        hold_hours: 72,
        notify_email: None,
    };
    service::update_settings(&shop.state.store, &alice, "teashop", &settings)
        .await
        .unwrap();
    let p = shop
        .product(
            &token,
            "teashop",
            json!({"title": "Sencha", "price": "8.00", "currency": "EUR", "stock": 5, "status": "published"}),
        )
        .await;
    let product_id = ProductId::parse(p["id"].as_str().unwrap()).unwrap();
    let product = shop.state.urls.product("teashop", &product_id);
    let (bob, _) = member.user("bob", Role::Member).await;
    Pair {
        shop,
        member,
        alice,
        bob,
        product,
        product_id,
    }
}

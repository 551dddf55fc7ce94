use super::checkout::{self, CheckoutSettings, PaymentOption, ShippingOption};
use super::validate::{self, LineRequest, OrderRequest};
use super::*;
use crate::error::Problem;

use OrderStatus::*;
use PaymentMethod::*;

#[test]
fn statuses_round_trip() {
    for s in OrderStatus::ALL {
        assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(OrderStatus::parse("lost"), None);
}

#[test]
fn seller_moves_an_order_along_the_happy_path() {
    for (a, b) in [(Pending, Paid), (Paid, Shipped), (Shipped, Delivered)] {
        assert!(check_transition(a, b, Party::Seller, BankTransfer).is_ok());
    }
    for from in [Paid, Shipped, Delivered] {
        assert!(check_transition(from, Refunded, Party::Seller, BankTransfer).is_ok());
    }
}

#[test]
fn illegal_transitions_are_refused() {
    // Final states never move.
    for from in [Cancelled, Refunded, Expired] {
        for to in OrderStatus::ALL {
            for by in [Party::Seller, Party::Buyer, Party::System] {
                assert!(check_transition(from, to, by, BankTransfer).is_err());
            }
        }
    }
    // Skipping payment needs a pay-on-hand-over method.
    assert!(check_transition(Pending, Shipped, Party::Seller, BankTransfer).is_err());
    assert!(check_transition(Pending, Shipped, Party::Seller, CashOnDelivery).is_ok());
    assert!(check_transition(Pending, Delivered, Party::Seller, CashOnDelivery).is_err());
    assert!(check_transition(Pending, Delivered, Party::Seller, PayAtPickup).is_ok());
    // Going back is never allowed.
    assert!(check_transition(Shipped, Paid, Party::Seller, BankTransfer).is_err());
    assert!(check_transition(Delivered, Shipped, Party::Seller, BankTransfer).is_err());
    // Cancelling after payment is a refund.
    assert!(check_transition(Paid, Cancelled, Party::Seller, BankTransfer).is_err());
}

#[test]
fn a_buyer_can_only_cancel_an_unpaid_order() {
    assert!(check_transition(Pending, Cancelled, Party::Buyer, BankTransfer).is_ok());
    for to in [Paid, Shipped, Delivered, Refunded, Expired] {
        let e = check_transition(Pending, to, Party::Buyer, BankTransfer).unwrap_err();
        assert_eq!(e.by, Party::Buyer);
    }
    assert!(check_transition(Paid, Cancelled, Party::Buyer, BankTransfer).is_err());
}

#[test]
fn only_orders_paid_in_advance_expire() {
    assert!(check_transition(Pending, Expired, Party::System, BankTransfer).is_ok());
    assert!(check_transition(Pending, Expired, Party::System, PaymentLink).is_ok());
    assert!(check_transition(Pending, Expired, Party::System, CashOnDelivery).is_err());
    assert!(check_transition(Paid, Expired, Party::System, BankTransfer).is_err());
    assert!(check_transition(Pending, Expired, Party::Seller, BankTransfer).is_err());
}

#[test]
fn stock_comes_back_only_when_the_goods_never_left() {
    assert!(releases_stock(Pending, Cancelled));
    assert!(releases_stock(Pending, Expired));
    assert!(releases_stock(Paid, Refunded));
    assert!(!releases_stock(Shipped, Refunded));
    assert!(!releases_stock(Delivered, Refunded));
    assert!(!releases_stock(Pending, Paid));
}

#[test]
fn payment_is_recorded_only_when_the_seller_has_it() {
    assert!(records_payment(Pending, Paid, BankTransfer));
    assert!(records_payment(Shipped, Delivered, CashOnDelivery));
    assert!(records_payment(Pending, Delivered, PayAtPickup));
    assert!(!records_payment(Paid, Shipped, BankTransfer));
    assert!(!records_payment(Shipped, Delivered, BankTransfer));
    assert!(!records_payment(Paid, Delivered, PayAtPickup));
}

fn request() -> OrderRequest {
    OrderRequest {
        lines: vec![LineRequest {
            product: "0193a0f4-7c1e-7000-8000-000000000001".into(),
            variant: None,
            quantity: 2,
        }],
        email: "ann@example.org".into(),
        address: Address {
            name: "Ann".into(),
            address_lines: vec!["1 Main St".into()],
            city: "Town".into(),
            postal_code: "12345".into(),
            country: "de".into(),
            phone: String::new(),
        },
        shipping_option: None,
        payment_method: "bank_transfer".into(),
        note: String::new(),
        idempotency_key: Some("k1".into()),
    }
}

fn problem(r: &OrderRequest, field: &str) -> Option<Problem> {
    let e = validate::request(r, true).unwrap_err();
    e.fields.get(field).cloned()
}

#[test]
fn a_valid_request_is_normalised() {
    let v = validate::request(&request(), true).unwrap();
    assert_eq!(v.address.country, "DE");
    assert_eq!(v.payment_method, BankTransfer);
    assert_eq!(
        v.fingerprint(),
        validate::request(&request(), true).unwrap().fingerprint()
    );
    let mut other = request();
    other.lines[0].quantity = 3;
    assert_ne!(
        v.fingerprint(),
        validate::request(&other, true).unwrap().fingerprint()
    );
    // The idempotency key is not part of what the order is.
    let mut rekeyed = request();
    rekeyed.idempotency_key = Some("k2".into());
    assert_eq!(
        v.fingerprint(),
        validate::request(&rekeyed, true).unwrap().fingerprint()
    );
}

#[test]
fn bad_quantities_are_refused() {
    for q in [0, -1, 1001, i64::MAX, i64::MIN] {
        let mut r = request();
        r.lines[0].quantity = q;
        assert_eq!(
            problem(&r, "lines[0].quantity"),
            Some(Problem::OutOfRange { min: 1, max: 1000 }),
            "{q}"
        );
    }
    // The same product twice adds up, and the sum is checked too.
    let mut r = request();
    r.lines[0].quantity = 600;
    r.lines.push(r.lines[0].clone());
    assert!(problem(&r, "lines[1].quantity").is_some());
}

#[test]
fn missing_or_oversized_fields_are_named() {
    let mut r = request();
    r.address.address_lines.clear();
    r.address.country = "Germany".into();
    r.email = "not-an-address".into();
    r.payment_method = "bitcoin".into();
    r.note = "x".repeat(1001);
    r.lines[0].product = "../etc".into();
    let e = validate::request(&r, true).unwrap_err();
    for f in [
        "shipping.address_lines",
        "shipping.country",
        "email",
        "payment_method",
        "note",
        "lines[0].product",
    ] {
        assert!(e.fields.get(f).is_some(), "{f}: {:?}", e.fields);
    }
    let mut r = request();
    r.email.clear();
    assert_eq!(problem(&r, "email"), Some(Problem::Required));
    assert!(validate::request(&r, false).is_ok());
    let mut r = request();
    r.address.name = "A\u{202E}nn".into();
    assert_eq!(
        problem(&r, "shipping.name"),
        Some(Problem::ForbiddenCharacters)
    );
    let mut r = request();
    r.lines = vec![];
    assert_eq!(problem(&r, "lines"), Some(Problem::Required));
}

#[test]
fn checkout_settings_are_validated() {
    let good = CheckoutSettings {
        payment_methods: vec![
            PaymentOption {
                method: BankTransfer,
                details: "IBAN DE00 0000".into(),
                url: None,
            },
            PaymentOption {
                method: PaymentLink,
                details: String::new(),
                url: Some("https://pay.example/tea".into()),
            },
        ],
        shipping_options: vec![ShippingOption {
            id: "Standard".into(),
            name: "Standard parcel".into(),
            price: "4.9".into(),
            currency: "eur".into(),
            countries: vec!["de".into(), "AT".into(), "DE".into()],
        }],
        hold_hours: 48,
        notify_email: Some("seller@tea.example".into()),
    };
    let v = checkout::validate(&good).unwrap();
    assert_eq!(v.shipping_options[0].id, "standard");
    assert_eq!(v.shipping_options[0].price, "4.90");
    assert_eq!(v.shipping_options[0].countries, vec!["DE", "AT"]);
    assert!(v.is_open());

    let mut bad = good.clone();
    bad.payment_methods[0].details.clear(); // bank transfer needs details
    bad.payment_methods[1].url = Some("javascript:alert(1)".into());
    bad.shipping_options[0].price = "-1".into();
    bad.shipping_options[0].countries = vec!["Deutschland".into()];
    bad.hold_hours = 0;
    bad.notify_email = Some("nope".into());
    let e = checkout::validate(&bad).unwrap_err();
    for f in [
        "payment_methods[0].details",
        "payment_methods[1].url",
        "shipping_options[0].price",
        "shipping_options[0].countries",
        "hold_hours",
        "notify_email",
    ] {
        assert!(e.fields.get(f).is_some(), "{f}: {:?}", e.fields);
    }
    let mut dup = good;
    dup.payment_methods.push(dup.payment_methods[0].clone());
    assert!(checkout::validate(&dup).is_err());
}

#[test]
fn order_numbers_are_readable_and_distinct() {
    let a = service::new_number();
    assert_eq!(a.len(), 11);
    assert_eq!(&a[5..6], "-");
    assert!(!a.contains(['I', 'L', 'O', 'U']));
    let many: std::collections::HashSet<String> =
        (0..1000).map(|_| service::new_number()).collect();
    assert_eq!(many.len(), 1000);
}

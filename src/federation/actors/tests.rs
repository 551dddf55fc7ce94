//! The shop actor document is snapshot-tested (`tests/fixtures/snapshots/shop_actor.json`;
//! `UPDATE_SNAPSHOTS=1` rewrites it) and round-trips through the wire struct and our own
//! reader of remote actors.

use super::*;
use crate::domain::catalog::ShopLink;
use crate::domain::ids::{ShopId, UserId};

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/snapshots/shop_actor.json"
);

const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtest\n-----END PUBLIC KEY-----\n";

fn shop() -> Shop {
    Shop {
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
            url: "https://blog.example/?a=1&b=<2>".into(),
        }],
        manually_approves_followers: true,
        created_at: 1_790_000_000_000,
        updated_at: 1_790_000_000_000,
    }
}

#[test]
fn the_shop_actor_matches_its_snapshot() {
    let doc = shop_actor_doc(&Urls::new("https://shop.example"), &shop(), PEM.into());
    let actual = serde_json::to_string_pretty(&doc).unwrap() + "\n";
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
fn the_shop_actor_round_trips() {
    let doc = shop_actor_doc(&Urls::new("https://shop.example"), &shop(), PEM.into());
    let value = serde_json::to_value(&doc).unwrap();
    let back: Actor = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(back, doc);
    let remote = parse_remote_actor(&value, 5).unwrap();
    assert_eq!(remote.id, "https://shop.example/shops/teashop");
    assert_eq!(remote.kind, "Organization");
    assert_eq!(remote.handle(), "@teashop@shop.example");
    assert_eq!(
        remote.shared_inbox.as_deref(),
        Some("https://shop.example/inbox")
    );
    assert_eq!(remote.key_id, "https://shop.example/shops/teashop#main-key");
    assert_eq!(remote.public_key_pem, PEM);
    assert!(doc.attachment[0].value.contains("b=&lt;2&gt;"));
}

#[test]
fn actors_that_point_elsewhere_are_refused() {
    let doc = shop_actor_doc(&Urls::new("https://shop.example"), &shop(), PEM.into());
    let mut v = serde_json::to_value(&doc).unwrap();
    v["inbox"] = serde_json::json!("https://evil.example/inbox");
    assert!(parse_remote_actor(&v, 0).is_err());
    let mut v = serde_json::to_value(&doc).unwrap();
    v["type"] = serde_json::json!("Note");
    assert!(parse_remote_actor(&v, 0).is_err());
    let mut v = serde_json::to_value(&doc).unwrap();
    v["publicKey"]["id"] = serde_json::json!("https://evil.example/key");
    assert!(parse_remote_actor(&v, 0).is_err());
}

#[test]
fn the_key_cache_keeps_fresh_keys_bounded_and_forgets_actors() {
    let (public, _) = crate::federation::signatures::generate_key_pair().unwrap();
    let key = Arc::new(crate::federation::signatures::parse_verifying_key(&public).unwrap());
    let doc = shop_actor_doc(&Urls::new("https://shop.example"), &shop(), public);
    let actor = parse_remote_actor(&serde_json::to_value(&doc).unwrap(), 0).unwrap();

    let cache = KeyCache::new(10, Duration::from_secs(3600));
    cache.insert(&actor.key_id, &actor, key.clone());
    let hit = cache.get(&actor.key_id).expect("cached");
    assert_eq!(hit.owner.id, actor.id);
    assert_eq!(hit.owner.host, "shop.example");
    assert!(cache.get("https://shop.example/other#main-key").is_none());
    // Bounded: the oldest go when it is full.
    for i in 0..25 {
        cache.insert(
            &format!("https://k{i}.example/a#main-key"),
            &actor,
            key.clone(),
        );
        assert!(cache.len() <= 10);
    }
    // An updated or deleted actor's keys are forgotten.
    cache.forget_actor(&actor.id);
    assert!(cache.is_empty());
    // Expired entries are not served.
    let expired = KeyCache::new(10, Duration::ZERO);
    expired.insert(&actor.key_id, &actor, key);
    assert!(expired.get(&actor.key_id).is_none());
}

//! Buying from a shop on another server through the web pages: two instances on loopback,
//! a member of one follows a shop of the other, buys from the feed's "Buy" link, follows the
//! order on its page until the shop's number and total arrive, finds it under My orders and
//! cancels it. Also: another member's 404, a bad form keeping what was typed and ordering
//! nothing, a double submission making one order, and a rejected order with the shop's reason.

use fedishop::db;
use fedishop::domain::accounts::Role;
use fedishop::domain::ids::ProductId;
use fedishop::federation::orders::send;
use reqwest::header::{CACHE_CONTROL, LOCATION, REFERRER_POLICY};
use reqwest::StatusCode;

use crate::support::browser::Browser;
use crate::support::eventually;
use crate::support::orders::{pair, Pair};

const STREET: &str = "7 Secret Garden Lane";

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The value of the hidden field `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("type=\"hidden\" name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no hidden {name}"));
    let rest = &html[at..];
    let v = rest.find("value=\"").unwrap() + 7;
    rest[v..v + rest[v..].find('"').unwrap()].to_string()
}

fn buy_path(product: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(product.as_bytes()).collect();
    format!("/buy?product={id}")
}

/// A complete buy form for `product` with the form's `token`.
fn fields<'a>(product: &'a str, token: &'a str, quantity: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("product", product),
        ("token", token),
        ("quantity", quantity),
        ("variant", ""),
        ("email", "bob@example.org"),
        ("ship_name", "Bob Buyer"),
        ("ship_line1", STREET),
        ("ship_line2", ""),
        ("ship_line3", ""),
        ("ship_postal", "69001"),
        ("ship_city", "Lyon"),
        ("ship_country", "FR"),
        ("ship_phone", ""),
        ("shipping_option", ""),
        ("payment_method", "payment_link"),
        ("note", "Ring twice"),
    ]
}

fn assert_private(resp: &reqwest::Response) {
    let h = resp.headers();
    assert_eq!(h.get(CACHE_CONTROL).unwrap(), "no-store");
    assert_eq!(h.get(REFERRER_POLICY).unwrap(), "no-referrer");
    assert_eq!(h.get("x-robots-tag").unwrap(), "noindex, nofollow");
}

async fn remote_count(p: &Pair) -> usize {
    send::remote_orders_of(&p.member.state, &p.bob)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_member_buys_from_the_feed_follows_the_order_and_cancels_it() {
    let p = pair().await;
    let bob = Browser::signed_in(&p.member, "bob").await;
    let handle = format!("@teashop@{}", p.shop.domain());
    let resp = bob
        .submit("/follows", &[("target", &handle), ("back", "/feed")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let buy = buy_path(&p.product);
    eventually("the Buy link in the feed", || async {
        let (_, html) = bob.get("/feed").await;
        html.contains(&format!("href=\"{}\"", buy.replace('&', "&amp;")))
            .then_some(())
    })
    .await;

    // The form shows the stored product and carries a one-time token.
    let resp = bob
        .client
        .get(format!("{}{buy}", bob.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_private(&resp);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Sencha") && html.contains("€8.00"), "{html}");
    assert!(html.contains(&handle));
    assert!(html.contains("give the shop&#39;s SKU") || html.contains("give the shop's SKU"));
    let token = hidden(&html, "token");
    assert_eq!(hidden(&html, "product"), p.product);

    let resp = bob.submit("/buy", &fields(&p.product, &token, "2")).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "{}",
        resp.text().await.unwrap()
    );
    let page = location(&resp);
    assert!(page.starts_with("/orders/remote/"), "{page}");
    let id = page.trim_start_matches("/orders/remote/").to_string();

    // Requested at first (or already accepted); then the shop's number and total.
    let resp = bob
        .client
        .get(format!("{}{page}", bob.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_private(&resp);
    let html = resp.text().await.unwrap();
    assert!(html.contains(STREET) && html.contains("Ring twice"));
    assert!(
        html.contains("waiting for its answer") || html.contains("status-pending"),
        "{html}"
    );
    let offer = send::remote_order_of(&p.member.state, &p.bob, &id)
        .await
        .unwrap()
        .offer_id;
    let number = eventually("the shop's order", || async {
        db::orders::by_offer(&p.shop.state.store, &offer)
            .await
            .unwrap()
    })
    .await
    .number;
    let html = eventually("the shop's answer on the order page", || async {
        let (_, html) = bob.get(&page).await;
        (html.contains(&number) && html.contains("status-pending")).then_some(html)
    })
    .await;
    assert!(html.contains("€20.00"), "total: {html}");
    assert!(html.contains("€16.00") && html.contains("€4.00"));
    assert!(
        html.contains("href=\"https://pay.example/teashop\""),
        "{html}"
    );
    assert!(html.contains("Cancel order"));
    assert!(!html.contains("waiting for its answer"));

    // My orders lists it in the second section.
    let (status, list) = bob.get("/orders").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("Orders with shops on other servers"));
    assert!(list.contains(&format!("href=\"{page}\"")));
    assert!(list.contains(&number) && list.contains("€20.00") && list.contains("Pending"));

    // Another member of the same server sees nothing.
    p.member.user("carol", Role::Member).await;
    let carol = Browser::signed_in(&p.member, "carol").await;
    let resp = carol
        .client
        .get(format!("{}{page}", carol.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_private(&resp);
    let resp = carol.submit(&format!("{page}/cancel"), &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let (_, carols) = carol.get("/orders").await;
    assert!(!carols.contains(&page));
    // Signed out: to the sign-in page.
    let anon = Browser::new(&p.member);
    let resp = anon
        .client
        .get(format!("{}{page}", anon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resp), "/login");

    // Cancelling needs the CSRF token, then asks the shop; the shop confirms.
    let resp = bob.post(&format!("{page}/cancel"), &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = bob.submit(&format!("{page}/cancel"), &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), format!("{page}?cancel=asked"));
    eventually("the cancellation confirmed by the shop", || async {
        let (_, html) = bob.get(&page).await;
        (html.contains("status-cancelled") && !html.contains("Cancel order")).then_some(())
    })
    .await;
    // Cancelling again is refused on the page.
    let resp = bob.submit(&format!("{page}/cancel"), &[]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_private(&resp);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("can no longer be cancelled"));
}

#[tokio::test]
async fn a_bad_form_keeps_what_was_typed_and_orders_nothing() {
    let p = pair().await;
    let bob = Browser::signed_in(&p.member, "bob").await;
    // Not in the feed yet: the product id only.
    let (status, html) = bob.get(&buy_path(&p.product)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("not known here yet"));
    let token = hidden(&html, "token");

    let mut bad = fields(&p.product, &token, "0");
    for (k, v) in bad.iter_mut() {
        if k.starts_with("ship_") {
            *v = "";
        }
        if *k == "variant" {
            *v = "SEN-XL";
        }
    }
    let resp = bob.submit("/buy", &bad).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_private(&resp);
    let html = resp.text().await.unwrap();
    for f in [
        "quantity",
        "ship_name",
        "ship_line1",
        "ship_city",
        "ship_country",
    ] {
        assert!(html.contains(&format!("id=\"{f}-error\"")), "{f}: {html}");
    }
    assert!(html.contains("value=\"SEN-XL\"") && html.contains("Ring twice"));
    assert!(html.contains("value=\"bob@example.org\""));
    assert!(html.contains("value=\"payment_link\" checked"));
    assert_eq!(
        hidden(&html, "token"),
        token,
        "the same form, the same token"
    );
    // Not a number is a field problem too.
    let resp = bob.submit("/buy", &fields(&p.product, &token, "two")).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("id=\"quantity-error\""));
    assert_eq!(remote_count(&p).await, 0);

    // Only http(s) products of other servers; ours go to their own page.
    let (status, _) = bob.get(&buy_path("ftp://example.org/p")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let local = p.member.state.urls.product("kiosk", &ProductId::new());
    let resp = bob
        .client
        .get(format!("{}{}", bob.base, buy_path(&local)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), &local[p.member.state.urls.base().len()..]);
    // Members only.
    let anon = Browser::new(&p.member);
    let resp = anon
        .client
        .get(format!("{}{}", anon.base, buy_path(&p.product)))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resp), "/login");
    assert_eq!(remote_count(&p).await, 0);
}

#[tokio::test]
async fn a_double_submit_is_one_order_and_a_rejection_shows_the_shops_reason() {
    let p = pair().await;
    let bob = Browser::signed_in(&p.member, "bob").await;
    let (_, html) = bob.get(&buy_path(&p.product)).await;
    let token = hidden(&html, "token");
    let first = bob.submit("/buy", &fields(&p.product, &token, "1")).await;
    let second = bob.submit("/buy", &fields(&p.product, &token, "1")).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&first), location(&second));
    assert_eq!(remote_count(&p).await, 1);
    // The same form with something else: refused, with a fresh token.
    let resp = bob.submit("/buy", &fields(&p.product, &token, "3")).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let html = resp.text().await.unwrap();
    assert_ne!(hidden(&html, "token"), token);
    assert!(html.contains("value=\"3\""));
    assert_eq!(remote_count(&p).await, 1);

    // More than the shop has: rejected, with the shop's reason; nothing to cancel.
    let (_, html) = bob.get(&buy_path(&p.product)).await;
    let token = hidden(&html, "token");
    let resp = bob.submit("/buy", &fields(&p.product, &token, "9")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let page = location(&resp);
    let html = eventually("the shop's rejection", || async {
        let (_, html) = bob.get(&page).await;
        html.contains("status-rejected").then_some(html)
    })
    .await;
    assert!(html.contains("did not accept this order"));
    assert!(html.contains("class=\"order-reason\""), "{html}");
    assert!(!html.contains("Cancel order"));
    let resp = bob.submit(&format!("{page}/cancel"), &[]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.text().await.unwrap().contains("status-rejected"));
    let (_, list) = bob.get("/orders").await;
    assert!(list.contains("Rejected") && list.contains("—"));
}

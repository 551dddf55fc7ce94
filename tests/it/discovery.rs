//! How other servers find us: WebFinger, host-meta, NodeInfo, the instance actor, and the
//! same URLs answering HTML to browsers and ActivityStreams JSON to servers.

use reqwest::StatusCode;
use serde_json::Value;

use fedishop::domain::accounts::Role;

use crate::support::TestApp;

async fn get(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("accept", accept)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn webfinger_finds_shops_members_and_the_instance_by_acct_and_url() {
    let app = TestApp::spawn().await;
    app.seller_with_shop("alice", "teashop").await;
    let domain = app.domain();
    for (resource, actor) in [
        (
            format!("acct:teashop@{domain}"),
            app.state.urls.shop("teashop"),
        ),
        (
            format!("acct:TeaShop@{domain}"),
            app.state.urls.shop("teashop"),
        ),
        (
            app.state.urls.shop("teashop"),
            app.state.urls.shop("teashop"),
        ),
        (format!("acct:alice@{domain}"), app.state.urls.user("alice")),
        (
            format!("acct:{domain}@{domain}"),
            app.state.urls.instance_actor(),
        ),
    ] {
        let resp = get(
            &app,
            &format!("/.well-known/webfinger?resource={resource}"),
            "application/jrd+json",
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK, "{resource}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/jrd+json"));
        let jrd: Value = resp.json().await.unwrap();
        let me = jrd["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "self")
            .unwrap();
        assert_eq!(me["href"], actor.as_str(), "{resource}");
        assert_eq!(me["type"], "application/activity+json");
        assert!(jrd["subject"].as_str().unwrap().starts_with("acct:"));
    }
    for missing in [
        format!("acct:nobody@{domain}"),
        "acct:teashop@elsewhere.example".to_string(),
        "https://elsewhere.example/shops/teashop".to_string(),
    ] {
        let resp = get(
            &app,
            &format!("/.well-known/webfinger?resource={missing}"),
            "application/jrd+json",
        )
        .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{missing}");
    }
    let resp = get(&app, "/.well-known/webfinger", "application/jrd+json").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn host_meta_and_nodeinfo_describe_the_instance() {
    let app = TestApp::spawn().await;
    let t = app.seller_with_shop("alice", "teashop").await;
    app.product(
        &t,
        "teashop",
        serde_json::json!({"title": "Oolong", "price": "1.00", "currency": "EUR", "stock": 1}),
    )
    .await;
    let xrd = get(&app, "/.well-known/host-meta", "*/*")
        .await
        .text()
        .await
        .unwrap();
    assert!(xrd.contains(&format!(
        "template=\"{}/.well-known/webfinger?resource={{uri}}\"",
        app.base
    )));
    let links: Value = get(&app, "/.well-known/nodeinfo", "application/json")
        .await
        .json()
        .await
        .unwrap();
    let rels: Vec<&str> = links["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert!(rels.contains(&"http://nodeinfo.diaspora.software/ns/schema/2.1"));
    assert!(rels.contains(&"http://nodeinfo.diaspora.software/ns/schema/2.0"));
    assert!(rels.contains(&"https://www.w3.org/ns/activitystreams#Application"));
    for version in ["2.0", "2.1"] {
        let resp = get(&app, &format!("/nodeinfo/{version}"), "application/json").await;
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains(&format!("schema/{version}#")));
        let ni: Value = resp.json().await.unwrap();
        assert_eq!(ni["version"], version);
        assert_eq!(ni["software"]["name"], "fedishop");
        assert_eq!(ni["protocols"], serde_json::json!(["activitypub"]));
        assert_eq!(ni["usage"]["users"]["total"], 1);
        assert_eq!(ni["usage"]["localPosts"], 1);
        assert_eq!(ni["openRegistrations"], false);
        let keys: Vec<&String> = ni.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 7, "only the schema's top-level keys: {keys:?}");
    }
}

#[tokio::test]
async fn one_url_serves_a_page_to_people_and_an_actor_to_servers() {
    let app = TestApp::spawn().await;
    let t = app.seller_with_shop("alice", "teashop").await;
    let p = app
        .product(&t, "teashop", serde_json::json!({"title": "Oolong", "price": "24.00", "currency": "EUR", "stock": 7, "tags": ["tea"]}))
        .await;
    let shop_url = app.state.urls.shop("teashop");
    for accept in [
        "application/activity+json",
        "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
        "application/activity+json, application/ld+json",
    ] {
        let resp = get(&app, "/shops/teashop", accept).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/activity+json"));
        let actor: Value = resp.json().await.unwrap();
        assert_eq!(actor["type"], "Organization");
        assert_eq!(actor["id"], shop_url.as_str());
        assert_eq!(actor["preferredUsername"], "teashop");
        assert_eq!(actor["inbox"], format!("{shop_url}/inbox"));
        assert_eq!(
            actor["endpoints"]["sharedInbox"],
            app.state.urls.shared_inbox()
        );
        assert_eq!(actor["publicKey"]["id"], format!("{shop_url}#main-key"));
        assert!(actor["publicKey"]["publicKeyPem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----"));
    }
    // Browsers get the page, with a pointer to the JSON.
    let page = get(
        &app,
        "/shops/teashop",
        "text/html,application/xhtml+xml,*/*;q=0.8",
    )
    .await;
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let link = page.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.contains("rel=\"alternate\"") && link.contains(&shop_url),
        "{link}"
    );
    // The product is a Note with both layers.
    let product_url = format!("{shop_url}/products/{}", p["id"].as_str().unwrap());
    let note: Value = app
        .client
        .get(&product_url)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(note["type"], "Note");
    assert_eq!(note["id"], product_url.as_str());
    assert_eq!(note["attributedTo"], shop_url.as_str());
    assert_eq!(note["price"], "24.00");
    assert_eq!(note["priceCurrency"], "EUR");
    assert_eq!(
        note["publishes"]["availableQuantity"]["hasNumericalValue"],
        "7"
    );
    assert!(note["content"]
        .as_str()
        .unwrap()
        .contains("<strong>Oolong</strong>"));
    assert_eq!(note["tag"][0]["name"], "#tea");
    // The instance actor is public and an Application named after the domain.
    let inst: Value = get(&app, "/actor", "application/activity+json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inst["type"], "Application");
    assert_eq!(inst["preferredUsername"], app.domain());
    for c in ["outbox", "followers", "following"] {
        let url = inst[c]
            .as_str()
            .unwrap()
            .strip_prefix(&app.base)
            .unwrap()
            .to_string();
        let resp = get(&app, &url, "application/activity+json").await;
        assert_eq!(resp.status(), StatusCode::OK, "{c}");
    }
    // Outbox: the Create of the product, paged.
    let outbox: Value = get(&app, "/shops/teashop/outbox", "application/activity+json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(outbox["type"], "OrderedCollection");
    let first = outbox["first"].as_str().unwrap().to_string();
    let page: Value = eventually_page(&app, &first).await;
    assert_eq!(page["orderedItems"][0]["type"], "Create");
    assert_eq!(
        page["orderedItems"][0]["object"]["id"],
        product_url.as_str()
    );
    // Drafts and unknown things are not served.
    let resp = get(&app, "/shops/nobody", "application/activity+json").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = get(&app, "/users/nobody", "application/activity+json").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    app.user("mia", Role::Member).await;
    let person: Value = get(&app, "/users/mia", "application/activity+json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(person["type"], "Person");
}

/// The outbox worker publishes shortly after the change: wait for the first item.
async fn eventually_page(app: &TestApp, url: &str) -> Value {
    crate::support::eventually("the outbox page", || async {
        let v: Value = app
            .client
            .get(url)
            .header("accept", "application/activity+json")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (v["orderedItems"].as_array()?.len() == 1).then_some(v)
    })
    .await
}

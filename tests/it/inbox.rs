//! The inbox against hostile and real-world input: every fixture of the corpus
//! (`tests/fixtures/ap/<software>/`, shaped as Mastodon, Pleroma/Akkoma, Misskey and
//! GoToSocial send them) is signed with that fixture actor's key, posted over HTTP and must
//! have its effect; forged, replayed, stale or misdirected requests must not. Checks that need
//! no I/O answer at once (401, 400, 413); what an activity may touch is checked when the inbox
//! worker applies it, after the 202, so those tests wait for the activity to be handled and
//! then look at what it did or why it was refused.

use fedishop::db::inbox::InboxEntry;
use fedishop::db::{follows, reactions, remote_actors};
use fedishop::federation::{actors, signatures};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{eventually, TestApp};

pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ap");

/// A fixture actor and its private key.
pub(crate) struct Remote {
    pub(crate) actor: Value,
    pub(crate) key_id: String,
    pub(crate) key: signatures::PrivateKey,
}

pub(crate) fn read(software: &str, name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{software}/{name}"))
        .unwrap_or_else(|e| panic!("{software}/{name}: {e}"))
}

impl Remote {
    pub(crate) fn load(software: &str) -> Remote {
        let actor: Value = serde_json::from_str(&read(software, "actor.json")).unwrap();
        let key_id = actor["publicKey"]["id"].as_str().unwrap().to_string();
        let key = signatures::parse_private_key(&read(software, "private-key.pem")).unwrap();
        Remote { actor, key_id, key }
    }

    pub(crate) fn id(&self) -> &str {
        self.actor["id"].as_str().unwrap()
    }

    /// Stores the actor as if fetched, so no network is needed to verify its signatures.
    pub(crate) async fn seed(&self, app: &TestApp) {
        let a = actors::parse_remote_actor(&self.actor, fedishop::domain::now_ms()).unwrap();
        remote_actors::upsert(&app.state.store, &a).await.unwrap();
    }
}

/// Substitutes the placeholders of a fixture.
pub(crate) fn fill(text: &str, app: &TestApp, product: &str) -> Value {
    let text = text
        .replace("{{base}}", &app.base)
        .replace("{{product}}", product);
    serde_json::from_str(&text).unwrap()
}

pub(crate) struct Post<'a> {
    pub(crate) path: &'a str,
    pub(crate) host: Option<String>,
    pub(crate) date_offset_secs: i64,
    pub(crate) tamper: bool,
}

impl Default for Post<'_> {
    fn default() -> Self {
        Post {
            path: "/inbox",
            host: None,
            date_offset_secs: 0,
            tamper: false,
        }
    }
}

pub(crate) async fn post_signed(
    app: &TestApp,
    by: &Remote,
    body: &Value,
    opts: Post<'_>,
) -> StatusCode {
    post_signed_response(app, by, body, opts).await.status()
}

/// Signs and posts `body` as `by`; the whole response.
pub(crate) async fn post_signed_response(
    app: &TestApp,
    by: &Remote,
    body: &Value,
    opts: Post<'_>,
) -> reqwest::Response {
    let body = body.to_string();
    let host = opts.host.unwrap_or_else(|| app.domain());
    let when = std::time::SystemTime::now()
        + std::time::Duration::from_secs(opts.date_offset_secs.max(0) as u64)
        - std::time::Duration::from_secs((-opts.date_offset_secs).max(0) as u64);
    let date = httpdate::fmt_http_date(when);
    let digest = signatures::digest_header(body.as_bytes());
    let signature = signatures::sign(
        &by.key,
        &by.key_id,
        &signatures::ToSign {
            method: "POST",
            path_and_query: opts.path,
            headers: vec![
                ("host", host.clone()),
                ("date", date.clone()),
                ("digest", digest.clone()),
                ("content-type", "application/activity+json".into()),
            ],
        },
    );
    let sent = if opts.tamper {
        body.replace("Is it smoky", "Is it cheap")
    } else {
        body
    };
    app.client
        .post(app.url(opts.path))
        .header("host", host)
        .header("date", date)
        .header("digest", digest)
        .header("content-type", "application/activity+json")
        .header("signature", signature)
        .body(sent)
        .send()
        .await
        .unwrap()
}

/// Waits until the inbox worker has handled activity `id` (applied or refused).
pub(crate) async fn settled(app: &TestApp, id: &str) -> InboxEntry {
    eventually("the inbox worker to handle the activity", || async {
        fedishop::db::inbox::entry(&app.state.store, id)
            .await
            .unwrap()
            .filter(|e| e.state != "queued")
    })
    .await
}

/// Posts `body` signed by `by`, expects 202 and waits until it was handled.
pub(crate) async fn deliver(app: &TestApp, by: &Remote, body: &Value) -> InboxEntry {
    let status = post_signed(app, by, body, Post::default()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    settled(app, body["id"].as_str().unwrap()).await
}

/// Posts `body`, which must be accepted and then applied.
pub(crate) async fn applied(app: &TestApp, by: &Remote, body: &Value) {
    let entry = deliver(app, by, body).await;
    assert_eq!(entry.state, "done", "{entry:?}: {body}");
    assert!(!entry.has_body, "a handled activity keeps only its id");
}

/// Posts `body`, which must be accepted and then refused by `receive` with a reason that
/// contains `why`.
pub(crate) async fn refused(app: &TestApp, by: &Remote, body: &Value, why: &str) {
    let entry = deliver(app, by, body).await;
    assert_eq!(entry.state, "failed", "{entry:?}: {body}");
    let error = entry.last_error.unwrap_or_default();
    assert!(
        error.contains(why),
        "refused for {error:?}, expected {why:?}"
    );
    assert!(!entry.has_body, "a refused activity keeps only its id");
}

pub(crate) async fn shop_with_product(app: &TestApp) -> String {
    let token = app.seller_with_shop("seller", "teashop").await;
    let p = app
        .product(
            &token,
            "teashop",
            json!({"title": "Oolong", "price": "24.00", "currency": "EUR", "stock": 7, "status": "published"}),
        )
        .await;
    format!(
        "{}/shops/teashop/products/{}",
        app.base,
        p["id"].as_str().unwrap()
    )
}

#[tokio::test]
async fn every_fixture_of_every_server_is_processed() {
    for software in ["mastodon", "pleroma", "misskey", "gotosocial"] {
        let app = TestApp::spawn().await;
        let product = shop_with_product(&app).await;
        let remote = Remote::load(software);
        remote.seed(&app).await;
        let shop = app.state.urls.shop("teashop");
        let store = &app.state.store;
        let send = |name: &'static str| {
            let doc = fill(&read(software, name), &app, &product);
            let remote = &remote;
            let app = &app;
            async move {
                let entry = deliver(app, remote, &doc).await;
                assert_eq!(entry.state, "done", "{software}/{name}: {entry:?}");
            }
        };
        send("follow.json").await;
        assert!(
            follows::get(store, remote.id(), &shop)
                .await
                .unwrap()
                .is_some(),
            "{software}: follow"
        );
        send("like.json").await;
        send("announce.json").await;
        send("reply.json").await;
        let counts = reactions::counts(store, &product).await.unwrap();
        assert_eq!(
            (counts.likes, counts.announces),
            (1, 1),
            "{software}: like and boost"
        );
        let replies = reactions::replies_to(store, &product, 10).await.unwrap();
        assert_eq!(replies.len(), 1, "{software}: reply");
        assert!(
            replies[0].content_html.contains("Is it smoky?"),
            "{software}: {}",
            replies[0].content_html
        );
        assert!(
            !replies[0].content_html.contains("<script"),
            "{software}: sanitised"
        );
        if std::path::Path::new(&format!("{FIXTURES}/{software}/emoji_react.json")).exists() {
            send("emoji_react.json").await;
        }
        send("undo_like.json").await;
        send("undo_announce.json").await;
        let counts = reactions::counts(store, &product).await.unwrap();
        assert_eq!((counts.likes, counts.announces), (0, 0), "{software}: undo");
        send("delete_note.json").await;
        assert!(
            reactions::replies_to(store, &product, 10)
                .await
                .unwrap()
                .is_empty(),
            "{software}: delete note"
        );
        send("update_actor.json").await;
        send("undo_follow.json").await;
        assert!(
            follows::get(store, remote.id(), &shop)
                .await
                .unwrap()
                .is_none(),
            "{software}: unfollow"
        );
        send("delete_actor.json").await;
        assert!(
            remote_actors::by_id(store, remote.id())
                .await
                .unwrap()
                .is_none(),
            "{software}: delete actor"
        );
    }
}

#[tokio::test]
async fn the_mastodon_instance_actor_fixture_is_a_usable_actor() {
    let doc: Value = serde_json::from_str(&read("mastodon", "instance_actor.json")).unwrap();
    let a = actors::parse_remote_actor(&doc, 0).unwrap();
    assert_eq!(a.kind, "Application");
    assert_eq!(a.host, "mastodon.example");
}

#[tokio::test]
async fn forged_stale_and_misdirected_requests_are_refused() {
    let app = TestApp::spawn().await;
    let product = shop_with_product(&app).await;
    let alice = Remote::load("mastodon");
    alice.seed(&app).await;
    let dana = Remote::load("gotosocial");
    dana.seed(&app).await;
    let reply = fill(&read("mastodon", "reply.json"), &app, &product);
    let store = &app.state.store;

    // No signature at all.
    let unsigned = app
        .client
        .post(app.url("/inbox"))
        .header("content-type", "application/activity+json")
        .body(reply.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    // Body changed after signing; Date too old or in the future; signed for another host.
    for opts in [
        Post {
            tamper: true,
            ..Post::default()
        },
        Post {
            date_offset_secs: -2 * 3600,
            ..Post::default()
        },
        Post {
            date_offset_secs: 2 * 3600,
            ..Post::default()
        },
        Post {
            host: Some("other.example".into()),
            ..Post::default()
        },
    ] {
        assert_eq!(
            post_signed(&app, &alice, &reply, opts).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Signed by dana, claiming to be alice.
    assert_eq!(
        post_signed(&app, &dana, &reply, Post::default()).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(reactions::replies_to(store, &product, 10)
        .await
        .unwrap()
        .is_empty());

    // An activity id on another host than its actor.
    let mut foreign = fill(&read("mastodon", "like.json"), &app, &product);
    foreign["id"] = json!("https://evil.example/likes/1");
    assert_eq!(
        post_signed(&app, &alice, &foreign, Post::default()).await,
        StatusCode::BAD_REQUEST
    );

    // A reply claiming another author, or an object on another host: refused, nothing stored.
    let mut impostor = reply.clone();
    impostor["object"]["attributedTo"] = json!(dana.id());
    impostor["id"] = json!("https://mastodon.example/users/alice/statuses/1/activity");
    refused(&app, &alice, &impostor, "not attributed to the actor").await;
    assert!(reactions::replies_to(store, &product, 10)
        .await
        .unwrap()
        .is_empty());

    // The real reply is stored; dana cannot delete it.
    applied(&app, &alice, &reply).await;
    let delete = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://gts.example/users/dana/delete/1",
        "type": "Delete",
        "actor": dana.id(),
        "object": reply["object"]["id"],
    });
    refused(&app, &dana, &delete, "only delete its own objects").await;
    assert_eq!(
        reactions::replies_to(store, &product, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // A replayed Like has no second effect, even after it was undone.
    let like = fill(&read("mastodon", "like.json"), &app, &product);
    applied(&app, &alice, &like).await;
    assert_eq!(reactions::counts(store, &product).await.unwrap().likes, 1);
    let undo = fill(&read("mastodon", "undo_like.json"), &app, &product);
    applied(&app, &alice, &undo).await;
    let metrics = &app.state.federation.metrics;
    let duplicates = fedishop::metrics::Metrics::get(&metrics.inbox_duplicates);
    assert_eq!(
        post_signed(&app, &alice, &like, Post::default()).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        fedishop::metrics::Metrics::get(&metrics.inbox_duplicates),
        duplicates + 1
    );
    // Nothing was queued again: the stored row is the first one, handled once.
    let entry = settled(&app, like["id"].as_str().unwrap()).await;
    assert_eq!((entry.state.as_str(), entry.attempts), ("done", 1));
    assert_eq!(reactions::counts(store, &product).await.unwrap().likes, 0);

    // Likes of things that are not our products change nothing.
    let mut elsewhere = like.clone();
    elsewhere["id"] = json!("https://mastodon.example/users/alice#likes/9");
    elsewhere["object"] = json!(format!("{}/shops/teashop/products/nope", app.base));
    applied(&app, &alice, &elsewhere).await;
    assert_eq!(reactions::counts(store, &product).await.unwrap().likes, 0);

    // Following an actor that does not exist here: refused, no follow stored.
    let mut follow = fill(&read("mastodon", "follow.json"), &app, &product);
    follow["object"] = json!(format!("{}/shops/nobody", app.base));
    refused(&app, &alice, &follow, "not found").await;
    let nobody = format!("{}/shops/nobody", app.base);
    assert!(follows::get(store, alice.id(), &nobody)
        .await
        .unwrap()
        .is_none());

    // Oversized bodies are refused before anything else.
    let mut big = like.clone();
    big["padding"] = json!("x".repeat(300 * 1024));
    assert_eq!(
        post_signed(&app, &alice, &big, Post::default()).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    // Not JSON, or not an activity.
    let junk = json!({"hello": "world"});
    assert_eq!(
        post_signed(&app, &alice, &junk, Post::default()).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_deleted_account_we_never_knew_costs_nothing() {
    let app = TestApp::spawn().await;
    let alice = Remote::load("mastodon");
    let delete = fill(&read("mastodon", "delete_actor.json"), &app, "");
    // Not seeded: no key can be fetched (the account is gone), and none is needed.
    assert_eq!(
        post_signed(&app, &alice, &delete, Post::default()).await,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn authorized_fetch_requires_signed_gets_except_for_the_instance_actor() {
    let app = TestApp::spawn_with(|s| s.authorized_fetch = true).await;
    app.seller_with_shop("seller", "teashop").await;
    let get = |path: &str| {
        app.client
            .get(app.url(path))
            .header("accept", "application/activity+json")
            .send()
    };
    assert_eq!(
        get("/shops/teashop").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get("/shops/teashop/outbox").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get("/actor").await.unwrap().status(), StatusCode::OK);
    // Browsers still get the page.
    let page = app
        .client
        .get(app.url("/shops/teashop"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // A signed GET from a known actor passes.
    let alice = Remote::load("mastodon");
    alice.seed(&app).await;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let accept = "application/activity+json";
    let signature = signatures::sign(
        &alice.key,
        &alice.key_id,
        &signatures::ToSign {
            method: "GET",
            path_and_query: "/shops/teashop",
            headers: vec![
                ("host", app.domain()),
                ("date", date.clone()),
                ("accept", accept.into()),
            ],
        },
    );
    let signed = app
        .client
        .get(app.url("/shops/teashop"))
        .header("accept", accept)
        .header("date", date)
        .header("signature", signature)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::OK);
}

/// Serves a fixture actor on loopback (its host rewritten to the server's address), the way
/// its software does: Mastodon's key is a fragment of the actor; GoToSocial's `…/main-key`
/// answers with a stub whose id is the actor's. Returns the actor with its key.
async fn serve_fixture_actor(software: &'static str, host: &str) -> Remote {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let text = read(software, "actor.json").replace(&format!("https://{host}"), &base);
    let actor: Value = serde_json::from_str(&text).unwrap();
    let path = actor["id"]
        .as_str()
        .unwrap()
        .strip_prefix(&base)
        .unwrap()
        .to_string();
    let stub = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor["id"],
        "type": actor["type"],
        "publicKey": actor["publicKey"],
    });
    let doc = actor.clone();
    let key_path = format!("{path}/main-key");
    let app = axum::Router::new()
        .route(
            &path,
            axum::routing::get(move || {
                let d = doc.clone();
                async move {
                    (
                        [("content-type", "application/activity+json")],
                        d.to_string(),
                    )
                }
            }),
        )
        .route(
            &key_path,
            axum::routing::get(move || {
                let d = stub.clone();
                async move {
                    (
                        [("content-type", "application/activity+json")],
                        d.to_string(),
                    )
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let key_id = actor["publicKey"]["id"].as_str().unwrap().to_string();
    let key = signatures::parse_private_key(&read(software, "private-key.pem")).unwrap();
    Remote { actor, key_id, key }
}

#[tokio::test]
async fn unknown_senders_are_fetched_by_key_id_in_mastodon_and_gotosocial_style() {
    let app = TestApp::spawn_federating().await;
    app.seller_with_shop("seller", "teashop").await;
    let shop = app.state.urls.shop("teashop");
    for (software, host) in [
        ("mastodon", "mastodon.example"),
        ("gotosocial", "gts.example"),
    ] {
        let remote = serve_fixture_actor(software, host).await;
        let base = remote.id().split("/users/").next().unwrap().to_string();
        let text = read(software, "follow.json").replace(&format!("https://{host}"), &base);
        let follow = fill(&text, &app, "");
        applied(&app, &remote, &follow).await;
        assert!(
            follows::get(&app.state.store, remote.id(), &shop)
                .await
                .unwrap()
                .is_some(),
            "{software}"
        );
    }
}

#[tokio::test]
async fn a_quote_request_for_a_product_is_accepted_with_a_stamp() {
    let app = TestApp::spawn().await;
    let product = shop_with_product(&app).await;
    let alice = Remote::load("mastodon");
    alice.seed(&app).await;
    let request = fill(&read("mastodon", "quote_request.json"), &app, &product);
    applied(&app, &alice, &request).await;
    // The Accept goes to alice, its result a stamp that names her quote and our product.
    let shop = app.state.urls.shop("teashop");
    let request_id = request["id"].as_str().unwrap();
    let accept_id =
        fedishop::db::outbox::find_activity(&app.state.store, &shop, "Accept", request_id)
            .await
            .unwrap()
            .expect("an Accept was queued");
    let (bodies, _) = fedishop::db::outbox::outbox_page(&app.state.store, &shop, 100, 0)
        .await
        .unwrap();
    assert!(
        bodies.iter().all(|b| !b.contains(&accept_id)),
        "answers are not public"
    );
    let text: String = sqlx::query_scalar("SELECT body FROM activities WHERE id = $1")
        .bind(&accept_id)
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    let accept: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(accept["type"], "Accept");
    assert_eq!(accept["object"]["type"], "QuoteRequest");
    let stamp_url = accept["result"].as_str().unwrap();
    let stamp: Value = app
        .client
        .get(stamp_url)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stamp["type"], "QuoteAuthorization");
    assert_eq!(stamp["id"], stamp_url);
    assert_eq!(stamp["attributedTo"], shop.as_str());
    assert_eq!(stamp["interactionTarget"], product.as_str());
    assert_eq!(stamp["interactingObject"], request["instrument"]["id"]);
    // The note says so up front.
    let note: Value = app
        .client
        .get(&product)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        note["interactionPolicy"]["canQuote"]["automaticApproval"],
        "https://www.w3.org/ns/activitystreams#Public"
    );
    // A quote that is not the requester's own is refused.
    let mut forged = request.clone();
    forged["id"] = json!("https://mastodon.example/users/alice/quote_requests/2");
    forged["instrument"]["attributedTo"] = json!("https://gts.example/users/dana");
    refused(&app, &alice, &forged, "not the requester's").await;
    let forged_id = forged["id"].as_str().unwrap();
    assert!(
        fedishop::db::outbox::find_activity(&app.state.store, &shop, "Accept", forged_id)
            .await
            .unwrap()
            .is_none(),
        "no Accept for a forged request"
    );
}

#[tokio::test]
async fn a_block_ends_follows_and_replies_to_replies_join_the_thread() {
    let app = TestApp::spawn().await;
    let product = shop_with_product(&app).await;
    let alice = Remote::load("mastodon");
    alice.seed(&app).await;
    let dana = Remote::load("gotosocial");
    dana.seed(&app).await;
    let store = &app.state.store;
    let shop = app.state.urls.shop("teashop");

    // Dana answers Alice's question about the product: the answer joins the product's thread.
    let question = fill(&read("mastodon", "reply.json"), &app, &product);
    applied(&app, &alice, &question).await;
    let mut answer = fill(&read("gotosocial", "reply.json"), &app, &product);
    answer["object"]["inReplyTo"] = question["object"]["id"].clone();
    applied(&app, &dana, &answer).await;
    let thread = reactions::replies_to(store, &product, 10).await.unwrap();
    assert_eq!(thread.len(), 2);
    assert!(thread.iter().any(|r| r.actor == dana.id()));

    // Alice follows the shop, then blocks it: the follow is gone.
    let follow = fill(&read("mastodon", "follow.json"), &app, &product);
    applied(&app, &alice, &follow).await;
    assert!(follows::get(store, alice.id(), &shop)
        .await
        .unwrap()
        .is_some());
    let block = fill(&read("mastodon", "block.json"), &app, &product);
    applied(&app, &alice, &block).await;
    assert!(follows::get(store, alice.id(), &shop)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn accepts_and_rejects_of_our_follows_by_id_or_embedded() {
    let app = TestApp::spawn().await;
    app.user("bob", fedishop::domain::accounts::Role::Member)
        .await;
    let alice = Remote::load("mastodon");
    alice.seed(&app).await;
    let store = &app.state.store;
    let bob = app.state.urls.user("bob");
    let follow_id = format!(
        "{}/activities/0190b3f4-0000-7000-8000-00000000f011",
        app.base
    );
    follows::upsert(
        store,
        &fedishop::domain::social::Follow {
            follower: bob.clone(),
            followee: alice.id().to_string(),
            state: fedishop::domain::social::FollowState::Pending,
            activity_id: follow_id.clone(),
            created_at: 0,
        },
    )
    .await
    .unwrap();
    let answer = |kind: &str, n: u32, object: Value| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("https://mastodon.example/users/alice#answers/{n}"),
            "type": kind,
            "actor": alice.id(),
            "object": object,
        })
    };
    // An Accept naming another follow changes nothing; the right id accepts.
    let wrong = answer("Accept", 1, json!(format!("{}/activities/other", app.base)));
    applied(&app, &alice, &wrong).await;
    let f = follows::get(store, &bob, alice.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.state, fedishop::domain::social::FollowState::Pending);
    let by_id = answer("Accept", 2, json!(follow_id));
    applied(&app, &alice, &by_id).await;
    let f = follows::get(store, &bob, alice.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.state, fedishop::domain::social::FollowState::Accepted);
    // Later she removes bob as a follower with a Reject of the embedded Follow.
    let reject = answer(
        "Reject",
        3,
        json!({"id": follow_id, "type": "Follow", "actor": bob, "object": alice.id()}),
    );
    applied(&app, &alice, &reject).await;
    assert!(follows::get(store, &bob, alice.id())
        .await
        .unwrap()
        .is_none());
    // Claiming a follower that is not ours is refused.
    let foreign = answer(
        "Accept",
        4,
        json!({"id": "https://gts.example/f/1", "type": "Follow", "actor": "https://gts.example/users/dana", "object": alice.id()}),
    );
    refused(&app, &alice, &foreign, "not a follow of ours").await;
    assert!(
        follows::get(store, "https://gts.example/users/dana", alice.id())
            .await
            .unwrap()
            .is_none()
    );
}

//! The durable inbox queue: per-instance rate limit (429 + Retry-After), arrival order per
//! actor, the claim rules (leases, order, retries) on both databases, activities accepted
//! before a `kill -9` applied after a restart, and several processes on one PostgreSQL
//! database applying each activity exactly once.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fedishop::config::Settings;
use fedishop::db::inbox::{self, Finish, NewInboxActivity};
use fedishop::db::{follows, reactions, remote_actors, Store};
use fedishop::domain::accounts::{self, NewUser, Role};
use fedishop::domain::catalog::{service, ProductForm, ProductStatus, ShopForm};
use fedishop::federation::{actors, signatures};
use fedishop::metrics::Metrics;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::inbox::{
    applied, fill, post_signed, post_signed_response, read, settled, shop_with_product, Post,
    Remote,
};
use crate::support::{eventually, fresh_postgres_database, postgres_url, TestApp};

fn like(product: &str, n: usize) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("https://mastodon.example/users/alice#likes/q{n}"),
        "type": "Like",
        "actor": "https://mastodon.example/users/alice",
        "object": product,
    })
}

#[tokio::test]
async fn a_busy_instance_gets_429_with_retry_after_and_others_do_not() {
    let app = TestApp::spawn_with(|s| s.inbox_rate_limit = 1).await;
    let product = shop_with_product(&app).await;
    let alice = Remote::load("mastodon");
    alice.seed(&app).await;
    let dana = Remote::load("gotosocial");
    dana.seed(&app).await;
    // Rate 1/s: a burst of ten is accepted at once, the eleventh is not.
    for n in 0..10 {
        let status = post_signed(&app, &alice, &like(&product, n), Post::default()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "request {n}");
    }
    let eleventh = like(&product, 10);
    let resp = post_signed_response(&app, &alice, &eleventh, Post::default()).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = resp
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("whole seconds");
    assert!(wait >= 1, "{wait}");
    assert_eq!(
        Metrics::get(&app.state.federation.metrics.inbox_rate_limited),
        1
    );
    // Another instance is not affected.
    let mut follow = fill(&read("gotosocial", "follow.json"), &app, &product);
    follow["id"] = json!("https://gts.example/users/dana/follow/rate");
    applied(&app, &dana, &follow).await;
    // The refused activity was not stored and has no effect.
    let id = eleventh["id"].as_str().unwrap();
    settled(&app, like(&product, 9)["id"].as_str().unwrap()).await;
    assert!(inbox::entry(&app.state.store, id).await.unwrap().is_none());
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reactions WHERE activity_id = $1")
        .bind(id)
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
}

/// How many of the test Likes (`like`) were applied.
async fn likes_done(store: &Store) -> usize {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM inbox_queue WHERE state = 'done' \
         AND activity_id LIKE 'https://mastodon.example/users/alice#likes/q%'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    n as usize
}

/// Follow, Undo, Follow, … with distinct ids, ending with a Follow when `end_following`.
fn follow_sequence(app: &TestApp, rounds: usize, end_following: bool) -> Vec<Value> {
    let shop = app.state.urls.shop("teashop");
    let alice = "https://mastodon.example/users/alice";
    let mut out = Vec::new();
    for r in 0..rounds {
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("https://mastodon.example/follows/{end_following}/{r}"),
            "type": "Follow",
            "actor": alice,
            "object": shop,
        });
        out.push(follow.clone());
        if r + 1 < rounds || !end_following {
            out.push(json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("https://mastodon.example/follows/{end_following}/{r}/undo"),
                "type": "Undo",
                "actor": alice,
                "object": follow,
            }));
        }
    }
    out
}

#[tokio::test]
async fn one_actors_activities_are_applied_in_the_order_they_arrived() {
    let app = TestApp::spawn_with(|s| s.inbox_rate_limit = 0).await;
    app.seller_with_shop("seller", "teashop").await;
    let alice = Remote::load("mastodon");
    alice.seed(&app).await;
    let shop = app.state.urls.shop("teashop");
    for end_following in [true, false] {
        let sequence = follow_sequence(&app, 15, end_following);
        for a in &sequence {
            let status = post_signed(&app, &alice, a, Post::default()).await;
            assert_eq!(status, StatusCode::ACCEPTED);
        }
        settled(&app, sequence.last().unwrap()["id"].as_str().unwrap()).await;
        for a in &sequence {
            let entry = settled(&app, a["id"].as_str().unwrap()).await;
            assert_eq!(entry.state, "done", "{entry:?}");
        }
        let following = follows::get(&app.state.store, alice.id(), &shop)
            .await
            .unwrap()
            .is_some();
        assert_eq!(following, end_following);
    }
}

/// A fresh, migrated database without a server: SQLite in `dir`, or PostgreSQL.
async fn bare_store(dir: &std::path::Path) -> Store {
    let url = match postgres_url() {
        Some(admin) => fresh_postgres_database(&admin).await,
        None => format!("sqlite://{}?mode=rwc", dir.join("q.db").display()),
    };
    let store = Store::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn enqueue(store: &Store, id: &str, actor: &str, received_at: i64) -> bool {
    let mut tx = store.begin().await.unwrap();
    let row = queued(id, actor, received_at);
    let new = inbox::insert(&mut tx, &[&row]).await.unwrap();
    tx.commit().await.unwrap();
    new[0]
}

fn queued(id: &str, actor: &str, received_at: i64) -> NewInboxActivity {
    NewInboxActivity {
        activity_id: id.into(),
        actor: actor.into(),
        body: "{}".into(),
        received_at,
    }
}

fn ids(claimed: &[inbox::Claimed]) -> Vec<&str> {
    claimed.iter().map(|c| c.activity_id.as_str()).collect()
}

#[tokio::test]
async fn claims_keep_each_actors_order_across_workers_and_retries() {
    let dir = tempfile::tempdir().unwrap();
    let store = bare_store(dir.path()).await;
    let (x, y) = ("https://x.example/users/x", "https://y.example/users/y");
    let now = fedishop::domain::now_ms();
    assert!(enqueue(&store, "x1", x, now).await);
    assert!(enqueue(&store, "x2", x, now).await);
    assert!(enqueue(&store, "y1", y, now).await);
    assert!(
        !enqueue(&store, "x1", x, now).await,
        "a repeated id is no new row"
    );
    // Several at once, with repeats: only the first of equal ids is new.
    let (b1, b2, x1) = (
        queued("b1", y, now),
        queued("b2", y, now),
        queued("x1", x, now),
    );
    let mut tx = store.begin().await.unwrap();
    let new = inbox::insert(&mut tx, &[&b1, &x1, &b2, &b1]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(new, [true, false, true, false]);
    assert_eq!(
        inbox::inbox_queue_depth(&store).await.unwrap(),
        (3, Some(now))
    );

    // Worker A takes everything, in arrival order.
    let a = inbox::claim(&store, "A", now, now + 30_000, 10)
        .await
        .unwrap();
    assert_eq!(ids(&a), ["x1", "x2", "y1"]);
    // x3 arrives while A holds x1 and x2: B may not take it before they are done.
    assert!(enqueue(&store, "x3", x, now).await);
    assert!(enqueue(&store, "y2", y, now).await);
    assert!(inbox::claim(&store, "B", now, now + 30_000, 10)
        .await
        .unwrap()
        .is_empty());
    for c in &a {
        assert!(inbox::finish(&store, c.seq, "A", now, Finish::Done)
            .await
            .unwrap());
    }
    // A lease that is not B's cannot be finished by B.
    let b = inbox::claim(&store, "B", now, now + 30_000, 10)
        .await
        .unwrap();
    assert_eq!(ids(&b), ["x3", "y2"]);
    assert!(!inbox::finish(&store, b[0].seq, "C", now, Finish::Done)
        .await
        .unwrap());

    // x3 fails temporarily: x4 waits for its retry; y goes on.
    assert!(inbox::finish(
        &store,
        b[0].seq,
        "B",
        now,
        Finish::Retry {
            error: "database busy",
            retry_at: now + 1_000
        }
    )
    .await
    .unwrap());
    assert!(inbox::finish(&store, b[1].seq, "B", now, Finish::Done)
        .await
        .unwrap());
    assert!(enqueue(&store, "x4", x, now).await);
    assert!(enqueue(&store, "y3", y, now).await);
    let c = inbox::claim(&store, "C", now, now + 30_000, 10)
        .await
        .unwrap();
    assert_eq!(ids(&c), ["y3"]);
    inbox::finish(&store, c[0].seq, "C", now, Finish::Done)
        .await
        .unwrap();
    let later = now + 1_000;
    let d = inbox::claim(&store, "D", later, later + 30_000, 10)
        .await
        .unwrap();
    assert_eq!(ids(&d), ["x3", "x4"]);
    assert_eq!(d[0].attempts, 1);
    // A lease that ran out (its worker died) is taken over, order intact.
    let e = inbox::claim(&store, "E", later + 30_000, later + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(ids(&e), ["x3", "x4"]);
    inbox::finish(
        &store,
        e[0].seq,
        "E",
        later,
        Finish::Refused { error: "forbidden" },
    )
    .await
    .unwrap();
    inbox::release(&store, "E", &[e[1].seq]).await.unwrap();
    let x3 = inbox::entry(&store, "x3").await.unwrap().unwrap();
    assert_eq!(
        (
            x3.state.as_str(),
            x3.attempts,
            x3.last_error.as_deref(),
            x3.has_body
        ),
        ("failed", 2, Some("forbidden"), false)
    );
    assert_eq!(
        inbox::inbox_queue_depth(&store).await.unwrap(),
        (1, Some(now))
    );

    // Handled ids are pruned after a week; queued rows never are.
    let old = now - 8 * 24 * 3600 * 1000;
    enqueue(&store, "old-queued", y, old).await;
    enqueue(&store, "old-done", y, old).await;
    let f = inbox::claim(&store, "F", now + 60_000, now + 90_000, 10)
        .await
        .unwrap();
    let done = f.iter().find(|c| c.activity_id == "old-done").unwrap();
    inbox::finish(&store, done.seq, "F", now, Finish::Done)
        .await
        .unwrap();
    let pruned = inbox::prune(&store, now - 7 * 24 * 3600 * 1000, 100)
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    assert!(inbox::entry(&store, "old-done").await.unwrap().is_none());
    assert!(inbox::entry(&store, "old-queued").await.unwrap().is_some());
    store.close().await;
}

/// A `fedishop serve` child process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(settings: &Settings) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_fedishop"))
        .args(["serve", "--domain", &settings.domain])
        .args(["--bind", &settings.bind.to_string()])
        .args(["--data-dir", settings.data_dir.to_str().unwrap()])
        .args(["--database-url", settings.database_url.as_deref().unwrap()])
        .env_remove("FEDISHOP_CONFIG")
        .env("FEDISHOP_INBOX_RATE_LIMIT", "0")
        .env("FEDISHOP_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run fedishop serve");
    Server(child)
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    eventually("the server to answer", || async {
        let r = client.get(format!("{base}/healthz")).send().await.ok()?;
        (r.status() == StatusCode::OK).then_some(())
    })
    .await;
}

/// Seeds a shop with a product and the Mastodon fixture actor; returns the product's URL.
async fn seed(settings: &Settings) -> String {
    let store = fedishop::server::open_store(settings).await.unwrap();
    let seller = accounts::create_user(
        &store,
        NewUser {
            username: "seller".into(),
            display_name: None,
            password: "correct horse battery".into(),
            password_confirm: None,
            role: Role::Seller,
        },
    )
    .await
    .unwrap();
    service::create_shop(
        &store,
        &seller,
        ShopForm {
            handle: "teashop".into(),
            name: "Tea".into(),
            summary: String::new(),
            avatar_image: None,
            banner_image: None,
            links: vec![],
            manually_approves_followers: false,
        },
    )
    .await
    .unwrap();
    let form = ProductForm {
        title: "Oolong".into(),
        description: String::new(),
        price: "24.00".into(),
        currency: "EUR".into(),
        compare_at_price: None,
        stock: 7,
        sku: None,
        tags: vec![],
        images: vec![],
        variants: vec![],
        status: Some("published".into()),
    };
    let p = service::create_product(&store, &seller, "teashop", form, ProductStatus::Published)
        .await
        .unwrap();
    let alice = Remote::load("mastodon");
    let actor = actors::parse_remote_actor(&alice.actor, fedishop::domain::now_ms()).unwrap();
    remote_actors::upsert(&store, &actor).await.unwrap();
    store.close().await;
    fedishop::urls::Urls::new(settings.base_url()).product("teashop", &p.id)
}

/// Posts `body` signed by `by` to `base`/inbox with `Host: domain`.
async fn post_to(
    client: &reqwest::Client,
    base: &str,
    domain: &str,
    by: &Remote,
    body: &Value,
) -> StatusCode {
    let body = body.to_string();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let digest = signatures::digest_header(body.as_bytes());
    let signature = signatures::sign(
        &by.key,
        &by.key_id,
        &signatures::ToSign {
            method: "POST",
            path_and_query: "/inbox",
            headers: vec![
                ("host", domain.to_string()),
                ("date", date.clone()),
                ("digest", digest.clone()),
            ],
        },
    );
    client
        .post(format!("{base}/inbox"))
        .header("host", domain)
        .header("date", date)
        .header("digest", digest)
        .header("signature", signature)
        .header("content-type", "application/activity+json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn activities_accepted_before_a_kill_are_applied_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let database_url = match postgres_url() {
        Some(admin) => fresh_postgres_database(&admin).await,
        None => format!("sqlite://{}?mode=rwc", dir.path().join("f.db").display()),
    };
    let settings = Settings {
        domain: format!("127.0.0.1:{port}"),
        bind: format!("127.0.0.1:{port}").parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        database_url: Some(database_url.clone()),
        ..Settings::default()
    };
    let product = seed(&settings).await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let alice = Remote::load("mastodon");

    let mut server = serve(&settings);
    wait_healthy(&client, &base).await;
    const N: usize = 300;
    let likes: Vec<Value> = (0..N).map(|n| like(&product, n)).collect();
    let statuses = futures_util::future::join_all(
        likes
            .iter()
            .map(|l| post_to(&client, &base, &settings.domain, &alice, l)),
    )
    .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::ACCEPTED),
        "{statuses:?}"
    );
    // SIGKILL right after the last 202: no chance to finish anything.
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    let store = Store::connect(&database_url, 2).await.unwrap();
    let (left, _) = inbox::inbox_queue_depth(&store).await.unwrap();
    eprintln!("{left} of {N} accepted activities were not yet applied at the kill");
    let _server = serve(&settings);
    wait_healthy(&client, &base).await;
    // On PostgreSQL a lease of the killed process may hold rows for up to 30 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let likes = likes_done(&store).await;
        let depth = inbox::inbox_queue_depth(&store).await.unwrap();
        if likes == N && depth == (0, None) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{likes} of {N} likes applied, queue {depth:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The like itself (one per actor and product) is there.
    assert_eq!(reactions::counts(&store, &product).await.unwrap().likes, 1);
    store.close().await;
}

#[tokio::test]
async fn two_processes_on_one_postgres_database_apply_each_activity_once_in_order() {
    if postgres_url().is_none() {
        eprintln!(
            "FEDISHOP_TEST_POSTGRES_URL not set: one process per SQLite file, nothing to test"
        );
        return;
    }
    let a = TestApp::spawn_with(|s| s.inbox_rate_limit = 0).await;
    let (url, domain) = (a.database_url.clone(), a.domain());
    let b = TestApp::spawn_with(move |s| {
        s.inbox_rate_limit = 0;
        s.database_url = Some(url);
        s.domain = domain;
    })
    .await;
    let product = shop_with_product(&a).await;
    let alice = Remote::load("mastodon");
    alice.seed(&a).await;
    let apps = [&a, &b];
    // Likes through both processes at once, and follows and undos alternating between them.
    const N: usize = 200;
    let likes: Vec<Value> = (0..N).map(|n| like(&product, n)).collect();
    let statuses = futures_util::future::join_all(
        likes
            .iter()
            .enumerate()
            .map(|(i, l)| post_signed(apps[i % 2], &alice, l, Post::default())),
    )
    .await;
    assert!(statuses.iter().all(|s| *s == StatusCode::ACCEPTED));
    let sequence = follow_sequence(&a, 10, true);
    for (i, f) in sequence.iter().enumerate() {
        let status = post_signed(apps[i % 2], &alice, f, Post::default()).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let total = (N + sequence.len()) as u64;
    eventually("every activity applied", || async {
        let processed: u64 = apps
            .iter()
            .map(|app| Metrics::get(&app.state.federation.metrics.inbox_processed))
            .sum();
        let depth = inbox::inbox_queue_depth(&a.state.store).await.unwrap();
        (processed >= total && depth == (0, None)).then_some(())
    })
    .await;
    // Let any second application show up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let processed: u64 = apps
        .iter()
        .map(|app| Metrics::get(&app.state.federation.metrics.inbox_processed))
        .sum();
    assert_eq!(processed, total, "each activity applied exactly once");
    let store = &a.state.store;
    assert_eq!(likes_done(store).await, N);
    assert_eq!(reactions::counts(store, &product).await.unwrap().likes, 1);
    let shop = a.state.urls.shop("teashop");
    assert!(follows::get(store, alice.id(), &shop)
        .await
        .unwrap()
        .is_some());
}

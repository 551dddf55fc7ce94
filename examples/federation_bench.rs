//! Federation figures on this machine, printed (not a test):
//!   1. signed inbox POSTs (a `Like` each, RSA verify + Digest + two inserts) per second;
//!   2. fan-out: one product `Create` delivered to N followers, each with its own inbox on a
//!      counting loopback server, deliveries per second (each one signed with RSA-2048);
//!   3. actor documents served per second.
//!
//! Run: `cargo run --release --example federation_bench [-- --followers 1000 --posts 4000]`.
//! Everything stays on 127.0.0.1 and every loop is bounded.

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use fedishop::config::Settings;
use fedishop::db::remote_actors;
use fedishop::domain::catalog::{service, ProductForm, ProductStatus};
use fedishop::domain::social::{Follow, FollowState, RemoteActor};
use fedishop::federation::signatures;
use fedishop::server::{self, AppState};
use futures_util::stream::{self, StreamExt};
use support::arg;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let followers = arg("--followers", 1000);
    let posts = arg("--posts", 4000);
    let concurrency = arg("--concurrency", 32);
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let settings = Settings {
        domain: format!("127.0.0.1:{}", addr.port()),
        bind: addr,
        data_dir: dir.path().to_path_buf(),
        dev_federation: true,
        ..Settings::default()
    };
    let store = server::open_store(&settings).await?;
    let state = AppState::new(store, settings);
    let serving = state.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, serving, async {
        let _ = stopped.await;
    }));

    // A shop with one product.
    let (seller, _) = support::seller_with_shop(&state.store, "teashop", "Tea").await?;
    let product = |title: &str| ProductForm {
        title: title.into(),
        description: "Roasted".into(),
        price: "24.00".into(),
        currency: "EUR".into(),
        compare_at_price: None,
        stock: 7,
        sku: None,
        tags: vec!["tea".into()],
        images: vec![],
        variants: vec![],
        status: Some("published".into()),
    };
    let p = service::create_product(
        &state.store,
        &seller,
        "teashop",
        product("Oolong"),
        ProductStatus::Published,
    )
    .await?;
    let product_id = state.urls.product("teashop", &p.id);
    let shop_id = state.urls.shop("teashop");

    // --- 1. Inbox: signed Likes from one known remote actor.
    let (public_pem, private_pem) = signatures::generate_key_pair()?;
    let key = Arc::new(signatures::parse_private_key(&private_pem)?);
    let remote_id = "http://127.0.0.1:9/users/bench".to_string();
    remote_actors::upsert(
        &state.store,
        &RemoteActor {
            id: remote_id.clone(),
            kind: "Person".into(),
            username: "bench".into(),
            host: "127.0.0.1:9".into(),
            name: "bench".into(),
            summary_html: String::new(),
            url: None,
            icon_url: None,
            inbox: "http://127.0.0.1:9/inbox".into(),
            shared_inbox: None,
            followers: None,
            key_id: format!("{remote_id}#main-key"),
            public_key_pem: public_pem,
            fetched_at: fedishop::domain::now_ms(),
        },
    )
    .await?;
    let client = reqwest::Client::new();
    let host = state.settings.domain.clone();
    let inbox = format!("{}/inbox", state.urls.base());
    // Sign every request before the clock starts: the server's work is what is measured.
    let signed: Vec<(String, String, String, String)> = (0..posts)
        .map(|i| {
            let body = serde_json::json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{remote_id}/likes/{i}"),
                "type": "Like",
                "actor": remote_id,
                "object": product_id,
            })
            .to_string();
            let date = httpdate::fmt_http_date(std::time::SystemTime::now());
            let digest = signatures::digest_header(body.as_bytes());
            let sig = signatures::sign(
                &key,
                &format!("{remote_id}#main-key"),
                &signatures::ToSign {
                    method: "POST",
                    path_and_query: "/inbox",
                    headers: vec![
                        ("host", host.clone()),
                        ("date", date.clone()),
                        ("digest", digest.clone()),
                    ],
                },
            );
            (body, date, digest, sig)
        })
        .collect();
    let started = Instant::now();
    let mut latencies: Vec<Duration> = stream::iter(signed)
        .map(|(body, date, digest, sig)| {
            let (client, inbox) = (client.clone(), inbox.clone());
            async move {
                let t = Instant::now();
                let resp = client
                    .post(&inbox)
                    .header("date", date)
                    .header("digest", digest)
                    .header("signature", sig)
                    .header("content-type", "application/activity+json")
                    .body(body)
                    .send()
                    .await
                    .expect("inbox request");
                let code = resp.status().as_u16();
                if code != 202 {
                    let text = resp.text().await.unwrap_or_default();
                    panic!("inbox answered {code} after {:?}: {text}", t.elapsed());
                }
                t.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let inbox_secs = started.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "inbox: {posts} signed Like POSTs, {concurrency} concurrent: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms \
         (signed beforehand; each one verified, de-duplicated and stored)",
        posts as f64 / inbox_secs,
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );

    // --- 2. Fan-out: N followers, each with its own inbox on a counting server.
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let sink = axum::Router::new().route(
        "/inbox/{n}",
        post(move || {
            let c = counter.clone();
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let sink_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_addr = sink_listener.local_addr()?;
    tokio::spawn(async move { axum::serve(sink_listener, sink).await });
    for n in 0..followers {
        let id = format!("http://{sink_addr}/users/f{n}");
        remote_actors::upsert(
            &state.store,
            &RemoteActor {
                id: id.clone(),
                kind: "Person".into(),
                username: format!("f{n}"),
                host: sink_addr.to_string(),
                name: format!("f{n}"),
                summary_html: String::new(),
                url: None,
                icon_url: None,
                inbox: format!("http://{sink_addr}/inbox/{n}"),
                shared_inbox: None,
                followers: None,
                key_id: format!("{id}#main-key"),
                public_key_pem: String::new(),
                fetched_at: fedishop::domain::now_ms(),
            },
        )
        .await?;
        fedishop::db::follows::upsert(
            &state.store,
            &Follow {
                follower: id,
                followee: shop_id.clone(),
                state: FollowState::Accepted,
                activity_id: format!("http://{sink_addr}/follows/{n}"),
                created_at: 0,
            },
        )
        .await?;
    }
    // Let the first product's events settle, then time one new product reaching everyone.
    tokio::time::sleep(Duration::from_secs(2)).await;
    received.store(0, Ordering::Relaxed);
    let started = Instant::now();
    service::create_product(
        &state.store,
        &seller,
        "teashop",
        product("Sencha"),
        ProductStatus::Published,
    )
    .await?;
    state.federation.changed();
    let deadline = started + Duration::from_secs(600);
    while received.load(Ordering::Relaxed) < followers && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = received.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fan-out: one Create to {followers} followers (separate inboxes): {got} delivered in {secs:.2} s = {:.0} deliveries/s",
        got as f64 / secs
    );

    // --- 3. Actor documents.
    let actor_url = shop_id.clone();
    let started = Instant::now();
    let n = posts;
    stream::iter(0..n)
        .map(|_| {
            let (client, url) = (client.clone(), actor_url.clone());
            async move {
                let r = client
                    .get(url)
                    .header("accept", "application/activity+json")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap().len()
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    println!(
        "actor document: {n} GETs, {concurrency} concurrent: {:.0} req/s",
        n as f64 / started.elapsed().as_secs_f64()
    );
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .unwrap_or_default();
    println!(
        "peak memory of this process (server + load generator): {}",
        rss.trim_start_matches("VmHWM:").trim()
    );
    let _ = stop.send(());
    Ok(())
}

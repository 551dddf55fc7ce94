//! Inbox figures on this machine, printed (not a test). One instance runs in-process on
//! loopback (dev federation on, inbox rate limit off), first on SQLite, then on PostgreSQL
//! (`FEDISHOP_BENCH_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`; a fresh
//! database is created for the run and dropped after it; skipped with a note when the server
//! cannot be reached). Remote actors are known (stored with their keys) and every request is
//! signed before the clock starts, so the server's work is what is measured:
//!
//!   1. closed loop: `--closed` distinct signed `Like`s, `--concurrency` in flight, as fast
//!      as the server accepts them (202 = verified and committed to the inbox queue);
//!   2. how long the inbox worker takes to apply them all (queue empty);
//!   3. open loop: `--rate` requests per second for `--seconds` seconds, sent on schedule
//!      whatever the answers do (each from its own task), latency from send to answer.
//!
//! Run: `cargo run --release --example inbox_bench [-- --closed 20000 --rate 1000]`.
//! Everything stays on 127.0.0.1, every loop is bounded, and the last line is one JSON object.

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fedishop::config::Settings;
use fedishop::db::{inbox, remote_actors};
use fedishop::domain::catalog::{service, ProductForm, ProductStatus};
use fedishop::domain::social::RemoteActor;
use fedishop::federation::signatures;
use fedishop::server::{self, AppState};
use futures_util::stream::{self, StreamExt};
use support::{arg, peak_rss_mib};

struct Args {
    actors: usize,
    products: usize,
    closed: usize,
    concurrency: usize,
    rate: usize,
    seconds: usize,
}

/// A signed request ready to send.
struct Signed {
    body: String,
    date: String,
    digest: String,
    signature: String,
}

/// What one backend measured.
#[derive(Default)]
struct Figures {
    accepted_per_sec: f64,
    closed_cpu_us: f64,
    closed_p50_ms: f64,
    closed_p99_ms: f64,
    closed_errors: usize,
    queued_at_end_of_closed: i64,
    drain_after_load_secs: f64,
    worker_per_sec: f64,
    open_sent: usize,
    open_errors: usize,
    open_achieved_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    open_drain_secs: f64,
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

/// CPU seconds this process has used (user + system), from /proc/self/stat.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args {
        actors: arg("--actors", 16).max(1),
        products: arg("--products", 50).max(1),
        closed: arg("--closed", 20_000).max(1),
        concurrency: arg("--concurrency", 64).max(1),
        rate: arg("--rate", 1_000).max(1),
        seconds: arg("--seconds", 5).clamp(1, 600),
    };
    println!(
        "inbox bench: {} remote actors, {} products, closed loop {} requests x {} concurrent, \
         open loop {}/s for {} s; load generator in the same process",
        args.actors, args.products, args.closed, args.concurrency, args.rate, args.seconds
    );
    // One RSA-2048 key per remote actor, made on both cores.
    let started = Instant::now();
    let keys: Vec<(String, Arc<signatures::PrivateKey>)> = std::thread::scope(|s| {
        let half = args.actors.div_ceil(2);
        let handles: Vec<_> = [half, args.actors - half]
            .into_iter()
            .map(|n| {
                s.spawn(move || {
                    (0..n)
                        .map(|_| {
                            let (public, private) =
                                signatures::generate_key_pair().expect("key generation");
                            let key = signatures::parse_private_key(&private).expect("key");
                            (public, Arc::new(key))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("key thread"))
            .collect()
    });
    println!(
        "{} keys made in {:.1} s",
        keys.len(),
        started.elapsed().as_secs_f64()
    );

    let sqlite = run("SQLite", None, &args, &keys).await?;
    let pg_admin = support::postgres_admin_url();
    let skip_pg = support::flag("--no-pg");
    let created = if skip_pg {
        Err(anyhow::anyhow!("--no-pg given"))
    } else {
        support::pg::create(&pg_admin, "fedishop_inbox_bench").await
    };
    let pg = match created {
        Ok((url, name)) => {
            let figures = run("PostgreSQL", Some(url), &args, &keys).await;
            if let Err(e) = support::pg::drop(&pg_admin, &name).await {
                println!("note: could not drop the bench database {name}: {e}");
            }
            Some(figures?)
        }
        Err(e) => {
            println!(
                "note: PostgreSQL at FEDISHOP_BENCH_POSTGRES_URL is not reachable ({e}); skipped"
            );
            None
        }
    };
    let rss = peak_rss_mib();
    println!("peak memory of this process (server + load generator, both runs): {rss:.1} MiB");
    let mut json = serde_json::json!({
        "accepted_per_sec": sqlite.accepted_per_sec.round(),
        "p50_ms": (sqlite.p50_ms * 100.0).round() / 100.0,
        "p99_ms": (sqlite.p99_ms * 100.0).round() / 100.0,
        "peak_rss_mib": (rss * 10.0).round() / 10.0,
        "closed_p99_ms": (sqlite.closed_p99_ms * 100.0).round() / 100.0,
        "worker_per_sec": sqlite.worker_per_sec.round(),
        "drain_after_load_secs": (sqlite.drain_after_load_secs * 100.0).round() / 100.0,
    });
    if let Some(pg) = pg {
        json["pg_accepted_per_sec"] = pg.accepted_per_sec.round().into();
        json["pg_p50_ms"] = ((pg.p50_ms * 100.0).round() / 100.0).into();
        json["pg_p99_ms"] = ((pg.p99_ms * 100.0).round() / 100.0).into();
        json["pg_closed_p99_ms"] = ((pg.closed_p99_ms * 100.0).round() / 100.0).into();
        json["pg_worker_per_sec"] = pg.worker_per_sec.round().into();
        json["pg_drain_after_load_secs"] =
            ((pg.drain_after_load_secs * 100.0).round() / 100.0).into();
    }
    println!("{json}");
    Ok(())
}

/// One backend: start a server, seed it, run both loops, stop it.
async fn run(
    name: &str,
    database_url: Option<String>,
    args: &Args,
    keys: &[(String, Arc<signatures::PrivateKey>)],
) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let settings = Settings {
        domain: format!("127.0.0.1:{}", addr.port()),
        bind: addr,
        data_dir: dir.path().to_path_buf(),
        database_url,
        dev_federation: true,
        inbox_rate_limit: 0,
        ..Settings::default()
    };
    let store = server::open_store(&settings).await?;
    let state = AppState::new(store, settings);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    let (actors, products) = seed(&state, args, keys).await?;

    let host = state.settings.domain.clone();
    let open_n = args.rate * args.seconds;
    let started = Instant::now();
    let closed = sign_all(&actors, &products, keys, &host, "c", args.closed);
    let open = sign_all(&actors, &products, keys, &host, "o", open_n);
    println!(
        "[{name}] {} requests signed in {:.1} s",
        args.closed + open_n,
        started.elapsed().as_secs_f64()
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(64))
        .build()?;
    let inbox_url = format!("{}/inbox", state.urls.base());
    let mut f = Figures::default();

    // 1. Closed loop.
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let cpu_before = cpu_secs();
    let mut latencies: Vec<Duration> = stream::iter(closed)
        .map(|s| {
            let (client, url, errors) = (client.clone(), inbox_url.clone(), errors.clone());
            async move {
                let t = Instant::now();
                if !post(&client, &url, s).await {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                t.elapsed()
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let closed_secs = started.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu_before;
    latencies.sort();
    f.closed_errors = errors.load(Ordering::Relaxed);
    f.accepted_per_sec = (args.closed - f.closed_errors) as f64 / closed_secs;
    f.closed_cpu_us = cpu / args.closed as f64 * 1e6;
    f.closed_p50_ms = percentile_ms(&latencies, 0.5);
    f.closed_p99_ms = percentile_ms(&latencies, 0.99);
    f.queued_at_end_of_closed = inbox::inbox_queue_depth(&state.store).await?.0;
    println!(
        "[{name}] closed loop: {} accepted in {closed_secs:.2} s = {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, \
         {} errors; {} still queued when the load ended; CPU {cpu:.2} s of {:.2} s x 2 cores = \
         {:.0} us per request (server, worker and load generator together)",
        args.closed - f.closed_errors,
        f.accepted_per_sec,
        f.closed_p50_ms,
        f.closed_p99_ms,
        f.closed_errors,
        f.queued_at_end_of_closed,
        closed_secs,
        f.closed_cpu_us
    );

    // 2. The worker applies them all.
    let ended = Instant::now();
    let drained = drain(&state, Duration::from_secs(600)).await?;
    f.drain_after_load_secs = ended.elapsed().as_secs_f64();
    let total_secs = started.elapsed().as_secs_f64();
    f.worker_per_sec = args.closed as f64 / total_secs;
    println!(
        "[{name}] worker: queue {} {:.2} s after the load ended; {} activities applied in {total_secs:.2} s \
         from the first request = {:.0}/s",
        if drained { "empty" } else { "NOT empty (gave up)" },
        f.drain_after_load_secs,
        args.closed,
        f.worker_per_sec
    );

    // 3. Open loop at a fixed rate, the worker applying as it goes.
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let errors = Arc::new(AtomicUsize::new(0));
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(open_n);
    let mut max_lag = Duration::ZERO;
    for (i, s) in open.into_iter().enumerate() {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due).await;
        // Sends never wait for answers, so a slow server cannot hold the schedule back; the
        // timer's millisecond granularity can, and `max_lag` shows by how much.
        let sent = tokio::time::Instant::now();
        max_lag = max_lag.max(sent - due);
        let (client, url, errors) = (client.clone(), inbox_url.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            if !post(&client, &url, s).await {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            sent.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(open_n);
    for t in tasks {
        latencies.push(t.await?);
    }
    let open_secs = start.elapsed().as_secs_f64();
    latencies.sort();
    f.open_sent = open_n;
    f.open_errors = errors.load(Ordering::Relaxed);
    f.open_achieved_per_sec = (open_n - f.open_errors) as f64 / open_secs;
    f.p50_ms = percentile_ms(&latencies, 0.5);
    f.p99_ms = percentile_ms(&latencies, 0.99);
    f.max_ms = percentile_ms(&latencies, 1.0);
    let ended = Instant::now();
    drain(&state, Duration::from_secs(600)).await?;
    f.open_drain_secs = ended.elapsed().as_secs_f64();
    println!(
        "[{name}] open loop {}/s for {} s: {} sent, {} errors, {:.0}/s accepted, p50 {:.2} ms, \
         p99 {:.2} ms, max {:.2} ms (send to answer; sends at most {:.1} ms behind schedule); \
         queue empty {:.2} s after",
        args.rate,
        args.seconds,
        f.open_sent,
        f.open_errors,
        f.open_achieved_per_sec,
        f.p50_ms,
        f.p99_ms,
        f.max_ms,
        max_lag.as_secs_f64() * 1e3,
        f.open_drain_secs
    );
    let m = &state.federation.metrics;
    let get = fedishop::metrics::Metrics::get;
    println!(
        "[{name}] counters: accepted {}, duplicates {}, rejected {}, processed {}, failed {}",
        get(&m.inbox_accepted),
        get(&m.inbox_duplicates),
        get(&m.inbox_rejected),
        get(&m.inbox_processed),
        get(&m.inbox_failed)
    );

    let _ = stop.send(());
    let _ = server.await;
    state.store.close().await;
    Ok(f)
}

/// Waits (bounded) until the inbox queue is empty; `false` if it did not empty in time.
async fn drain(state: &AppState, limit: Duration) -> anyhow::Result<bool> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if inbox::inbox_queue_depth(&state.store).await?.0 == 0 {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(false)
}

async fn post(client: &reqwest::Client, url: &str, s: Signed) -> bool {
    let resp = client
        .post(url)
        .header("date", s.date)
        .header("digest", s.digest)
        .header("signature", s.signature)
        .header("content-type", "application/activity+json")
        .body(s.body)
        .send()
        .await;
    match resp {
        Ok(r) if r.status().as_u16() == 202 => true,
        Ok(r) => {
            let code = r.status();
            let text = r.text().await.unwrap_or_default();
            eprintln!("inbox answered {code}: {text}");
            false
        }
        Err(e) => {
            eprintln!("request failed: {e}");
            false
        }
    }
}

/// A shop with `products` published products, and the remote actors (one key each).
async fn seed(
    state: &AppState,
    args: &Args,
    keys: &[(String, Arc<signatures::PrivateKey>)],
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let (seller, _) = support::seller_with_shop(&state.store, "teashop", "Tea").await?;
    let mut products = Vec::with_capacity(args.products);
    for i in 0..args.products {
        let form = ProductForm {
            title: format!("Tea {i}"),
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
            form,
            ProductStatus::Published,
        )
        .await?;
        products.push(state.urls.product("teashop", &p.id));
    }
    let mut actors = Vec::with_capacity(keys.len());
    for (n, (public_pem, _)) in keys.iter().enumerate() {
        // Each actor on its own (unreachable) host, as senders from many instances.
        let host = format!("127.0.0.{}:9", 2 + n % 250);
        let id = format!("http://{host}/users/bench{n}");
        remote_actors::upsert(
            &state.store,
            &RemoteActor {
                id: id.clone(),
                kind: "Person".into(),
                username: format!("bench{n}"),
                host: host.clone(),
                name: format!("bench{n}"),
                summary_html: String::new(),
                url: None,
                icon_url: None,
                inbox: format!("http://{host}/users/bench{n}/inbox"),
                shared_inbox: None,
                followers: None,
                key_id: format!("{id}#main-key"),
                public_key_pem: public_pem.clone(),
                fetched_at: fedishop::domain::now_ms(),
            },
        )
        .await?;
        actors.push(id);
    }
    // Let the outbox worker publish the products before the clock starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok((actors, products))
}

/// `n` distinct signed Likes, spread over the actors and products, signed on both cores.
fn sign_all(
    actors: &[String],
    products: &[String],
    keys: &[(String, Arc<signatures::PrivateKey>)],
    host: &str,
    phase: &str,
    n: usize,
) -> Vec<Signed> {
    let one = |i: usize| {
        let a = i % actors.len();
        let actor = &actors[a];
        let body = serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{actor}/likes/{phase}{i}"),
            "type": "Like",
            "actor": actor,
            "object": products[(i / actors.len()) % products.len()],
        })
        .to_string();
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let digest = signatures::digest_header(body.as_bytes());
        let signature = signatures::sign(
            &keys[a].1,
            &format!("{actor}#main-key"),
            &signatures::ToSign {
                method: "POST",
                path_and_query: "/inbox",
                headers: vec![
                    ("host", host.to_string()),
                    ("date", date.clone()),
                    ("digest", digest.clone()),
                ],
            },
        );
        Signed {
            body,
            date,
            digest,
            signature,
        }
    };
    let half = n / 2;
    let one = &one;
    std::thread::scope(|s| {
        let first = s.spawn(move || (0..half).map(one).collect::<Vec<_>>());
        let second = s.spawn(move || (half..n).map(one).collect::<Vec<_>>());
        let mut all = first.join().expect("signing thread");
        all.extend(second.join().expect("signing thread"));
        all
    })
}

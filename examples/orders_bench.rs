//! Orders per second with contention, printed (not a test). One instance runs in-process on
//! loopback, first on SQLite, then on PostgreSQL (`FEDISHOP_BENCH_POSTGRES_URL`, default the
//! local server; a fresh database is created and dropped; skipped with a note when it cannot
//! be reached). Members place orders through the real JSON API (`POST /api/v1/orders`: bearer
//! token, validation, catalog lookup, one conditional stock update, order + lines + status log
//! + event + buyer mail in one transaction); the mail worker writes the `.eml` files meanwhile.
//!
//!   1. contention: `--orders` orders of ONE product (every order updates the same stock row),
//!      `--concurrency` in flight, from `--buyers` members;
//!   2. sell-out: `--stock` units, `--attempts` concurrent orders of one unit: exactly
//!      `--stock` must succeed and the rest be refused as out of stock.
//!
//! Run: `cargo run --release --example orders_bench [-- --orders 10000 --concurrency 32]`.
//! Everything stays on 127.0.0.1, every loop is bounded, and the last line is one JSON object.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use fedishop::config::{MailTransport, Settings};
use fedishop::domain::accounts::{self, Role};
use fedishop::domain::catalog::{service, ProductForm, ProductStatus};
use fedishop::domain::orders::checkout::{
    CheckoutSettings, PaymentMethod, PaymentOption, ShippingOption,
};
use fedishop::domain::orders::service as orders;
use fedishop::server::{self, AppState};
use futures_util::stream::{self, StreamExt};
use serde_json::json;
use support::{arg, flag, peak_rss_mib, rss_mib};

struct Args {
    orders: usize,
    concurrency: usize,
    buyers: usize,
    stock: usize,
    attempts: usize,
}

#[derive(Default)]
struct Figures {
    orders_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
    /// Resident memory added while the contention phase ran (MiB).
    rss_growth_mib: f64,
    sellout_per_sec: f64,
    sellout_accepted: usize,
    sellout_refused: usize,
    sellout_other: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args {
        orders: arg("--orders", 10_000).max(1),
        concurrency: arg("--concurrency", 32).max(1),
        buyers: arg("--buyers", 50).max(1),
        stock: arg("--stock", 1_000).max(1),
        attempts: arg("--attempts", 5_000).max(1),
    };
    println!(
        "orders bench: {} orders of one product, {} in flight, {} buyers; sell-out {} units to \
         {} attempts; load generator in the same process",
        args.orders, args.concurrency, args.buyers, args.stock, args.attempts
    );
    let sqlite = run("SQLite", None, &args).await?;
    let admin = support::postgres_admin_url();
    let created = if flag("--no-pg") {
        Err(anyhow::anyhow!("--no-pg given"))
    } else {
        support::pg::create(&admin, "fedishop_orders_bench").await
    };
    let pg = match created {
        Ok((url, name)) => {
            let figures = run("PostgreSQL", Some(url), &args).await;
            if let Err(e) = support::pg::drop(&admin, &name).await {
                println!("note: could not drop the bench database {name}: {e}");
            }
            Some(figures?)
        }
        Err(e) => {
            println!("note: PostgreSQL not reachable ({e}); skipped");
            None
        }
    };
    let rss = peak_rss_mib();
    println!(
        "peak memory of this process (server + load generator, both runs, including the \
         argon2 hashing of {} seeded accounts): {rss:.1} MiB",
        args.buyers + 1
    );
    let r2 = |x: f64| (x * 100.0).round() / 100.0;
    let mut out = json!({
        "orders_per_sec": sqlite.orders_per_sec.round(),
        "p50_ms": r2(sqlite.p50_ms),
        "p99_ms": r2(sqlite.p99_ms),
        "sellout_per_sec": sqlite.sellout_per_sec.round(),
        "sellout_accepted": sqlite.sellout_accepted,
        "peak_rss_mib": (rss * 10.0).round() / 10.0,
        "rss_growth_mib": (sqlite.rss_growth_mib * 10.0).round() / 10.0,
    });
    if let Some(pg) = pg {
        out["pg_orders_per_sec"] = pg.orders_per_sec.round().into();
        out["pg_p50_ms"] = r2(pg.p50_ms).into();
        out["pg_p99_ms"] = r2(pg.p99_ms).into();
        out["pg_sellout_per_sec"] = pg.sellout_per_sec.round().into();
        out["pg_sellout_accepted"] = pg.sellout_accepted.into();
    }
    println!("{out}");
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn run(name: &str, database_url: Option<String>, args: &Args) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let settings = Settings {
        domain: format!("127.0.0.1:{}", addr.port()),
        bind: addr,
        data_dir: dir.path().to_path_buf(),
        database_url,
        mail_transport: MailTransport::File,
        ..Settings::default()
    };
    let store = server::open_store(&settings).await?;
    let state = AppState::new(store, settings);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    let (tokens, hot, sellout) = seed(&state, args).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(64))
        .build()?;
    let url = format!("{}/api/v1/orders", state.urls.base());
    let mut f = Figures::default();

    // 1. Contention on one stock row.
    let rss_before = rss_mib();
    let started = Instant::now();
    let results: Vec<(u16, Duration)> = stream::iter(0..args.orders)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            let token = tokens[i % tokens.len()].clone();
            let body = body(&hot, "c", i);
            async move { post(&client, &url, &token, body).await }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    let mut ok: Vec<Duration> = results
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, d)| *d)
        .collect();
    ok.sort();
    f.errors = results.len() - ok.len();
    f.orders_per_sec = ok.len() as f64 / secs;
    f.p50_ms = percentile(&ok, 0.5);
    f.p99_ms = percentile(&ok, 0.99);
    f.rss_growth_mib = rss_mib() - rss_before;
    println!(
        "[{name}] contention: {} orders in {secs:.2} s = {:.0} orders/s, p50 {:.2} ms, p99 \
         {:.2} ms, {} not created; resident memory {:+.1} MiB during the phase",
        ok.len(),
        f.orders_per_sec,
        f.p50_ms,
        f.p99_ms,
        f.errors,
        f.rss_growth_mib
    );

    // 2. Sell-out: more buyers than units.
    let started = Instant::now();
    let results: Vec<(u16, Duration)> = stream::iter(0..args.attempts)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            let token = tokens[i % tokens.len()].clone();
            let body = body(&sellout, "s", i);
            async move { post(&client, &url, &token, body).await }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    f.sellout_accepted = results.iter().filter(|(s, _)| *s == 201).count();
    f.sellout_refused = results.iter().filter(|(s, _)| *s == 422).count();
    f.sellout_other = results.len() - f.sellout_accepted - f.sellout_refused;
    f.sellout_per_sec = results.len() as f64 / secs;
    let (_, id) = state.urls.parse_product(&sellout).expect("our product URL");
    let left = service::product_by_id(&state.store, &id).await?.stock;
    println!(
        "[{name}] sell-out: {} attempts in {secs:.2} s = {:.0}/s; {} accepted, {} refused as \
         out of stock, {} other; stock left {left}{}",
        results.len(),
        f.sellout_per_sec,
        f.sellout_accepted,
        f.sellout_refused,
        f.sellout_other,
        if f.sellout_accepted == args.stock.min(args.attempts) && left == 0 {
            " (exact)"
        } else {
            " (MISMATCH)"
        }
    );
    let _ = stop.send(());
    let _ = server.await;
    Ok(f)
}

fn body(product: &str, phase: &str, i: usize) -> serde_json::Value {
    json!({
        "product": product,
        "quantity": 1,
        "shipping": {"name": format!("Buyer {i}"), "address_lines": ["1 Bench Street"],
                     "city": "Town", "postal_code": "12345", "country": "DE"},
        "payment_method": "bank_transfer",
        "email": format!("buyer{i}@bench.example"),
        "idempotency_key": format!("bench-{phase}-{i}"),
    })
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: serde_json::Value,
) -> (u16, Duration) {
    let t = Instant::now();
    let status = match client.post(url).bearer_auth(token).json(&body).send().await {
        Ok(r) => {
            let s = r.status().as_u16();
            let _ = r.bytes().await;
            s
        }
        Err(_) => 0,
    };
    (status, t.elapsed())
}

/// A seller with an open checkout, one hot product and one to sell out, and buyers with tokens.
/// Returns (tokens, hot product URL, sell-out product URL).
async fn seed(state: &AppState, args: &Args) -> anyhow::Result<(Vec<String>, String, String)> {
    let store = &state.store;
    let (seller, shop) = support::seller_with_shop(store, "bench", "Bench").await?;
    orders::update_settings(
        store,
        &seller,
        "bench",
        &CheckoutSettings {
            payment_methods: vec![PaymentOption {
                method: PaymentMethod::BankTransfer,
                details: "IBAN DE00 0000 0000".into(),
                url: None,
            }],
            shipping_options: vec![ShippingOption {
                id: "std".into(),
                name: "Standard".into(),
                price: "4.90".into(),
                currency: "EUR".into(),
                countries: vec![],
            }],
            ..Default::default()
        },
    )
    .await?;
    let product = |title: &str, stock: usize| ProductForm {
        title: title.into(),
        description: "A product".into(),
        price: "12.50".into(),
        currency: "EUR".into(),
        stock: stock as i64,
        ..Default::default()
    };
    let hot = service::create_product(
        store,
        &seller,
        &shop.handle,
        product("Hot", 10_000_000),
        ProductStatus::Published,
    )
    .await?;
    let sellout = service::create_product(
        store,
        &seller,
        &shop.handle,
        product("Limited", args.stock),
        ProductStatus::Published,
    )
    .await?;
    let mut tokens = Vec::new();
    for i in 0..args.buyers {
        let name = format!("buyer{i}");
        support::account(store, &name, Role::Member).await?;
        tokens.push(accounts::issue_token(store, &name, "bench").await?);
    }
    Ok((
        tokens,
        state.urls.product("bench", &hot.id),
        state.urls.product("bench", &sellout.id),
    ))
}

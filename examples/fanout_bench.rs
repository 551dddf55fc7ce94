//! Fan-out figures on this machine, printed (not a test): one new product's `Create` to N
//! shared inboxes spread over H fake instances on 127.0.0.1 (a share of them dead or slow),
//!   1. through fedishop's persistent queue (outbox worker -> `deliveries` -> delivery worker),
//!      timed from publishing until the last live inbox got it;
//!   2. through activitypub_federation's stock send path (`SendActivityTask::prepare` once,
//!      then `sign_and_send` per live inbox, debug mode so http and ports are accepted), the
//!      same body, signed as an actor on another host so that the fake instances count the
//!      two paths apart, with the same number in flight;
//!
//! and their ratio. The last line printed is one JSON object.
//!
//! Run: `cargo run --release --example fanout_bench [-- --inboxes 1000 --hosts 100
//! --dead-share 0.2 --slow-share 0 --slow-ms 15000 --concurrency 128 --per-host 4
//! --wait-secs 120]`. Everything stays on loopback and every loop and wait is bounded.

#[path = "fanout_bench/procfs.rs"]
mod procfs;
#[path = "fanout_bench/sinks.rs"]
mod sinks;
#[path = "fanout_bench/stock.rs"]
mod stock;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fedishop::config::Settings;
use fedishop::db::{follows, remote_actors};
use fedishop::domain::accounts::{self, NewUser, Role};
use fedishop::domain::catalog::{service, ProductForm, ProductStatus, ShopForm};
use fedishop::domain::social::{Follow, FollowState, RemoteActor};
use fedishop::server::{self, AppState};

use procfs::{cpu_reading, cpu_used, mib, open_files_limit, vm_kib};
use sinks::{arrivals, inbox_url, kind_of, start_hosts, wait_live, Counters, Kind, Sinks};

/// Command-line options, each with a bounded default.
struct Opts {
    inboxes: usize,
    hosts: usize,
    dead_share: f64,
    slow_share: f64,
    slow_ms: u64,
    concurrency: usize,
    per_host: usize,
    wait_secs: u64,
}

impl Opts {
    fn parse() -> anyhow::Result<Opts> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut given = HashMap::new();
        for pair in args.chunks(2) {
            let [name, value] = pair else {
                anyhow::bail!("flag {} has no value", pair[0]);
            };
            given.insert(name.trim_start_matches("--").to_string(), value.clone());
        }
        let known = [
            "inboxes",
            "hosts",
            "dead-share",
            "slow-share",
            "slow-ms",
            "concurrency",
            "per-host",
            "wait-secs",
        ];
        if let Some(k) = given.keys().find(|k| !known.contains(&k.as_str())) {
            anyhow::bail!("unknown flag --{k}; known: --{}", known.join(", --"));
        }
        fn get<T: std::str::FromStr>(
            g: &HashMap<String, String>,
            k: &str,
            d: T,
        ) -> anyhow::Result<T> {
            g.get(k).map_or(Ok(d), |v| {
                v.parse()
                    .map_err(|_| anyhow::anyhow!("--{k}: cannot read {v:?}"))
            })
        }
        let defaults = Settings::default();
        let o = Opts {
            inboxes: get(&given, "inboxes", 1000)?,
            hosts: get(&given, "hosts", 100)?,
            dead_share: get(&given, "dead-share", 0.2)?,
            slow_share: get(&given, "slow-share", 0.0)?,
            slow_ms: get(&given, "slow-ms", 15_000)?,
            concurrency: get(&given, "concurrency", defaults.delivery_concurrency)?,
            per_host: get(&given, "per-host", defaults.delivery_per_host)?,
            wait_secs: get(&given, "wait-secs", 120)?,
        };
        anyhow::ensure!((1..=10_000).contains(&o.inboxes), "--inboxes: 1 to 10000");
        anyhow::ensure!(
            (1..=o.inboxes).contains(&o.hosts),
            "--hosts: 1 to --inboxes"
        );
        anyhow::ensure!(
            (0.0..1.0).contains(&o.dead_share)
                && (0.0..1.0).contains(&o.slow_share)
                && o.dead_share + o.slow_share < 1.0,
            "--dead-share and --slow-share: each in [0, 1), together below 1"
        );
        anyhow::ensure!(o.slow_ms <= 60_000, "--slow-ms: at most 60000");
        anyhow::ensure!(
            (1..=1024).contains(&o.concurrency),
            "--concurrency: 1 to 1024"
        );
        anyhow::ensure!((1..=64).contains(&o.per_host), "--per-host: 1 to 64");
        anyhow::ensure!((1..=600).contains(&o.wait_secs), "--wait-secs: 1 to 600");
        Ok(o)
    }
}

/// Phase 1: fedishop's own path. Returns the seconds from publishing to the last live
/// delivery (None when not all arrived in time), the live inboxes' arrival times and the CPU
/// seconds the process used meanwhile.
async fn fedishop_phase(
    o: &Opts,
    sinks: &Arc<Sinks>,
    ports: &[u16],
    live: &[usize],
) -> anyhow::Result<(Option<f64>, Vec<f64>, f64)> {
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let settings = Settings {
        domain: format!("127.0.0.1:{}", addr.port()),
        bind: addr,
        data_dir: dir.path().to_path_buf(),
        dev_federation: true,
        delivery_concurrency: o.concurrency,
        delivery_per_host: o.per_host,
        ..Settings::default()
    };
    let store = server::open_store(&settings).await?;
    let state = AppState::new(store, settings);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));

    let seller = accounts::create_user(
        &state.store,
        NewUser {
            username: "seller".into(),
            display_name: None,
            password: "bench password".into(),
            password_confirm: None,
            role: Role::Seller,
        },
    )
    .await?;
    service::create_shop(
        &state.store,
        &seller,
        ShopForm {
            handle: "teashop".into(),
            name: "Tea".into(),
            summary: "Loose-leaf tea from small gardens, shipped within the EU.".into(),
            avatar_image: None,
            banner_image: None,
            links: vec![],
            manually_approves_followers: false,
        },
    )
    .await?;
    // Let the shop's own event go out (to nobody) before the followers exist.
    state.changed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A shop that has published before already has its key pair (made on first need, about
    // 0.2 s): fetching the actor document makes it now, outside the measurement.
    let actor_doc = reqwest::Client::new()
        .get(state.urls.shop("teashop"))
        .header("accept", "application/activity+json")
        .send()
        .await?;
    anyhow::ensure!(actor_doc.status().is_success(), "shop actor document");

    let shop_id = state.urls.shop("teashop");
    let setup = Instant::now();
    for n in 0..o.inboxes {
        let host = format!("localhost:{}", ports[n % o.hosts]);
        let id = format!("http://{host}/users/f{n}");
        remote_actors::upsert(
            &state.store,
            &RemoteActor {
                id: id.clone(),
                kind: "Person".into(),
                username: format!("f{n}"),
                host: host.clone(),
                name: format!("f{n}"),
                summary_html: String::new(),
                url: None,
                icon_url: None,
                inbox: format!("{id}/inbox"),
                shared_inbox: Some(inbox_url(ports, o, n)),
                followers: None,
                key_id: format!("{id}#main-key"),
                public_key_pem: String::new(),
                fetched_at: fedishop::domain::now_ms(),
            },
        )
        .await?;
        follows::upsert(
            &state.store,
            &Follow {
                follower: id,
                followee: shop_id.clone(),
                state: FollowState::Accepted,
                activity_id: format!("http://{host}/follows/{n}"),
                created_at: 0,
            },
        )
        .await?;
    }
    println!(
        "setup: {} remote followers stored in {:.1} s",
        o.inboxes,
        setup.elapsed().as_secs_f64()
    );

    let description = "A spring oolong from a small garden at 1,200 m, rolled by hand and \
        roasted twice over charcoal.\n\n**Taste:** orchid, honey, a little stone fruit.\n\n\
        **Brewing:** 5 g per 100 ml, 95 °C; 20 s, then longer. 100 g in a resealable bag.";
    let cpu_before = cpu_reading();
    let start = Instant::now();
    service::create_product(
        &state.store,
        &seller,
        "teashop",
        ProductForm {
            title: String::from_utf8(sinks.marker.clone())?,
            description: description.into(),
            price: "24.00".into(),
            currency: "EUR".into(),
            compare_at_price: Some("28.00".into()),
            stock: 40,
            sku: Some("OOL-SPR-26".into()),
            tags: ["tea", "oolong", "taiwan", "spring", "loose_leaf"]
                .map(String::from)
                .to_vec(),
            images: vec![],
            variants: vec![],
            status: Some("published".into()),
        },
        ProductStatus::Published,
    )
    .await?;
    state.changed();
    wait_live(sinks, live, start + Duration::from_secs(o.wait_secs)).await;
    let (cpu, by_thread) = cpu_used(&cpu_before, &cpu_reading());
    let times = arrivals(&sinks.phases[0], live, sinks.base, start);
    let done = (times.len() == live.len()).then(|| times.last().copied().unwrap_or(0.0));
    println!(
        "fedishop phase CPU: {cpu:.2} s in {:.2} s ({by_thread})",
        start.elapsed().as_secs_f64()
    );

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), serving).await;
    drop(state); // closes its HTTP client's pooled connections once the workers are gone
                 // The delivery worker finishes what is due before it sees the stop: wait (bounded) until
                 // nothing has arrived for a second, so the stock path does not share the cores with it.
    let c = &sinks.phases[0];
    let seen = || c.posts.load(Ordering::Relaxed) + c.other.load(Ordering::Relaxed);
    for _ in 0..30 {
        let before = seen();
        tokio::time::sleep(Duration::from_secs(1)).await;
        if seen() == before {
            break;
        }
    }
    Ok((done, times, cpu))
}

fn pct(t: &[f64], p: f64) -> f64 {
    if t.is_empty() {
        return f64::NAN;
    }
    t[((t.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = Opts::parse()?;
    let kinds: Vec<Kind> = (0..o.hosts).map(|h| kind_of(h, &o)).collect();
    let count = |k: Kind| kinds.iter().filter(|&&x| x == k).count();
    let live: Vec<usize> = (0..o.inboxes)
        .filter(|n| kinds[n % o.hosts] == Kind::Live)
        .collect();
    anyhow::ensure!(
        !live.is_empty(),
        "no live inbox: lower --dead-share/--slow-share"
    );
    // One socket per instance, both ends of the connections in flight, and both ends of the
    // idle pooled ones (a few per instance, one client at a time) unless the sinks close them.
    let pooled = if o.hosts == o.inboxes {
        0
    } else {
        2 * o.per_host.max(2).min(o.inboxes.div_ceil(o.hosts)) * (o.hosts - count(Kind::Dead))
    };
    let fds_needed = (o.hosts + 2 * o.concurrency + pooled + 256) as u64;
    match open_files_limit() {
        Some(limit) if fds_needed > limit => anyhow::bail!(
            "about {fds_needed} open files are needed but the limit is {limit}: \
             raise it (ulimit -n) or use fewer --hosts"
        ),
        Some(_) => {}
        None => println!("warning: could not read the open-files limit"),
    }
    let marker = format!("Fan-out oolong {}", fedishop::domain::now_ms());
    let sinks = Arc::new(Sinks {
        base: Instant::now(),
        marker: marker.into_bytes(),
        phases: [Counters::new(o.inboxes), Counters::new(o.inboxes)],
        sample: Mutex::new(None),
        slow: Duration::from_millis(o.slow_ms),
    });
    let (ports, _dead_sockets) = start_hosts(&o, &sinks).await?;
    let per = |k: Kind| (0..o.inboxes).filter(|n| kinds[n % o.hosts] == k).count();
    println!(
        "{} inboxes on {} instances: {} live ({} inboxes), {} dead ({} inboxes, refuse \
         connections), {} slow ({} inboxes, answer after {} ms); {} in flight, {} per instance",
        o.inboxes,
        o.hosts,
        count(Kind::Live),
        live.len(),
        count(Kind::Dead),
        per(Kind::Dead),
        count(Kind::Slow),
        per(Kind::Slow),
        o.slow_ms,
        o.concurrency,
        o.per_host,
    );
    let rss_setup = vm_kib("VmRSS:");

    let (f_done, f_times, f_cpu) = fedishop_phase(&o, &sinks, &ports, &live).await?;
    let f_rss = vm_kib("VmHWM:");
    let c0 = &sinks.phases[0];
    let f_secs = f_done.unwrap_or(o.wait_secs as f64);
    let f_rate = f_times.len() as f64 / f_secs;
    println!(
        "fedishop (persistent queue): {}/{} live inboxes in {:.2} s{} = {:.0} deliveries/s; \
         first {:.3} s, p50 {:.3} s, p99 {:.3} s; {} POSTs carried it ({} to slow instances' \
         inboxes), {} unsigned, {} other",
        f_times.len(),
        live.len(),
        f_secs,
        if f_done.is_none() {
            " (gave up waiting)"
        } else {
            ""
        },
        f_rate,
        pct(&f_times, 0.0),
        pct(&f_times, 0.5),
        pct(&f_times, 0.99),
        c0.posts.load(Ordering::Relaxed),
        (0..o.inboxes)
            .filter(
                |&n| kinds[n % o.hosts] == Kind::Slow && c0.first[n].load(Ordering::Relaxed) != 0
            )
            .count(),
        c0.unsigned.load(Ordering::Relaxed),
        c0.other.load(Ordering::Relaxed),
    );
    let body = sinks
        .sample
        .lock()
        .expect("sample lock")
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no activity arrived; nothing to send on the stock path"))?;
    println!("activity: {} bytes of JSON", body.len());

    let (s_done, s_times, s_failed, s_cpu) =
        stock::stock_phase(&o, &sinks, &ports, &live, &body).await?;
    let c1 = &sinks.phases[1];
    let s_secs = s_done.unwrap_or(o.wait_secs as f64);
    let s_rate = s_times.len() as f64 / s_secs;
    println!(
        "stock activitypub_federation (prepare + sign_and_send, {} in flight, live inboxes \
         only): {}/{} in {:.2} s{} = {:.0} deliveries/s; p50 {:.3} s; {} failed sends, {} \
         unsigned",
        o.concurrency,
        s_times.len(),
        live.len(),
        s_secs,
        if s_done.is_none() {
            " (gave up waiting)"
        } else {
            ""
        },
        s_rate,
        pct(&s_times, 0.5),
        if s_failed == usize::MAX {
            "timed out:".to_string()
        } else {
            s_failed.to_string()
        },
        c1.unsigned.load(Ordering::Relaxed),
    );
    let ratio = f_rate / s_rate;
    let peak = vm_kib("VmHWM:");
    let per_delivery = |cpu: f64, n: usize| cpu * 1000.0 / n.max(1) as f64;
    let (f_ms, s_ms) = (
        per_delivery(f_cpu, f_times.len()),
        per_delivery(s_cpu, s_times.len()),
    );
    let (aws_rate, rsa_rate) = stock::signing_rates()?;
    println!(
        "CPU per live delivery (whole process, fake instances included): fedishop {f_ms:.3} ms, \
         stock {s_ms:.3} ms; signing alone, one thread: fedishop (aws-lc-rs) {aws_rate:.0}/s, \
         stock (rsa) {rsa_rate:.0}/s, {:.2}x: the most ratio_vs_stock can be while both are \
         bound by CPU",
        aws_rate / rsa_rate
    );
    println!(
        "ratio fedishop / stock: {ratio:.2}; peak RSS {:.1} MiB (after setting up the fake \
         instances {:.1} MiB, at the end of the fedishop phase {:.1} MiB)",
        mib(peak),
        mib(rss_setup),
        mib(f_rss),
    );
    let round = |x: f64, d: i32| (x * 10f64.powi(d)).round() / 10f64.powi(d);
    println!(
        "{}",
        serde_json::json!({
            "deliveries_per_sec": round(f_rate, 1),
            "stock_deliveries_per_sec": round(s_rate, 1),
            "ratio_vs_stock": round(ratio, 2),
            "live_done_secs": f_done.map(|s| round(s, 3)),
            "peak_rss_mib": round(mib(peak), 1),
            "fake_instances_rss_mib": round(mib(rss_setup), 1),
            "fedishop_phase_peak_rss_mib": round(mib(f_rss), 1),
            "stock_done_secs": s_done.map(|s| round(s, 3)),
            "live_delivered": f_times.len(),
            "live_inboxes": live.len(),
            "inboxes": o.inboxes,
            "hosts": o.hosts,
            "dead_share": o.dead_share,
            "slow_share": o.slow_share,
            "concurrency": o.concurrency,
            "per_host": o.per_host,
            "activity_bytes": body.len(),
            "cpu_ms_per_delivery": round(f_ms, 3),
            "stock_cpu_ms_per_delivery": round(s_ms, 3),
            "signs_per_sec": round(aws_rate, 0),
            "stock_signs_per_sec": round(rsa_rate, 0),
            "signing_ratio": round(aws_rate / rsa_rate, 2),
        })
    );
    Ok(())
}

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

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use activitypub_federation::activity_sending::SendActivityTask;
use activitypub_federation::config::{Data, FederationConfig};
use activitypub_federation::traits::{Activity, Actor, Object};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONNECTION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use fedishop::config::Settings;
use fedishop::db::{follows, remote_actors};
use fedishop::domain::accounts::{self, NewUser, Role};
use fedishop::domain::catalog::{service, ProductForm, ProductStatus, ShopForm};
use fedishop::domain::social::{Follow, FollowState, RemoteActor};
use fedishop::server::{self, AppState};
use futures_util::stream::{self, StreamExt};
use url::Url;

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

/// What kind of fake instance a host index is. Dead and slow ones are spread evenly over the
/// host indexes (and so over the inboxes, which go round-robin over the hosts).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Live,
    Dead,
    Slow,
}

fn kind_of(host: usize, o: &Opts) -> Kind {
    // Whether index `i` is one of the evenly spread `share` of all indexes.
    let picked =
        |i: usize, share: f64| ((i + 1) as f64 * share).floor() > (i as f64 * share).floor();
    let special = o.dead_share + o.slow_share;
    if !picked(host, special) {
        return Kind::Live;
    }
    // The k-th special instance; dead and slow ones alternate in proportion.
    let k = (((host + 1) as f64 * special).floor() as usize).saturating_sub(1);
    if picked(k, o.dead_share / special) {
        Kind::Dead
    } else {
        Kind::Slow
    }
}

/// What the fake inboxes saw during one phase.
struct Counters {
    /// Per inbox: nanoseconds after `base` when the activity first arrived (0 = not yet).
    first: Vec<AtomicU64>,
    /// Inboxes that got it at least once.
    distinct: AtomicUsize,
    /// POSTs carrying the activity (duplicates included).
    posts: AtomicUsize,
    /// POSTs without a `Signature` header (answered 401).
    unsigned: AtomicUsize,
    /// Other signed POSTs (not this activity).
    other: AtomicUsize,
}

impl Counters {
    fn new(inboxes: usize) -> Counters {
        Counters {
            first: (0..inboxes).map(|_| AtomicU64::new(0)).collect(),
            distinct: AtomicUsize::new(0),
            posts: AtomicUsize::new(0),
            unsigned: AtomicUsize::new(0),
            other: AtomicUsize::new(0),
        }
    }
}

/// Where the stock path's actor claims to live: its signatures' key ids name this host, which
/// tells the fake instances whose delivery they got (fedishop may still be sending late ones).
const STOCK_HOST: &str = "stock.bench.example";

/// Shared by every fake instance.
struct Sinks {
    base: Instant,
    /// The product title, which only the measured activity carries.
    marker: Vec<u8>,
    /// 0: signed by fedishop, 1: signed by the stock path (its key id is on `STOCK_HOST`).
    phases: [Counters; 2],
    /// The first activity body that arrived, sent again unchanged by the stock path.
    sample: Mutex<Option<Bytes>>,
    slow: Duration,
}

#[derive(Clone)]
struct HostCtx {
    sinks: Arc<Sinks>,
    slow: bool,
    /// Answer `Connection: close`: when every instance has one inbox, a connection is never
    /// used twice, and closing it keeps 10,000 instances within the open-files limit.
    close: bool,
}

/// A fake shared inbox: 401 without a signature, otherwise counts and answers 202 (a slow
/// instance answers only after `--slow-ms`).
async fn inbox(
    State(h): State<HostCtx>,
    Path(n): Path<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut response = record(&h, n, &headers, body).await.into_response();
    if h.close {
        let headers = response.headers_mut();
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn record(h: &HostCtx, n: usize, headers: &HeaderMap, body: Bytes) -> StatusCode {
    let s = &h.sinks;
    let Some(signature) = headers.get("signature") else {
        s.phases[0].unsigned.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    };
    let c = &s.phases[usize::from(contains(signature.as_bytes(), STOCK_HOST.as_bytes()))];
    if !contains(&body, &s.marker) {
        c.other.fetch_add(1, Ordering::Relaxed);
        return StatusCode::ACCEPTED;
    }
    c.posts.fetch_add(1, Ordering::Relaxed);
    if let Some(slot) = c.first.get(n) {
        let at = (s.base.elapsed().as_nanos() as u64).max(1);
        if slot
            .compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            c.distinct.fetch_add(1, Ordering::Relaxed);
        }
    }
    {
        let mut sample = s.sample.lock().expect("sample lock");
        if sample.is_none() {
            *sample = Some(body);
        }
    }
    if h.slow {
        tokio::time::sleep(s.slow).await;
    }
    StatusCode::ACCEPTED
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// One port per fake instance. Dead ones are sockets that are bound (so the port stays
/// reserved) but never listen: connecting is refused at once.
async fn start_hosts(
    o: &Opts,
    sinks: &Arc<Sinks>,
) -> anyhow::Result<(Vec<u16>, Vec<tokio::net::TcpSocket>)> {
    let mut ports = Vec::with_capacity(o.hosts);
    let mut dead = Vec::new();
    for h in 0..o.hosts {
        let kind = kind_of(h, o);
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind("127.0.0.1:0".parse()?)?;
        ports.push(socket.local_addr()?.port());
        if kind == Kind::Dead {
            dead.push(socket);
            continue;
        }
        let listener = socket.listen(1024)?;
        let app = axum::Router::new()
            .route("/inbox/{n}", post(inbox))
            .with_state(HostCtx {
                sinks: sinks.clone(),
                slow: kind == Kind::Slow,
                close: o.hosts == o.inboxes,
            });
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    Ok((ports, dead))
}

fn inbox_url(ports: &[u16], o: &Opts, n: usize) -> String {
    format!("http://localhost:{}/inbox/{n}", ports[n % o.hosts])
}

/// Live inboxes reached and the arrival times (seconds after `start`) of the first copies.
fn arrivals(c: &Counters, live: &[usize], base: Instant, start: Instant) -> Vec<f64> {
    let offset = start.duration_since(base).as_nanos() as u64;
    let mut t: Vec<f64> = live
        .iter()
        .filter_map(|&n| match c.first[n].load(Ordering::Relaxed) {
            0 => None,
            at => Some(at.saturating_sub(offset) as f64 / 1e9),
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t
}

/// Waits (bounded) until every live inbox has the activity from fedishop.
async fn wait_live(s: &Sinks, live: &[usize], deadline: Instant) {
    let c = &s.phases[0];
    while Instant::now() < deadline {
        if live
            .iter()
            .all(|&n| c.first[n].load(Ordering::Relaxed) != 0)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn vm_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.trim_start_matches(field)
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Soft limit on open files, from /proc/self/limits.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

// --- The stock path's types: an actor that can sign, and an activity that is a JSON body.

#[derive(Debug)]
struct StockActor {
    id: Url,
    public_pem: String,
    private_pem: String,
}

#[async_trait::async_trait]
impl Object for StockActor {
    type DataType = ();
    type Kind = serde_json::Value;
    type Error = activitypub_federation::error::Error;

    fn id(&self) -> &Url {
        &self.id
    }
    async fn read_from_id(_: Url, _: &Data<()>) -> Result<Option<Self>, Self::Error> {
        Ok(None)
    }
    async fn into_json(self, _: &Data<()>) -> Result<serde_json::Value, Self::Error> {
        Ok(serde_json::json!({ "id": self.id }))
    }
    async fn verify(_: &serde_json::Value, _: &Url, _: &Data<()>) -> Result<(), Self::Error> {
        Ok(())
    }
    async fn from_json(_: serde_json::Value, _: &Data<()>) -> Result<Self, Self::Error> {
        Err(Self::Error::Other("not used by this benchmark".into()))
    }
}

impl Actor for StockActor {
    fn public_key_pem(&self) -> &str {
        &self.public_pem
    }
    fn private_key_pem(&self) -> Option<String> {
        Some(self.private_pem.clone())
    }
    fn inbox(&self) -> Url {
        self.id.clone()
    }
}

#[derive(Debug)]
struct StockActivity {
    id: Url,
    actor: Url,
    body: serde_json::Value,
}

impl serde::Serialize for StockActivity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.body.serialize(s)
    }
}

#[async_trait::async_trait]
impl Activity for StockActivity {
    type DataType = ();
    type Error = activitypub_federation::error::Error;

    fn id(&self) -> &Url {
        &self.id
    }
    fn actor(&self) -> &Url {
        &self.actor
    }
    async fn verify(&self, _: &Data<()>) -> Result<(), Self::Error> {
        Ok(())
    }
    async fn receive(self, _: &Data<()>) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Phase 1: fedishop's own path. Returns the seconds from publishing to the last live
/// delivery (None when not all arrived in time) and the live inboxes' arrival times.
async fn fedishop_phase(
    o: &Opts,
    sinks: &Arc<Sinks>,
    ports: &[u16],
    live: &[usize],
) -> anyhow::Result<(Option<f64>, Vec<f64>)> {
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
    let times = arrivals(&sinks.phases[0], live, sinks.base, start);
    let done = (times.len() == live.len()).then(|| times.last().copied().unwrap_or(0.0));

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
    Ok((done, times))
}

/// Phase 2: the stock activitypub_federation path, the same body to the live inboxes.
/// Returns the seconds until the last one arrived (None when not all did), the arrival times
/// and how many sends failed (`usize::MAX` when the wait ran out).
async fn stock_phase(
    o: &Opts,
    sinks: &Arc<Sinks>,
    ports: &[u16],
    live: &[usize],
    body: &Bytes,
) -> anyhow::Result<(Option<f64>, Vec<f64>, usize)> {
    let body: serde_json::Value = serde_json::from_slice(body)?;
    let field = |k: &str| Url::parse(body[k].as_str().unwrap_or_default());
    let activity = StockActivity {
        id: field("id")?,
        actor: Url::parse(&format!("http://{STOCK_HOST}/actor"))?,
        body: body.clone(),
    };
    let (public_pem, private_pem) = fedishop::federation::signatures::generate_key_pair()?;
    let actor = StockActor {
        id: activity.actor.clone(),
        public_pem,
        private_pem,
    };
    let config = FederationConfig::builder()
        .domain(STOCK_HOST)
        .app_data(())
        .debug(true)
        .build()
        .await?;
    let data = config.to_request_data();
    let inboxes = live
        .iter()
        .map(|&n| Url::parse(&inbox_url(ports, o, n)))
        .collect::<Result<Vec<_>, _>>()?;

    let start = Instant::now();
    let tasks = SendActivityTask::prepare(&activity, &actor, inboxes, &data).await?;
    anyhow::ensure!(tasks.len() == live.len(), "prepare dropped inboxes");
    let failed = tokio::time::timeout(
        Duration::from_secs(o.wait_secs),
        stream::iter(tasks)
            .map(|task| {
                let data = data.clone();
                async move { task.sign_and_send(&data).await.is_err() }
            })
            .buffer_unordered(o.concurrency)
            .filter(|failed| std::future::ready(*failed))
            .count(),
    )
    .await
    .unwrap_or(usize::MAX);
    let times = arrivals(&sinks.phases[1], live, sinks.base, start);
    let done = (times.len() == live.len()).then(|| times.last().copied().unwrap_or(0.0));
    Ok((done, times, failed))
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

    let (f_done, f_times) = fedishop_phase(&o, &sinks, &ports, &live).await?;
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

    let (s_done, s_times, s_failed) = stock_phase(&o, &sinks, &ports, &live, &body).await?;
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
        })
    );
    Ok(())
}

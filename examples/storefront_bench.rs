//! Storefront benchmark: how fast fedishop serves a public product page to anonymous visitors,
//! compared with nginx serving the very same bytes as a static file.
//!
//! Run it with `scripts/bench-storefront.sh` (installs nginx, builds, runs), or by hand:
//!
//! ```text
//! cargo build --release --bin fedishop --example storefront_bench
//! cargo run --release --example storefront_bench -- [--seconds 10] [--connections 64]
//! ```
//!
//! What it does, in one run:
//!
//! 1. Seeds a temporary data directory through the library: a seller, a shop and one published
//!    product that looks like a real listing (about 1.5 KB of Markdown description, 5 tags,
//!    3 variants, one uploaded PNG image).
//! 2. Starts the release `fedishop` binary as a separate process (`FEDISHOP_BIN` overrides its
//!    path), fetches `GET /shops/{handle}/products/{id}` once without cookies, checks that it is
//!    a 200 `text/html` page containing the product title, and saves those exact bytes as
//!    `product.html`.
//! 3. Starts nginx (the Debian package) as a separate process with a generated minimal config
//!    (sendfile, open_file_cache, no access log, 2 workers) serving that file. Without nginx the
//!    comparison is skipped and only the fedishop figures are printed.
//! 4. Drives each server in turn, with the same parameters, from a closed-loop load generator
//!    in this process: C keep-alive HTTP/1.1 connections (hyper), each sending the next GET as
//!    soon as the previous response body has been read completely. 1 s of warm-up, then N s
//!    measured. No `Accept-Encoding` is sent, so both servers send the page uncompressed.
//!
//! How to read the report:
//!
//! * `req/s` counts responses completed inside the measured window; `MB/s` is body bytes
//!   (10^6 bytes) per second. Latencies are per request, from sending the request to having
//!   read the last body byte, so with a closed loop `p50 ≈ connections / req/s`.
//! * `errors` counts non-200 responses, failed connections and requests taking over 5 s.
//! * `srv cores` / `gen cores` are the CPU time used during the measured window by the server
//!   (nginx: master and workers) and by this load generator, in cores. The load generator runs
//!   on the same machine and competes with the server for the same cores, so absolute figures
//!   are a lower bound on what the server alone could do; the fedishop/nginx ratio is the
//!   figure of merit (goal: at least 0.5).
//! * fedishop keeps rendered public pages in a short-lived in-memory cache for anonymous
//!   visitors, so this measures mostly cache hits plus a re-render whenever an entry expires,
//!   which is what a burst of anonymous traffic on one product sees.
//! * The peak RSS (VmHWM) of the fedishop process is read after the run.
//!
//! Benchmarks print figures; they are never timed tests. Check `uptime` before trusting a run:
//! a concurrent compile on a 2-core machine halves the figures.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use fedishop::config::Settings;
use fedishop::domain::accounts::{self, NewUser, Role, User};
use fedishop::domain::catalog::service as catalog;
use fedishop::domain::catalog::{
    ImageForm, ProductForm, ProductStatus, ShopForm, ShopLink, VariantForm, VariantOption,
};

/// Worker threads of this process's tokio runtime (the load generator). Keep in sync with the
/// `#[tokio::main]` attribute below.
const GEN_THREADS: usize = 2;
/// A request that takes longer than this counts as an error and its connection is replaced.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for a child server to answer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// The goal from the issue: fedishop serves at least this fraction of nginx's static rate.
const GOAL_RATIO: f64 = 0.5;

const SHOP_HANDLE: &str = "kyotoleaf";
const PRODUCT_TITLE: &str = "Uji Kabusecha Shaded Green Tea";

#[derive(Parser, Debug)]
#[command(
    about = "Product-page requests/s and latency of fedishop vs. nginx serving the same bytes"
)]
struct Args {
    /// Measured seconds per target (after 1 s of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Warm-up seconds per target, not measured.
    #[arg(long, default_value_t = 1)]
    warmup: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.seconds == 0 || args.connections == 0 {
        bail!("--seconds and --connections must be at least 1");
    }
    // Dropping `run` (on Ctrl-C) drops its child-process guards, which stop the servers.
    tokio::select! {
        r = run(args) => r,
        _ = tokio::signal::ctrl_c() => bail!("interrupted (servers stopped)"),
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: the load generator is a debug build; use `cargo run --release`");
    }
    let bin = fedishop_binary()?;
    let stale = older_than_sources(&bin);
    if stale {
        eprintln!(
            "warning: {} is older than the sources; rebuild with \
             `cargo build --release --bin fedishop`",
            bin.display()
        );
    }

    // The directory (and everything in it) is removed when `tmp` drops, after the guards below.
    let tmp = tempfile::Builder::new()
        .prefix("storefront-bench-")
        .tempdir()?;
    let data_dir = tmp.path().join("data");
    let www_dir = tmp.path().join("www");
    std::fs::create_dir_all(&www_dir)?;
    // nginx workers run as an unprivileged user when started by root: let them read the page.
    make_world_readable(tmp.path())?;
    make_world_readable(&www_dir)?;

    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let domain = format!("127.0.0.1:{port}");

    eprintln!("seeding {} ...", data_dir.display());
    let settings = Settings {
        domain: domain.clone(),
        bind: addr,
        data_dir: data_dir.clone(),
        ..Settings::default()
    };
    let product_path = seed(&settings)
        .await
        .context("seeding the data directory")?;

    eprintln!("starting {} on {addr} ...", bin.display());
    let log_path = tmp.path().join("fedishop.log");
    let log = std::fs::File::create(&log_path)?;
    let mut cmd = Command::new(&bin);
    cmd.arg("--data-dir")
        .arg(&data_dir)
        .args(["serve", "--bind", &domain, "--domain", &domain])
        .current_dir(tmp.path()) // so no stray ./fedishop.toml is picked up
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    for (k, _) in std::env::vars() {
        if k.starts_with("FEDISHOP_") && k != "FEDISHOP_LOG" {
            cmd.env_remove(k);
        }
    }
    let mut server = ChildGuard::spawn("fedishop", &mut cmd)?;
    wait_until_ok(&mut server, addr, &domain, "/healthz", &log_path).await?;

    let page = get_once(addr, &domain, &product_path).await?;
    if page.status != StatusCode::OK {
        bail!(
            "GET {product_path} answered {} (does this build serve product pages yet?){}",
            page.status,
            log_tail(&log_path)
        );
    }
    let content_type = page.content_type.as_deref().unwrap_or("");
    if !content_type.starts_with("text/html") {
        bail!("GET {product_path} answered Content-Type {content_type:?}, expected text/html");
    }
    if !String::from_utf8_lossy(&page.body).contains(PRODUCT_TITLE) {
        bail!("GET {product_path} answered a page without the product title {PRODUCT_TITLE:?}");
    }
    let page_file = www_dir.join("product.html");
    std::fs::write(&page_file, &page.body)?;
    make_world_readable(&page_file)?;

    let mut nginx = match nginx_binary() {
        Some(nginx_bin) => {
            let nginx_port = free_port()?;
            let nginx_addr: SocketAddr = ([127, 0, 0, 1], nginx_port).into();
            eprintln!("starting {} on {nginx_addr} ...", nginx_bin.display());
            let mut guard = start_nginx(&nginx_bin, tmp.path(), &www_dir, nginx_addr)?;
            let host = nginx_addr.to_string();
            let error_log = tmp.path().join("nginx").join("error.log");
            wait_until_ok(&mut guard, nginx_addr, &host, "/product.html", &error_log).await?;
            let copy = get_once(nginx_addr, &host, "/product.html").await?;
            if copy.body != page.body {
                bail!("nginx served different bytes than fedishop's page");
            }
            Some((guard, nginx_addr, nginx_version(&nginx_bin), copy))
        }
        None => {
            eprintln!();
            eprintln!("nginx not found (neither on PATH nor /usr/sbin/nginx): the static-file");
            eprintln!("comparison is SKIPPED. Install it with `apt-get install -y nginx`, or run");
            eprintln!("scripts/bench-storefront.sh, which does.");
            eprintln!();
            None
        }
    };

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("fedishop storefront benchmark");
    println!("=============================");
    println!("machine:     {cores} cores ({}), Linux", cpu_model());
    println!(
        "load avg:    {} (1, 5, 15 min, before the load)",
        load_average()
    );
    println!("build:       {}", build_description(&bin, stale));
    println!(
        "load gen:    this process, tokio multi-thread runtime with {GEN_THREADS} worker threads; \
         it shares the {cores} cores with the server under test"
    );
    println!(
        "method:      {} keep-alive HTTP/1.1 connections, closed loop (next GET as soon as the \
         previous body is read), {} s warm-up + {} s measured per target, targets one after \
         the other",
        args.connections, args.warmup, args.seconds
    );
    println!(
        "page:        GET {product_path}: {} bytes of {content_type}, response headers ~{} bytes",
        page.body.len(),
        page.header_bytes
    );
    if let Some((_, _, version, copy)) = &nginx {
        println!(
            "static copy: GET /product.html from {version}: identical {} bytes, response \
             headers ~{} bytes",
            copy.body.len(),
            copy.header_bytes
        );
    }
    println!();

    let load = LoadParams {
        connections: args.connections,
        warmup: Duration::from_secs(args.warmup),
        measure: Duration::from_secs(args.seconds),
    };
    eprintln!("load: fedishop ...");
    let fedishop_target = Target {
        addr,
        host: domain.clone(),
        path: product_path.clone(),
        expected_len: page.body.len(),
    };
    let fedishop_result = run_load(&fedishop_target, &load, server.pid()).await;
    let peak_rss = proc_status_kib(server.pid(), "VmHWM");
    let static_result = match &mut nginx {
        Some((guard, nginx_addr, _, _)) => {
            eprintln!("load: nginx ...");
            let target = Target {
                addr: *nginx_addr,
                host: nginx_addr.to_string(),
                path: "/product.html".into(),
                expected_len: page.body.len(),
            };
            Some(run_load(&target, &load, guard.pid()).await)
        }
        None => None,
    };

    println!(
        "{:<26} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9} {:>9}",
        "target",
        "req/s",
        "MB/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "srv cores",
        "gen cores"
    );
    fedishop_result.print_row("fedishop product page");
    if let Some(r) = &static_result {
        r.print_row("nginx static product.html");
    }
    println!(
        "(req/s and MB/s = 10^6 body bytes/s over the measured window; latency = request sent to \
         last body byte read; srv/gen cores = CPU time of the server (nginx: master + workers) \
         and of this load generator during the window)"
    );
    println!();
    for (name, r) in [
        ("fedishop", Some(&fedishop_result)),
        ("nginx", static_result.as_ref()),
    ] {
        let Some(r) = r else { continue };
        let mut notes = vec![format!("{} requests measured", group_thousands(r.requests))];
        if r.size_mismatches > 0 {
            notes.push(format!("{} bodies of another size", r.size_mismatches));
        }
        if r.reconnects > 0 {
            notes.push(format!("{} reconnects", r.reconnects));
        }
        println!("{name}: {}", notes.join(", "));
    }
    match peak_rss {
        Some(kib) => println!("fedishop peak RSS (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("fedishop peak RSS (VmHWM): unavailable"),
    }
    println!();
    match &static_result {
        Some(s) if s.rps() > 0.0 => {
            let ratio = fedishop_result.rps() / s.rps();
            let verdict = if ratio >= GOAL_RATIO {
                "MET"
            } else {
                "NOT MET"
            };
            println!(
                "fedishop / nginx static: {ratio:.2} of the static rate (goal >= {GOAL_RATIO:.2}: \
                 {verdict})"
            );
        }
        Some(_) => println!("fedishop / nginx static: nginx completed no request; no ratio"),
        None => println!("fedishop / nginx static: not measured (nginx is not installed)"),
    }
    // Server and load generator together should keep every core busy; if not, something else
    // was competing for the CPU.
    for (name, r) in [
        ("fedishop", Some(&fedishop_result)),
        ("nginx", static_result.as_ref()),
    ] {
        let Some(r) = r else { continue };
        let used = r.server_cores + r.generator_cores;
        if used < 0.8 * cores as f64 {
            println!(
                "WARNING: during the {name} run server and load generator used only {used:.2} of \
                 {cores} cores: something else was probably running; rerun on an idle machine."
            );
        }
    }
    if fedishop_result.errors > 0 || static_result.as_ref().is_some_and(|r| r.errors > 0) {
        println!("WARNING: some requests failed; the figures above are not clean.");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Seeding

/// Creates the seller, shop and product; returns the product page's path.
async fn seed(settings: &Settings) -> anyhow::Result<String> {
    let store = fedishop::server::open_store(settings).await?;
    let seller = accounts::create_user(
        &store,
        NewUser {
            username: "hanako".into(),
            display_name: Some("Hanako Tanaka".into()),
            password: "correct horse battery staple".into(),
            password_confirm: None,
            role: Role::Seller,
        },
    )
    .await?;
    catalog::create_shop(
        &store,
        &seller,
        ShopForm {
            handle: SHOP_HANDLE.into(),
            name: "Kyoto Leaf Tea Co.".into(),
            summary: "Small-batch **Japanese green teas**, sourced directly from family farms \
                      in Uji, Shizuoka and Kagoshima. Shipped every Tuesday."
                .into(),
            avatar_image: None,
            banner_image: None,
            links: vec![ShopLink {
                label: "Blog".into(),
                url: "https://blog.kyotoleaf.example/".into(),
            }],
        },
    )
    .await?;
    let image = upload_sample_image(&store, settings, &seller).await?;
    let variant = |sku: &str, size: &str, price: &str, stock: i64| VariantForm {
        sku: sku.into(),
        options: vec![VariantOption {
            name: "Size".into(),
            value: size.into(),
        }],
        price: Some(price.into()),
        stock,
    };
    let product = catalog::create_product(
        &store,
        &seller,
        SHOP_HANDLE,
        ProductForm {
            title: PRODUCT_TITLE.into(),
            description: DESCRIPTION.into(),
            price: "14.50".into(),
            currency: "EUR".into(),
            compare_at_price: Some("17.00".into()),
            stock: 0,
            sku: Some("UJI-KABUSE".into()),
            tags: ["greentea", "uji", "kabusecha", "loose_leaf", "organic"]
                .map(String::from)
                .to_vec(),
            images: vec![ImageForm {
                id: image.id.to_string(),
                alt: "Dark green, needle-shaped tea leaves in a small white ceramic bowl".into(),
            }],
            variants: vec![
                variant("UJI-KABUSE-50", "50 g", "14.50", 42),
                variant("UJI-KABUSE-100", "100 g", "26.00", 17),
                variant("UJI-KABUSE-250", "250 g", "59.00", 5),
            ],
            status: Some("published".into()),
        },
        ProductStatus::Published,
    )
    .await?;
    store.close().await;
    Ok(fedishop::urls::Urls::product_path(SHOP_HANDLE, &product.id))
}

/// A 960×720 PNG gradient, uploaded the way the web form does it.
async fn upload_sample_image(
    store: &fedishop::db::Store,
    settings: &Settings,
    owner: &User,
) -> anyhow::Result<fedishop::domain::images::Image> {
    let img = image::RgbImage::from_fn(960, 720, |x, y| {
        image::Rgb([(40 + x / 8) as u8, (90 + y / 6) as u8, ((x + y) / 12) as u8])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)?;
    let image = fedishop::domain::images::store_upload(
        store,
        &settings.media_dir(),
        owner,
        png.into_inner(),
        settings.max_upload_bytes,
        "image",
    )
    .await?;
    Ok(image)
}

/// About 1.5 KB of Markdown, the size of a typical hand-written listing.
const DESCRIPTION: &str = "\
## Shaded for sweetness

Our **kabusecha** comes from a third-generation family garden on the hills above Uji. The \
bushes are covered with black *kanreisha* cloth for about ten days before the first spring \
harvest, which raises the theanine content and gives the leaf its deep colour, a soft, brothy \
sweetness and very little bitterness. It sits between a bright everyday sencha and a \
gyokuro.

### Tasting notes

- Fresh-cut grass and steamed spinach on the nose
- Round, savoury *umami* with a hint of sweet pea
- Long, clean finish without astringency

### How to brew

1. Use soft water at **70 °C** (let boiled water rest for about three minutes).
2. Put 5 g of leaves in a *kyusu* or any small teapot for 150 ml of water.
3. Steep for 60 seconds, then pour out every last drop.
4. Re-steep two or three times: 20 seconds for the second infusion, 45 for the third.

Cold brewing works beautifully too: 10 g of leaves in a litre of cold water, eight hours in \
the fridge.

### Storage

Keep the resealable pouch closed, away from light and strong smells, and enjoy it within two \
months of opening. Unopened pouches keep for a year in a cool cupboard.

> \"The best kabusecha I have found outside Japan.\" (a customer from Lyon)

Harvested in May 2024, first flush, *Yabukita* and *Saemidori* cultivars. Packed by hand in \
our workshop; see our [brewing guide](https://blog.kyotoleaf.example/brewing) for more.
";

// ---------------------------------------------------------------------------------------------
// Child processes

/// A child server that is stopped (SIGTERM, then SIGKILL after 5 s) when the guard drops,
/// including on errors and panics.
struct ChildGuard {
    name: &'static str,
    child: Child,
}

impl ChildGuard {
    fn spawn(name: &'static str, cmd: &mut Command) -> anyhow::Result<ChildGuard> {
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(ChildGuard { name, child })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(description)` if the process has exited.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.name)),
            Ok(None) => None,
            Err(e) => Some(format!("{}: {e}", self.name)),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        // SIGTERM lets fedishop shut down gracefully and makes the nginx master stop its
        // workers (SIGKILL on the master would leave the workers running).
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `FEDISHOP_BIN`, else the `fedishop` binary next to this example's directory
/// (`target/release/examples/..`), else `target/release/fedishop` in the crate.
fn fedishop_binary() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("FEDISHOP_BIN") {
        return Ok(PathBuf::from(p));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("fedishop")));
    let in_crate = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/fedishop");
    if cfg!(not(debug_assertions)) {
        if let Some(p) = beside.filter(|p| p.is_file()) {
            return Ok(p);
        }
    }
    if in_crate.is_file() {
        return Ok(in_crate);
    }
    bail!(
        "no fedishop binary at {}: run `cargo build --release --bin fedishop` or set FEDISHOP_BIN",
        in_crate.display()
    )
}

/// Whether `bin` looks older than the sources (`cargo run --example` does not rebuild the
/// server binary).
fn older_than_sources(bin: &Path) -> bool {
    fn newest(dir: &Path) -> Option<std::time::SystemTime> {
        let mut best = None;
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            let t = if path.is_dir() {
                newest(&path)
            } else {
                entry.metadata().ok()?.modified().ok()
            };
            best = best.max(t);
        }
        best
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = ["src", "migrations"]
        .iter()
        .filter_map(|d| newest(&root.join(d)))
        .max();
    let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok();
    matches!((src, built), (Some(src), Some(built)) if src > built)
}

fn nginx_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nginx"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()))
}

fn nginx_version(bin: &Path) -> String {
    // `nginx -v` prints "nginx version: nginx/1.22.1" on stderr.
    Command::new(bin)
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stderr).into_owned();
            Some(text.trim().strip_prefix("nginx version: ")?.to_string())
        })
        .unwrap_or_else(|| "nginx".into())
}

/// Writes a minimal config under `tmp/nginx` and starts nginx in the foreground with it.
fn start_nginx(bin: &Path, tmp: &Path, www: &Path, addr: SocketAddr) -> anyhow::Result<ChildGuard> {
    let prefix = tmp.join("nginx");
    std::fs::create_dir_all(&prefix)?;
    let p = |name: &str| prefix.join(name).display().to_string();
    // Temp paths inside the prefix so that nothing outside the temp dir is needed.
    let conf = format!(
        "daemon off;
master_process on;
worker_processes 2;
error_log {error_log};
pid {pid};
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=100;
    keepalive_requests 100000;
    client_body_temp_path {body};
    proxy_temp_path {proxy};
    fastcgi_temp_path {fastcgi};
    uwsgi_temp_path {uwsgi};
    scgi_temp_path {scgi};
    server {{
        listen {addr};
        root {www};
        location / {{ default_type text/html; }}
    }}
}}
",
        error_log = p("error.log"),
        pid = p("nginx.pid"),
        body = p("client_body"),
        proxy = p("proxy"),
        fastcgi = p("fastcgi"),
        uwsgi = p("uwsgi"),
        scgi = p("scgi"),
        www = www.display(),
    );
    let conf_path = prefix.join("nginx.conf");
    std::fs::write(&conf_path, conf)?;
    let out = std::fs::File::create(prefix.join("stderr.log"))?;
    let mut cmd = Command::new(bin);
    cmd.arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    ChildGuard::spawn("nginx", &mut cmd)
}

/// Polls `path` until it answers 200, the child exits, or [`STARTUP_TIMEOUT`] passes.
async fn wait_until_ok(
    child: &mut ChildGuard,
    addr: SocketAddr,
    host: &str,
    path: &str,
    log: &Path,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(why) = child.exited() {
            bail!("{why}{}", log_tail(log));
        }
        match get_once(addr, host, path).await {
            Ok(r) if r.status == StatusCode::OK => return Ok(()),
            Ok(r) if Instant::now() > deadline => bail!("GET {path} keeps answering {}", r.status),
            Err(e) if Instant::now() > deadline => {
                bail!(
                    "{} not answering on {addr}: {e}{}",
                    child.name,
                    log_tail(log)
                )
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The end of a child's log, for error messages.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    format!("\n--- last lines of {} ---\n{tail}", path.display())
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn make_world_readable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// /proc readings

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// `/proc/loadavg`'s first three fields: a busy machine makes the figures meaningless.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The server binary and the source revision it was presumably built from.
fn build_description(bin: &Path, stale: bool) -> String {
    let rev = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".into(), |s| s.trim().to_string());
    let warning = if stale {
        "; BINARY OLDER THAN THE SOURCES"
    } else {
        ""
    };
    format!("{} (git {rev}{warning})", bin.display())
}

/// A `kB` field of `/proc/PID/status`, such as `VmHWM` (peak resident set size).
fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU ticks of a process, and its parent's pid.
fn proc_stat(pid: &str) -> Option<(u64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and ')'; what follows the last ')' starts at field 3
    // (state), so ppid (field 4), utime (14) and stime (15) of proc(5) are at 1, 11 and 12.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime, ppid))
}

/// CPU ticks used so far by `pid` and its direct children (nginx's workers).
fn cpu_ticks_with_children(pid: u32) -> u64 {
    let own = proc_stat(&pid.to_string()).map_or(0, |(t, _)| t);
    let children: u64 = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| proc_stat(e.file_name().to_str()?))
                .filter(|(_, ppid)| *ppid == pid)
                .map(|(t, _)| t)
                .sum()
        })
        .unwrap_or(0);
    own + children
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

// ---------------------------------------------------------------------------------------------
// HTTP client and load generator

struct Fetched {
    status: StatusCode,
    content_type: Option<String>,
    /// Approximate size of the status line and headers on the wire.
    header_bytes: usize,
    body: Bytes,
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn get_request(host: &str, path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header(header::HOST, host)
        .body(Empty::new())
        .expect("a valid request")
}

/// One GET on a fresh connection, like a first-time anonymous visitor (no cookies).
async fn get_once(addr: SocketAddr, host: &str, path: &str) -> anyhow::Result<Fetched> {
    let mut sender = connect(addr).await?;
    let resp = tokio::time::timeout(
        REQUEST_TIMEOUT,
        sender.send_request(get_request(host, path)),
    )
    .await
    .map_err(|_| anyhow!("timed out"))??;
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let header_bytes = "HTTP/1.1 200 OK\r\n\r\n".len()
        + resp
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Fetched {
        status,
        content_type,
        header_bytes,
        body,
    })
}

struct Target {
    addr: SocketAddr,
    host: String,
    path: String,
    expected_len: usize,
}

struct LoadParams {
    connections: usize,
    warmup: Duration,
    measure: Duration,
}

/// What one connection saw inside the measured window.
#[derive(Default)]
struct ConnStats {
    latencies_us: Vec<u32>,
    ok: u64,
    errors: u64,
    body_bytes: u64,
    size_mismatches: u64,
    reconnects: u64,
}

struct LoadResult {
    seconds: f64,
    requests: u64,
    errors: u64,
    body_bytes: u64,
    size_mismatches: u64,
    reconnects: u64,
    /// Sorted, microseconds.
    latencies_us: Vec<u32>,
    server_cores: f64,
    generator_cores: f64,
}

impl LoadResult {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.latencies_us.len() as f64).ceil() as usize).max(1);
        self.latencies_us[rank.min(self.latencies_us.len()) - 1] as f64 / 1000.0
    }

    fn print_row(&self, name: &str) {
        println!(
            "{:<26} {:>10} {:>8.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>9.2} {:>9.2}",
            name,
            group_thousands(self.rps().round() as u64),
            self.body_bytes as f64 / self.seconds / 1e6,
            self.percentile_ms(0.50),
            self.percentile_ms(0.90),
            self.percentile_ms(0.99),
            self.percentile_ms(1.0),
            self.errors,
            self.server_cores,
            self.generator_cores,
        );
    }
}

/// Runs `params.connections` closed-loop connections against `target`: warm-up, then the
/// measured window. `server_pid` is only read for its CPU time.
async fn run_load(target: &Target, params: &LoadParams, server_pid: u32) -> LoadResult {
    let target = Arc::new(Target {
        addr: target.addr,
        host: target.host.clone(),
        path: target.path.clone(),
        expected_len: target.expected_len,
    });
    let start = Instant::now();
    let measure_start = start + params.warmup;
    let end = measure_start + params.measure;
    let tasks: Vec<_> = (0..params.connections)
        .map(|_| tokio::spawn(connection_loop(target.clone(), measure_start, end)))
        .collect();

    // CPU time of both sides over the measured window.
    tokio::time::sleep_until(measure_start.into()).await;
    let (srv0, gen0, t0) = (
        cpu_ticks_with_children(server_pid),
        own_ticks(),
        Instant::now(),
    );
    tokio::time::sleep_until(end.into()).await;
    let (srv1, gen1, t1) = (
        cpu_ticks_with_children(server_pid),
        own_ticks(),
        Instant::now(),
    );
    let hz = clock_ticks_per_second();
    let window = (t1 - t0).as_secs_f64();

    let mut total = ConnStats::default();
    for task in tasks {
        let s = task.await.unwrap_or_else(|_| ConnStats {
            errors: 1,
            ..ConnStats::default()
        });
        total.latencies_us.extend(s.latencies_us);
        total.ok += s.ok;
        total.errors += s.errors;
        total.body_bytes += s.body_bytes;
        total.size_mismatches += s.size_mismatches;
        total.reconnects += s.reconnects;
    }
    total.latencies_us.sort_unstable();
    LoadResult {
        seconds: params.measure.as_secs_f64(),
        requests: total.ok,
        errors: total.errors,
        body_bytes: total.body_bytes,
        size_mismatches: total.size_mismatches,
        reconnects: total.reconnects,
        latencies_us: total.latencies_us,
        server_cores: srv1.saturating_sub(srv0) as f64 / hz / window,
        generator_cores: gen1.saturating_sub(gen0) as f64 / hz / window,
    }
}

fn own_ticks() -> u64 {
    proc_stat("self").map_or(0, |(t, _)| t)
}

/// One keep-alive connection sending GETs back to back until `end`. Only responses completed
/// in `[measure_start, end)` are recorded; a request still in flight at `end` is dropped.
async fn connection_loop(target: Arc<Target>, measure_start: Instant, end: Instant) -> ConnStats {
    let mut stats = ConnStats::default();
    let mut sender: Option<SendRequest<Empty<Bytes>>> = None;
    let mut first = true;
    while Instant::now() < end {
        let in_window = || {
            let now = Instant::now();
            now >= measure_start && now < end
        };
        let conn = match &mut sender {
            Some(s) => s,
            None => match connect(target.addr).await {
                Ok(s) => {
                    if !first && in_window() {
                        stats.reconnects += 1;
                    }
                    first = false;
                    sender.insert(s)
                }
                Err(_) => {
                    if in_window() {
                        stats.errors += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        if conn.ready().await.is_err() {
            sender = None;
            continue;
        }
        let req = get_request(&target.host, &target.path);
        let sent = Instant::now();
        let deadline = (sent + REQUEST_TIMEOUT).min(end);
        let exchange = async {
            let resp = conn.send_request(req).await?;
            let status = resp.status();
            let mut body = resp.into_body();
            let mut len = 0usize;
            while let Some(frame) = body.frame().await {
                if let Some(data) = frame?.data_ref() {
                    len += data.len();
                }
            }
            Ok::<_, hyper::Error>((status, len))
        };
        let outcome = tokio::time::timeout_at(deadline.into(), exchange).await;
        let done = Instant::now();
        let counted = done >= measure_start && done < end;
        match outcome {
            Err(_) if deadline == end => break, // in flight when the window closed
            Err(_) | Ok(Err(_)) => {
                if counted {
                    stats.errors += 1;
                }
                sender = None;
            }
            Ok(Ok((status, len))) if counted => {
                if status == StatusCode::OK {
                    stats.ok += 1;
                    stats.body_bytes += len as u64;
                    if len != target.expected_len {
                        stats.size_mismatches += 1;
                    }
                    let us = (done - sent).as_micros();
                    stats
                        .latencies_us
                        .push(u32::try_from(us).unwrap_or(u32::MAX));
                } else {
                    stats.errors += 1;
                }
            }
            Ok(Ok(_)) => {} // warm-up
        }
    }
    stats
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

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
//!
//! The code is split into modules under `examples/storefront_bench/`: `seed` (the data),
//! `servers` (child processes), `load` (HTTP client and load generator), `procfs` (`/proc`).

#[path = "storefront_bench/load.rs"]
mod load;
#[path = "storefront_bench/procfs.rs"]
mod procfs;
#[path = "storefront_bench/seed.rs"]
mod seed;
#[path = "storefront_bench/servers.rs"]
mod servers;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use hyper::StatusCode;

use fedishop::config::Settings;
use load::{LoadParams, LoadResult, Target};
use servers::{free_addr, make_world_readable};

/// Worker threads of this process's tokio runtime (the load generator). Keep in sync with the
/// `#[tokio::main]` attribute below.
const GEN_THREADS: usize = 2;
/// The goal from the issue: fedishop serves at least this fraction of nginx's static rate.
const GOAL_RATIO: f64 = 0.5;

#[derive(Parser, Debug)]
#[command(
    about = "Product-page requests/s and latency of fedishop vs. nginx serving the same bytes"
)]
struct Args {
    /// Measured seconds per target (after the warm-up).
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
    let bin = servers::fedishop_binary()?;
    let stale = servers::older_than_sources(&bin);
    if stale {
        eprintln!(
            "warning: {} is older than the sources; rebuild with \
             `cargo build --release --bin fedishop`",
            bin.display()
        );
    }

    // Removed when `tmp` drops, after the server guards declared below have stopped them.
    let tmp = tempfile::Builder::new()
        .prefix("storefront-bench-")
        .tempdir()?;
    let data_dir = tmp.path().join("data");
    let www_dir = tmp.path().join("www");
    std::fs::create_dir_all(&www_dir)?;
    make_world_readable(tmp.path())?;
    make_world_readable(&www_dir)?;

    let addr = free_addr()?;
    eprintln!("seeding {} ...", data_dir.display());
    let settings = Settings {
        domain: addr.to_string(),
        bind: addr,
        data_dir: data_dir.clone(),
        ..Settings::default()
    };
    let product_path = seed::seed(&settings)
        .await
        .context("seeding the data directory")?;

    eprintln!("starting {} on {addr} ...", bin.display());
    let mut server = servers::start_fedishop(&bin, tmp.path(), &data_dir, addr)?;
    server.wait_until_ok(addr, "/healthz").await?;
    let page = load::get_once(addr, &product_path).await?;
    if page.status != StatusCode::OK {
        bail!(
            "GET {product_path} answered {} (does this build serve product pages yet?){}",
            page.status,
            server.log_tail()
        );
    }
    let content_type = page.content_type.clone().unwrap_or_default();
    if !content_type.starts_with("text/html") {
        bail!("GET {product_path} answered Content-Type {content_type:?}, expected text/html");
    }
    if !String::from_utf8_lossy(&page.body).contains(seed::PRODUCT_TITLE) {
        bail!("GET {product_path} answered a page without the product title");
    }
    let page_file = www_dir.join("product.html");
    std::fs::write(&page_file, &page.body)?;
    make_world_readable(&page_file)?;

    // The guard lives until the end of `run`, like `server`.
    let nginx = match servers::nginx_binary() {
        Some(nginx_bin) => {
            let nginx_addr = free_addr()?;
            eprintln!("starting {} on {nginx_addr} ...", nginx_bin.display());
            let mut guard = servers::start_nginx(&nginx_bin, tmp.path(), &www_dir, nginx_addr)?;
            guard.wait_until_ok(nginx_addr, "/product.html").await?;
            let copy = load::get_once(nginx_addr, "/product.html").await?;
            if copy.body != page.body {
                bail!("nginx served different bytes than fedishop's page");
            }
            let line = format!(
                "GET /product.html from {}: identical {} bytes, response headers ~{} bytes",
                servers::nginx_version(&nginx_bin),
                copy.body.len(),
                copy.header_bytes
            );
            Some((guard, nginx_addr, line))
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
    println!(
        "machine:     {cores} cores ({}), Linux",
        procfs::cpu_model()
    );
    println!(
        "load avg:    {} (1, 5, 15 min, before the load)",
        procfs::load_average()
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
    if let Some((_, _, line)) = &nginx {
        println!("static copy: {line}");
    }
    println!();

    let params = LoadParams {
        connections: args.connections,
        warmup: Duration::from_secs(args.warmup),
        measure: Duration::from_secs(args.seconds),
    };
    eprintln!("load: fedishop ...");
    let target = Target {
        addr,
        path: product_path,
        expected_len: page.body.len(),
        server_pid: server.pid(),
    };
    let dynamic = load::run(target, &params).await;
    let peak_rss_kib = procfs::status_kib(server.pid(), "VmHWM");
    let mut stat = None;
    if let Some((guard, nginx_addr, _)) = &nginx {
        eprintln!("load: nginx ...");
        let target = Target {
            addr: *nginx_addr,
            path: "/product.html".into(),
            expected_len: page.body.len(),
            server_pid: guard.pid(),
        };
        stat = Some(load::run(target, &params).await);
    }
    print_results(&dynamic, stat.as_ref(), peak_rss_kib, cores);
    Ok(())
}

/// The report's table and verdict.
fn print_results(
    dynamic: &LoadResult,
    stat: Option<&LoadResult>,
    peak_rss_kib: Option<u64>,
    cores: usize,
) {
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
    let runs = [
        ("fedishop product page", Some(dynamic)),
        ("nginx static product.html", stat),
    ];
    for (name, r) in runs {
        let Some(r) = r else { continue };
        println!(
            "{:<26} {:>10} {:>8.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>9.2} {:>9.2}",
            name,
            group_thousands(r.rps().round() as u64),
            r.mb_per_s(),
            r.percentile_ms(0.50),
            r.percentile_ms(0.90),
            r.percentile_ms(0.99),
            r.percentile_ms(1.0),
            r.errors,
            r.server_cores,
            r.generator_cores,
        );
    }
    println!(
        "(req/s and MB/s = 10^6 body bytes/s over the measured window; latency = request sent to \
         last body byte read; srv/gen cores = CPU time of the server (nginx: master + workers) \
         and of this load generator during the window)"
    );
    println!();
    for (name, r) in runs {
        let Some(r) = r else { continue };
        let mut notes = vec![format!("{} requests measured", group_thousands(r.requests))];
        if r.size_mismatches > 0 {
            notes.push(format!("{} bodies of another size", r.size_mismatches));
        }
        if r.reconnects > 0 {
            notes.push(format!("{} reconnects", r.reconnects));
        }
        println!(
            "{}: {}",
            name.split(' ').next().unwrap_or(name),
            notes.join(", ")
        );
    }
    match peak_rss_kib {
        Some(kib) => println!("fedishop peak RSS (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("fedishop peak RSS (VmHWM): unavailable"),
    }
    println!();
    match stat {
        Some(s) if s.rps() > 0.0 => {
            let ratio = dynamic.rps() / s.rps();
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
    for (name, r) in runs {
        let Some(r) = r else { continue };
        // Server and load generator together keep every core busy in a closed loop; if they
        // did not, something else was competing for the CPU.
        let used = r.server_cores + r.generator_cores;
        if used < 0.8 * cores as f64 {
            println!(
                "WARNING: during the {name} run, server and load generator used only {used:.2} \
                 of {cores} cores: something else was probably running; rerun on an idle machine."
            );
        }
        if r.errors > 0 {
            println!(
                "WARNING: {} requests to the {name} failed; not a clean run.",
                r.errors
            );
        }
    }
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

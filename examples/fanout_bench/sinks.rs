//! The fake instances: one listener per instance on 127.0.0.1 (none for a dead one), whose
//! inboxes count what arrives from each path and answer 202 (401 without a signature).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONNECTION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::Opts;

/// What kind of fake instance a host index is. Dead and slow ones are spread evenly over the
/// host indexes (and so over the inboxes, which go round-robin over the hosts).
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    Live,
    Dead,
    Slow,
}

pub fn kind_of(host: usize, o: &Opts) -> Kind {
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
pub struct Counters {
    /// Per inbox: nanoseconds after `base` when the activity first arrived (0 = not yet).
    pub first: Vec<AtomicU64>,
    /// Inboxes that got it at least once.
    pub distinct: AtomicUsize,
    /// POSTs carrying the activity (duplicates included).
    pub posts: AtomicUsize,
    /// POSTs without a `Signature` header (answered 401).
    pub unsigned: AtomicUsize,
    /// Other signed POSTs (not this activity).
    pub other: AtomicUsize,
}

impl Counters {
    pub fn new(inboxes: usize) -> Counters {
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
pub const STOCK_HOST: &str = "stock.bench.example";

/// Shared by every fake instance.
pub struct Sinks {
    pub base: Instant,
    /// The product title, which only the measured activity carries.
    pub marker: Vec<u8>,
    /// 0: signed by fedishop, 1: signed by the stock path (its key id is on `STOCK_HOST`).
    pub phases: [Counters; 2],
    /// The first activity body that arrived, sent again unchanged by the stock path.
    pub sample: Mutex<Option<Bytes>>,
    pub slow: Duration,
}

#[derive(Clone)]
pub struct HostCtx {
    sinks: Arc<Sinks>,
    slow: bool,
    /// Answer `Connection: close`: when every instance has one inbox, a connection is never
    /// used twice, and closing it keeps 10,000 instances within the open-files limit.
    close: bool,
}

/// A fake shared inbox: 401 without a signature, otherwise counts and answers 202 (a slow
/// instance answers only after `--slow-ms`).
pub async fn inbox(
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

pub async fn record(h: &HostCtx, n: usize, headers: &HeaderMap, body: Bytes) -> StatusCode {
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

/// Whether `needle` (UTF-8) occurs in `haystack`: the standard library's substring search
/// (a comparison at every offset cost more than the rest of a fake inbox's work).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    match (std::str::from_utf8(haystack), std::str::from_utf8(needle)) {
        (Ok(h), Ok(n)) => h.contains(n),
        _ => haystack.windows(needle.len()).any(|w| w == needle),
    }
}

/// One port per fake instance. Dead ones are sockets that are bound (so the port stays
/// reserved) but never listen: connecting is refused at once.
pub async fn start_hosts(
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

pub fn inbox_url(ports: &[u16], o: &Opts, n: usize) -> String {
    format!("http://localhost:{}/inbox/{n}", ports[n % o.hosts])
}

/// Live inboxes reached and the arrival times (seconds after `start`) of the first copies.
pub fn arrivals(c: &Counters, live: &[usize], base: Instant, start: Instant) -> Vec<f64> {
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
pub async fn wait_live(s: &Sinks, live: &[usize], deadline: Instant) {
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

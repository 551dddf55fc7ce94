//! The HTTP client and the closed-loop load generator: C keep-alive HTTP/1.1 connections, one
//! task each, sending GETs back to back and reading every body to the end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::procfs;

/// A request that takes longer than this counts as an error and its connection is replaced.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One response, read whole.
pub struct Fetched {
    pub status: StatusCode,
    pub content_type: Option<String>,
    /// Approximate size of the status line and headers on the wire.
    pub header_bytes: usize,
    pub body: Bytes,
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

/// A bare GET, as from a visitor without cookies. No `Accept-Encoding`: bodies come
/// uncompressed from both servers.
fn get_request(addr: SocketAddr, path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header(header::HOST, addr.to_string())
        .body(Empty::new())
        .expect("a valid request")
}

/// One GET on a fresh connection.
pub async fn get_once(addr: SocketAddr, path: &str) -> anyhow::Result<Fetched> {
    let mut sender = connect(addr).await?;
    let resp = tokio::time::timeout(
        REQUEST_TIMEOUT,
        sender.send_request(get_request(addr, path)),
    )
    .await
    .map_err(|_| anyhow!("GET {path} timed out"))??;
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

/// What to request, and what the server's process id is (for its CPU time).
pub struct Target {
    pub addr: SocketAddr,
    pub path: String,
    /// Body size of a correct answer; other sizes are counted, not failed.
    pub expected_len: usize,
    pub server_pid: u32,
}

pub struct LoadParams {
    pub connections: usize,
    pub warmup: Duration,
    pub measure: Duration,
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

impl ConnStats {
    fn merge(&mut self, other: ConnStats) {
        self.latencies_us.extend(other.latencies_us);
        self.ok += other.ok;
        self.errors += other.errors;
        self.body_bytes += other.body_bytes;
        self.size_mismatches += other.size_mismatches;
        self.reconnects += other.reconnects;
    }
}

/// The figures of one target over the measured window.
pub struct LoadResult {
    seconds: f64,
    /// 200 responses completed inside the window.
    pub requests: u64,
    /// Non-200 responses, failed connections, requests over [`REQUEST_TIMEOUT`].
    pub errors: u64,
    body_bytes: u64,
    /// 200 responses whose body size differed from the expected page.
    pub size_mismatches: u64,
    pub reconnects: u64,
    /// Sorted, microseconds.
    latencies_us: Vec<u32>,
    /// CPU used during the window by the server (with its child processes), in cores.
    pub server_cores: f64,
    /// CPU used during the window by this process, in cores.
    pub generator_cores: f64,
}

impl LoadResult {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// Body bytes per second, in 10^6 bytes.
    pub fn mb_per_s(&self) -> f64 {
        self.body_bytes as f64 / self.seconds / 1e6
    }

    /// The latency at quantile `q` (0 < q <= 1; 1 = the maximum), in ms.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.latencies_us.len() as f64).ceil() as usize).max(1);
        self.latencies_us[rank.min(self.latencies_us.len()) - 1] as f64 / 1000.0
    }
}

/// Runs `params.connections` closed-loop connections against `target`: warm-up, then the
/// measured window.
pub async fn run(target: Target, params: &LoadParams) -> LoadResult {
    let target = Arc::new(target);
    let measure_start = Instant::now() + params.warmup;
    let end = measure_start + params.measure;
    let tasks: Vec<_> = (0..params.connections)
        .map(|_| tokio::spawn(connection_loop(target.clone(), measure_start, end)))
        .collect();

    // CPU time of both sides over the measured window.
    let cpu = || {
        let srv = procfs::cpu_ticks_with_children(target.server_pid);
        (srv, procfs::own_cpu_ticks(), Instant::now())
    };
    tokio::time::sleep_until(measure_start.into()).await;
    let (srv0, gen0, t0) = cpu();
    tokio::time::sleep_until(end.into()).await;
    let (srv1, gen1, t1) = cpu();
    let cores =
        |ticks: u64| ticks as f64 / procfs::clock_ticks_per_second() / (t1 - t0).as_secs_f64();

    let mut total = ConnStats::default();
    for task in tasks {
        total.merge(task.await.unwrap_or_else(|_| ConnStats {
            errors: 1,
            ..ConnStats::default()
        }));
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
        server_cores: cores(srv1.saturating_sub(srv0)),
        generator_cores: cores(gen1.saturating_sub(gen0)),
    }
}

/// One keep-alive connection sending GETs back to back until `end`. Only responses completed
/// in `[measure_start, end)` are recorded; a request still in flight at `end` is dropped.
async fn connection_loop(target: Arc<Target>, measure_start: Instant, end: Instant) -> ConnStats {
    let mut stats = ConnStats::default();
    let mut sender: Option<SendRequest<Empty<Bytes>>> = None;
    let mut connected_before = false;
    let in_window = |t: Instant| t >= measure_start && t < end;
    while Instant::now() < end {
        let conn = match &mut sender {
            Some(s) => s,
            None => match connect(target.addr).await {
                Ok(s) => {
                    if connected_before && in_window(Instant::now()) {
                        stats.reconnects += 1;
                    }
                    connected_before = true;
                    sender.insert(s)
                }
                Err(_) => {
                    if in_window(Instant::now()) {
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
        let req = get_request(target.addr, &target.path);
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
        match outcome {
            Err(_) if deadline == end => break, // in flight when the window closed
            Err(_) | Ok(Err(_)) => {
                if in_window(done) {
                    stats.errors += 1;
                }
                sender = None;
            }
            Ok(Ok(_)) if !in_window(done) => {} // warm-up
            Ok(Ok((StatusCode::OK, len))) => {
                stats.ok += 1;
                stats.body_bytes += len as u64;
                if len != target.expected_len {
                    stats.size_mismatches += 1;
                }
                let us = (done - sent).as_micros();
                stats
                    .latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            Ok(Ok(_)) => stats.errors += 1,
        }
    }
    stats
}

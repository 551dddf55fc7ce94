//! Counters of what the federation machinery did since the process started, rendered as
//! Prometheus text at `/metrics` (with gauges read from the database at scrape time).
//! Counters are per process; Prometheus sums them over processes. No per-instance labels
//! here (one series per remote host would grow without bound); the admin page has those.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::queue_stats::{self, LocalCounts, QueueTotals};
use crate::server::AppState;

/// The exposition format `/metrics` answers in.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Monotonic counters, bumped where things happen, and when the process started.
#[derive(Debug)]
pub struct Metrics {
    /// Signed activities accepted by an inbox (answered 202 and queued).
    pub inbox_accepted: AtomicU64,
    /// Activities whose id was seen before (answered 202, nothing done).
    pub inbox_duplicates: AtomicU64,
    /// Inbox requests refused (bad signature, bad JSON, too large, …).
    pub inbox_rejected: AtomicU64,
    /// Inbox requests answered 429 by the per-instance rate limit.
    pub inbox_rate_limited: AtomicU64,
    /// Accepted activities applied by the inbox worker.
    pub inbox_processed: AtomicU64,
    /// Accepted activities whose processing failed.
    pub inbox_failed: AtomicU64,
    /// Deliveries the receiving server acknowledged with 2xx.
    pub deliveries_sent: AtomicU64,
    /// Failed attempts that will be retried.
    pub deliveries_retried: AtomicU64,
    /// Deliveries given up (permanent error, too many attempts, instance unavailable).
    pub deliveries_failed: AtomicU64,
    /// Deliveries not attempted because their instance's circuit breaker was open.
    pub deliveries_deferred: AtomicU64,
    /// Order mails handed to the transport.
    pub mails_sent: AtomicU64,
    /// Order mail attempts that failed (retried, or given up after many attempts).
    pub mails_failed: AtomicU64,
    /// Wall-clock start, for `fedishop_start_time_seconds`.
    pub started_at: SystemTime,
    /// Monotonic start, for `fedishop_uptime_seconds`.
    pub started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            inbox_accepted: AtomicU64::new(0),
            inbox_duplicates: AtomicU64::new(0),
            inbox_rejected: AtomicU64::new(0),
            inbox_rate_limited: AtomicU64::new(0),
            inbox_processed: AtomicU64::new(0),
            inbox_failed: AtomicU64::new(0),
            deliveries_sent: AtomicU64::new(0),
            deliveries_retried: AtomicU64::new(0),
            deliveries_failed: AtomicU64::new(0),
            deliveries_deferred: AtomicU64::new(0),
            mails_sent: AtomicU64::new(0),
            mails_failed: AtomicU64::new(0),
            started_at: SystemTime::now(),
            started: Instant::now(),
        }
    }
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What the database said at scrape time.
#[derive(Clone, Debug, Default)]
pub struct DbGauges {
    pub queue: QueueTotals,
    pub local: LocalCounts,
    /// Accepted activities not yet applied, and when the oldest arrived (epoch ms).
    pub inbox_queued: i64,
    pub inbox_oldest_at: Option<i64>,
}

/// One metric family: `# HELP`, `# TYPE`, then its samples.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &'static str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out, name }
    }

    fn sample(&mut self, value: impl std::fmt::Display) -> &mut Self {
        let _ = writeln!(self.out, "{} {value}", self.name);
        self
    }

    fn labelled(
        &mut self,
        label: &str,
        label_value: &str,
        value: impl std::fmt::Display,
    ) -> &mut Self {
        let _ = writeln!(
            self.out,
            "{}{{{label}=\"{}\"}} {value}",
            self.name,
            escape_label(label_value)
        );
        self
    }
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Seconds with millisecond precision, as Prometheus likes its floats.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// The whole scrape. `db` is `None` when the database did not answer: the counters are still
/// reported, with `fedishop_database_up 0` and no database gauges. `now` is epoch ms.
pub fn render(m: &Metrics, db: Option<&DbGauges>, now: i64) -> String {
    let mut out = String::with_capacity(4096);
    Family::new(
        &mut out,
        "fedishop_build_info",
        "gauge",
        "The running fedishop version (always 1).",
    )
    .labelled("version", env!("CARGO_PKG_VERSION"), 1);
    let started_ms = m
        .started_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Family::new(
        &mut out,
        "fedishop_start_time_seconds",
        "gauge",
        "When this process started, in seconds since the Unix epoch.",
    )
    .sample(seconds(started_ms));
    let uptime_ms = i64::try_from(m.started.elapsed().as_millis()).unwrap_or(i64::MAX);
    Family::new(
        &mut out,
        "fedishop_uptime_seconds",
        "gauge",
        "Seconds since this process started.",
    )
    .sample(seconds(uptime_ms));

    let get = Metrics::get;
    Family::new(
        &mut out,
        "fedishop_inbox_activities_total",
        "counter",
        "Activities posted to the inboxes, by outcome: accepted (queued), duplicate (seen \
         before), rejected (bad signature, body or size), rate_limited (answered 429).",
    )
    .labelled("result", "accepted", get(&m.inbox_accepted))
    .labelled("result", "duplicate", get(&m.inbox_duplicates))
    .labelled("result", "rejected", get(&m.inbox_rejected))
    .labelled("result", "rate_limited", get(&m.inbox_rate_limited));
    Family::new(
        &mut out,
        "fedishop_inbox_processed_total",
        "counter",
        "Accepted activities the inbox worker applied (ok) or could not apply (failed).",
    )
    .labelled("result", "ok", get(&m.inbox_processed))
    .labelled("result", "failed", get(&m.inbox_failed));
    Family::new(
        &mut out,
        "fedishop_deliveries_total",
        "counter",
        "Delivery attempts by outcome: delivered (2xx), retried (failed, will retry), failed \
         (given up), deferred (not attempted, the instance's circuit breaker was open).",
    )
    .labelled("result", "delivered", get(&m.deliveries_sent))
    .labelled("result", "retried", get(&m.deliveries_retried))
    .labelled("result", "failed", get(&m.deliveries_failed))
    .labelled("result", "deferred", get(&m.deliveries_deferred));
    Family::new(
        &mut out,
        "fedishop_mails_total",
        "counter",
        "Order mails by outcome: sent (handed to the transport), failed (an attempt failed).",
    )
    .labelled("result", "sent", get(&m.mails_sent))
    .labelled("result", "failed", get(&m.mails_failed));

    Family::new(
        &mut out,
        "fedishop_database_up",
        "gauge",
        "1 when the database answered this scrape; the gauges below are missing otherwise.",
    )
    .sample(u8::from(db.is_some()));
    let Some(db) = db else { return out };
    let q = &db.queue;
    Family::new(
        &mut out,
        "fedishop_delivery_queue_pending",
        "gauge",
        "Deliveries queued or waiting to be retried.",
    )
    .sample(q.pending);
    Family::new(
        &mut out,
        "fedishop_delivery_queue_failed",
        "gauge",
        "Deliveries given up and kept for the admin (about 7 days).",
    )
    .sample(q.failed);
    let oldest_ms = q.oldest_pending_at.map_or(0, |t| (now - t).max(0));
    Family::new(
        &mut out,
        "fedishop_delivery_queue_oldest_pending_seconds",
        "gauge",
        "Age of the oldest pending delivery (0 when none is pending).",
    )
    .sample(seconds(oldest_ms));
    Family::new(
        &mut out,
        "fedishop_instances_circuit_open",
        "gauge",
        "Remote instances whose circuit breaker is open: no attempts until it closes.",
    )
    .sample(q.circuits_open);
    Family::new(
        &mut out,
        "fedishop_instances_unavailable",
        "gauge",
        "Remote instances marked unavailable after days of failures: nothing is sent until \
         they are heard from.",
    )
    .sample(q.unavailable);
    Family::new(
        &mut out,
        "fedishop_inbox_queue_pending",
        "gauge",
        "Accepted activities waiting for the inbox worker.",
    )
    .sample(db.inbox_queued);
    let inbox_oldest_ms = db.inbox_oldest_at.map_or(0, |t| (now - t).max(0));
    Family::new(
        &mut out,
        "fedishop_inbox_queue_oldest_seconds",
        "gauge",
        "Age of the oldest activity waiting for the inbox worker (0 when none waits).",
    )
    .sample(seconds(inbox_oldest_ms));
    let l = &db.local;
    Family::new(
        &mut out,
        "fedishop_local_users",
        "gauge",
        "Accounts on this instance.",
    )
    .sample(l.users);
    Family::new(
        &mut out,
        "fedishop_local_shops",
        "gauge",
        "Shops on this instance.",
    )
    .sample(l.shops);
    Family::new(
        &mut out,
        "fedishop_local_products_published",
        "gauge",
        "Published products on this instance.",
    )
    .sample(l.published_products);
    out
}

/// Whether the request may read the metrics: always without a configured token, else only
/// with `Authorization: Bearer <token>`. Compared in constant time (as SHA-256 digests, so
/// the length does not leak either). A configured token that is empty matches nothing.
pub fn authorized(configured: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(expected) = configured else {
        return true;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if expected.is_empty() || presented.is_empty() {
        return false;
    }
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

/// Reads the database gauges; `None` (logged) when the database fails.
async fn db_gauges(state: &AppState, now: i64) -> Option<DbGauges> {
    let read = async {
        let inbox = crate::db::inbox::inbox_queue_depth(&state.store).await?;
        Ok::<_, crate::error::Error>(DbGauges {
            queue: queue_stats::totals(&state.store, now).await?,
            local: queue_stats::local_counts(&state.store).await?,
            inbox_queued: inbox.0,
            inbox_oldest_at: inbox.1,
        })
    };
    match read.await {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: database gauges unavailable");
            None
        }
    }
}

/// `GET /metrics`: Prometheus text exposition format 0.0.4.
pub async fn endpoint(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(state.settings.metrics_token.as_deref(), &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [
                (header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")),
                (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
            ],
            "metrics need Authorization: Bearer <FEDISHOP_METRICS_TOKEN>\n",
        )
            .into_response();
    }
    let now = crate::domain::now_ms();
    let db = db_gauges(&state, now).await;
    let body = render(&state.federation.metrics, db.as_ref(), now);
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_help_and_type() {
        let m = Metrics::default();
        Metrics::add(&m.deliveries_sent, 3);
        Metrics::inc(&m.inbox_rate_limited);
        let db = DbGauges {
            queue: QueueTotals {
                pending: 5,
                failed: 2,
                oldest_pending_at: Some(1_000),
                circuits_open: 1,
                unavailable: 0,
            },
            local: LocalCounts {
                users: 4,
                shops: 2,
                published_products: 9,
            },
            inbox_queued: 7,
            inbox_oldest_at: Some(500),
        };
        let text = render(&m, Some(&db), 61_500);
        for line in [
            "fedishop_deliveries_total{result=\"delivered\"} 3",
            "fedishop_inbox_queue_pending 7",
            "fedishop_inbox_activities_total{result=\"rate_limited\"} 1",
            "fedishop_delivery_queue_pending 5",
            "fedishop_delivery_queue_failed 2",
            "fedishop_delivery_queue_oldest_pending_seconds 60.500",
            "fedishop_instances_circuit_open 1",
            "fedishop_local_products_published 9",
            "fedishop_database_up 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        // Every sample belongs to a family declared just before it.
        let mut declared = std::collections::HashSet::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge"].contains(&kind));
                assert!(declared.insert(name.to_string()), "{name} declared twice");
            } else if !l.starts_with("# HELP ") {
                let name = l.split(['{', ' ']).next().unwrap();
                assert!(declared.contains(name), "{name} has no TYPE");
            }
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn without_the_database_the_counters_remain() {
        let text = render(&Metrics::default(), None, 0);
        assert!(text.contains("fedishop_database_up 0\n"));
        assert!(text.contains("fedishop_deliveries_total{result=\"deferred\"} 0\n"));
        assert!(!text.contains("fedishop_delivery_queue_pending"));
    }

    #[test]
    fn the_token_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(authorized(None, &h));
        assert!(!authorized(Some("s3cret"), &h));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(authorized(Some("s3cret"), &h));
        assert!(!authorized(Some("s3cre"), &h));
        assert!(!authorized(Some(""), &h));
        h.insert(header::AUTHORIZATION, "Basic s3cret".parse().unwrap());
        assert!(!authorized(Some("s3cret"), &h));
        h.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert!(!authorized(Some(""), &h));
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(seconds(1_234), "1.234");
    }
}

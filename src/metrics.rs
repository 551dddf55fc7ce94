//! Counters of what the federation machinery did since the process started, rendered as
//! Prometheus text at `/metrics` (with gauges read from the database at scrape time).
//! Counters are per process; Prometheus sums them over processes.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters, bumped where things happen.
#[derive(Default, Debug)]
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

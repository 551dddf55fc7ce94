//! The inbox's rate limit per remote instance: a token bucket per verified signer host, in
//! memory per process. `rate` activities per second are allowed with a burst of ten seconds'
//! worth; over that the inbox answers 429 with `Retry-After`. At most `max_hosts` buckets are
//! kept: buckets that have refilled (which are the same as new ones) go first, then the
//! longest idle.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Seconds of traffic a full bucket holds.
pub const BURST_SECONDS: u32 = 10;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// The bucket brought up to `now`.
    fn refilled(self, rate: f64, burst: f64, now: Instant) -> Bucket {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        Bucket {
            tokens: (self.tokens + elapsed * rate).min(burst),
            last: now.max(self.last),
        }
    }
}

pub struct HostLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
    max_hosts: usize,
}

impl HostLimiter {
    pub fn new(max_hosts: usize) -> HostLimiter {
        HostLimiter {
            buckets: Mutex::new(HashMap::new()),
            max_hosts: max_hosts.max(1),
        }
    }

    /// Takes one token from `host`'s bucket at `rate` per second. `Err(seconds)` when the
    /// bucket is empty: the whole seconds (at least 1) until a token is back. A `rate` of 0
    /// means no limit.
    pub fn check(&self, host: &str, rate: u32, now: Instant) -> Result<(), u64> {
        if rate == 0 {
            return Ok(());
        }
        let rate = f64::from(rate);
        let burst = rate * f64::from(BURST_SECONDS);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(host) && buckets.len() >= self.max_hosts {
            self.evict(&mut buckets, rate, burst, now);
        }
        let bucket = buckets
            .get(host)
            .copied()
            .unwrap_or(Bucket {
                tokens: burst,
                last: now,
            })
            .refilled(rate, burst, now);
        if bucket.tokens >= 1.0 {
            buckets.insert(
                host.to_string(),
                Bucket {
                    tokens: bucket.tokens - 1.0,
                    ..bucket
                },
            );
            Ok(())
        } else {
            buckets.insert(host.to_string(), bucket);
            Err(((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64)
        }
    }

    /// Makes room: full buckets go (nothing is lost), then, if still at the cap, the tenth
    /// that has been idle longest.
    fn evict(&self, buckets: &mut HashMap<String, Bucket>, rate: f64, burst: f64, now: Instant) {
        buckets.retain(|_, b| b.refilled(rate, burst, now).tokens < burst);
        if buckets.len() < self.max_hosts {
            return;
        }
        let mut idle: Vec<(Instant, String)> =
            buckets.iter().map(|(h, b)| (b.last, h.clone())).collect();
        let n = (self.max_hosts / 10).max(1).min(idle.len());
        idle.select_nth_unstable_by_key(n - 1, |(last, _)| *last);
        for (_, host) in idle.into_iter().take(n) {
            buckets.remove(&host);
        }
    }

    /// Hosts tracked now.
    pub fn len(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_of_ten_seconds_then_one_per_interval() {
        let limiter = HostLimiter::new(100);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(limiter.check("a.example", 1, t0), Ok(()));
        }
        assert_eq!(limiter.check("a.example", 1, t0), Err(1));
        // Another instance has its own bucket.
        assert_eq!(limiter.check("b.example", 1, t0), Ok(()));
        // One token back after a second.
        let t1 = t0 + Duration::from_millis(1000);
        assert_eq!(limiter.check("a.example", 1, t1), Ok(()));
        assert_eq!(limiter.check("a.example", 1, t1), Err(1));
    }

    #[test]
    fn retry_after_is_whole_seconds_and_at_least_one() {
        let limiter = HostLimiter::new(10);
        let t0 = Instant::now();
        // rate 2/s: 20 in the burst, then a token every half second -> 1 s.
        for _ in 0..20 {
            limiter.check("a.example", 2, t0).unwrap();
        }
        assert_eq!(limiter.check("a.example", 2, t0), Err(1));
        // Refused requests take nothing, so the wait does not grow.
        assert_eq!(limiter.check("a.example", 2, t0), Err(1));
        assert_eq!(limiter.check("a.example", 0, t0), Ok(()), "0 = no limit");
    }

    #[test]
    fn memory_is_bounded_and_refilled_buckets_go_first() {
        let limiter = HostLimiter::new(100);
        let t0 = Instant::now();
        limiter.check("busy.example", 1, t0).unwrap();
        for i in 0..1000 {
            limiter
                .check(&format!("h{i}.example"), 1, t0 + Duration::from_secs(30))
                .unwrap();
            assert!(limiter.len() <= 100);
        }
        // A host drained to empty keeps its state while it stays among the recent ones.
        let t = t0 + Duration::from_secs(40);
        for _ in 0..10 {
            limiter.check("drained.example", 1, t).unwrap();
        }
        for i in 0..5 {
            limiter.check(&format!("new{i}.example"), 1, t).unwrap();
        }
        assert!(limiter.check("drained.example", 1, t).is_err());
    }
}

//! Delivery policy, free of I/O: how long to wait before retrying a delivery, when to stop,
//! and the health of each destination instance (circuit breaker and "unavailable" mark).
//! The queue (`db::deliveries`) and the sender (`federation::delivery`) apply these rules.
//!
//! Anchors: Mastodon retries a delivery 16 times with `count**4 + 15` seconds plus random
//! jitter (≈2.5 days in all), opens a circuit breaker per inbox after 10 failures in a row,
//! and skips a domain that has failed on 7 days; Lemmy keeps one queue per instance.

/// Attempts per delivery: the first one and 16 retries, ≈2.5 days in all.
pub const MAX_ATTEMPTS: i64 = 17;
/// Failures in a row (deliveries or probes) that open an instance's circuit.
pub const BREAKER_THRESHOLD: i64 = 5;
/// How long a circuit stays open at most.
pub const MAX_COOL_OFF_MS: i64 = 3_600_000;
/// An instance that has failed without a single success for this long is marked unavailable:
/// its queued deliveries are dropped and nothing new is queued for it until it is heard from.
pub const UNAVAILABLE_AFTER_MS: i64 = 7 * 24 * 3_600_000;

/// Seconds before the next attempt, after `attempts_made` attempts failed (1 = the first
/// one). `r` is a random number in [0, 1) for the jitter, so retries of many deliveries that
/// failed together do not come back together.
pub fn retry_delay_secs(attempts_made: i64, r: f64) -> i64 {
    let count = (attempts_made - 1).clamp(0, MAX_ATTEMPTS);
    let base = count.pow(4) + 15;
    let r = r.clamp(0.0, 0.999_999);
    // Up to half the base again, plus Sidekiq's own rand(10) * (count + 1).
    let jitter = (r * (count.pow(4) / 2) as f64) as i64 + (r * 10.0) as i64 * (count + 1);
    base + jitter
}

/// Whether a delivery that has failed `attempts_made` times gets another attempt.
pub fn may_retry(attempts_made: i64) -> bool {
    attempts_made < MAX_ATTEMPTS
}

/// What one attempt says about the destination instance.
#[derive(Clone, Debug, PartialEq)]
pub enum HostSignal {
    /// The instance answered (2xx, or a 4xx that is about the request, not the server).
    Up,
    /// No answer, a timeout or a 5xx.
    Down,
    /// 429: the instance asks us to wait `retry_after_secs` (when it said so).
    Throttled { retry_after_secs: Option<i64> },
}

/// The delivery health of one remote instance, as stored in `instances`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostHealth {
    pub consecutive_failures: i64,
    /// First failure since the last success.
    pub failing_since: Option<i64>,
    /// No attempts before this time (epoch ms); 0 = closed.
    pub circuit_open_until: i64,
    pub unavailable_since: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    pub last_error: Option<String>,
}

/// What changed with one signal, for the queue to act on.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Transition {
    /// The instance was failing and answered again: bring its waiting deliveries forward.
    pub recovered: bool,
    /// The instance has just been marked unavailable: drop its queued deliveries.
    pub became_unavailable: bool,
}

impl HostHealth {
    /// Whether anything is wrong (otherwise the instance needs no row of state).
    pub fn troubled(&self) -> bool {
        self.consecutive_failures > 0 || self.unavailable_since.is_some()
    }

    /// Whether attempts are held back at `now`.
    pub fn is_open(&self, now: i64) -> bool {
        self.unavailable_since.is_some() || self.circuit_open_until > now
    }

    /// Deliveries allowed in flight at once: the configured number, or one probe while the
    /// instance is failing (half-open).
    pub fn in_flight_limit(&self, per_host: usize) -> usize {
        if self.consecutive_failures > 0 {
            1
        } else {
            per_host
        }
    }

    /// Applies the outcome of one attempt at `now`. `r` in [0, 1) spreads cool-offs.
    pub fn observe(
        &mut self,
        signal: &HostSignal,
        error: Option<&str>,
        now: i64,
        r: f64,
    ) -> Transition {
        match signal {
            HostSignal::Up => {
                let recovered = self.troubled();
                *self = HostHealth {
                    last_success_at: Some(now),
                    last_failure_at: self.last_failure_at,
                    last_error: self.last_error.take(),
                    ..HostHealth::default()
                };
                Transition {
                    recovered,
                    became_unavailable: false,
                }
            }
            HostSignal::Down | HostSignal::Throttled { .. } => {
                self.consecutive_failures += 1;
                let since = *self.failing_since.get_or_insert(now);
                self.last_failure_at = Some(now);
                self.last_error = error.map(|e| e.chars().take(500).collect());
                let cool_off = match signal {
                    HostSignal::Throttled {
                        retry_after_secs: Some(s),
                    } => Some((*s).clamp(1, MAX_COOL_OFF_MS / 1000) * 1000),
                    _ if self.consecutive_failures >= BREAKER_THRESHOLD => {
                        let doublings = (self.consecutive_failures - BREAKER_THRESHOLD).min(6);
                        let base = (60_000_i64 << doublings).min(MAX_COOL_OFF_MS);
                        // Up to a tenth more, so that instances do not all reopen at once.
                        Some(base + (r.clamp(0.0, 1.0) * base as f64 / 10.0) as i64)
                    }
                    HostSignal::Throttled { .. } => Some(60_000),
                    _ => None,
                };
                if let Some(ms) = cool_off {
                    self.circuit_open_until = self.circuit_open_until.max(now + ms);
                }
                let became_unavailable =
                    self.unavailable_since.is_none() && now - since >= UNAVAILABLE_AFTER_MS;
                if became_unavailable {
                    self.unavailable_since = Some(now);
                }
                Transition {
                    recovered: false,
                    became_unavailable,
                }
            }
        }
    }

    /// The instance reached us with a signed request: it is alive. Returns whether it was
    /// marked as failing (its waiting deliveries can go now).
    pub fn heard_from(&mut self) -> bool {
        let was = self.troubled() || self.circuit_open_until > 0;
        self.consecutive_failures = 0;
        self.failing_since = None;
        self.circuit_open_until = 0;
        self.unavailable_since = None;
        was
    }
}

/// Whether `host` (a URL authority, `host` or `host:port`) is covered by a block of `domain`:
/// the same name or a subdomain of it, compared case-insensitively without trailing dots.
pub fn host_matches_domain(host: &str, domain: &str) -> bool {
    let name = host_name(host);
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if domain.is_empty() {
        return false;
    }
    name == domain || name.ends_with(&format!(".{domain}"))
}

/// The host name of an authority, lowercase, without port or trailing dot.
pub fn host_name(authority: &str) -> String {
    let h = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .map_or(authority, |s| s)
            .trim_start_matches('[')
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, p)| {
            if p.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                authority
            }
        })
    };
    h.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_mastodon_and_span_about_two_and_a_half_days() {
        assert_eq!(retry_delay_secs(1, 0.0), 15);
        assert_eq!(retry_delay_secs(2, 0.0), 16);
        assert_eq!(retry_delay_secs(3, 0.0), 31);
        assert!(retry_delay_secs(5, 0.9) > retry_delay_secs(5, 0.0));
        let plain: i64 = (1..MAX_ATTEMPTS).map(|n| retry_delay_secs(n, 0.0)).sum();
        let jittered: i64 = (1..MAX_ATTEMPTS).map(|n| retry_delay_secs(n, 0.5)).sum();
        assert!((2 * 86_400..3 * 86_400).contains(&plain), "{plain}");
        assert!((2 * 86_400..4 * 86_400).contains(&jittered), "{jittered}");
        assert!(may_retry(MAX_ATTEMPTS - 1));
        assert!(!may_retry(MAX_ATTEMPTS));
    }

    #[test]
    fn the_circuit_opens_after_failures_in_a_row_and_closes_on_success() {
        let mut h = HostHealth::default();
        for i in 1..BREAKER_THRESHOLD {
            h.observe(&HostSignal::Down, Some("refused"), i, 0.0);
            assert!(!h.is_open(i), "open after {i}");
            assert_eq!(h.in_flight_limit(4), 1, "half-open probes one at a time");
        }
        h.observe(&HostSignal::Down, Some("refused"), 100, 0.0);
        assert!(h.is_open(101));
        assert_eq!(h.circuit_open_until, 100 + 60_000);
        h.observe(&HostSignal::Down, None, 70_000, 0.0);
        assert_eq!(h.circuit_open_until, 70_000 + 120_000, "cool-off doubles");
        assert_eq!(h.failing_since, Some(1));
        let t = h.observe(&HostSignal::Up, None, 300_000, 0.0);
        assert!(t.recovered);
        assert!(!h.troubled());
        assert!(!h.is_open(300_001));
        assert_eq!(h.in_flight_limit(4), 4);
        let t = h.observe(&HostSignal::Up, None, 300_002, 0.0);
        assert!(!t.recovered, "a healthy instance does not recover twice");
    }

    #[test]
    fn cool_off_is_capped_and_throttling_respects_retry_after() {
        let mut h = HostHealth::default();
        for i in 0..40 {
            h.observe(&HostSignal::Down, None, i, 0.99);
        }
        assert!(h.circuit_open_until <= 39 + MAX_COOL_OFF_MS + MAX_COOL_OFF_MS / 10);
        let mut t = HostHealth::default();
        t.observe(
            &HostSignal::Throttled {
                retry_after_secs: Some(120),
            },
            None,
            0,
            0.0,
        );
        assert_eq!(
            t.circuit_open_until, 120_000,
            "one 429 with Retry-After is honoured"
        );
        let mut huge = HostHealth::default();
        huge.observe(
            &HostSignal::Throttled {
                retry_after_secs: Some(i64::MAX / 4),
            },
            None,
            0,
            0.0,
        );
        assert_eq!(huge.circuit_open_until, MAX_COOL_OFF_MS);
    }

    #[test]
    fn days_of_failure_make_an_instance_unavailable_until_heard_from() {
        let mut h = HostHealth::default();
        let t = h.observe(&HostSignal::Down, None, 0, 0.0);
        assert!(!t.became_unavailable);
        let t = h.observe(&HostSignal::Down, None, UNAVAILABLE_AFTER_MS - 1, 0.0);
        assert!(!t.became_unavailable);
        let t = h.observe(&HostSignal::Down, None, UNAVAILABLE_AFTER_MS, 0.0);
        assert!(t.became_unavailable);
        assert!(h.is_open(i64::MAX));
        let t = h.observe(&HostSignal::Down, None, UNAVAILABLE_AFTER_MS + 5, 0.0);
        assert!(!t.became_unavailable, "marked once");
        assert!(h.heard_from());
        assert!(!h.is_open(UNAVAILABLE_AFTER_MS + 6));
        assert!(!h.heard_from());
    }

    #[test]
    fn blocks_cover_the_domain_and_its_subdomains_only() {
        assert!(host_matches_domain("evil.example", "evil.example"));
        assert!(host_matches_domain("EVIL.example.", "evil.example"));
        assert!(host_matches_domain("a.evil.example:8443", "evil.example"));
        assert!(!host_matches_domain("notevil.example", "evil.example"));
        assert!(!host_matches_domain("evil.example.com", "evil.example"));
        assert!(!host_matches_domain("evil.example", ""));
        assert_eq!(host_name("[::1]:80"), "::1");
        assert_eq!(host_name("Shop.Example."), "shop.example");
    }
}

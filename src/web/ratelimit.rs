//! Counts failed attempts (sign-ins) per key in fixed time windows, in memory. Owns nothing
//! else: callers decide the keys (`ip:<addr>`, `user:<name>`) and what a failure is.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many keys, expired windows are dropped on the next write.
const PRUNE_ABOVE: usize = 10_000;

/// Fixed-window failure counter: after `max_failures` failures within `window` of the first
/// one, a key is refused until the window ends.
pub struct RateLimiter {
    max_failures: u32,
    window: Duration,
    windows: Mutex<HashMap<String, Window>>,
}

struct Window {
    started: Instant,
    failures: u32,
}

impl RateLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        RateLimiter {
            max_failures: max_failures.max(1),
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` while `key` has used up its failures in the current window.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    /// Counts one failure for `key`.
    pub fn record_failure(&self, key: &str) {
        self.record_failure_at(key, Instant::now());
    }

    /// Forgets `key` (after a success).
    pub fn reset(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        // A panic while holding the lock cannot leave the map inconsistent; keep going.
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let map = self.lock();
        match map.get(key) {
            Some(w) if w.failures >= self.max_failures => {
                let elapsed = now.saturating_duration_since(w.started);
                if elapsed < self.window {
                    Err(self.window - elapsed)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    fn record_failure_at(&self, key: &str, now: Instant) {
        let mut map = self.lock();
        if map.len() > PRUNE_ABOVE {
            let window = self.window;
            map.retain(|_, w| now.saturating_duration_since(w.started) < window);
        }
        let w = map.entry(key.to_string()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.saturating_duration_since(w.started) >= self.window {
            *w = Window {
                started: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_max_failures_until_the_window_ends() {
        let rl = RateLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rl.check_at("ip:1", t0).is_ok());
            rl.record_failure_at("ip:1", t0);
        }
        let wait = rl
            .check_at("ip:1", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(rl.check_at("ip:2", t0).is_ok(), "keys are independent");
        assert!(rl.check_at("ip:1", t0 + Duration::from_secs(60)).is_ok());
        // A failure after the window starts a fresh one.
        rl.record_failure_at("ip:1", t0 + Duration::from_secs(61));
        assert!(rl.check_at("ip:1", t0 + Duration::from_secs(62)).is_ok());
    }

    #[test]
    fn reset_forgets_a_key() {
        let rl = RateLimiter::new(1, Duration::from_secs(60));
        rl.record_failure("user:a");
        assert!(rl.check("user:a").is_err());
        rl.reset("user:a");
        assert!(rl.check("user:a").is_ok());
    }

    #[test]
    fn expired_windows_are_pruned_when_the_map_is_large() {
        let rl = RateLimiter::new(5, Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            rl.record_failure_at(&format!("ip:{i}"), t0);
        }
        rl.record_failure_at("ip:late", t0 + Duration::from_secs(2));
        assert_eq!(rl.len(), 1);
    }
}

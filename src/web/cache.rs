//! Rendered public pages for anonymous visitors, kept in memory for a few seconds. Owns only
//! the cache itself; handlers decide what may be cached (never signed-in pages, never responses
//! that set cookies) and every write clears it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// A cached response body and its content type.
#[derive(Clone, Debug)]
pub struct CachedPage {
    pub content_type: &'static str,
    pub body: Bytes,
}

struct Entry {
    page: CachedPage,
    stored: Instant,
}

pub struct PageCache {
    ttl: Duration,
    max_entries: usize,
    entries: RwLock<HashMap<String, Entry>>,
    /// Bumped by `clear`, so a page rendered before a write is not stored after it.
    generation: AtomicU64,
}

impl PageCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        PageCache {
            ttl,
            max_entries: max_entries.max(1),
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The key of a page: language and path with query.
    pub fn key(lang: &str, path_and_query: &str) -> String {
        let mut k = String::with_capacity(lang.len() + 1 + path_and_query.len());
        k.push_str(lang);
        k.push(' ');
        k.push_str(path_and_query);
        k
    }

    /// Take this before reading the data a page is rendered from; pass it to `put`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &str) -> Option<CachedPage> {
        self.get_at(key, Instant::now())
    }

    /// Stores a page unless the cache was cleared since `generation` was taken.
    pub fn put(&self, key: String, page: CachedPage, generation: u64) {
        self.put_at(key, page, generation, Instant::now());
    }

    /// Drops every entry (after any write to the catalog).
    pub fn clear(&self) {
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.clear();
    }

    fn get_at(&self, key: &str, now: Instant) -> Option<CachedPage> {
        let map = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let e = map.get(key)?;
        (now.saturating_duration_since(e.stored) < self.ttl).then(|| e.page.clone())
    }

    fn put_at(&self, key: String, page: CachedPage, generation: u64, now: Instant) {
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if map.len() >= self.max_entries && !map.contains_key(&key) {
            let ttl = self.ttl;
            map.retain(|_, e| now.saturating_duration_since(e.stored) < ttl);
            if map.len() >= self.max_entries {
                // Still full of fresh pages: start over rather than track recency.
                map.clear();
            }
        }
        map.insert(key, Entry { page, stored: now });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(s: &'static str) -> CachedPage {
        CachedPage {
            content_type: "text/html; charset=utf-8",
            body: Bytes::from_static(s.as_bytes()),
        }
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let c = PageCache::new(Duration::from_secs(5), 10);
        let t0 = Instant::now();
        c.put_at("en /".into(), page("a"), c.generation(), t0);
        assert_eq!(
            c.get_at("en /", t0 + Duration::from_secs(4)).unwrap().body,
            "a"
        );
        assert!(c.get_at("en /", t0 + Duration::from_secs(5)).is_none());
        assert!(c.get_at("zh-Hans /", t0).is_none());
    }

    #[test]
    fn clear_drops_entries_and_refuses_stale_renders() {
        let c = PageCache::new(Duration::from_secs(60), 10);
        let before = c.generation();
        c.put("k".into(), page("old"), before);
        c.clear();
        assert!(c.get("k").is_none());
        c.put("k".into(), page("rendered before the write"), before);
        assert!(c.get("k").is_none());
        c.put("k".into(), page("new"), c.generation());
        assert_eq!(c.get("k").unwrap().body, "new");
    }

    #[test]
    fn stays_within_max_entries() {
        let c = PageCache::new(Duration::from_secs(60), 3);
        for i in 0..10 {
            c.put(format!("k{i}"), page("x"), c.generation());
            assert!(c.entries.read().unwrap().len() <= 3);
        }
        assert_eq!(
            PageCache::key("en", "/shops/a?page=2"),
            "en /shops/a?page=2"
        );
    }
}

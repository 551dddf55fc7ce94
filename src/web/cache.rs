//! placeholder
pub struct PageCache;
impl PageCache {
    pub fn new(_ttl: std::time::Duration, _max: usize) -> Self {
        PageCache
    }
    pub fn clear(&self) {}
}

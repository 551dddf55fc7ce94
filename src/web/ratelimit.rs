//! placeholder
pub struct RateLimiter;
impl RateLimiter {
    pub fn new(_max: u32, _window: std::time::Duration) -> Self {
        RateLimiter
    }
}

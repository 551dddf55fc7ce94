//! Mints every public URL in one place. The same URLs will serve ActivityPub JSON to servers
//! (content negotiation), so these are also the future ActivityPub ids; parse them back here too.

use crate::domain::ids::ProductId;

/// URL builder for one instance, from `Settings::base_url()`.
#[derive(Clone, Debug)]
pub struct Urls {
    base: String,
}

impl Urls {
    pub fn new(base_url: impl Into<String>) -> Self {
        let mut base = base_url.into();
        while base.ends_with('/') {
            base.pop();
        }
        Urls { base }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `path` must start with `/`.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn shop_path(handle: &str) -> String {
        format!("/shops/{handle}")
    }

    pub fn shop(&self, handle: &str) -> String {
        self.absolute(&Self::shop_path(handle))
    }

    pub fn shop_feed(&self, handle: &str) -> String {
        self.absolute(&format!("/shops/{handle}/feed.atom"))
    }

    pub fn product_path(handle: &str, id: &ProductId) -> String {
        format!("/shops/{handle}/products/{id}")
    }

    pub fn product(&self, handle: &str, id: &ProductId) -> String {
        self.absolute(&Self::product_path(handle, id))
    }

    pub fn tag_path(handle: &str, tag: &str) -> String {
        format!(
            "/shops/{handle}/tags/{}",
            percent_encoding::utf8_percent_encode(tag, percent_encoding::NON_ALPHANUMERIC)
        )
    }

    /// The product id in one of our product URLs (`https://host/shops/h/products/<id>`), if it is ours.
    pub fn parse_product(&self, url: &str) -> Option<(String, ProductId)> {
        let rest = url.strip_prefix(&self.base)?.strip_prefix("/shops/")?;
        let (handle, rest) = rest.split_once('/')?;
        let id = rest.strip_prefix("products/")?;
        Some((handle.to_string(), ProductId::parse(id)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_urls_round_trip() {
        let u = Urls::new("https://shop.example/");
        let id = ProductId::new();
        let url = u.product("tea", &id);
        assert_eq!(url, format!("https://shop.example/shops/tea/products/{id}"));
        assert_eq!(u.parse_product(&url), Some(("tea".to_string(), id)));
        assert_eq!(
            u.parse_product("https://evil.example/shops/tea/products/x"),
            None
        );
    }

    #[test]
    fn tags_are_escaped() {
        assert_eq!(
            Urls::tag_path("tea", "绿茶"),
            "/shops/tea/tags/%E7%BB%BF%E8%8C%B6"
        );
    }
}

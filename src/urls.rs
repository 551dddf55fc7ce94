//! Mints every public URL in one place. The same URLs serve ActivityPub JSON to servers
//! (content negotiation), so these are also the ActivityPub ids; they are parsed back here too.

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

    /// `host[:port]` of this instance.
    pub fn host(&self) -> &str {
        self.base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, h)| h)
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

    /// An order: the buyer's page (members) and the order's ActivityPub id.
    pub fn order_path(id: &str) -> String {
        format!("/orders/{id}")
    }

    pub fn order(&self, id: &str) -> String {
        self.absolute(&Self::order_path(id))
    }

    /// A guest's order page behind its secret link.
    pub fn order_secret_path(id: &str, secret: &str) -> String {
        format!("/orders/{id}/{secret}")
    }

    /// A member's order with a shop on another instance (the member's copy).
    pub fn remote_order_path(id: &str) -> String {
        format!("/orders/remote/{id}")
    }

    /// The order in the seller's dashboard.
    pub fn shop_order_path(handle: &str, id: &str) -> String {
        format!("/dashboard/shops/{handle}/orders/{id}")
    }

    /// The order id in one of our order URLs, if it is ours.
    pub fn parse_order(&self, url: &str) -> Option<String> {
        let id = url.strip_prefix(&self.base)?.strip_prefix("/orders/")?;
        uuid::Uuid::try_parse(id)
            .ok()
            .filter(|u| u.to_string() == id)
            .map(|u| u.to_string())
    }

    /// A member's profile and `Person` actor.
    pub fn user_path(username: &str) -> String {
        format!("/users/{username}")
    }

    pub fn user(&self, username: &str) -> String {
        self.absolute(&Self::user_path(username))
    }

    /// The instance actor (`Application`): signs our fetches, fetchable without a signature.
    pub fn instance_actor(&self) -> String {
        self.absolute("/actor")
    }

    /// The shared inbox of every local actor.
    pub fn shared_inbox(&self) -> String {
        self.absolute("/inbox")
    }

    /// `actor#main-key`: the id of an actor's public key.
    pub fn key_id(actor_id: &str) -> String {
        format!("{actor_id}#main-key")
    }

    /// A new id for an activity sent by one of our actors.
    pub fn new_activity(&self) -> String {
        self.absolute(&format!("/activities/{}", uuid::Uuid::now_v7()))
    }

    /// Which local actor an id names, if it is one of ours.
    pub fn parse_actor(&self, url: &str) -> Option<LocalActor> {
        let path = url.strip_prefix(&self.base)?;
        if path == "/actor" {
            return Some(LocalActor::Instance);
        }
        if let Some(h) = path.strip_prefix("/shops/") {
            if !h.is_empty() && !h.contains(['/', '?', '#']) {
                return Some(LocalActor::Shop(h.to_string()));
            }
        }
        if let Some(n) = path.strip_prefix("/users/") {
            if !n.is_empty() && !n.contains(['/', '?', '#']) {
                return Some(LocalActor::User(n.to_string()));
            }
        }
        None
    }

    /// Whether `url` is on this instance.
    pub fn is_local(&self, url: &str) -> bool {
        url == self.base || url.starts_with(&format!("{}/", self.base))
    }

    /// The product id in one of our product URLs (`https://host/shops/h/products/<id>`), if it is ours.
    pub fn parse_product(&self, url: &str) -> Option<(String, ProductId)> {
        let rest = url.strip_prefix(&self.base)?.strip_prefix("/shops/")?;
        let (handle, rest) = rest.split_once('/')?;
        let id = rest.strip_prefix("products/")?;
        Some((handle.to_string(), ProductId::parse(id)?))
    }
}

/// One of our actors, as named by its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalActor {
    Instance,
    Shop(String),
    User(String),
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
    fn actor_ids_round_trip() {
        let u = Urls::new("https://shop.example");
        assert_eq!(
            u.parse_actor(&u.shop("tea")),
            Some(LocalActor::Shop("tea".into()))
        );
        assert_eq!(
            u.parse_actor(&u.user("ann")),
            Some(LocalActor::User("ann".into()))
        );
        assert_eq!(
            u.parse_actor(&u.instance_actor()),
            Some(LocalActor::Instance)
        );
        assert_eq!(u.parse_actor("https://shop.example.evil/shops/tea"), None);
        assert_eq!(u.parse_actor("https://shop.example/shops/tea/inbox"), None);
        assert!(u.is_local("https://shop.example/x"));
        assert!(!u.is_local("https://shop.example.evil/x"));
    }

    #[test]
    fn tags_are_escaped() {
        assert_eq!(
            Urls::tag_path("tea", "绿茶"),
            "/shops/tea/tags/%E7%BB%BF%E8%8C%B6"
        );
    }
}

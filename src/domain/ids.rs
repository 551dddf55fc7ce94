//! Typed ids: UUIDv7 text, time-ordered, minted here and nowhere else.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                $name(uuid::Uuid::now_v7().to_string())
            }
            /// Accepts only the canonical lowercase hyphenated UUID form.
            pub fn parse(s: &str) -> Option<Self> {
                let u = uuid::Uuid::try_parse(s).ok()?;
                let canonical = u.to_string();
                (canonical == s).then_some($name(canonical))
            }
            /// Wraps a value read back from the database.
            pub fn from_db(s: String) -> Self {
                $name(s)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A local account.
    UserId
);
id_type!(
    /// A shop.
    ShopId
);
id_type!(
    /// A product.
    ProductId
);
id_type!(
    /// One purchasable variant of a product.
    VariantId
);
id_type!(
    /// A stored, re-encoded image.
    ImageId
);
id_type!(
    /// An API bearer token (the row, not the secret).
    TokenId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_other_forms() {
        let id = ProductId::new();
        assert_eq!(ProductId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(ProductId::parse(&id.as_str().to_uppercase()), None);
        assert_eq!(ProductId::parse("not-an-id"), None);
        assert_eq!(ProductId::parse(""), None);
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = ShopId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ShopId::new();
        assert!(a < b);
    }
}

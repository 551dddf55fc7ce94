//! The catalog: shops, products, variants, product images and tags. Types here, input checks
//! in `validate.rs`, use cases (with authorisation) in `service.rs`.

pub mod service;
pub mod validate;

use crate::domain::ids::{ProductId, ShopId, UserId, VariantId};
use crate::domain::images::Image;
use crate::domain::money::Money;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShopLink {
    pub label: String,
    pub url: String,
}

#[derive(Clone, Debug)]
pub struct Shop {
    pub id: ShopId,
    pub owner_id: UserId,
    pub handle: String,
    pub name: String,
    /// Markdown as written.
    pub summary: String,
    /// Sanitised HTML rendered from `summary`.
    pub summary_html: String,
    pub avatar: Option<Image>,
    pub banner: Option<Image>,
    pub links: Vec<ShopLink>,
    /// Follow requests wait for the seller's approval instead of being accepted at once.
    pub manually_approves_followers: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProductStatus {
    /// Only the seller sees it.
    Draft,
    /// On the storefront.
    Published,
    /// Withdrawn from sale; kept for the record and reachable by the seller.
    Archived,
}

impl ProductStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "draft" => Some(Self::Draft),
            "published" => Some(Self::Published),
            "archived" => Some(Self::Archived),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Archived => "archived",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ProductImage {
    pub image: Image,
    pub alt: String,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VariantOption {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug)]
pub struct Variant {
    pub id: VariantId,
    /// "M / Red", made from the option values.
    pub title: String,
    pub options: Vec<VariantOption>,
    pub sku: String,
    pub price: Money,
    pub stock: i64,
}

#[derive(Clone, Debug)]
pub struct Product {
    pub id: ProductId,
    pub shop_id: ShopId,
    pub title: String,
    /// Markdown as written.
    pub description: String,
    /// Sanitised HTML rendered from `description`.
    pub description_html: String,
    pub price: Money,
    /// The "was" price shown struck through; always above `price`.
    pub compare_at: Option<Money>,
    /// Units on hand when the product has no variants (then each variant has its own).
    pub stock: i64,
    pub sku: Option<String>,
    pub status: ProductStatus,
    pub tags: Vec<String>,
    pub images: Vec<ProductImage>,
    pub variants: Vec<Variant>,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
}

impl Product {
    /// Units available across the product or all its variants.
    pub fn available(&self) -> i64 {
        if self.variants.is_empty() {
            self.stock
        } else {
            self.variants.iter().map(|v| v.stock).sum()
        }
    }

    /// Lowest and highest price over the variants (or the product price twice).
    pub fn price_range(&self) -> (Money, Money) {
        let mut lo = self.price;
        let mut hi = self.price;
        if !self.variants.is_empty() {
            lo = self.variants[0].price;
            hi = self.variants[0].price;
            for v in &self.variants[1..] {
                if v.price.minor < lo.minor {
                    lo = v.price;
                }
                if v.price.minor > hi.minor {
                    hi = v.price;
                }
            }
        }
        (lo, hi)
    }

    pub fn is_public(&self) -> bool {
        self.status == ProductStatus::Published
    }
}

/// Input for a new shop (web form or API).
#[derive(Clone, Debug, Default)]
pub struct ShopForm {
    pub handle: String,
    pub name: String,
    pub summary: String,
    pub avatar_image: Option<String>,
    pub banner_image: Option<String>,
    pub links: Vec<ShopLink>,
    pub manually_approves_followers: bool,
}

/// A partial edit of a shop; `None` leaves a field as it is. The handle never changes: it is
/// the shop's identity on the fediverse.
#[derive(Clone, Debug, Default)]
pub struct ShopChanges {
    pub name: Option<String>,
    pub summary: Option<String>,
    /// `Some(None)` removes the avatar.
    pub avatar_image: Option<Option<String>>,
    pub banner_image: Option<Option<String>>,
    pub links: Option<Vec<ShopLink>>,
    pub manually_approves_followers: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageForm {
    pub id: String,
    pub alt: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VariantForm {
    pub sku: String,
    pub options: Vec<VariantOption>,
    /// Defaults to the product price.
    pub price: Option<String>,
    pub stock: i64,
}

/// Input for a whole product (new, or an existing one with changes applied).
#[derive(Clone, Debug, Default)]
pub struct ProductForm {
    pub title: String,
    pub description: String,
    pub price: String,
    pub currency: String,
    pub compare_at_price: Option<String>,
    pub stock: i64,
    pub sku: Option<String>,
    pub tags: Vec<String>,
    pub images: Vec<ImageForm>,
    pub variants: Vec<VariantForm>,
    /// Defaults to `draft` on the web and `published` on the API.
    pub status: Option<String>,
}

/// A partial edit of a product; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ProductChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub price: Option<String>,
    pub currency: Option<String>,
    pub compare_at_price: Option<Option<String>>,
    pub stock: Option<i64>,
    pub sku: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub images: Option<Vec<ImageForm>>,
    pub variants: Option<Vec<VariantForm>>,
    pub status: Option<String>,
}

impl ProductChanges {
    /// The full form that results from applying these changes to `p`.
    pub fn apply_to(self, p: &Product) -> ProductForm {
        let current = ProductForm::from_product(p);
        ProductForm {
            title: self.title.unwrap_or(current.title),
            description: self.description.unwrap_or(current.description),
            price: self.price.unwrap_or(current.price),
            currency: self.currency.unwrap_or(current.currency),
            compare_at_price: self.compare_at_price.unwrap_or(current.compare_at_price),
            stock: self.stock.unwrap_or(current.stock),
            sku: self.sku.unwrap_or(current.sku),
            tags: self.tags.unwrap_or(current.tags),
            images: self.images.unwrap_or(current.images),
            variants: self.variants.unwrap_or(current.variants),
            status: Some(self.status.unwrap_or(current.status.unwrap_or_default())),
        }
    }
}

impl ProductForm {
    /// The form that would recreate `p` exactly (used for edit pages and partial updates).
    pub fn from_product(p: &Product) -> ProductForm {
        ProductForm {
            title: p.title.clone(),
            description: p.description.clone(),
            price: p.price.amount_string(),
            currency: p.price.currency.code.to_string(),
            compare_at_price: p.compare_at.map(|m| m.amount_string()),
            stock: p.stock,
            sku: p.sku.clone(),
            tags: p.tags.clone(),
            images: p
                .images
                .iter()
                .map(|i| ImageForm {
                    id: i.image.id.to_string(),
                    alt: i.alt.clone(),
                })
                .collect(),
            variants: p
                .variants
                .iter()
                .map(|v| VariantForm {
                    sku: v.sku.clone(),
                    options: v.options.clone(),
                    price: Some(v.price.amount_string()),
                    stock: v.stock,
                })
                .collect(),
            status: Some(p.status.as_str().to_string()),
        }
    }
}

/// Which products of a shop to list.
#[derive(Clone, Debug, Default)]
pub struct ProductFilter {
    /// Include drafts and archived products (the seller's own view).
    pub include_unpublished: bool,
    pub tag: Option<String>,
    /// Words that must all appear in title, description or tags.
    pub query: Option<String>,
}

/// One page of results, 1-based.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl<T> Page<T> {
    pub fn has_next(&self) -> bool {
        self.page * self.per_page < self.total
    }
    pub fn has_prev(&self) -> bool {
        self.page > 1
    }
    pub fn last_page(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }
}

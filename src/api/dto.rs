//! What the API returns: domain types turned into stable JSON shapes.

use serde::Serialize;

use crate::domain::accounts::User;
use crate::domain::catalog::{Page, Product, Shop, ShopLink, VariantOption};
use crate::domain::images::Image;
use crate::domain::rfc3339;
use crate::urls::Urls;

#[derive(Serialize)]
pub struct UserDto {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
}

impl From<&User> for UserDto {
    fn from(u: &User) -> Self {
        UserDto {
            id: u.id.to_string(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role.as_str(),
        }
    }
}

#[derive(Serialize)]
pub struct ImageDto {
    pub id: String,
    pub url: String,
    pub thumbnail_url: String,
    pub media_type: String,
    pub width: i64,
    pub height: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

impl ImageDto {
    pub fn new(urls: &Urls, i: &Image, alt: Option<String>) -> Self {
        ImageDto {
            id: i.id.to_string(),
            url: urls.absolute(&i.path()),
            thumbnail_url: urls.absolute(&i.thumb_path()),
            media_type: i.mime.clone(),
            width: i.width,
            height: i.height,
            alt,
        }
    }
}

#[derive(Serialize)]
pub struct ShopDto {
    pub id: String,
    pub handle: String,
    pub url: String,
    pub feed_url: String,
    pub name: String,
    pub summary: String,
    pub summary_html: String,
    pub avatar: Option<ImageDto>,
    pub banner: Option<ImageDto>,
    pub links: Vec<ShopLink>,
    /// `@handle@domain`, how the fediverse finds the shop.
    pub fediverse_handle: String,
    /// Follow requests wait for approval.
    pub manually_approves_followers: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl ShopDto {
    pub fn new(urls: &Urls, s: &Shop) -> Self {
        ShopDto {
            id: s.id.to_string(),
            handle: s.handle.clone(),
            url: urls.shop(&s.handle),
            feed_url: urls.shop_feed(&s.handle),
            name: s.name.clone(),
            summary: s.summary.clone(),
            summary_html: s.summary_html.clone(),
            avatar: s.avatar.as_ref().map(|i| ImageDto::new(urls, i, None)),
            banner: s.banner.as_ref().map(|i| ImageDto::new(urls, i, None)),
            links: s.links.clone(),
            fediverse_handle: format!("@{}@{}", s.handle, urls.host()),
            manually_approves_followers: s.manually_approves_followers,
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
        }
    }
}

#[derive(Serialize)]
pub struct VariantDto {
    pub id: String,
    pub sku: String,
    pub title: String,
    pub options: Vec<VariantOption>,
    pub price: String,
    pub stock: i64,
}

#[derive(Serialize)]
pub struct ProductDto {
    pub id: String,
    pub url: String,
    pub shop: String,
    pub title: String,
    pub description: String,
    pub description_html: String,
    pub price: String,
    pub currency: &'static str,
    pub compare_at_price: Option<String>,
    /// Units available: the product's own stock, or the sum over its variants.
    pub stock: i64,
    pub sku: Option<String>,
    pub status: &'static str,
    pub tags: Vec<String>,
    pub images: Vec<ImageDto>,
    pub variants: Vec<VariantDto>,
    pub created_at: String,
    pub updated_at: String,
    pub published_at: Option<String>,
}

impl ProductDto {
    pub fn new(urls: &Urls, shop_handle: &str, p: &Product) -> Self {
        ProductDto {
            id: p.id.to_string(),
            url: urls.product(shop_handle, &p.id),
            shop: shop_handle.to_string(),
            title: p.title.clone(),
            description: p.description.clone(),
            description_html: p.description_html.clone(),
            price: p.price.amount_string(),
            currency: p.price.currency.code,
            compare_at_price: p.compare_at.map(|m| m.amount_string()),
            stock: p.available(),
            sku: p.sku.clone(),
            status: p.status.as_str(),
            tags: p.tags.clone(),
            images: p
                .images
                .iter()
                .map(|i| ImageDto::new(urls, &i.image, Some(i.alt.clone())))
                .collect(),
            variants: p
                .variants
                .iter()
                .map(|v| VariantDto {
                    id: v.id.to_string(),
                    sku: v.sku.clone(),
                    title: v.title.clone(),
                    options: v.options.clone(),
                    price: v.price.amount_string(),
                    stock: v.stock,
                })
                .collect(),
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
            published_at: p.published_at.map(rfc3339),
        }
    }
}

#[derive(Serialize)]
pub struct PageDto<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

impl<T> PageDto<T> {
    pub fn new<S>(page: &Page<S>, items: Vec<T>) -> Self {
        PageDto {
            items,
            page: page.page,
            per_page: page.per_page,
            total: page.total,
        }
    }
}

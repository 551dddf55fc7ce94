//! View models shared by several pages: images, product cards, shop headers, pagers. Plain
//! data ready for templates (prices formatted, paths built); no I/O.

use crate::domain::catalog::{Page, Product, ProductStatus, Shop, ShopLink};
use crate::domain::images::Image;
use crate::urls::Urls;
use crate::web::i18n::Lang;

#[derive(Clone, Debug)]
pub struct ImgView {
    pub src: String,
    pub width: i64,
    pub height: i64,
    pub alt: String,
}

impl ImgView {
    pub fn full(i: &Image, alt: &str) -> ImgView {
        ImgView {
            src: i.path(),
            width: i.width,
            height: i.height,
            alt: alt.to_string(),
        }
    }
    pub fn thumb(i: &Image, alt: &str) -> ImgView {
        ImgView {
            src: i.thumb_path(),
            width: i.thumb_width,
            height: i.thumb_height,
            alt: alt.to_string(),
        }
    }
}

/// A product in a grid or list.
#[derive(Clone, Debug)]
pub struct CardView {
    pub id: String,
    pub path: String,
    pub title: String,
    pub thumb: Option<ImgView>,
    pub price: String,
    pub compare_at: Option<String>,
    pub in_stock: bool,
    pub stock: i64,
    pub status: ProductStatus,
    pub status_label: &'static str,
}

/// "€10.00" or "€10.00 – €15.00" when variants differ in price.
pub fn price_text(p: &Product) -> String {
    let (lo, hi) = p.price_range();
    if lo.minor == hi.minor {
        lo.display()
    } else {
        format!("{} – {}", lo.display(), hi.display())
    }
}

pub fn status_label(t: Lang, s: ProductStatus) -> &'static str {
    t.s(match s {
        ProductStatus::Draft => "status.draft",
        ProductStatus::Published => "status.published",
        ProductStatus::Archived => "status.archived",
    })
}

impl CardView {
    pub fn of(t: Lang, handle: &str, p: &Product) -> CardView {
        CardView {
            id: p.id.to_string(),
            path: Urls::product_path(handle, &p.id),
            title: p.title.clone(),
            thumb: p.images.first().map(|i| ImgView::thumb(&i.image, &i.alt)),
            price: price_text(p),
            compare_at: p.compare_at.map(|m| m.display()),
            in_stock: p.available() > 0,
            stock: p.available(),
            status: p.status,
            status_label: status_label(t, p.status),
        }
    }

    pub fn is_published(&self) -> bool {
        self.status == ProductStatus::Published
    }
    pub fn is_archived(&self) -> bool {
        self.status == ProductStatus::Archived
    }
}

/// The top of a shop's pages.
#[derive(Clone, Debug)]
pub struct ShopView {
    pub handle: String,
    pub name: String,
    /// Sanitised HTML.
    pub summary_html: String,
    pub avatar: Option<ImgView>,
    pub banner: Option<ImgView>,
    pub links: Vec<ShopLink>,
    pub path: String,
    pub feed_path: String,
    /// `@handle@domain`
    pub address: String,
}

impl ShopView {
    pub fn of(s: &Shop, domain: &str) -> ShopView {
        ShopView {
            handle: s.handle.clone(),
            name: s.name.clone(),
            summary_html: s.summary_html.clone(),
            avatar: s.avatar.as_ref().map(|i| ImgView::thumb(i, "")),
            banner: s.banner.as_ref().map(|i| ImgView::full(i, "")),
            links: s.links.clone(),
            path: Urls::shop_path(&s.handle),
            feed_path: format!("{}/feed.atom", Urls::shop_path(&s.handle)),
            address: format!("@{}@{}", s.handle, domain),
        }
    }
}

/// Links to the neighbouring pages of a listing.
#[derive(Clone, Debug)]
pub struct Pager {
    pub page: i64,
    pub last: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `base` is the listing's path; `params` are extra query pairs kept on every link.
    pub fn of<T>(page: &Page<T>, base: &str, params: &[(&str, &str)]) -> Pager {
        let link = |n: i64| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                if !v.is_empty() {
                    q.append_pair(k, v);
                }
            }
            if n > 1 {
                q.append_pair("page", &n.to_string());
            }
            let q = q.finish();
            if q.is_empty() {
                base.to_string()
            } else {
                format!("{base}?{q}")
            }
        };
        Pager {
            page: page.page,
            last: page.last_page(),
            prev: page.has_prev().then(|| link(page.page - 1)),
            next: page.has_next().then(|| link(page.page + 1)),
        }
    }
}

/// `?page=` as typed: anything that is not a positive number means page 1.
pub fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
        .min(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_links_keep_the_query() {
        let page: Page<()> = Page {
            items: vec![],
            total: 50,
            page: 2,
            per_page: 24,
        };
        let p = Pager::of(&page, "/shops/tea", &[("q", "green tea")]);
        assert_eq!(p.prev.as_deref(), Some("/shops/tea?q=green+tea"));
        assert_eq!(p.next.as_deref(), Some("/shops/tea?q=green+tea&page=3"));
        assert_eq!(p.last, 3);
        assert_eq!(page_number(Some("x")), 1);
        assert_eq!(page_number(Some("-3")), 1);
        assert_eq!(page_number(Some("4")), 4);
    }
}

//! Machine-readable descriptions of pages: OpenGraph meta tags and schema.org `Product`
//! JSON-LD. Pure functions over domain values; the JSON is escaped so it cannot leave its
//! `<script>` element.

use serde_json::{json, Value};

use crate::domain::catalog::{Product, Shop};
use crate::domain::markdown::plain_excerpt;
use crate::urls::Urls;

/// One `<meta property=... content=...>` pair.
#[derive(Clone, Debug)]
pub struct Meta {
    pub property: &'static str,
    pub content: String,
}

fn meta(property: &'static str, content: impl Into<String>) -> Meta {
    Meta {
        property,
        content: content.into(),
    }
}

/// Plain-text description for meta tags and JSON-LD.
pub fn product_summary(p: &Product) -> String {
    plain_excerpt(&p.description, 300)
}

fn availability(units: i64) -> &'static str {
    if units > 0 {
        "https://schema.org/InStock"
    } else {
        "https://schema.org/OutOfStock"
    }
}

/// OpenGraph tags for a product page.
pub fn product_open_graph(urls: &Urls, shop: &Shop, p: &Product) -> Vec<Meta> {
    let mut out = vec![
        meta("og:type", "product"),
        meta("og:title", p.title.clone()),
        meta("og:url", urls.product(&shop.handle, &p.id)),
        meta("og:site_name", shop.name.clone()),
    ];
    let summary = product_summary(p);
    if !summary.is_empty() {
        out.push(meta("og:description", summary));
    }
    if let Some(img) = p.images.first() {
        out.push(meta("og:image", urls.absolute(&img.image.path())));
        if !img.alt.is_empty() {
            out.push(meta("og:image:alt", img.alt.clone()));
        }
    }
    let (lo, _) = p.price_range();
    out.push(meta("product:price:amount", lo.amount_string()));
    out.push(meta("product:price:currency", lo.currency.code));
    out
}

/// OpenGraph tags for a shop page.
pub fn shop_open_graph(urls: &Urls, shop: &Shop) -> Vec<Meta> {
    let mut out = vec![
        meta("og:type", "website"),
        meta("og:title", shop.name.clone()),
        meta("og:url", urls.shop(&shop.handle)),
    ];
    let summary = plain_excerpt(&shop.summary, 300);
    if !summary.is_empty() {
        out.push(meta("og:description", summary));
    }
    if let Some(img) = shop.avatar.as_ref().or(shop.banner.as_ref()) {
        out.push(meta("og:image", urls.absolute(&img.path())));
    }
    out
}

/// The schema.org `Product` for a product page, ready to put inside
/// `<script type="application/ld+json">`.
pub fn product_json_ld(urls: &Urls, shop: &Shop, p: &Product) -> String {
    let url = urls.product(&shop.handle, &p.id);
    let offer = |sku: Option<&str>, price: &crate::domain::money::Money, units: i64| {
        let mut o = json!({
            "@type": "Offer",
            "price": price.amount_string(),
            "priceCurrency": price.currency.code,
            "availability": availability(units),
            "url": url,
        });
        if let Some(sku) = sku {
            o["sku"] = Value::from(sku);
        }
        o
    };
    let offers = if p.variants.is_empty() {
        offer(None, &p.price, p.stock)
    } else {
        Value::Array(
            p.variants
                .iter()
                .map(|v| {
                    let mut o = offer(Some(&v.sku), &v.price, v.stock);
                    o["name"] = Value::from(v.title.as_str());
                    o
                })
                .collect(),
        )
    };
    let mut ld = json!({
        "@context": "https://schema.org",
        "@type": "Product",
        "name": p.title,
        "description": product_summary(p),
        "url": url,
        "image": p.images.iter().map(|i| urls.absolute(&i.image.path())).collect::<Vec<_>>(),
        "brand": {"@type": "Brand", "name": shop.name},
        "offers": offers,
    });
    if let Some(sku) = &p.sku {
        ld["sku"] = Value::from(sku.as_str());
    }
    script_safe_json(&ld)
}

/// Serialises JSON so that it is inert inside a `<script>` element: `<`, `>` and `&` (and
/// the line separators JavaScript once disliked) become `\uXXXX` escapes, which JSON parsers
/// read back unchanged.
pub fn script_safe_json(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "{}".to_string());
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ld_cannot_close_its_script_element() {
        let v = json!({"name": "</script><script>alert(1)</script> & <!--"});
        let s = script_safe_json(&v);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        assert!(!s.to_ascii_lowercase().contains("</script"));
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v, "escapes are transparent to JSON readers");
    }
}

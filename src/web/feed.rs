//! Each shop's Atom 1.0 feed of its newest published products (`/shops/{handle}/feed.atom`),
//! written by hand with one XML escaper.

use axum::extract::{Path, State};

use crate::domain::catalog::{service, Product, ProductFilter, Shop};
use crate::domain::markdown::plain_excerpt;
use crate::domain::rfc3339;
use crate::server::AppState;
use crate::urls::Urls;
use crate::web::ctx::Visitor;
use crate::web::errors::WebResult;
use crate::web::render::{cached, public_page};
use crate::web::views::price_text;

pub const ATOM: &str = "application/atom+xml; charset=utf-8";
const ENTRIES: i64 = 20;

pub async fn shop_feed(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
) -> WebResult {
    if let Some(hit) = cached(&state, &v) {
        return Ok(hit);
    }
    let generation = state.page_cache.generation();
    let shop = service::shop_by_handle(&state.store, &handle).await?;
    let page = service::shop_products(
        &state.store,
        None,
        &shop,
        ProductFilter::default(),
        1,
        ENTRIES,
    )
    .await?;
    let xml = atom(&state.urls, &shop, &page.items);
    Ok(public_page(&state, &v, generation, ATOM, xml))
}

/// Escapes text for XML element content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 forbids even when escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The feed document for `shop` listing `products` (newest first).
pub fn atom(urls: &Urls, shop: &Shop, products: &[Product]) -> String {
    let shop_url = urls.shop(&shop.handle);
    let updated = products
        .iter()
        .map(|p| p.updated_at)
        .chain(std::iter::once(shop.updated_at))
        .max()
        .unwrap_or(shop.updated_at);
    let mut x = String::with_capacity(2048 + products.len() * 1024);
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    element(&mut x, "id", &shop_url);
    element(&mut x, "title", &shop.name);
    let subtitle = plain_excerpt(&shop.summary, 300);
    if !subtitle.is_empty() {
        element(&mut x, "subtitle", &subtitle);
    }
    element(&mut x, "updated", &rfc3339(updated));
    link(
        &mut x,
        "self",
        "application/atom+xml",
        &urls.shop_feed(&shop.handle),
    );
    link(&mut x, "alternate", "text/html", &shop_url);
    x.push_str("<author>");
    element(&mut x, "name", &shop.name);
    element(&mut x, "uri", &shop_url);
    x.push_str("</author>\n");
    x.push_str("<generator>fedishop</generator>\n");
    if let Some(avatar) = &shop.avatar {
        element(&mut x, "icon", &urls.absolute(&avatar.path()));
    }
    for p in products {
        let url = urls.product(&shop.handle, &p.id);
        x.push_str("<entry>\n");
        element(&mut x, "id", &url);
        element(&mut x, "title", &p.title);
        element(&mut x, "updated", &rfc3339(p.updated_at));
        if let Some(published) = p.published_at {
            element(&mut x, "published", &rfc3339(published));
        }
        link(&mut x, "alternate", "text/html", &url);
        let excerpt = plain_excerpt(&p.description, 200);
        let summary = if excerpt.is_empty() {
            price_text(p)
        } else {
            format!("{} — {excerpt}", price_text(p))
        };
        element(&mut x, "summary", &summary);
        x.push_str("<content type=\"html\">");
        x.push_str(&xml_escape(&p.description_html));
        x.push_str("</content>\n");
        for tag in &p.tags {
            x.push_str(&format!("<category term=\"{}\"/>\n", xml_escape(tag)));
        }
        x.push_str("</entry>\n");
    }
    x.push_str("</feed>\n");
    x
}

fn element(x: &mut String, name: &str, text: &str) {
    x.push_str(&format!("<{name}>{}</{name}>\n", xml_escape(text)));
}

fn link(x: &mut String, rel: &str, kind: &str, href: &str) {
    x.push_str(&format!(
        "<link rel=\"{rel}\" type=\"{kind}\" href=\"{}\"/>\n",
        xml_escape(href)
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(
            xml_escape("Tea & <Biscuits> \"q\" 'a'\u{1}"),
            "Tea &amp; &lt;Biscuits&gt; &quot;q&quot; &apos;a&apos;"
        );
        assert_eq!(xml_escape("绿茶\n"), "绿茶\n");
    }
}

//! Products as `Note`s, both ways: ours rendered for every fediverse reader plus the machine
//! layer, and notes from other fedishop instances (or anything carrying price and currency)
//! parsed back into `RemoteProduct`. Also replies to our products.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::protocol::{
    self, id_of, many, str_of, type_of, CollectionRef, Hashtag, ImageObject, Intent,
    InteractionPolicy, ProductNote, Quantity, QuotePolicy, PUBLIC,
};
use crate::domain::catalog::{Product, Shop};
use crate::domain::markdown::{self, escape_html};
use crate::domain::money::{Currency, Money};
use crate::domain::social::{RemoteProduct, Reply};
use crate::domain::{now_ms, rfc3339};
use crate::urls::Urls;

/// At most this many images go out (Mastodon shows four).
pub const MAX_NOTE_IMAGES: usize = 4;
const EXCERPT_CHARS: usize = 280;

fn one(v: &str) -> Quantity {
    Quantity {
        has_unit: "one".into(),
        has_numerical_value: v.into(),
    }
}

/// A product as a Note. Exact stock lives only in the machine layer; the text says "in stock"
/// or "sold out", so stock counts changing do not change what people read.
pub fn product_note(urls: &Urls, shop: &Shop, p: &Product) -> ProductNote {
    let id = urls.product(&shop.handle, &p.id);
    let actor = urls.shop(&shop.handle);
    let in_stock = p.available() > 0;
    let mut price_line = format!("{} {}", p.price.amount_string(), p.price.currency.code);
    if let Some(was) = &p.compare_at {
        price_line.push_str(&format!(" (was {})", was.amount_string()));
    }
    price_line.push_str(if in_stock {
        " · in stock"
    } else {
        " · sold out"
    });
    let excerpt = markdown::plain_excerpt(&p.description, EXCERPT_CHARS);
    let tags: Vec<Hashtag> = p
        .tags
        .iter()
        .map(|t| Hashtag {
            kind: "Hashtag".into(),
            name: format!("#{t}"),
            href: urls.absolute(&Urls::tag_path(&shop.handle, t)),
        })
        .collect();
    let mut content = format!(
        "<p><strong>{}</strong><br>{}</p>",
        escape_html(&p.title),
        escape_html(&price_line)
    );
    if !excerpt.is_empty() {
        content.push_str(&format!("<p>{}</p>", escape_html(&excerpt)));
    }
    content.push_str(&format!(
        "<p><a href=\"{}\">View and buy</a></p>",
        escape_html(&id)
    ));
    if !tags.is_empty() {
        let links: Vec<String> = tags
            .iter()
            .map(|t| {
                format!(
                    "<a href=\"{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
                    escape_html(&t.href),
                    escape_html(t.name.trim_start_matches('#'))
                )
            })
            .collect();
        content.push_str(&format!("<p>{}</p>", links.join(" ")));
    }
    let attachment = p
        .images
        .iter()
        .take(MAX_NOTE_IMAGES)
        .map(|i| ImageObject {
            kind: "Image".into(),
            url: urls.absolute(&i.image.path()),
            media_type: Some(i.image.mime.clone()),
            name: Some(i.alt.clone()),
            width: Some(i.image.width),
            height: Some(i.image.height),
        })
        .collect();
    let published = p.published_at.unwrap_or(p.created_at);
    ProductNote {
        context: Some(protocol::note_context()),
        kind: "Note".into(),
        attributed_to: actor.clone(),
        to: vec![PUBLIC.into()],
        cc: vec![format!("{actor}/followers")],
        published: rfc3339(published),
        updated: (p.updated_at > published).then(|| rfc3339(p.updated_at)),
        url: id.clone(),
        content,
        sensitive: false,
        attachment,
        tag: tags,
        replies: CollectionRef {
            id: format!("{id}/replies"),
            kind: "Collection".into(),
            total_items: 0,
        },
        interaction_policy: InteractionPolicy {
            can_quote: QuotePolicy {
                automatic_approval: PUBLIC.into(),
            },
        },
        purpose: "offer".into(),
        publishes: Intent {
            kind: "Intent".into(),
            id: format!("{id}#primary"),
            action: "transfer".into(),
            resource_quantity: one("1"),
            available_quantity: Some(one(&p.available().to_string())),
        },
        reciprocal: Intent {
            kind: "Intent".into(),
            id: format!("{id}#reciprocal"),
            action: "transfer".into(),
            resource_quantity: one(&p.price.amount_string()),
            available_quantity: None,
        },
        product_name: p.title.clone(),
        product_description: excerpt.clone(),
        price: p.price.amount_string(),
        price_currency: p.price.currency.code.into(),
        availability: if in_stock {
            "http://schema.org/InStock".into()
        } else {
            "http://schema.org/OutOfStock".into()
        },
        sku: p.sku.clone(),
        id,
    }
}

/// A hash of what readers see of a note; an edit that leaves it unchanged (a stock count
/// moving while still in stock) sends no `Update`.
pub fn reader_hash(note: &ProductNote) -> String {
    let visible = serde_json::json!([
        note.content,
        note.attachment,
        note.tag,
        note.sensitive,
        note.price,
        note.price_currency,
        note.availability,
        note.product_name,
        note.sku,
    ]);
    hex::encode(Sha256::digest(visible.to_string().as_bytes()))
}

fn parse_time(v: Option<&str>) -> Option<i64> {
    let t = time::OffsetDateTime::parse(v?, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Reads a product note from a remote shop. `None` when the note is not a product (no price
/// or currency we understand). The caller has checked that `actor` may speak for it.
pub fn parse_remote_product(note: &Value, actor: &str) -> Option<RemoteProduct> {
    if type_of(note)? != "Note" {
        return None;
    }
    let id = str_of(note, "id")?;
    let currency = Currency::from_code(str_of(note, "priceCurrency")?.trim())?;
    let price = Money::parse(str_of(note, "price")?, currency).ok()?;
    let stock = note
        .get("publishes")
        .and_then(|p| p.get("availableQuantity"))
        .and_then(|q| q.get("hasNumericalValue"))
        .and_then(|v| match v {
            Value::String(s) => s.trim().parse::<i64>().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        })
        .map(|n| n.max(0));
    // The plain description when the shop gives one (fedishop does), else the whole post.
    let content = match str_of(note, "productDescription") {
        Some(d) => format!("<p>{}</p>", escape_html(&clip(d.trim(), 2_000))),
        None => markdown::sanitize(&clip(str_of(note, "content").unwrap_or(""), 20_000)),
    };
    let title = str_of(note, "productName")
        .or_else(|| str_of(note, "name"))
        .map(|t| clip(t.trim(), 200))
        .filter(|t| !t.is_empty())?;
    let image = many(note.get("attachment"))
        .into_iter()
        .find(|a| matches!(type_of(a), Some("Image") | Some("Document")));
    let image_url = image
        .and_then(|i| i.get("url"))
        .and_then(|u| id_of(u).or_else(|| str_of(u, "href")))
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_string);
    let url = note
        .get("url")
        .and_then(|u| id_of(u).or_else(|| str_of(u, "href")))
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_string);
    // A date in the future would pin the product to the top of every feed.
    let published = parse_time(str_of(note, "published"))
        .unwrap_or_else(now_ms)
        .min(now_ms());
    Some(RemoteProduct {
        id: id.to_string(),
        actor: actor.to_string(),
        title,
        content_html: content,
        url,
        price,
        stock,
        sku: str_of(note, "sku").map(|s| clip(s, 100)),
        image_url,
        image_alt: image
            .and_then(|i| str_of(i, "name").or_else(|| str_of(i, "summary")))
            .map(|s| clip(s, 1500)),
        published,
        updated_at: parse_time(str_of(note, "updated")).unwrap_or(published),
    })
}

/// Reads a reply note (`inReplyTo` one of our products).
pub fn parse_reply(note: &Value, actor: &str, in_reply_to: &str) -> Option<Reply> {
    let id = str_of(note, "id")?;
    let content = str_of(note, "content")?;
    let url = note
        .get("url")
        .and_then(|u| id_of(u).or_else(|| str_of(u, "href")))
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_string);
    Some(Reply {
        id: id.to_string(),
        actor: actor.to_string(),
        in_reply_to: in_reply_to.to_string(),
        content_html: markdown::sanitize(&clip(content, 20_000)),
        url,
        published: parse_time(str_of(note, "published"))
            .unwrap_or_else(now_ms)
            .min(now_ms()),
    })
}

#[cfg(test)]
mod tests;

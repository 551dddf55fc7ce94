//! Order messages on the wire (FEP-0837 shapes): the buyer's `Offer` of an `Agreement`, the
//! shop's `Accept` (result: the order as an `Agreement`), `Reject` and `Update`, and the
//! buyer's `Undo` of its Offer. Builders for what we send and defensive readers for what we
//! receive: bounded counts and lengths, strict types, amounts parsed as money, ids on the
//! sender's host. Addresses appear only in the Offer, never in an answer.

use serde_json::{json, Value};

use super::super::fetch::authority;
use super::super::protocol::{id_of, many, str_of, type_of, AS_CONTEXT};
use crate::domain::catalog::Shop;
use crate::domain::money::{Currency, Money};
use crate::domain::orders::remote::{RemoteLine, RemoteRequest, RemoteResult};
use crate::domain::orders::validate::{LineRequest, OrderRequest, MAX_LINES};
use crate::domain::orders::{Address, Order, OrderStatus, PaymentMethod};
use crate::domain::social::RemoteActor;
use crate::domain::{rfc3339, text};
use crate::error::{Error, Result};
use crate::urls::Urls;

/// Our own terms (declared in every order message's `@context`, documented in
/// `docs/federation.md`, "Orders").
pub const FEDISHOP_NS: &str = "https://fedishop.org/ns#";
/// Longest id we take from an order message.
const MAX_ID: usize = 2048;

/// `@context` of order messages: AS2 plus FEP-0837 / Valueflows, schema.org and our terms.
pub fn order_context() -> Value {
    let mut terms = serde_json::Map::new();
    for (term, iri) in TERMS {
        terms.insert(term.to_string(), json!(iri));
    }
    for (term, iri) in ID_TERMS {
        terms.insert(term.to_string(), json!({"@id": iri, "@type": "@id"}));
    }
    json!([AS_CONTEXT, terms])
}

/// Terms whose values are plain (strings, numbers, objects).
const TERMS: &[(&str, &str)] = &[
    ("vf", "https://w3id.org/valueflows/ont/vf#"),
    (
        "om2",
        "http://www.ontology-of-units-of-measure.org/resource/om-2/",
    ),
    ("schema", "http://schema.org/"),
    ("fedishop", FEDISHOP_NS),
    ("Agreement", "vf:Agreement"),
    ("Commitment", "vf:Commitment"),
    ("stipulates", "vf:stipulates"),
    ("stipulatesReciprocal", "vf:stipulatesReciprocal"),
    ("resourceQuantity", "vf:resourceQuantity"),
    ("hasUnit", "om2:hasUnit"),
    ("hasNumericalValue", "om2:hasNumericalValue"),
    ("note", "vf:note"),
    ("PostalAddress", "schema:PostalAddress"),
    ("deliveryAddress", "schema:deliveryAddress"),
    ("streetAddress", "schema:streetAddress"),
    ("addressLocality", "schema:addressLocality"),
    ("postalCode", "schema:postalCode"),
    ("addressCountry", "schema:addressCountry"),
    ("telephone", "schema:telephone"),
    ("email", "schema:email"),
    ("productName", "schema:name"),
    ("sku", "schema:sku"),
    ("price", "schema:price"),
    ("priceCurrency", "schema:priceCurrency"),
    ("totalPrice", "schema:totalPrice"),
    ("orderNumber", "schema:orderNumber"),
    ("carrier", "schema:carrier"),
    ("trackingNumber", "schema:trackingNumber"),
    ("variant", "fedishop:variant"),
    ("variantName", "fedishop:variantName"),
    ("shippingOption", "fedishop:shippingOption"),
    ("paymentMethod", "fedishop:paymentMethod"),
    ("paymentInstructions", "fedishop:paymentInstructions"),
    ("orderStatus", "fedishop:orderStatus"),
    ("statusReason", "fedishop:statusReason"),
    ("subtotal", "fedishop:subtotal"),
    ("shippingPrice", "fedishop:shippingPrice"),
];

/// Terms whose values are ids.
const ID_TERMS: &[(&str, &str)] = &[
    ("satisfies", "vf:satisfies"),
    ("resourceConformsTo", "vf:resourceConformsTo"),
    ("offer", "fedishop:offer"),
];

fn one(n: &str) -> Value {
    json!({"hasUnit": "one", "hasNumericalValue": n})
}

/// The buyer's Offer: one Commitment for the product (FEP-0837 `satisfies` its primary
/// intent), where to deliver and how the buyer means to pay. No price: the shop decides.
pub fn offer(id: &str, buyer: &str, shop: &str, r: &RemoteRequest) -> Value {
    let mut commitment = json!({
        "type": "Commitment",
        "satisfies": format!("{}#primary", r.product),
        "resourceConformsTo": r.product,
        "resourceQuantity": one(&r.quantity.to_string()),
    });
    if let Some(v) = &r.variant {
        commitment["variant"] = json!(v);
    }
    let a = &r.shipping;
    let mut address = json!({
        "type": "PostalAddress",
        "name": a.name,
        "streetAddress": a.address_lines.join("\n"),
        "addressLocality": a.city,
        "postalCode": a.postal_code,
        "addressCountry": a.country,
    });
    if !a.phone.is_empty() {
        address["telephone"] = json!(a.phone);
    }
    let mut agreement = json!({
        "type": "Agreement",
        "stipulates": commitment,
        "deliveryAddress": address,
        "paymentMethod": r.payment_method.as_str(),
    });
    if !r.email.is_empty() {
        agreement["email"] = json!(r.email);
    }
    if let Some(s) = &r.shipping_option {
        agreement["shippingOption"] = json!(s);
    }
    if !r.note.is_empty() {
        agreement["note"] = json!(r.note);
    }
    json!({
        "@context": order_context(),
        "id": id,
        "type": "Offer",
        "actor": buyer,
        "to": [shop],
        "object": agreement,
    })
}

/// The Offer as referred to in answers: id, type and actor, never its content.
fn offer_ref(offer_id: &str, buyer: &str) -> Value {
    json!({"id": offer_id, "type": "Offer", "actor": buyer})
}

/// The buyer withdraws its Offer (cancels the order while it is unpaid).
pub fn undo(id: &str, buyer: &str, shop: &str, offer_id: &str) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "Undo",
        "actor": buyer,
        "to": [shop],
        "object": offer_ref(offer_id, buyer),
    })
}

/// The shop's order as an Agreement: lines, totals, status and how to pay. No address, no
/// contact: the buyer has them.
pub fn agreement(urls: &Urls, shop: &Shop, o: &Order) -> Value {
    let shop_actor = urls.shop(&shop.handle);
    let currency = o.total.currency.code;
    let lines: Vec<Value> = o
        .lines
        .iter()
        .map(|l| {
            let product = urls.product(&shop.handle, &l.product_id);
            let mut c = json!({
                "type": "Commitment",
                "satisfies": format!("{product}#primary"),
                "resourceConformsTo": product,
                "resourceQuantity": one(&l.quantity.to_string()),
                "productName": l.title,
                "price": l.unit_price.amount_string(),
                "priceCurrency": currency,
            });
            if let Some(v) = &l.variant_id {
                c["variant"] = json!(v);
            }
            if !l.variant_title.is_empty() {
                c["variantName"] = json!(l.variant_title);
            }
            if !l.sku.is_empty() {
                c["sku"] = json!(l.sku);
            }
            c
        })
        .collect();
    let mut a = json!({
        "id": urls.order(&o.id),
        "type": "Agreement",
        "attributedTo": shop_actor,
        "orderNumber": o.number,
        "orderStatus": o.status.as_str(),
        "stipulates": lines,
        "stipulatesReciprocal": {
            "type": "Commitment",
            "resourceQuantity": one(&o.total.amount_string()),
            "priceCurrency": currency,
        },
        "subtotal": o.subtotal.amount_string(),
        "shippingPrice": o.shipping.amount_string(),
        "totalPrice": o.total.amount_string(),
        "priceCurrency": currency,
        "paymentMethod": o.payment_method.as_str(),
        "paymentInstructions": o.payment_instructions,
        "published": rfc3339(o.created_at),
        "updated": rfc3339(o.updated_at),
    });
    if let crate::domain::orders::Buyer::Remote { offer_id, .. } = &o.buyer {
        a["offer"] = json!(offer_id);
    }
    if let Some(url) = &o.payment_url {
        a["url"] = json!([{
            "type": "Link",
            "href": url,
            "rel": ["payment"],
            "mediaType": "text/html",
        }]);
    }
    for (key, v) in [
        ("carrier", &o.carrier),
        ("trackingNumber", &o.tracking),
        ("statusReason", &o.reason),
    ] {
        if let Some(v) = v {
            a[key] = json!(v);
        }
    }
    a
}

/// The shop accepts the buyer's Offer; `result` is the order.
pub fn accept(id: &str, shop: &str, buyer: &str, offer_id: &str, agreement: Value) -> Value {
    json!({
        "@context": order_context(),
        "id": id,
        "type": "Accept",
        "actor": shop,
        "to": [buyer],
        "object": offer_ref(offer_id, buyer),
        "result": agreement,
    })
}

/// The shop refuses the buyer's Offer; `summary` says why. Nothing was reserved.
pub fn reject(id: &str, shop: &str, buyer: &str, offer_id: &str, reason: &str) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "Reject",
        "actor": shop,
        "to": [buyer],
        "object": offer_ref(offer_id, buyer),
        "summary": reason,
    })
}

/// The shop's order changed (paid, shipped with tracking, delivered, cancelled, ...).
pub fn update(id: &str, shop: &str, buyer: &str, agreement: Value) -> Value {
    json!({
        "@context": order_context(),
        "id": id,
        "type": "Update",
        "actor": shop,
        "to": [buyer],
        "object": agreement,
    })
}

// ---- Reading ----------------------------------------------------------------------------

/// A string property, or empty when absent or not a string.
fn string(v: &Value, key: &str) -> String {
    str_of(v, key).unwrap_or_default().to_string()
}

/// Remote text made safe to keep: forbidden characters dropped, at most `max` characters.
fn clean(s: &str, max: usize, multiline: bool) -> String {
    s.trim()
        .chars()
        .filter(|c| !text::is_forbidden_char(*c, multiline))
        .take(max)
        .collect()
}

fn opt_clean(v: &Value, key: &str, max: usize, multiline: bool) -> Option<String> {
    str_of(v, key)
        .map(|s| clean(s, max, multiline))
        .filter(|s| !s.is_empty())
}

fn host_of(id: &str) -> Option<String> {
    url::Url::parse(id).ok().and_then(|u| authority(&u))
}

/// A whole quantity given as `{hasUnit: "one", hasNumericalValue}` (string or integer).
fn quantity(v: Option<&Value>) -> Option<i64> {
    let q = v?;
    if str_of(q, "hasUnit").is_some_and(|u| u != "one") {
        return None;
    }
    match q.get("hasNumericalValue")? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Reads a buyer's Offer for `shop` into an order request. `Err` is the reason to give in
/// the Reject (it never repeats what the buyer sent).
pub fn parse_offer(
    urls: &Urls,
    shop: &Shop,
    agreement: &Value,
) -> std::result::Result<OrderRequest, String> {
    let commitments = many(agreement.get("stipulates"));
    if commitments.is_empty() {
        return Err("the order names no product".into());
    }
    if commitments.len() > MAX_LINES {
        return Err(format!("an order holds at most {MAX_LINES} lines"));
    }
    let mut lines = Vec::with_capacity(commitments.len());
    for (i, c) in commitments.into_iter().enumerate() {
        if !c.is_object() {
            return Err(format!("line {} is not a Commitment", i + 1));
        }
        let product = c
            .get("resourceConformsTo")
            .and_then(id_of)
            .map(str::to_string)
            .or_else(|| {
                c.get("satisfies")
                    .and_then(id_of)
                    .and_then(|s| s.strip_suffix("#primary"))
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let pid = match urls.parse_product(&product) {
            Some((handle, pid)) if handle == shop.handle => pid,
            _ => return Err(format!("line {} is not a product of this shop", i + 1)),
        };
        let Some(qty) = quantity(c.get("resourceQuantity")) else {
            return Err(format!("line {} has no whole quantity", i + 1));
        };
        let variant = match c.get("variant") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.chars().take(101).collect()),
            Some(_) => return Err(format!("line {} has an unusable variant", i + 1)),
        };
        lines.push(LineRequest {
            product: pid.to_string(),
            variant,
            quantity: qty,
        });
    }
    let addr = agreement
        .get("deliveryAddress")
        .filter(|a| a.is_object())
        .ok_or("the order has no delivery address")?;
    let address = Address {
        name: string(addr, "name"),
        address_lines: string(addr, "streetAddress")
            .split('\n')
            .map(str::to_string)
            .collect(),
        city: string(addr, "addressLocality"),
        postal_code: string(addr, "postalCode"),
        country: string(addr, "addressCountry"),
        phone: string(addr, "telephone"),
    };
    Ok(OrderRequest {
        lines,
        email: string(agreement, "email"),
        address,
        shipping_option: str_of(agreement, "shippingOption").map(str::to_string),
        payment_method: string(agreement, "paymentMethod"),
        note: string(agreement, "note"),
        idempotency_key: None,
    })
}

fn money(v: &Value, key: &str, c: Currency) -> Result<String> {
    let s = str_of(v, key).ok_or_else(|| Error::bad_request(format!("order without {key}")))?;
    Money::parse(s, c)
        .map(|m| m.amount_string())
        .map_err(|_| Error::bad_request(format!("order with an unusable {key}")))
}

fn time(v: Option<&str>) -> Option<i64> {
    let t = time::OffsetDateTime::parse(v?, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The FEP-0ea0 payment link among `url` values: a `Link` whose `rel` has `payment`.
fn payment_link(v: Option<&Value>) -> Option<String> {
    many(v).into_iter().find_map(|l| {
        let rel = many(l.get("rel"));
        let is_payment = rel.iter().any(|r| r.as_str() == Some("payment"));
        let href = str_of(l, "href")?;
        let ok = is_payment
            && href.len() <= MAX_ID
            && (href.starts_with("https://") || href.starts_with("http://"))
            && !href.chars().any(char::is_control);
        ok.then(|| href.to_string())
    })
}

/// Reads the shop's order (an `Agreement` sent by `shop`): its id on the shop's host, every
/// amount as money in its currency, texts clipped. Also returns the Offer it names.
pub fn parse_agreement(v: &Value, shop: &RemoteActor) -> Result<(RemoteResult, Option<String>)> {
    if type_of(v) != Some("Agreement") {
        return Err(Error::bad_request("not an Agreement"));
    }
    let id = str_of(v, "id").ok_or_else(|| Error::bad_request("order without id"))?;
    if id.len() > MAX_ID || host_of(id).as_deref() != Some(shop.host.as_str()) {
        return Err(Error::forbidden("the order is not on the shop's host"));
    }
    if let Some(by) = v.get("attributedTo").and_then(id_of) {
        if by != shop.id {
            return Err(Error::forbidden("the order is not the shop's"));
        }
    }
    let number = opt_clean(v, "orderNumber", 40, false)
        .ok_or_else(|| Error::bad_request("order without number"))?;
    let status = str_of(v, "orderStatus")
        .and_then(OrderStatus::parse)
        .ok_or_else(|| Error::bad_request("order with an unknown status"))?;
    let currency = str_of(v, "priceCurrency")
        .and_then(Currency::from_code)
        .ok_or_else(|| Error::bad_request("order with an unknown currency"))?;
    let commitments = many(v.get("stipulates"));
    if commitments.len() > MAX_LINES {
        return Err(Error::bad_request("order with too many lines"));
    }
    let mut lines = Vec::new();
    for c in commitments {
        let product = c
            .get("resourceConformsTo")
            .and_then(id_of)
            .filter(|p| p.len() <= MAX_ID)
            .ok_or_else(|| Error::bad_request("order line without product"))?;
        let qty = quantity(c.get("resourceQuantity"))
            .filter(|q| (1..=1_000_000).contains(q))
            .ok_or_else(|| Error::bad_request("order line without quantity"))?;
        lines.push(RemoteLine {
            product: product.to_string(),
            title: opt_clean(c, "productName", 200, false).unwrap_or_default(),
            variant: opt_clean(c, "variantName", 100, false),
            sku: opt_clean(c, "sku", 100, false),
            quantity: qty,
            unit_price: money(c, "price", currency)?,
        });
    }
    let subtotal = money(v, "subtotal", currency).unwrap_or_default();
    let shipping_price = money(v, "shippingPrice", currency).unwrap_or_default();
    let total = money(v, "totalPrice", currency)?;
    let offer = v
        .get("offer")
        .and_then(id_of)
        .filter(|o| o.len() <= MAX_ID)
        .map(str::to_string);
    let updated = time(str_of(v, "updated"))
        .or_else(|| time(str_of(v, "published")))
        .unwrap_or(0);
    Ok((
        RemoteResult {
            order_ref: id.to_string(),
            number,
            status: status.as_str().to_string(),
            currency: currency.code.to_string(),
            subtotal,
            shipping_price,
            total,
            payment_method: str_of(v, "paymentMethod")
                .and_then(PaymentMethod::parse)
                .map(|m| m.as_str().to_string()),
            payment_instructions: opt_clean(v, "paymentInstructions", 2000, true)
                .unwrap_or_default(),
            payment_url: payment_link(v.get("url")).or_else(|| payment_link(v.get("attachment"))),
            carrier: opt_clean(v, "carrier", 100, false),
            tracking: opt_clean(v, "trackingNumber", 100, false),
            reason: opt_clean(v, "statusReason", 500, true),
            lines,
            updated,
        },
        offer,
    ))
}

/// The reason in a Reject (`summary`, or `content` as plain text), clipped.
pub fn reject_reason(a: &Value) -> String {
    let r = opt_clean(a, "summary", 500, true)
        .or_else(|| opt_clean(a, "content", 500, true))
        .unwrap_or_default();
    if r.is_empty() {
        "the shop declined the order".to_string()
    } else {
        r
    }
}

/// The Offer an answer refers to: its id, and whether it is typed as an Offer.
pub fn offer_of(object: &Value) -> Option<(&str, bool)> {
    let id = id_of(object).filter(|i| i.len() <= MAX_ID)?;
    Some((id, type_of(object) == Some("Offer")))
}

/// Every addressee of an activity (`to`, `cc`, `bto`, `bcc`, `audience`).
pub fn addressees(a: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["to", "cc", "bto", "bcc", "audience"] {
        for v in many(a.get(key)) {
            out.push(id_of(v).unwrap_or_default().to_string());
        }
    }
    out
}

//! Input checks for shops and products. Pure functions: no database, no I/O. Every problem is
//! reported per field, so a form or an API client can show them all at once.

use super::{
    ImageForm, ProductForm, ProductStatus, ShopForm, ShopLink, VariantForm, VariantOption,
};
use crate::domain::ids::ImageId;
use crate::domain::markdown;
use crate::domain::money::{Currency, Money};
use crate::domain::text::{check, check_url};
use crate::error::{FieldErrors, Problem, Result};

pub const MAX_HANDLE_CHARS: usize = 30;
pub const MAX_SHOP_NAME: usize = 100;
pub const MAX_SUMMARY: usize = 5_000;
pub const MAX_LINKS: usize = 8;
pub const MAX_LINK_LABEL: usize = 50;
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 20_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 40;
pub const MAX_IMAGES: usize = 10;
pub const MAX_ALT: usize = 1_500;
pub const MAX_VARIANTS: usize = 100;
pub const MAX_OPTIONS: usize = 3;
pub const MAX_OPTION_CHARS: usize = 50;
pub const MAX_SKU: usize = 64;
pub const MAX_STOCK: i64 = 1_000_000_000;

/// Names that would confuse people or collide with well-known paths when used as `@name@host`.
const RESERVED: &[&str] = &[
    "admin",
    "administrator",
    "api",
    "actor",
    "inbox",
    "outbox",
    "instance",
    "root",
    "support",
    "system",
    "www",
    "webmaster",
    "postmaster",
    "abuse",
    "security",
    "moderator",
    "mod",
    "fedishop",
    "null",
    "undefined",
    "well_known",
    "media",
    "static",
    "login",
    "logout",
    "setup",
    "dashboard",
    "shops",
    "users",
];

/// A shop handle or username: `[a-z][a-z0-9_]{0,29}`. ASCII capitals are folded to lowercase.
pub fn handle(errors: &mut FieldErrors, field: &str, value: &str) -> Option<String> {
    let v = value.trim().to_ascii_lowercase();
    if v.is_empty() {
        errors.add(field, Problem::Required);
        return None;
    }
    let ok = v.len() <= MAX_HANDLE_CHARS
        && v.starts_with(|c: char| c.is_ascii_lowercase())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        errors.add(field, Problem::InvalidHandle);
        return None;
    }
    if RESERVED.contains(&v.as_str()) {
        errors.add(field, Problem::HandleTaken);
        return None;
    }
    Some(v)
}

#[derive(Clone, Debug)]
pub struct ValidShop {
    pub handle: String,
    pub name: String,
    pub summary: String,
    pub summary_html: String,
    pub avatar: Option<ImageId>,
    pub banner: Option<ImageId>,
    pub links: Vec<ShopLink>,
    pub manually_approves_followers: bool,
}

pub fn shop(form: &ShopForm) -> Result<ValidShop> {
    let mut e = FieldErrors::new();
    let handle = handle(&mut e, "handle", &form.handle);
    let name = check(&mut e, "name", &form.name, 1, MAX_SHOP_NAME, false);
    let summary = check(&mut e, "summary", &form.summary, 0, MAX_SUMMARY, true);
    let avatar = image_ref(&mut e, "avatar_image", form.avatar_image.as_deref());
    let banner = image_ref(&mut e, "banner_image", form.banner_image.as_deref());
    let links = links(&mut e, &form.links);
    e.into_result()?;
    let summary = summary.expect("validated");
    Ok(ValidShop {
        handle: handle.expect("validated"),
        name: name.expect("validated"),
        summary_html: markdown::render(&summary),
        summary,
        avatar: avatar.expect("validated"),
        banner: banner.expect("validated"),
        links: links.expect("validated"),
        manually_approves_followers: form.manually_approves_followers,
    })
}

fn image_ref(e: &mut FieldErrors, field: &str, v: Option<&str>) -> Option<Option<ImageId>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(None),
        Some(s) => match ImageId::parse(s) {
            Some(id) => Some(Some(id)),
            None => {
                e.add(field, Problem::UnknownImage);
                None
            }
        },
    }
}

fn links(e: &mut FieldErrors, input: &[ShopLink]) -> Option<Vec<ShopLink>> {
    if input.len() > MAX_LINKS {
        e.add("links", Problem::TooMany { max: MAX_LINKS });
        return None;
    }
    let mut out = Vec::new();
    for (i, l) in input.iter().enumerate() {
        if l.label.trim().is_empty() && l.url.trim().is_empty() {
            continue;
        }
        let label = check(
            e,
            &format!("links[{i}].label"),
            &l.label,
            1,
            MAX_LINK_LABEL,
            false,
        );
        let url = check_url(e, &format!("links[{i}].url"), &l.url);
        if let (Some(label), Some(url)) = (label, url) {
            out.push(ShopLink { label, url });
        }
    }
    Some(out)
}

#[derive(Clone, Debug)]
pub struct ValidVariant {
    pub sku: String,
    pub title: String,
    pub options: Vec<VariantOption>,
    pub price: Money,
    pub stock: i64,
}

#[derive(Clone, Debug)]
pub struct ValidProduct {
    pub title: String,
    pub description: String,
    pub description_html: String,
    pub price: Money,
    pub compare_at: Option<Money>,
    pub stock: i64,
    pub sku: Option<String>,
    pub tags: Vec<String>,
    pub images: Vec<(ImageId, String)>,
    pub variants: Vec<ValidVariant>,
    pub status: ProductStatus,
    /// Lowercased title, description and tags, for search within a shop.
    pub search_text: String,
}

pub fn product(form: &ProductForm, default_status: ProductStatus) -> Result<ValidProduct> {
    let mut e = FieldErrors::new();
    let title = check(&mut e, "title", &form.title, 1, MAX_TITLE, false);
    let description = check(
        &mut e,
        "description",
        &form.description,
        0,
        MAX_DESCRIPTION,
        true,
    );
    let currency = match Currency::parse_code(&form.currency) {
        Some(c) => Some(c),
        None if form.currency.trim().is_empty() => {
            e.add("currency", Problem::Required);
            None
        }
        None => {
            e.add("currency", Problem::UnknownCurrency);
            None
        }
    };
    let price = currency.and_then(|c| money(&mut e, "price", &form.price, c));
    let compare_at = match (currency, form.compare_at_price.as_deref().map(str::trim)) {
        (Some(c), Some(s)) if !s.is_empty() => money(&mut e, "compare_at_price", s, c).map(Some),
        _ => Some(None),
    };
    if let (Some(p), Some(Some(c))) = (price, compare_at) {
        if c.minor <= p.minor {
            e.add("compare_at_price", Problem::CompareAtNotHigher);
        }
    }
    let stock = stock(&mut e, "stock", form.stock);
    let sku = match form.sku.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(None),
        Some(s) => sku(&mut e, "sku", s).map(Some),
    };
    let tags = tags(&mut e, &form.tags);
    let images = images(&mut e, &form.images);
    let variants = match (price, currency) {
        (Some(p), Some(c)) => variants(&mut e, &form.variants, p, c),
        _ => None,
    };
    let status = match form
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => Some(default_status),
        Some(s) => match ProductStatus::parse(s) {
            Some(st) => Some(st),
            None => {
                e.add("status", Problem::InvalidChoice);
                None
            }
        },
    };
    e.into_result()?;
    let title = title.expect("validated");
    let description = description.expect("validated");
    let tags = tags.expect("validated");
    let search_text = format!("{} {} {}", title, description, tags.join(" ")).to_lowercase();
    let variants = variants.expect("validated");
    Ok(ValidProduct {
        description_html: markdown::render(&description),
        title,
        description,
        price: price.expect("validated"),
        compare_at: compare_at.expect("validated"),
        stock: if variants.is_empty() {
            stock.expect("validated")
        } else {
            0
        },
        sku: sku.expect("validated"),
        tags,
        images: images.expect("validated"),
        variants,
        status: status.expect("validated"),
        search_text,
    })
}

fn money(e: &mut FieldErrors, field: &str, s: &str, c: Currency) -> Option<Money> {
    match Money::parse(s, c) {
        Ok(m) => Some(m),
        Err(err) => {
            e.add(field, Problem::Money(err));
            None
        }
    }
}

fn stock(e: &mut FieldErrors, field: &str, n: i64) -> Option<i64> {
    if n < 0 {
        e.add(field, Problem::NegativeNumber);
        None
    } else if n > MAX_STOCK {
        e.add(field, Problem::NumberTooLarge);
        None
    } else {
        Some(n)
    }
}

fn sku(e: &mut FieldErrors, field: &str, s: &str) -> Option<String> {
    if s.chars().count() > MAX_SKU {
        e.add(field, Problem::TooLong { max: MAX_SKU });
        return None;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    {
        e.add(field, Problem::ForbiddenCharacters);
        return None;
    }
    Some(s.to_string())
}

/// Tags: letters (any script), digits and underscores; a leading `#` is dropped; stored
/// lowercase; duplicates merged.
pub fn tags(e: &mut FieldErrors, input: &[String]) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for raw in input {
        let t = raw.trim().trim_start_matches('#').to_lowercase();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > MAX_TAG_CHARS || !t.chars().all(|c| c.is_alphanumeric() || c == '_')
        {
            e.add("tags", Problem::InvalidTag);
            return None;
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        e.add("tags", Problem::TooMany { max: MAX_TAGS });
        return None;
    }
    Some(out)
}

/// Splits "tea, green #oolong" into tags (for text inputs).
pub fn split_tags(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace() || c == '，')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn images(e: &mut FieldErrors, input: &[ImageForm]) -> Option<Vec<(ImageId, String)>> {
    if input.len() > MAX_IMAGES {
        e.add("images", Problem::TooMany { max: MAX_IMAGES });
        return None;
    }
    let mut out: Vec<(ImageId, String)> = Vec::new();
    for (i, img) in input.iter().enumerate() {
        let Some(id) = ImageId::parse(img.id.trim()) else {
            e.add(format!("images[{i}].id"), Problem::UnknownImage);
            return None;
        };
        if out.iter().any(|(o, _)| *o == id) {
            e.add(format!("images[{i}].id"), Problem::Duplicate);
            return None;
        }
        let alt = check(e, &format!("images[{i}].alt"), &img.alt, 0, MAX_ALT, false)?;
        out.push((id, alt));
    }
    Some(out)
}

fn variants(
    e: &mut FieldErrors,
    input: &[VariantForm],
    price: Money,
    c: Currency,
) -> Option<Vec<ValidVariant>> {
    if input.len() > MAX_VARIANTS {
        e.add("variants", Problem::TooMany { max: MAX_VARIANTS });
        return None;
    }
    let mut out: Vec<ValidVariant> = Vec::new();
    let mut ok = true;
    for (i, v) in input.iter().enumerate() {
        let f = |name: &str| format!("variants[{i}].{name}");
        let sku_v = match v.sku.trim() {
            "" => {
                e.add(f("sku"), Problem::Required);
                None
            }
            s => sku(e, &f("sku"), s),
        };
        if let Some(s) = &sku_v {
            if out.iter().any(|o| &o.sku == s) {
                e.add(f("sku"), Problem::Duplicate);
                ok = false;
            }
        }
        let mut options = Vec::new();
        if v.options.is_empty() {
            e.add(f("options"), Problem::Required);
            ok = false;
        } else if v.options.len() > MAX_OPTIONS {
            e.add(f("options"), Problem::TooMany { max: MAX_OPTIONS });
            ok = false;
        }
        for (j, o) in v.options.iter().enumerate() {
            let name = check(
                e,
                &format!("variants[{i}].options[{j}].name"),
                &o.name,
                1,
                MAX_OPTION_CHARS,
                false,
            );
            let value = check(
                e,
                &format!("variants[{i}].options[{j}].value"),
                &o.value,
                1,
                MAX_OPTION_CHARS,
                false,
            );
            match (name, value) {
                (Some(name), Some(value)) => options.push(VariantOption { name, value }),
                _ => ok = false,
            }
        }
        let vprice = match v.price.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Some(price),
            Some(s) => money(e, &f("price"), s, c),
        };
        let vstock = stock(e, &f("stock"), v.stock);
        match (sku_v, vprice, vstock) {
            (Some(sku), Some(price), Some(stock)) if ok => {
                let title = options
                    .iter()
                    .map(|o| o.value.as_str())
                    .collect::<Vec<_>>()
                    .join(" / ");
                out.push(ValidVariant {
                    sku,
                    title,
                    options,
                    price,
                    stock,
                });
            }
            _ => ok = false,
        }
    }
    if let Some(first) = out.first() {
        let names = |v: &ValidVariant| v.options.iter().map(|o| o.name.clone()).collect::<Vec<_>>();
        let first_names = names(first);
        for (i, v) in out.iter().enumerate().skip(1) {
            if names(v) != first_names {
                e.add(format!("variants[{i}].options"), Problem::OptionNamesDiffer);
                ok = false;
            }
        }
    }
    if out.len() > 1 {
        let titles: Vec<&str> = out.iter().map(|v| v.title.as_str()).collect();
        for (i, t) in titles.iter().enumerate() {
            if titles[..i].contains(t) {
                e.add(format!("variants[{i}].options"), Problem::Duplicate);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ProductForm {
        ProductForm {
            title: "Oolong".into(),
            description: "Nice *tea*".into(),
            price: "24.00".into(),
            currency: "EUR".into(),
            stock: 7,
            ..Default::default()
        }
    }

    fn field_of(form: &ProductForm) -> Vec<String> {
        match product(form, ProductStatus::Draft) {
            Ok(_) => vec![],
            Err(e) => e.fields.0.keys().cloned().collect(),
        }
    }

    #[test]
    fn a_plain_product_is_valid() {
        let p = product(&base(), ProductStatus::Published).unwrap();
        assert_eq!(p.price.minor, 2400);
        assert_eq!(p.status, ProductStatus::Published);
        assert!(p.description_html.contains("<em>tea</em>"));
    }

    #[test]
    fn bad_inputs_name_their_field() {
        let mut f = base();
        f.title = "x".repeat(10_000);
        assert_eq!(field_of(&f), ["title"]);
        for bad in ["-1", "1e9", "12.345", "", "abc"] {
            let mut f = base();
            f.price = bad.into();
            assert_eq!(field_of(&f), ["price"], "{bad}");
        }
        let mut f = base();
        f.currency = "XYZ".into();
        assert_eq!(field_of(&f), ["currency"]);
        let mut f = base();
        f.stock = -1;
        assert_eq!(field_of(&f), ["stock"]);
        let mut f = base();
        f.compare_at_price = Some("20.00".into());
        assert_eq!(field_of(&f), ["compare_at_price"]);
        let mut f = base();
        f.tags = vec!["ok".into(), "not ok!".into()];
        assert_eq!(field_of(&f), ["tags"]);
    }

    #[test]
    fn jpy_has_no_decimals() {
        let mut f = base();
        f.currency = "JPY".into();
        f.price = "1500".into();
        assert_eq!(product(&f, ProductStatus::Draft).unwrap().price.minor, 1500);
        f.price = "15.5".into();
        assert_eq!(field_of(&f), ["price"]);
    }

    #[test]
    fn variants_need_unique_skus_and_options() {
        let mut f = base();
        let v = |sku: &str, size: &str| VariantForm {
            sku: sku.into(),
            options: vec![VariantOption {
                name: "Size".into(),
                value: size.into(),
            }],
            price: None,
            stock: 3,
        };
        f.variants = vec![v("T-S", "S"), v("T-M", "M")];
        let p = product(&f, ProductStatus::Draft).unwrap();
        assert_eq!(p.variants.len(), 2);
        assert_eq!(p.variants[1].title, "M");
        assert_eq!(p.stock, 0, "product stock is per variant");
        f.variants = vec![v("T-S", "S"), v("T-S", "M")];
        assert_eq!(field_of(&f), ["variants[1].sku"]);
        f.variants = vec![v("T-S", "S"), v("T-M", "S")];
        assert_eq!(field_of(&f), ["variants[1].options"]);
        let mut other = v("T-L", "L");
        other.options[0].name = "Colour".into();
        f.variants = vec![v("T-S", "S"), other];
        assert_eq!(field_of(&f), ["variants[1].options"]);
    }

    #[test]
    fn handles() {
        let mut e = FieldErrors::new();
        assert_eq!(handle(&mut e, "h", " TeaShop ").as_deref(), Some("teashop"));
        assert!(handle(&mut e, "a", "1tea").is_none());
        assert!(handle(&mut e, "b", "tea-shop").is_none());
        assert!(handle(&mut e, "c", &"a".repeat(31)).is_none());
        assert!(handle(&mut e, "d", "admin").is_none());
        assert!(handle(&mut e, "e", "tëa").is_none());
        assert_eq!(e.0.len(), 5);
    }

    #[test]
    fn tags_are_normalised() {
        let mut e = FieldErrors::new();
        let t = tags(&mut e, &split_tags("#Tea, green 绿茶 tea")).unwrap();
        assert_eq!(t, ["tea", "green", "绿茶"]);
    }
}

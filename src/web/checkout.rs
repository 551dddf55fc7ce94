//! The checkout on a shop's own pages: the address, shipping and payment form, the review of
//! the order as this instance prices it (`service::quote`), and placing it
//! (`service::place_with_secret`). Guests and signed-in members use the same pages. The form
//! carries a one-time token from which the idempotency key and the guest's link secret are
//! derived, so a repeated submission finds the same order.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::domain::accounts::new_secret;
use crate::domain::catalog::{service as catalog, Shop};
use crate::domain::orders::service as orders;
use crate::domain::orders::validate::{LineRequest, OrderRequest, MAX_LINES};
use crate::domain::orders::{Address, Buyer, CheckoutSettings, Order};
use crate::error::{ErrorKind, FieldErrors};
use crate::server::AppState;
use crate::urls::Urls;
use crate::web::cart::{cart_cookie, price_cart, read_cart, Cart, PricedCart};
use crate::web::ctx::Visitor;
use crate::web::errors::WebResult;
use crate::web::forms::{Errs, FormData};
use crate::web::i18n::Lang;
use crate::web::order_views::{method_label, LineView};
use crate::web::render::{private_page, see_other, Chrome};
use crate::web::views::ShopView;

/// The checkout form as typed.
#[derive(Clone, Debug, Default)]
pub struct CheckoutFields {
    pub email: String,
    pub name: String,
    pub lines: [String; 3],
    pub city: String,
    pub postal: String,
    pub country: String,
    pub phone: String,
    pub shipping: String,
    pub payment: String,
    pub note: String,
    /// The one-time token of this checkout.
    pub token: String,
}

impl CheckoutFields {
    pub fn read(form: &FormData) -> CheckoutFields {
        let s = |k: &str| form.text(k).to_string();
        CheckoutFields {
            email: s("email"),
            name: s("ship_name"),
            lines: [s("ship_line1"), s("ship_line2"), s("ship_line3")],
            city: s("ship_city"),
            postal: s("ship_postal"),
            country: s("ship_country"),
            phone: s("ship_phone"),
            shipping: s("shipping_option"),
            payment: s("payment_method"),
            note: s("note"),
            token: s("token"),
        }
    }

    fn request(&self, lines: Vec<LineRequest>) -> OrderRequest {
        OrderRequest {
            lines,
            email: self.email.clone(),
            address: Address {
                name: self.name.clone(),
                address_lines: self.lines.to_vec(),
                city: self.city.clone(),
                postal_code: self.postal.clone(),
                country: self.country.clone(),
                phone: self.phone.clone(),
            },
            shipping_option: Some(self.shipping.clone()).filter(|s| !s.trim().is_empty()),
            payment_method: self.payment.clone(),
            note: self.note.clone(),
            idempotency_key: Some(idempotency_key(&self.token)),
        }
    }
}

/// Whether a token is one we could have minted (43 URL-safe base64 characters).
pub fn token_ok(t: &str) -> bool {
    t.len() == 43
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn derive(label: &str, token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label.as_bytes());
    h.update([0]);
    h.update(token.as_bytes());
    h.finalize().into()
}

/// The idempotency key stored with the order: a hash of the token, so the stored key does not
/// reveal the order's link.
pub fn idempotency_key(token: &str) -> String {
    format!(
        "web:{}",
        hex::encode(derive("fedishop checkout key", token))
    )
}

/// The secret of a guest's order link, derived from the token (only the buyer's browser holds it).
pub fn link_secret(token: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(derive("fedishop order link", token))
}

/// Domain field name -> checkout form field name.
pub fn field_name(domain: &str) -> String {
    match domain {
        "shipping.name" => "ship_name".into(),
        "shipping.address_lines" => "ship_line1".into(),
        "shipping.city" => "ship_city".into(),
        "shipping.postal_code" => "ship_postal".into(),
        "shipping.country" => "ship_country".into(),
        "shipping.phone" => "ship_phone".into(),
        f => match f
            .strip_prefix("shipping.address_lines[")
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|i| i.parse::<usize>().ok())
        {
            Some(i) => format!("ship_line{}", (i + 1).min(3)),
            None => f.to_string(),
        },
    }
}

/// Problems about the cart's lines ("lines[2].quantity"), as sentences naming the product;
/// the rest stay field problems.
fn split_problems(
    t: Lang,
    problems: &FieldErrors,
    cart: &PricedCart,
) -> (FieldErrors, Vec<String>) {
    let mut fields = FieldErrors::new();
    let mut about_lines = Vec::new();
    for (f, p) in &problems.0 {
        if let Some(rest) = f.strip_prefix("lines") {
            let index = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .and_then(|(i, _)| i.parse::<usize>().ok());
            match index.and_then(|i| cart.lines.get(i)) {
                Some(l) => about_lines.push(format!("{}: {}", l.title, t.problem(p))),
                None => about_lines.push(t.problem(p)),
            }
        } else if f == "idempotency_key" {
            about_lines.push(t.s("checkout.expired").to_string());
        } else {
            fields.add(f.clone(), p.clone());
        }
    }
    (fields, about_lines)
}

/// A radio choice.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub detail: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    t: Lang,
    c: Chrome,
    shop: ShopView,
    cart: PricedCart,
    f: CheckoutFields,
    e: Errs,
    /// Problems with the cart's lines (out of stock, no longer for sale).
    line_problems: Vec<String>,
    shipping: Vec<Choice>,
    payment: Vec<Choice>,
    open: bool,
    member: bool,
    action: String,
    cart_path: String,
}

#[derive(Template)]
#[template(path = "checkout_review.html")]
struct ReviewPage {
    t: Lang,
    c: Chrome,
    shop: ShopView,
    f: CheckoutFields,
    lines: Vec<LineView>,
    /// Hidden fields carrying exactly the reviewed lines.
    line_fields: Vec<(String, String)>,
    subtotal: String,
    shipping_name: String,
    shipping_price: String,
    total: String,
    payment_label: &'static str,
    payment_detail: String,
    address: Vec<String>,
    action: String,
}

fn checkout_path(handle: &str) -> String {
    format!("{}/checkout", Urls::shop_path(handle))
}

fn choices(t: Lang, s: &CheckoutSettings, f: &CheckoutFields) -> (Vec<Choice>, Vec<Choice>) {
    let one = s.shipping_options.len() == 1;
    let shipping = s
        .shipping_options
        .iter()
        .map(|o| Choice {
            value: o.id.clone(),
            label: format!(
                "{} — {}",
                o.name,
                o.money().map(|m| m.display()).unwrap_or_default()
            ),
            detail: if o.countries.is_empty() {
                t.s("checkout.ships_anywhere").to_string()
            } else {
                t.f1("checkout.ships_to", o.countries.join(", "))
            },
            checked: f.shipping == o.id || (one && f.shipping.is_empty()),
        })
        .collect();
    let one = s.payment_methods.len() == 1;
    let payment = s
        .payment_methods
        .iter()
        .map(|p| Choice {
            value: p.method.as_str().to_string(),
            label: method_label(t, p.method).to_string(),
            detail: p.details.clone(),
            checked: f.payment == p.method.as_str() || (one && f.payment.is_empty()),
        })
        .collect();
    (shipping, payment)
}

struct FormArgs<'a> {
    shop: &'a Shop,
    settings: &'a CheckoutSettings,
    cart: PricedCart,
    fields: CheckoutFields,
    problems: &'a FieldErrors,
    message: Option<String>,
    status: StatusCode,
}

fn form_page(state: &AppState, v: &Visitor, a: FormArgs<'_>) -> WebResult {
    let t = v.lang;
    let (fields, mut line_problems) = split_problems(t, a.problems, &a.cart);
    line_problems.extend(a.message);
    let mut e = Errs::from_fields(t, &fields, field_name);
    if e.form.is_none() && !line_problems.is_empty() {
        e.form = Some(t.s("checkout.cart_problems").to_string());
    }
    let (shipping, payment) = choices(t, a.settings, &a.fields);
    let tpl = CheckoutPage {
        t,
        c: Chrome::with_forms(v),
        shop: ShopView::of(a.shop, &state.settings.domain),
        open: a.settings.is_open(),
        member: v.user.is_some(),
        action: checkout_path(&a.shop.handle),
        cart_path: format!("{}/cart", Urls::shop_path(&a.shop.handle)),
        cart: a.cart,
        f: a.fields,
        e,
        line_problems,
        shipping,
        payment,
    };
    private_page(a.status, v, &tpl)
}

fn buyer_of(v: &Visitor) -> Buyer {
    match &v.user {
        Some(u) => Buyer::Member(u.id.clone()),
        None => Buyer::Guest,
    }
}

pub async fn checkout_form(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(handle): Path<String>,
) -> WebResult {
    let shop = catalog::shop_by_handle(&state.store, &handle).await?;
    let (cart, dropped) = read_cart(&headers);
    let priced = price_cart(&state, v.lang, &shop, cart, dropped).await?;
    if priced.lines.is_empty() || priced.changed {
        // Nothing to buy, or the cart changed: the cart page says what and stores the rest.
        return Ok(see_other(&format!(
            "{}/cart",
            Urls::shop_path(&shop.handle)
        )));
    }
    let settings = orders::settings(&state.store, &shop).await?;
    let fields = CheckoutFields {
        token: new_secret(),
        ..CheckoutFields::default()
    };
    let args = FormArgs {
        shop: &shop,
        settings: &settings,
        cart: priced,
        fields,
        problems: &FieldErrors::new(),
        message: None,
        status: StatusCode::OK,
    };
    form_page(&state, &v, args)
}

/// The lines a review page carried (at most `MAX_LINES`).
fn reviewed_lines(form: &FormData) -> Vec<LineRequest> {
    (0..MAX_LINES)
        .map_while(|i| {
            let product = form.text(&format!("line_product_{i}"));
            (!product.is_empty()).then(|| LineRequest {
                product: product.to_string(),
                variant: Some(form.text(&format!("line_variant_{i}")).to_string())
                    .filter(|s| !s.is_empty()),
                quantity: form
                    .text(&format!("line_qty_{i}"))
                    .trim()
                    .parse()
                    .unwrap_or(0),
            })
        })
        .collect()
}

/// The cart as reviewed lines came back (for showing the form again after a failed placing).
fn cart_of_lines(lines: &[LineRequest]) -> (Cart, bool) {
    let mut cart = Cart::default();
    let mut dropped = false;
    for l in lines {
        match crate::domain::ids::ProductId::parse(&l.product) {
            Some(p) if l.quantity >= 1 => {
                cart.add(p, l.variant.clone(), l.quantity);
            }
            _ => dropped = true,
        }
    }
    (cart, dropped)
}

/// One POST for the three buttons: "review" (from the form), "edit" and "place" (from the
/// review page).
pub async fn checkout_post(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(handle): Path<String>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let shop = catalog::shop_by_handle(&state.store, &handle).await?;
    let settings = orders::settings(&state.store, &shop).await?;
    let mut fields = CheckoutFields::read(&form);
    let step = form.text("step");
    let (lines, (cart, dropped)) = if step == "review" {
        let c = read_cart(&headers);
        (c.0.line_requests(), c)
    } else {
        let l = reviewed_lines(&form);
        let c = cart_of_lines(&l);
        (l, c)
    };
    let priced = price_cart(&state, v.lang, &shop, cart, dropped).await?;
    let mut args = FormArgs {
        shop: &shop,
        settings: &settings,
        cart: priced,
        fields: fields.clone(),
        problems: &FieldErrors::new(),
        message: None,
        status: StatusCode::OK,
    };
    if !token_ok(&fields.token) {
        fields.token = new_secret();
        args.fields = fields;
        args.message = Some(v.lang.s("checkout.expired").to_string());
        args.status = StatusCode::UNPROCESSABLE_ENTITY;
        return form_page(&state, &v, args);
    }
    let buyer = buyer_of(&v);
    let req = fields.request(lines);
    match step {
        "edit" => form_page(&state, &v, args),
        "place" => {
            let secret = link_secret(&fields.token);
            let placed = orders::place_with_secret(
                &state.store,
                &state.urls,
                &shop,
                buyer.clone(),
                &req,
                secret.clone(),
            )
            .await;
            match placed {
                Ok(p) => {
                    if !p.replayed {
                        state.changed();
                    }
                    let to = match buyer {
                        Buyer::Guest => Urls::order_secret_path(&p.order.id, &secret),
                        _ => Urls::order_path(&p.order.id),
                    };
                    let mut resp = see_other(&to);
                    resp.headers_mut().append(
                        header::SET_COOKIE,
                        cart_cookie(&shop.handle, &Cart::default(), v.secure),
                    );
                    Ok(resp)
                }
                Err(e) if e.kind == ErrorKind::Validation => {
                    args.problems = &e.fields;
                    args.status = StatusCode::UNPROCESSABLE_ENTITY;
                    form_page(&state, &v, args)
                }
                Err(e) if e.kind == ErrorKind::Conflict => {
                    args.fields.token = new_secret();
                    args.message = Some(v.lang.s("checkout.token_used").to_string());
                    args.status = StatusCode::CONFLICT;
                    form_page(&state, &v, args)
                }
                Err(e) => Err(e.into()),
            }
        }
        _ => match orders::quote(&state.store, &shop, &buyer, &req).await {
            Ok(order) => review_page(&state, &v, &shop, &settings, fields, &order),
            Err(e) if e.kind == ErrorKind::Validation => {
                args.problems = &e.fields;
                args.status = StatusCode::UNPROCESSABLE_ENTITY;
                form_page(&state, &v, args)
            }
            Err(e) => Err(e.into()),
        },
    }
}

fn review_page(
    state: &AppState,
    v: &Visitor,
    shop: &Shop,
    settings: &CheckoutSettings,
    fields: CheckoutFields,
    order: &Order,
) -> WebResult {
    let mut line_fields = Vec::new();
    for (i, l) in order.lines.iter().enumerate() {
        line_fields.push((format!("line_product_{i}"), l.product_id.to_string()));
        line_fields.push((
            format!("line_variant_{i}"),
            l.variant_id.clone().unwrap_or_default(),
        ));
        line_fields.push((format!("line_qty_{i}"), l.quantity.to_string()));
    }
    let a = &order.address;
    let mut address = vec![a.name.clone()];
    address.extend(a.address_lines.iter().cloned());
    address.push(format!("{} {}", a.postal_code, a.city).trim().to_string());
    address.push(a.country.clone());
    if !a.phone.is_empty() {
        address.push(a.phone.clone());
    }
    let tpl = ReviewPage {
        t: v.lang,
        c: Chrome::with_forms(v),
        shop: ShopView::of(shop, &state.settings.domain),
        lines: order.lines.iter().map(LineView::of).collect(),
        line_fields,
        subtotal: order.subtotal.display(),
        shipping_name: order.shipping_option.clone(),
        shipping_price: order.shipping.display(),
        total: order.total.display(),
        payment_label: method_label(v.lang, order.payment_method),
        payment_detail: settings
            .payment(order.payment_method)
            .map(|p| p.details.clone())
            .unwrap_or_default(),
        address,
        action: checkout_path(&shop.handle),
        f: fields,
    };
    private_page(StatusCode::OK, v, &tpl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_derivations_differ_and_are_stable() {
        let t = new_secret();
        assert!(token_ok(&t));
        assert!(!token_ok("short"));
        assert_eq!(link_secret(&t), link_secret(&t));
        assert_eq!(link_secret(&t).len(), 43);
        assert!(!idempotency_key(&t).contains(&link_secret(&t)));
        assert_ne!(link_secret(&t), link_secret(&new_secret()));
    }

    #[test]
    fn domain_fields_map_to_form_fields() {
        assert_eq!(field_name("shipping.country"), "ship_country");
        assert_eq!(field_name("shipping.address_lines[1]"), "ship_line2");
        assert_eq!(field_name("email"), "email");
        assert_eq!(field_name("payment_method"), "payment_method");
    }
}

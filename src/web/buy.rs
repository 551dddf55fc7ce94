//! `/buy?product=<ActivityPub id>`: a member orders a product of a shop on another instance
//! (the "Buy" link of remote products in the home feed). One form (quantity, variant SKU,
//! address, shipping option key, payment method, note) posts to `send::place_remote`, which
//! sends the shop an `Offer`; the member lands on the order page, `requested` until the shop
//! answers. The form carries a one-time token minted when it is rendered, from which the
//! idempotency key is derived (as in the checkout), so a repeated submission finds the same
//! remote order. A product of this instance goes to its own page (where the cart is).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::db::{remote_actors, remote_products};
use crate::domain::accounts::new_secret;
use crate::domain::orders::remote::{self, RemoteOrderInput};
use crate::domain::orders::{Address, PaymentMethod};
use crate::error::{Error, ErrorKind, FieldErrors};
use crate::federation::orders::send;
use crate::server::AppState;
use crate::urls::Urls;
use crate::web::checkout::{field_name, idempotency_key, token_ok, CheckoutFields, Choice};
use crate::web::ctx::Visitor;
use crate::web::errors::WebResult;
use crate::web::forms::{whole_number, Errs, FormData};
use crate::web::i18n::Lang;
use crate::web::order_views::method_label;
use crate::web::render::{private_page, see_other, Chrome};
use crate::web::social_views::web_link;

/// Longest product id we take (as `remote::check`).
const MAX_PRODUCT_ID: usize = 2048;

/// The buy form as typed: the product and line, and the checkout's address, payment and
/// token fields.
#[derive(Clone, Debug, Default)]
struct BuyFields {
    product: String,
    quantity: String,
    variant: String,
    a: CheckoutFields,
}

impl BuyFields {
    fn read(form: &FormData) -> BuyFields {
        BuyFields {
            product: form.text("product").trim().to_string(),
            quantity: form.text("quantity").to_string(),
            variant: form.text("variant").to_string(),
            a: CheckoutFields::read(form),
        }
    }

    fn input(&self, quantity: i64) -> RemoteOrderInput {
        let a = &self.a;
        RemoteOrderInput {
            variant: Some(self.variant.clone()).filter(|v| !v.trim().is_empty()),
            quantity,
            shipping: Address {
                name: a.name.clone(),
                address_lines: a.lines.to_vec(),
                city: a.city.clone(),
                postal_code: a.postal.clone(),
                country: a.country.clone(),
                phone: a.phone.clone(),
            },
            email: a.email.clone(),
            shipping_option: Some(a.shipping.clone()).filter(|s| !s.trim().is_empty()),
            payment_method: a.payment.clone(),
            note: a.note.clone(),
            idempotency_key: Some(idempotency_key(&a.token)),
        }
    }
}

/// The product at the top of the form, as this instance last saw it.
struct ProductSummary {
    title: String,
    price: String,
    shop_name: String,
    shop_handle: String,
    link: Option<String>,
}

async fn summary(state: &AppState, id: &str) -> WebResult<Option<ProductSummary>> {
    let Some(p) = remote_products::by_id(&state.store, id).await? else {
        return Ok(None);
    };
    let shop = remote_actors::by_id(&state.store, &p.actor).await?;
    Ok(Some(ProductSummary {
        link: p
            .url
            .as_deref()
            .and_then(|u| web_link(state, u))
            .or_else(|| web_link(state, &p.id)),
        title: p.title,
        price: p.price.display(),
        shop_name: shop
            .as_ref()
            .map_or_else(|| p.actor.clone(), |s| s.name.clone()),
        shop_handle: shop
            .map(|s| format!("@{}@{}", s.username, s.host))
            .unwrap_or_default(),
    }))
}

#[derive(Template)]
#[template(path = "buy.html")]
struct BuyPage {
    t: Lang,
    c: Chrome,
    product: Option<ProductSummary>,
    f: BuyFields,
    e: Errs,
    /// The server's own words when the product's server failed.
    detail: Option<String>,
    payment: Vec<Choice>,
}

fn payment_choices(t: Lang, chosen: &str) -> Vec<Choice> {
    PaymentMethod::ALL
        .iter()
        .map(|m| Choice {
            value: m.as_str().to_string(),
            label: method_label(t, *m).to_string(),
            detail: String::new(),
            checked: chosen == m.as_str(),
        })
        .collect()
}

/// Why the form came back.
#[derive(Default)]
struct Outcome<'a> {
    problems: Option<&'a FieldErrors>,
    /// A translated sentence about the whole form.
    message: Option<String>,
    detail: Option<String>,
}

async fn form_page(
    state: &AppState,
    v: &Visitor,
    f: BuyFields,
    o: Outcome<'_>,
    status: StatusCode,
) -> WebResult {
    let t = v.lang;
    let mut e = match o.problems {
        Some(p) => Errs::from_fields(t, p, field_name),
        None => Errs::none(),
    };
    if o.message.is_some() {
        e.form = o.message;
    }
    let tpl = BuyPage {
        t,
        c: Chrome::with_forms(v),
        product: summary(state, &f.product).await?,
        payment: payment_choices(t, &f.a.payment),
        f,
        e,
        detail: o.detail,
    };
    private_page(status, v, &tpl)
}

/// Where a product of this instance is sold (its page, with the cart); `None` for others.
fn local_product_page(state: &AppState, product: &str) -> WebResult<Option<String>> {
    if !state.urls.is_local(product) {
        return Ok(None);
    }
    match state.urls.parse_product(product) {
        Some((handle, id)) => Ok(Some(Urls::product_path(&handle, &id))),
        None => Err(Error::not_found("product").into()),
    }
}

/// Only `http(s)` ids of products on other servers are ordered here.
fn check_product(product: &str) -> WebResult<()> {
    let lower = product.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && product.len() <= MAX_PRODUCT_ID
        && !product.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request("the product must be an http(s) URL of another server").into())
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct BuyQuery {
    #[serde(default)]
    product: String,
}

/// `GET /buy?product=…`.
pub async fn buy_form(
    State(state): State<AppState>,
    v: Visitor,
    Query(q): Query<BuyQuery>,
) -> WebResult {
    v.require_user()?;
    let product = q.product.trim().to_string();
    if let Some(page) = local_product_page(&state, &product)? {
        return Ok(see_other(&page));
    }
    check_product(&product)?;
    let f = BuyFields {
        product,
        quantity: "1".to_string(),
        a: CheckoutFields {
            token: new_secret(),
            ..CheckoutFields::default()
        },
        ..BuyFields::default()
    };
    form_page(&state, &v, f, Outcome::default(), StatusCode::OK).await
}

/// `POST /buy`: sends the order; the order page on success, else the form again with what
/// was typed.
pub async fn buy_post(State(state): State<AppState>, v: Visitor, form: FormData) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    let t = v.lang;
    let mut f = BuyFields::read(&form);
    if let Some(page) = local_product_page(&state, &f.product)? {
        return Ok(see_other(&page));
    }
    check_product(&f.product)?;
    if !token_ok(&f.a.token) {
        f.a.token = new_secret();
        let o = Outcome {
            message: Some(t.s("checkout.expired").to_string()),
            ..Outcome::default()
        };
        return form_page(&state, &v, f, o, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let mut problems = form.problems.clone();
    let quantity = whole_number(&mut problems, "quantity", &f.quantity);
    let input = f.input(quantity);
    if !problems.is_empty() {
        // Report everything at once: the domain's problems with the rest of the form too.
        if let Err(e) = remote::check(&f.product, &input) {
            for (k, p) in e.fields.0 {
                problems.add(k, p);
            }
        }
        let o = Outcome {
            problems: Some(&problems),
            ..Outcome::default()
        };
        return form_page(&state, &v, f, o, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match send::place_remote(&state, user, &f.product, input).await {
        Ok(r) => {
            state.changed();
            Ok(see_other(&Urls::remote_order_path(&r.id)))
        }
        Err(e) if e.kind == ErrorKind::Validation => {
            let o = Outcome {
                problems: Some(&e.fields),
                ..Outcome::default()
            };
            form_page(&state, &v, f, o, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) if e.kind == ErrorKind::Conflict => {
            f.a.token = new_secret();
            let o = Outcome {
                message: Some(t.s("remote_buy.token_used").to_string()),
                ..Outcome::default()
            };
            form_page(&state, &v, f, o, StatusCode::CONFLICT).await
        }
        Err(e)
            if matches!(
                e.kind,
                ErrorKind::BadRequest | ErrorKind::NotFound | ErrorKind::BadGateway
            ) =>
        {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY);
            let o = Outcome {
                message: Some(t.s("remote_buy.failed").to_string()),
                detail: Some(e.message),
                ..Outcome::default()
            };
            form_page(&state, &v, f, o, status).await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_product_ids_are_taken() {
        assert!(check_product("https://a.example/shops/t/products/1").is_ok());
        assert!(check_product("HTTP://a.example/p").is_ok());
        for bad in [
            "",
            "ftp://a.example/p",
            "javascript:alert(1)",
            "https://a b",
        ] {
            assert!(check_product(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_form_becomes_the_input_of_place_remote() {
        let f = BuyFields {
            product: "https://a.example/p".into(),
            quantity: "2".into(),
            variant: "  ".into(),
            a: CheckoutFields {
                name: "Ada".into(),
                lines: ["1 Main St".into(), String::new(), String::new()],
                city: "Berlin".into(),
                postal: "10115".into(),
                country: "de".into(),
                payment: "bank_transfer".into(),
                token: new_secret(),
                ..CheckoutFields::default()
            },
        };
        let input = f.input(2);
        assert_eq!(input.variant, None);
        assert_eq!(input.shipping_option, None);
        assert_eq!(
            input.idempotency_key.as_deref(),
            Some(idempotency_key(&f.a.token).as_str())
        );
        assert!(remote::check(&f.product, &input).is_ok());
    }
}

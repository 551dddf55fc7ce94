//! Checks on what a buyer sends, before anything is looked up or reserved. Prices are not
//! part of a request: the shop decides them.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::checkout::{country_code, email};
use super::{Address, PaymentMethod};
use crate::domain::ids::ProductId;
use crate::domain::text;
use crate::error::{FieldErrors, Problem, Result};

pub const MAX_LINES: usize = 50;
pub const MAX_QUANTITY: i64 = 1000;
pub const MAX_ADDRESS_LINES: usize = 3;
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// One product (and variant) the buyer wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineRequest {
    /// The product's id as sent (checked here).
    pub product: String,
    /// A variant id or SKU; required when the product has variants.
    pub variant: Option<String>,
    pub quantity: i64,
}

/// An order as a buyer submits it, from any path (web form, API, Offer activity).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderRequest {
    pub lines: Vec<LineRequest>,
    /// Required for guests (it is how they hear from the shop); optional otherwise.
    pub email: String,
    pub address: Address,
    /// A shipping option id; the shop's first option that ships there when absent.
    pub shipping_option: Option<String>,
    pub payment_method: String,
    pub note: String,
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValidLine {
    pub product: ProductId,
    pub variant: Option<String>,
    pub quantity: i64,
}

/// A request that passed every check that needs no database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValidRequest {
    pub lines: Vec<ValidLine>,
    pub email: String,
    pub address: Address,
    pub shipping_option: Option<String>,
    pub payment_method: PaymentMethod,
    pub note: String,
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl ValidRequest {
    /// Fingerprint of everything that defines the order (not the idempotency key): the same key
    /// with a different fingerprint is a conflict.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(json))
    }
}

/// Checks a request. `email_required` for guests.
pub fn request(r: &OrderRequest, email_required: bool) -> Result<ValidRequest> {
    let mut e = FieldErrors::new();
    if r.lines.is_empty() {
        e.add("lines", Problem::Required);
    }
    if r.lines.len() > MAX_LINES {
        e.add("lines", Problem::TooMany { max: MAX_LINES });
    }
    let mut lines: Vec<ValidLine> = Vec::new();
    for (i, l) in r.lines.iter().enumerate().take(MAX_LINES) {
        let f = |n: &str| format!("lines[{i}].{n}");
        let Some(product) = ProductId::parse(l.product.trim()) else {
            e.add(f("product"), Problem::NotForSale);
            continue;
        };
        if !(1..=MAX_QUANTITY).contains(&l.quantity) {
            e.add(
                f("quantity"),
                Problem::OutOfRange {
                    min: 1,
                    max: MAX_QUANTITY,
                },
            );
            continue;
        }
        let variant = match l.variant.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(v) => text::check(&mut e, &f("variant"), v, 1, 100, false),
        };
        // The same product and variant twice: merge, so the stock check sees the sum.
        if let Some(same) = lines
            .iter_mut()
            .find(|x| x.product == product && x.variant == variant)
        {
            same.quantity += l.quantity;
            if same.quantity > MAX_QUANTITY {
                e.add(
                    f("quantity"),
                    Problem::OutOfRange {
                        min: 1,
                        max: MAX_QUANTITY,
                    },
                );
            }
            continue;
        }
        lines.push(ValidLine {
            product,
            variant,
            quantity: l.quantity,
        });
    }
    let email_value = if r.email.trim().is_empty() {
        if email_required {
            e.add("email", Problem::Required);
        }
        String::new()
    } else {
        email(&r.email).unwrap_or_else(|| {
            e.add("email", Problem::InvalidEmail);
            String::new()
        })
    };
    let address = address(&mut e, &r.address);
    let shipping_option = match r.shipping_option.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => text::check(&mut e, "shipping_option", s, 1, 30, false),
    };
    let payment_method = PaymentMethod::parse(&r.payment_method);
    if payment_method.is_none() {
        e.add(
            "payment_method",
            if r.payment_method.trim().is_empty() {
                Problem::Required
            } else {
                Problem::InvalidChoice
            },
        );
    }
    let note = text::check(&mut e, "note", &r.note, 0, 1000, true);
    let idempotency_key = match r.idempotency_key.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) => text::check(&mut e, "idempotency_key", k, 1, MAX_IDEMPOTENCY_KEY, false),
    };
    e.into_result()?;
    Ok(ValidRequest {
        lines,
        email: email_value,
        address: address.unwrap_or_default(),
        shipping_option,
        payment_method: payment_method.unwrap_or(PaymentMethod::BankTransfer),
        note: note.unwrap_or_default(),
        idempotency_key,
    })
}

/// Checks a shipping address (also used for orders sent to shops on other instances).
pub fn address(e: &mut FieldErrors, a: &Address) -> Option<Address> {
    let name = text::check(e, "shipping.name", &a.name, 1, 200, false);
    let lines: Vec<String> = a
        .address_lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if lines.is_empty() {
        e.add("shipping.address_lines", Problem::Required);
    } else if lines.len() > MAX_ADDRESS_LINES {
        e.add(
            "shipping.address_lines",
            Problem::TooMany {
                max: MAX_ADDRESS_LINES,
            },
        );
    }
    let mut checked = Vec::new();
    for (i, l) in lines.iter().enumerate().take(MAX_ADDRESS_LINES) {
        if let Some(l) = text::check(e, &format!("shipping.address_lines[{i}]"), l, 1, 200, false) {
            checked.push(l);
        }
    }
    let city = text::check(e, "shipping.city", &a.city, 1, 100, false);
    let postal_code = text::check(e, "shipping.postal_code", &a.postal_code, 0, 20, false);
    let country = if a.country.trim().is_empty() {
        e.add("shipping.country", Problem::Required);
        None
    } else {
        let c = country_code(&a.country);
        if c.is_none() {
            e.add("shipping.country", Problem::InvalidCountry);
        }
        c
    };
    let phone = text::check(e, "shipping.phone", &a.phone, 0, 40, false);
    Some(Address {
        name: name?,
        address_lines: checked,
        city: city?,
        postal_code: postal_code?,
        country: country?,
        phone: phone?,
    })
}

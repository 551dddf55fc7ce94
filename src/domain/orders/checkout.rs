//! What a shop offers at checkout: payment methods (all manual or by link: nothing here takes
//! or pretends to take a payment), shipping options, and how long unpaid orders hold stock.
//! Stored as one JSON document per shop; `validate` is the only way in.

use serde::{Deserialize, Serialize};

use crate::domain::money::{Currency, Money};
use crate::domain::text;
use crate::error::{Error, FieldErrors, Problem, Result};

pub const MAX_PAYMENT_OPTIONS: usize = 4;
pub const MAX_SHIPPING_OPTIONS: usize = 20;
pub const MAX_COUNTRIES: usize = 250;
pub const DEFAULT_HOLD_HOURS: i64 = 72;
pub const MAX_HOLD_HOURS: i64 = 720;

/// The built-in payment methods. Card processors would be further variants behind a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// The buyer transfers money quoting the order number; the seller marks the order paid.
    BankTransfer,
    /// Paid to the carrier or courier at delivery.
    CashOnDelivery,
    /// Paid when collecting the goods.
    PayAtPickup,
    /// The seller's payment page (FEP-0ea0 `Link` with `rel: payment`); the seller marks the
    /// order paid once the money arrived.
    PaymentLink,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 4] = [
        PaymentMethod::BankTransfer,
        PaymentMethod::CashOnDelivery,
        PaymentMethod::PayAtPickup,
        PaymentMethod::PaymentLink,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::CashOnDelivery => "cash_on_delivery",
            PaymentMethod::PayAtPickup => "pay_at_pickup",
            PaymentMethod::PaymentLink => "payment_link",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentMethod> {
        PaymentMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim())
    }

    /// Paid before the goods leave: unpaid orders hold stock only for the shop's hold time.
    pub fn paid_in_advance(self) -> bool {
        matches!(
            self,
            PaymentMethod::BankTransfer | PaymentMethod::PaymentLink
        )
    }

    /// Paid when the goods change hands.
    pub fn paid_on_handover(self) -> bool {
        !self.paid_in_advance()
    }
}

/// One enabled payment method with what the buyer needs to know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOption {
    pub method: PaymentMethod,
    /// Bank transfer: account holder, IBAN/BIC or local details. Pickup: where and when.
    /// Cash on delivery: any note. Payment link: shown beside the link.
    #[serde(default)]
    pub details: String,
    /// Payment link only: the seller's payment page (http or https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One way to send the goods, at a flat price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingOption {
    /// Short stable key chosen by the seller (`standard`, `express`, ...).
    pub id: String,
    pub name: String,
    /// Amount in `currency`, as text ("4.90").
    pub price: String,
    pub currency: String,
    /// ISO 3166-1 alpha-2 codes; empty means anywhere.
    #[serde(default)]
    pub countries: Vec<String>,
}

impl ShippingOption {
    pub fn money(&self) -> Option<Money> {
        let c = Currency::from_code(&self.currency)?;
        Money::parse(&self.price, c).ok()
    }

    pub fn ships_to(&self, country: &str) -> bool {
        self.countries.is_empty() || self.countries.iter().any(|c| c == country)
    }
}

/// A shop's checkout settings. A shop without settings sells nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSettings {
    pub payment_methods: Vec<PaymentOption>,
    pub shipping_options: Vec<ShippingOption>,
    /// Hours an unpaid order paid in advance keeps its stock.
    #[serde(default = "default_hold")]
    pub hold_hours: i64,
    /// Where the seller wants new-order mails (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_email: Option<String>,
}

fn default_hold() -> i64 {
    DEFAULT_HOLD_HOURS
}

impl Default for CheckoutSettings {
    fn default() -> Self {
        CheckoutSettings {
            payment_methods: vec![],
            shipping_options: vec![],
            hold_hours: DEFAULT_HOLD_HOURS,
            notify_email: None,
        }
    }
}

impl CheckoutSettings {
    /// Whether buyers can check out at all.
    pub fn is_open(&self) -> bool {
        !self.payment_methods.is_empty() && !self.shipping_options.is_empty()
    }

    pub fn payment(&self, method: PaymentMethod) -> Option<&PaymentOption> {
        self.payment_methods.iter().find(|p| p.method == method)
    }

    pub fn shipping(&self, id: &str) -> Option<&ShippingOption> {
        self.shipping_options.iter().find(|s| s.id == id)
    }
}

/// ISO 3166-1 alpha-2 shape: two ASCII capitals. (The list of assigned codes changes; the
/// shape is what we can check without shipping a table.)
pub fn country_code(s: &str) -> Option<String> {
    let up = s.trim().to_ascii_uppercase();
    (up.len() == 2 && up.bytes().all(|b| b.is_ascii_uppercase())).then_some(up)
}

/// A plausible e-mail address: one `@`, something on each side, a dot in the domain, no
/// spaces or control characters, at most 254 characters.
pub fn email(s: &str) -> Option<String> {
    let v = s.trim();
    let (local, domain) = v.split_once('@')?;
    let ok = v.chars().count() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !v
            .chars()
            .any(|c| c.is_whitespace() || text::is_forbidden_char(c, false) || c == ',');
    ok.then(|| v.to_string())
}

/// Checks settings as submitted by a seller and returns the normalised version.
pub fn validate(input: &CheckoutSettings) -> Result<CheckoutSettings> {
    let mut e = FieldErrors::new();
    if input.payment_methods.len() > MAX_PAYMENT_OPTIONS {
        e.add(
            "payment_methods",
            Problem::TooMany {
                max: MAX_PAYMENT_OPTIONS,
            },
        );
    }
    let mut payments = Vec::new();
    for (i, p) in input.payment_methods.iter().enumerate() {
        let f = |n: &str| format!("payment_methods[{i}].{n}");
        if payments
            .iter()
            .any(|q: &PaymentOption| q.method == p.method)
        {
            e.add(f("method"), Problem::Duplicate);
            continue;
        }
        let min = usize::from(p.method == PaymentMethod::BankTransfer);
        let details = text::check(&mut e, &f("details"), &p.details, min, 2000, true);
        let url = match (p.method, p.url.as_deref().map(str::trim)) {
            (PaymentMethod::PaymentLink, Some(u)) if !u.is_empty() => {
                text::check_url(&mut e, &f("url"), u)
            }
            (PaymentMethod::PaymentLink, _) => {
                e.add(f("url"), Problem::Required);
                None
            }
            _ => None,
        };
        if let Some(details) = details {
            payments.push(PaymentOption {
                method: p.method,
                details,
                url,
            });
        }
    }
    if input.shipping_options.len() > MAX_SHIPPING_OPTIONS {
        e.add(
            "shipping_options",
            Problem::TooMany {
                max: MAX_SHIPPING_OPTIONS,
            },
        );
    }
    let mut shipping = Vec::new();
    for (i, s) in input.shipping_options.iter().enumerate() {
        let f = |n: &str| format!("shipping_options[{i}].{n}");
        let id = s.id.trim().to_ascii_lowercase();
        if id.is_empty()
            || id.len() > 30
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            e.add(f("id"), Problem::InvalidHandle);
        } else if shipping.iter().any(|o: &ShippingOption| o.id == id) {
            e.add(f("id"), Problem::Duplicate);
        }
        let name = text::check(&mut e, &f("name"), &s.name, 1, 100, false);
        let price = match Currency::parse_code(&s.currency) {
            None => {
                e.add(f("currency"), Problem::UnknownCurrency);
                None
            }
            Some(c) => match Money::parse(&s.price, c) {
                Ok(m) => Some(m),
                Err(err) => {
                    e.add(f("price"), Problem::Money(err));
                    None
                }
            },
        };
        if s.countries.len() > MAX_COUNTRIES {
            e.add(f("countries"), Problem::TooMany { max: MAX_COUNTRIES });
        }
        let mut countries = Vec::new();
        for c in &s.countries {
            match country_code(c) {
                Some(c) if !countries.contains(&c) => countries.push(c),
                Some(_) => {}
                None => e.add(f("countries"), Problem::InvalidCountry),
            }
        }
        if let (Some(name), Some(price)) = (name, price) {
            shipping.push(ShippingOption {
                id,
                name,
                price: price.amount_string(),
                currency: price.currency.code.to_string(),
                countries,
            });
        }
    }
    if !(1..=MAX_HOLD_HOURS).contains(&input.hold_hours) {
        e.add(
            "hold_hours",
            Problem::OutOfRange {
                min: 1,
                max: MAX_HOLD_HOURS,
            },
        );
    }
    let notify_email = match input.notify_email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) => {
            let ok = email(v);
            if ok.is_none() {
                e.add("notify_email", Problem::InvalidEmail);
            }
            ok
        }
    };
    e.into_result()?;
    Ok(CheckoutSettings {
        payment_methods: payments,
        shipping_options: shipping,
        hold_hours: input.hold_hours,
        notify_email,
    })
}

/// Reads stored settings back; stored JSON was validated on the way in.
pub fn from_stored(json: &str) -> Result<CheckoutSettings> {
    serde_json::from_str(json).map_err(|e| Error::internal(anyhow::anyhow!("checkout: {e}")))
}

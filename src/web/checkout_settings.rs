//! The seller's checkout settings form: which payment methods the shop takes (with bank
//! details, pickup place or payment page), its shipping options as editable rows, how long
//! unpaid orders hold stock, and where new-order mails go. Saved through
//! `service::update_settings`, which validates; this file only maps form fields.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::domain::catalog::service as catalog;
use crate::domain::money::{all_currencies, Currency};
use crate::domain::orders::checkout::{DEFAULT_HOLD_HOURS, MAX_SHIPPING_OPTIONS};
use crate::domain::orders::{
    service, CheckoutSettings, PaymentMethod, PaymentOption, ShippingOption,
};
use crate::error::{ErrorKind, FieldErrors};
use crate::server::AppState;
use crate::web::ctx::Visitor;
use crate::web::errors::WebResult;
use crate::web::forms::{whole_number, Errs, FormData};
use crate::web::i18n::Lang;
use crate::web::order_views::method_label;
use crate::web::render::{private_page, see_other, Chrome};
use crate::web::views::ShopView;

/// Empty shipping rows offered below the existing ones.
const SPARE_ROWS: usize = 2;

/// One payment method's part of the form.
pub struct MethodRow {
    pub key: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub on: bool,
    pub details: String,
    pub url: String,
    pub has_url: bool,
}

/// One shipping option row.
#[derive(Clone, Debug, Default)]
pub struct ShipRow {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub price: String,
    pub currency: String,
    pub countries: String,
}

impl ShipRow {
    fn is_blank(&self) -> bool {
        self.id.trim().is_empty()
            && self.name.trim().is_empty()
            && self.price.trim().is_empty()
            && self.countries.trim().is_empty()
    }
}

#[derive(Template)]
#[template(path = "checkout_settings.html")]
struct SettingsPage {
    t: Lang,
    c: Chrome,
    shop: ShopView,
    methods: Vec<MethodRow>,
    rows: Vec<ShipRow>,
    hold_hours: String,
    notify_email: String,
    currencies: &'static [Currency],
    e: Errs,
    saved: bool,
    open: bool,
}

fn hint_key(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::BankTransfer => "checkout_settings.bank_hint",
        PaymentMethod::CashOnDelivery => "checkout_settings.cod_hint",
        PaymentMethod::PayAtPickup => "checkout_settings.pickup_hint",
        PaymentMethod::PaymentLink => "checkout_settings.link_hint",
    }
}

struct FormState {
    methods: Vec<(PaymentMethod, bool, String, String)>,
    rows: Vec<ShipRow>,
    hold_hours: String,
    notify_email: String,
}

impl FormState {
    fn of(s: &CheckoutSettings) -> FormState {
        FormState {
            methods: PaymentMethod::ALL
                .iter()
                .map(|m| match s.payment(*m) {
                    Some(p) => (
                        *m,
                        true,
                        p.details.clone(),
                        p.url.clone().unwrap_or_default(),
                    ),
                    None => (*m, false, String::new(), String::new()),
                })
                .collect(),
            rows: s
                .shipping_options
                .iter()
                .enumerate()
                .map(|(i, o)| ShipRow {
                    index: i,
                    id: o.id.clone(),
                    name: o.name.clone(),
                    price: o.price.clone(),
                    currency: o.currency.clone(),
                    countries: o.countries.join(", "),
                })
                .collect(),
            hold_hours: s.hold_hours.to_string(),
            notify_email: s.notify_email.clone().unwrap_or_default(),
        }
    }

    fn read(form: &FormData) -> FormState {
        let mut rows = Vec::new();
        for i in 0..MAX_SHIPPING_OPTIONS + SPARE_ROWS {
            let f = |n: &str| form.text(&format!("ship_{n}_{i}")).to_string();
            if !form.has(&format!("ship_id_{i}")) || form.has(&format!("ship_remove_{i}")) {
                continue;
            }
            rows.push(ShipRow {
                index: rows.len(),
                id: f("id"),
                name: f("name"),
                price: f("price"),
                currency: f("currency"),
                countries: f("countries"),
            });
        }
        rows.retain(|r| !r.is_blank());
        for (i, r) in rows.iter_mut().enumerate() {
            r.index = i;
        }
        FormState {
            methods: PaymentMethod::ALL
                .iter()
                .map(|m| {
                    let k = m.as_str();
                    (
                        *m,
                        form.has(&format!("pm_{k}_on")),
                        form.text(&format!("pm_{k}_details")).to_string(),
                        form.text(&format!("pm_{k}_url")).to_string(),
                    )
                })
                .collect(),
            rows,
            hold_hours: form.text("hold_hours").to_string(),
            notify_email: form.text("notify_email").to_string(),
        }
    }

    fn settings(&self, problems: &mut FieldErrors) -> CheckoutSettings {
        let hold = if self.hold_hours.trim().is_empty() {
            DEFAULT_HOLD_HOURS
        } else {
            whole_number(problems, "hold_hours", &self.hold_hours)
        };
        CheckoutSettings {
            payment_methods: self
                .methods
                .iter()
                .filter(|(_, on, _, _)| *on)
                .map(|(m, _, details, url)| PaymentOption {
                    method: *m,
                    details: details.clone(),
                    url: (*m == PaymentMethod::PaymentLink).then(|| url.clone()),
                })
                .collect(),
            shipping_options: self
                .rows
                .iter()
                .map(|r| ShippingOption {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    price: r.price.clone(),
                    currency: r.currency.clone(),
                    countries: r
                        .countries
                        .split([',', ' ', ';'])
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect(),
                })
                .collect(),
            hold_hours: hold,
            notify_email: Some(self.notify_email.clone()).filter(|s| !s.trim().is_empty()),
        }
    }

    /// Domain field name -> form field name.
    fn field(&self, domain: &str) -> String {
        let enabled: Vec<&str> = self
            .methods
            .iter()
            .filter(|(_, on, _, _)| *on)
            .map(|(m, _, _, _)| m.as_str())
            .collect();
        let indexed = |prefix: &str| {
            domain
                .strip_prefix(prefix)
                .and_then(|r| r.split_once("]."))
                .and_then(|(i, f)| Some((i.parse::<usize>().ok()?, f)))
        };
        if let Some((i, f)) = indexed("payment_methods[") {
            let key = enabled.get(i).copied().unwrap_or("bank_transfer");
            return match f {
                "url" => format!("pm_{key}_url"),
                "method" => format!("pm_{key}_on"),
                _ => format!("pm_{key}_details"),
            };
        }
        if let Some((i, f)) = indexed("shipping_options[") {
            return format!("ship_{f}_{i}");
        }
        match domain {
            "payment_methods" => "pm_bank_transfer_on".to_string(),
            "shipping_options" => "ship_id_0".to_string(),
            f => f.to_string(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SavedQuery {
    pub saved: Option<String>,
}

/// How the form is shown: after a save, whether checkout is open now, the status.
struct Shown {
    saved: bool,
    open: bool,
    status: StatusCode,
}

fn page(
    state: &AppState,
    v: &Visitor,
    shop: &crate::domain::catalog::Shop,
    f: FormState,
    problems: &FieldErrors,
    shown: Shown,
) -> WebResult {
    let Shown {
        saved,
        open,
        status,
    } = shown;
    let t = v.lang;
    let e = Errs::from_fields(t, problems, |d| f.field(d));
    let mut rows = f.rows;
    let first_currency = rows
        .first()
        .map(|r| r.currency.clone())
        .unwrap_or_else(|| "EUR".to_string());
    for _ in 0..SPARE_ROWS {
        rows.push(ShipRow {
            index: rows.len(),
            currency: first_currency.clone(),
            ..ShipRow::default()
        });
    }
    let tpl = SettingsPage {
        t,
        c: Chrome::with_forms(v),
        shop: ShopView::of(shop, &state.settings.domain),
        methods: f
            .methods
            .into_iter()
            .map(|(m, on, details, url)| MethodRow {
                key: m.as_str(),
                label: method_label(t, m),
                hint: t.s(hint_key(m)),
                on,
                details,
                url,
                has_url: m == PaymentMethod::PaymentLink,
            })
            .collect(),
        rows,
        hold_hours: f.hold_hours,
        notify_email: f.notify_email,
        currencies: all_currencies(),
        e,
        saved,
        open,
    };
    private_page(status, v, &tpl)
}

pub async fn settings_form(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
    Query(q): Query<SavedQuery>,
) -> WebResult {
    let user = v.require_user()?;
    let shop = catalog::managed_shop(&state.store, user, &handle).await?;
    let settings = service::settings(&state.store, &shop).await?;
    let open = settings.is_open();
    let f = FormState::of(&settings);
    let saved = q.saved.is_some();
    let shown = Shown {
        saved,
        open,
        status: StatusCode::OK,
    };
    page(&state, &v, &shop, f, &FieldErrors::new(), shown)
}

pub async fn save_settings(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    let shop = catalog::managed_shop(&state.store, user, &handle).await?;
    let f = FormState::read(&form);
    let mut problems = form.problems.clone();
    let input = f.settings(&mut problems);
    if problems.is_empty() {
        match service::update_settings(&state.store, user, &shop.handle, &input).await {
            Ok(_) => {
                state.changed();
                return Ok(see_other(&format!(
                    "/dashboard/shops/{}/checkout?saved=1",
                    shop.handle
                )));
            }
            Err(e) if e.kind == ErrorKind::Validation => problems = e.fields,
            Err(e) => return Err(e.into()),
        }
    }
    let open = service::settings(&state.store, &shop).await?.is_open();
    let shown = Shown {
        saved: false,
        open,
        status: StatusCode::UNPROCESSABLE_ENTITY,
    };
    page(&state, &v, &shop, f, &problems, shown)
}

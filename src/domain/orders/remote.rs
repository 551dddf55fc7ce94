//! The buyer's side of orders with shops on other instances: what a member asks for (checked
//! with the same rules as local orders), the status of the order as the shop reports it, and
//! the rules for taking the shop's word: only the shop that was asked answers, a final status
//! never changes, and an older snapshot never replaces a newer one. The shop's instance
//! decides prices, stock and the state machine. Imports no axum and nothing from `federation`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::checkout::email;
use super::validate::{self, MAX_IDEMPOTENCY_KEY, MAX_QUANTITY};
use super::{Address, OrderStatus, PaymentMethod};
use crate::db::remote_orders::{self, RemoteOrderRow, ShopAnswer};
use crate::db::Store;
use crate::domain::accounts::User;
use crate::domain::money::{Currency, Money};
use crate::domain::{now_ms, text};
use crate::error::{Error, ErrorKind, FieldErrors, Problem, Result};

/// What a member fills in to order a product of a shop on another instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteOrderInput {
    /// A variant id or SKU, as the shop names it; required when the product has variants.
    pub variant: Option<String>,
    pub quantity: i64,
    pub shipping: Address,
    /// Optional: the shop hears from the member through the member's instance.
    pub email: String,
    /// A shipping option id of the shop; the shop's first one that ships there when absent.
    pub shipping_option: Option<String>,
    pub payment_method: String,
    pub note: String,
    pub idempotency_key: Option<String>,
}

/// The request as sent and stored (`request_json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRequest {
    /// The product's ActivityPub id.
    pub product: String,
    /// The title when the member ordered (for lists before the shop answers).
    #[serde(default)]
    pub product_title: String,
    pub variant: Option<String>,
    pub quantity: i64,
    pub shipping: Address,
    pub email: String,
    pub shipping_option: Option<String>,
    pub payment_method: PaymentMethod,
    pub note: String,
}

impl RemoteRequest {
    /// The request with the address, contact and note removed (kept after retention: what was
    /// ordered, how many, how it was to be paid).
    pub fn without_address(&self) -> RemoteRequest {
        RemoteRequest {
            shipping: Address {
                country: self.shipping.country.clone(),
                ..Address::default()
            },
            email: String::new(),
            note: String::new(),
            ..self.clone()
        }
    }

    /// Everything that defines the order (not the title, which the shop may change): the same
    /// idempotency key with another fingerprint is a conflict.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(&(
            &self.product,
            &self.variant,
            self.quantity,
            &self.shipping,
            &self.email,
            &self.shipping_option,
            self.payment_method,
            &self.note,
        ))
        .unwrap_or_default();
        hex::encode(Sha256::digest(json))
    }
}

/// Checks what a member asked for, before anything is fetched or sent. `product` is the
/// product's URL or id as given.
pub fn check(product: &str, input: &RemoteOrderInput) -> Result<(RemoteRequest, Option<String>)> {
    let mut e = FieldErrors::new();
    let product = product.trim();
    if product.is_empty() {
        e.add("product", Problem::Required);
    } else if product.len() > 2048
        || !(product.starts_with("https://") || product.starts_with("http://"))
    {
        e.add("product", Problem::InvalidUrl);
    }
    if !(1..=MAX_QUANTITY).contains(&input.quantity) {
        e.add(
            "quantity",
            Problem::OutOfRange {
                min: 1,
                max: MAX_QUANTITY,
            },
        );
    }
    let variant = match input.variant.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) => text::check(&mut e, "variant", v, 1, 100, false),
    };
    let email_value = if input.email.trim().is_empty() {
        String::new()
    } else {
        email(&input.email).unwrap_or_else(|| {
            e.add("email", Problem::InvalidEmail);
            String::new()
        })
    };
    let shipping = validate::address(&mut e, &input.shipping);
    let shipping_option = match input.shipping_option.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => text::check(&mut e, "shipping_option", s, 1, 30, false),
    };
    let payment_method = PaymentMethod::parse(&input.payment_method);
    if payment_method.is_none() {
        e.add(
            "payment_method",
            if input.payment_method.trim().is_empty() {
                Problem::Required
            } else {
                Problem::InvalidChoice
            },
        );
    }
    let note = text::check(&mut e, "note", &input.note, 0, 1000, true);
    let key = match input.idempotency_key.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) => text::check(&mut e, "idempotency_key", k, 1, MAX_IDEMPOTENCY_KEY, false),
    };
    e.into_result()?;
    Ok((
        RemoteRequest {
            product: product.to_string(),
            product_title: String::new(),
            variant,
            quantity: input.quantity,
            shipping: shipping.unwrap_or_default(),
            email: email_value,
            shipping_option,
            payment_method: payment_method.unwrap_or(PaymentMethod::BankTransfer),
            note: note.unwrap_or_default(),
        },
        key,
    ))
}

/// Where a remote order is, as far as the member's instance knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteStatus {
    /// Sent; the shop has not answered yet.
    Requested,
    /// The shop refused it (see `reason`); nothing was reserved.
    Rejected,
    /// The shop placed it; its status there.
    Order(OrderStatus),
}

impl RemoteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteStatus::Requested => "requested",
            RemoteStatus::Rejected => "rejected",
            RemoteStatus::Order(s) => s.as_str(),
        }
    }

    pub fn parse(s: &str) -> Option<RemoteStatus> {
        match s {
            "requested" => Some(RemoteStatus::Requested),
            "rejected" => Some(RemoteStatus::Rejected),
            other => OrderStatus::parse(other).map(RemoteStatus::Order),
        }
    }

    /// Nothing can change any more.
    pub fn is_final(self) -> bool {
        match self {
            RemoteStatus::Requested => false,
            RemoteStatus::Rejected => true,
            RemoteStatus::Order(s) => s.is_final(),
        }
    }

    /// The member may ask the shop to call it off (a buyer cancels only unpaid orders).
    pub fn cancellable(self) -> bool {
        self == RemoteStatus::Order(OrderStatus::Pending)
    }
}

impl Serialize for RemoteStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// May the shop's report `to` replace `from`? The shop decides its state machine; we only
/// refuse to reopen what is over.
pub fn may_become(from: RemoteStatus, to: RemoteStatus) -> bool {
    match from {
        RemoteStatus::Rejected => false,
        s if s.is_final() => s == to,
        _ => to != RemoteStatus::Requested && to != RemoteStatus::Rejected,
    }
}

/// One line of the shop's order, as it reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteLine {
    pub product: String,
    pub title: String,
    pub variant: Option<String>,
    pub sku: Option<String>,
    pub quantity: i64,
    /// Unit price, as a decimal amount in the order's currency.
    pub unit_price: String,
}

/// The shop's order (its Agreement), checked and normalised; stored as `result_json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteResult {
    /// The shop's id of the order.
    pub order_ref: String,
    pub number: String,
    pub status: String,
    pub currency: String,
    pub subtotal: String,
    pub shipping_price: String,
    pub total: String,
    pub payment_method: Option<String>,
    pub payment_instructions: String,
    /// FEP-0ea0 payment link.
    pub payment_url: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub reason: Option<String>,
    pub lines: Vec<RemoteLine>,
    /// When the shop last changed the order (ms): older snapshots are ignored.
    pub updated: i64,
}

impl RemoteResult {
    fn status(&self) -> Result<OrderStatus> {
        OrderStatus::parse(&self.status).ok_or_else(|| Error::bad_request("unknown order status"))
    }

    fn total_minor(&self) -> Result<(Currency, i64)> {
        let c = Currency::from_code(&self.currency)
            .ok_or_else(|| Error::bad_request("unknown currency"))?;
        let m = Money::parse(&self.total, c).map_err(|_| Error::bad_request("bad total"))?;
        Ok((c, m.minor))
    }
}

/// A member's order with a remote shop, as shown to the member.
#[derive(Clone, Debug, Serialize)]
pub struct RemoteOrder {
    pub id: String,
    pub shop_actor: String,
    /// The shop's display name, when its actor is known here.
    pub shop_name: Option<String>,
    /// The product's ActivityPub id.
    pub product: String,
    pub product_title: String,
    pub variant: Option<String>,
    pub quantity: i64,
    /// The shop's order number, once accepted.
    pub number: Option<String>,
    /// The shop's id of the order, once accepted.
    pub order_ref: Option<String>,
    pub status: RemoteStatus,
    pub currency: Option<String>,
    /// Decimal amount computed by the shop, once accepted.
    pub total: Option<String>,
    pub subtotal: Option<String>,
    pub shipping_price: Option<String>,
    pub payment_method: String,
    pub payment_instructions: Option<String>,
    pub payment_url: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    /// Why it was rejected, cancelled or refunded.
    pub reason: Option<String>,
    pub lines: Vec<RemoteLine>,
    /// The member's own address and contact (only ever shown to the member).
    pub shipping: Address,
    pub email: String,
    pub note: String,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(skip)]
    pub offer_id: String,
    #[serde(skip)]
    pub shop_inbox: String,
}

impl RemoteOrder {
    /// The view of a stored row.
    pub fn from_row(row: RemoteOrderRow, shop_name: Option<String>) -> Result<RemoteOrder> {
        let request: RemoteRequest =
            serde_json::from_str(&row.request_json).map_err(Error::internal)?;
        let result: Option<RemoteResult> = match row.result_json.as_deref() {
            Some(j) => Some(serde_json::from_str(j).map_err(Error::internal)?),
            None => None,
        };
        let status = RemoteStatus::parse(&row.status)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("stored status {}", row.status)))?;
        let r = result.as_ref();
        Ok(RemoteOrder {
            id: row.id,
            shop_actor: row.shop_actor,
            shop_name,
            product: request.product,
            product_title: request.product_title,
            variant: request.variant,
            quantity: request.quantity,
            number: row.number,
            order_ref: row.order_ref,
            status,
            currency: row.currency,
            total: r.map(|x| x.total.clone()),
            subtotal: r.map(|x| x.subtotal.clone()),
            shipping_price: r.map(|x| x.shipping_price.clone()),
            payment_method: request.payment_method.as_str().to_string(),
            payment_instructions: r
                .map(|x| x.payment_instructions.clone())
                .filter(|s| !s.is_empty()),
            payment_url: r.and_then(|x| x.payment_url.clone()),
            carrier: r.and_then(|x| x.carrier.clone()),
            tracking: r.and_then(|x| x.tracking.clone()),
            reason: row.reason,
            lines: r.map(|x| x.lines.clone()).unwrap_or_default(),
            shipping: request.shipping,
            email: request.email,
            note: request.note,
            created_at: row.created_at,
            updated_at: row.updated_at,
            offer_id: row.offer_id,
            shop_inbox: row.shop_inbox,
        })
    }
}

/// An earlier remote order of `user` with the same idempotency key: the same one when the
/// request is the same, a conflict when it differs.
pub async fn earlier(
    store: &Store,
    user: &User,
    key: Option<&str>,
    request: &RemoteRequest,
) -> Result<Option<RemoteOrderRow>> {
    let Some(key) = key else { return Ok(None) };
    match remote_orders::by_idempotency(store, &user.id, key).await? {
        Some(row) if row.request_hash == request.fingerprint() => Ok(Some(row)),
        Some(_) => Err(Error::new(
            ErrorKind::Conflict,
            "this idempotency key was already used for a different order",
        )),
        None => Ok(None),
    }
}

/// The row, if `shop_actor` is the shop it was sent to.
fn own_row(shop_actor: &str, row: Option<RemoteOrderRow>) -> Result<RemoteOrderRow> {
    let row = row.ok_or_else(|| Error::not_found_msg("no such order here"))?;
    if row.shop_actor != shop_actor {
        return Err(Error::forbidden("only the shop that was asked may answer"));
    }
    Ok(row)
}

/// The shop accepted our Offer `offer_id`; `result` is its order.
pub async fn record_accept(
    store: &Store,
    shop_actor: &str,
    offer_id: &str,
    result: &RemoteResult,
) -> Result<()> {
    let row = own_row(shop_actor, remote_orders::by_offer(store, offer_id).await?)?;
    apply_result(store, row, result).await
}

/// The shop rejected our Offer `offer_id`: nothing was reserved there.
pub async fn record_reject(
    store: &Store,
    shop_actor: &str,
    offer_id: &str,
    reason: &str,
) -> Result<()> {
    let row = own_row(shop_actor, remote_orders::by_offer(store, offer_id).await?)?;
    if row.status == RemoteStatus::Rejected.as_str() {
        return Ok(()); // the same answer again
    }
    if row.status != RemoteStatus::Requested.as_str() {
        return Err(Error::conflict("the shop already accepted this order"));
    }
    let answer = ShopAnswer {
        status: RemoteStatus::Rejected.as_str(),
        order_ref: None,
        number: None,
        currency: None,
        total_minor: None,
        result_json: None,
        reason: Some(reason),
    };
    if !remote_orders::set_answer(store, &row.id, &row.status, &answer, now_ms()).await? {
        return Err(Error::conflict("the order changed meanwhile"));
    }
    Ok(())
}

/// The shop reports its order as it is now. Found by the shop's order id, or (when that
/// report overtook the Accept) by our Offer, which the shop names in the order.
pub async fn record_update(
    store: &Store,
    shop_actor: &str,
    result: &RemoteResult,
    offer_id: Option<&str>,
) -> Result<()> {
    let row = match remote_orders::by_order_ref(store, &result.order_ref).await? {
        Some(r) => Some(r),
        None => match offer_id {
            Some(o) => remote_orders::by_offer(store, o)
                .await?
                .filter(|r| r.order_ref.is_none()),
            None => None,
        },
    };
    let row = own_row(shop_actor, row)?;
    apply_result(store, row, result).await
}

async fn apply_result(store: &Store, row: RemoteOrderRow, result: &RemoteResult) -> Result<()> {
    if let Some(r) = &row.order_ref {
        if *r != result.order_ref {
            return Err(Error::conflict("the shop named another order"));
        }
    }
    let stored: Option<RemoteResult> = row
        .result_json
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok());
    if stored.as_ref().is_some_and(|s| s.updated > result.updated) {
        return Ok(()); // an older snapshot that arrived late
    }
    let from = RemoteStatus::parse(&row.status)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("stored status {}", row.status)))?;
    let to = RemoteStatus::Order(result.status()?);
    if !may_become(from, to) {
        return Err(Error::conflict(format!(
            "a {} order cannot become {}",
            from.as_str(),
            to.as_str()
        )));
    }
    let (currency, total) = result.total_minor()?;
    let json = serde_json::to_string(result).map_err(Error::internal)?;
    let answer = ShopAnswer {
        status: to.as_str(),
        order_ref: Some(&result.order_ref),
        number: Some(&result.number),
        currency: Some(currency.code),
        total_minor: Some(total),
        result_json: Some(&json),
        reason: result.reason.as_deref(),
    };
    if !remote_orders::set_answer(store, &row.id, &row.status, &answer, now_ms()).await? {
        return Err(Error::conflict("the order changed meanwhile"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> RemoteOrderInput {
        RemoteOrderInput {
            variant: None,
            quantity: 2,
            shipping: Address {
                name: "Ada".into(),
                address_lines: vec!["1 Main St".into()],
                city: "Berlin".into(),
                postal_code: "10115".into(),
                country: "de".into(),
                phone: String::new(),
            },
            email: String::new(),
            shipping_option: None,
            payment_method: "bank_transfer".into(),
            note: String::new(),
            idempotency_key: Some("k1".into()),
        }
    }

    #[test]
    fn a_request_is_checked_like_a_local_order() {
        let (r, key) = check("https://a.example/shops/t/products/1", &input()).unwrap();
        assert_eq!(r.shipping.country, "DE");
        assert_eq!(key.as_deref(), Some("k1"));
        let mut bad = input();
        bad.quantity = 0;
        bad.shipping.country = "Germany".into();
        bad.payment_method = "gold".into();
        let e = check("ftp://x", &bad).unwrap_err();
        for f in ["product", "quantity", "shipping.country", "payment_method"] {
            assert!(e.fields.0.contains_key(f), "{f}: {e}");
        }
    }

    #[test]
    fn the_fingerprint_ignores_the_title() {
        let (mut a, _) = check("https://a.example/p", &input()).unwrap();
        let f = a.fingerprint();
        a.product_title = "Tea".into();
        assert_eq!(a.fingerprint(), f);
        a.quantity = 3;
        assert_ne!(a.fingerprint(), f);
    }

    #[test]
    fn final_statuses_never_reopen() {
        use OrderStatus::*;
        let o = RemoteStatus::Order;
        assert!(may_become(RemoteStatus::Requested, o(Pending)));
        assert!(may_become(o(Pending), o(Shipped)));
        assert!(may_become(o(Delivered), o(Refunded)));
        assert!(!may_become(o(Cancelled), o(Paid)));
        assert!(!may_become(RemoteStatus::Rejected, o(Pending)));
        assert!(!may_become(o(Pending), RemoteStatus::Requested));
        assert!(o(Pending).cancellable());
        assert!(!o(Paid).cancellable());
    }
}

//! Placing orders and reading one order. The web checkout, the JSON API and the inbox (a
//! remote buyer's `Offer`) all place orders through `place`, so the shop's catalog, stock and
//! prices decide on every path; status changes live in `status.rs`. A refused call writes
//! nothing.

use rand::Rng;
use subtle::ConstantTimeEq;

use super::checkout::{self, CheckoutSettings};
use super::validate::{self, OrderRequest, ValidRequest};
use super::{notices, Buyer, Order, OrderEvent, OrderLine, OrderStatus, Party};
use crate::db::orders::{self, NewOrderMeta};
use crate::db::{self, Store, Tx};
use crate::domain::accounts::{new_secret, secret_hash, User};
use crate::domain::catalog::{service as catalog, Product, Shop};
use crate::domain::events::{self, Event};
use crate::domain::ids::ProductId;
use crate::domain::money::Money;
use crate::domain::now_ms;
use crate::error::{Error, ErrorKind, FieldErrors, Problem, Result};
use crate::urls::Urls;

/// The outcome of `place`.
#[derive(Debug)]
pub struct Placed {
    pub order: Order,
    /// The secret of the order's link; only when this call created the order.
    pub secret: Option<String>,
    /// An earlier call with the same idempotency key (or the same Offer) created it.
    pub replayed: bool,
}

/// A shop's checkout settings (empty ones when the seller has not set any up).
pub async fn settings(store: &Store, shop: &Shop) -> Result<CheckoutSettings> {
    match db::checkout::get(store, &shop.id).await? {
        Some(json) => checkout::from_stored(&json),
        None => Ok(CheckoutSettings::default()),
    }
}

/// Replaces a shop's checkout settings; only its manager may.
pub async fn update_settings(
    store: &Store,
    actor: &User,
    handle: &str,
    input: &CheckoutSettings,
) -> Result<CheckoutSettings> {
    let shop = catalog::managed_shop(store, actor, handle).await?;
    let valid = checkout::validate(input)?;
    let json = serde_json::to_string(&valid).map_err(Error::internal)?;
    let mut tx = store.begin().await?;
    db::checkout::put(&mut tx, &shop.id, &json, now_ms()).await?;
    tx.commit().await?;
    Ok(valid)
}

fn idempotency_scope(buyer: &Buyer) -> String {
    match buyer {
        Buyer::Guest => "guest".to_string(),
        Buyer::Member(u) => format!("member:{u}"),
        Buyer::Remote { actor, .. } => format!("actor:{actor}"),
    }
}

/// An earlier order for the same request, if this one repeats it; a conflict when the same
/// idempotency key came with a different order.
async fn earlier(store: &Store, buyer: &Buyer, valid: &ValidRequest) -> Result<Option<Order>> {
    if let Buyer::Remote { offer_id, .. } = buyer {
        if let Some(o) = orders::by_offer(store, offer_id).await? {
            return Ok(Some(o));
        }
    }
    let Some(key) = &valid.idempotency_key else {
        return Ok(None);
    };
    match orders::by_idempotency(store, &idempotency_scope(buyer), key).await? {
        Some((id, hash)) if hash == valid.fingerprint() => orders::by_id(store, &id).await,
        Some(_) => Err(Error::new(
            ErrorKind::Conflict,
            "this idempotency key was already used for a different order",
        )),
        None => Ok(None),
    }
}

/// Places an order with `shop`. Prices, totals, stock and what is on offer come from this
/// instance; the request only says what and how many.
pub async fn place(
    store: &Store,
    urls: &Urls,
    shop: &Shop,
    buyer: Buyer,
    req: &OrderRequest,
) -> Result<Placed> {
    place_with_secret(store, urls, shop, buyer, req, new_secret()).await
}

/// `place` with the order link's secret chosen by the caller, who must make it unguessable
/// (at least 32 random bytes). The web checkout derives it from the form's one-time token, so
/// a repeated submission of the same form can still lead the guest to the order's page.
pub async fn place_with_secret(
    store: &Store,
    urls: &Urls,
    shop: &Shop,
    buyer: Buyer,
    req: &OrderRequest,
    secret: String,
) -> Result<Placed> {
    let valid = validate::request(req, buyer == Buyer::Guest)?;
    if let Some(order) = earlier(store, &buyer, &valid).await? {
        return Ok(Placed {
            order,
            secret: None,
            replayed: true,
        });
    }
    let settings = settings(store, shop).await?;
    let now = now_ms();
    let mut order = price(store, shop, &settings, &buyer, &valid, now).await?;
    let meta_scope = idempotency_scope(&buyer);
    let hash = valid.fingerprint();
    let secret_h = secret_hash(&secret);
    for attempt in 0..3 {
        let meta = NewOrderMeta {
            idempotency_scope: valid.idempotency_key.as_ref().map(|_| meta_scope.as_str()),
            idempotency_key: valid.idempotency_key.as_deref(),
            request_hash: &hash,
            secret_hash: &secret_h,
        };
        match write_new(store, urls, shop, &settings, &order, &meta, &secret).await {
            Ok(()) => {
                return Ok(Placed {
                    order,
                    secret: Some(secret),
                    replayed: false,
                })
            }
            // A concurrent request with the same key or Offer won, or (very rarely) the
            // order number was taken: answer with the winner, or retry with a new number.
            Err(e) if e.kind == ErrorKind::Conflict => {
                if let Some(o) = earlier(store, &buyer, &valid).await? {
                    return Ok(Placed {
                        order: o,
                        secret: None,
                        replayed: true,
                    });
                }
                if attempt == 2 {
                    return Err(e);
                }
                order.number = new_number();
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

/// What `place` would create right now, without reserving or writing anything: the lines,
/// shipping and total as this instance computes them (the checkout's review step). The number
/// and payment instructions are placeholders; stock may still run out before placing.
pub async fn quote(store: &Store, shop: &Shop, buyer: &Buyer, req: &OrderRequest) -> Result<Order> {
    let valid = validate::request(req, *buyer == Buyer::Guest)?;
    let settings = settings(store, shop).await?;
    price(store, shop, &settings, buyer, &valid, now_ms()).await
}

/// Builds the order from the shop's own catalog and settings (nothing written yet).
async fn price(
    store: &Store,
    shop: &Shop,
    settings: &CheckoutSettings,
    buyer: &Buyer,
    valid: &ValidRequest,
    now: i64,
) -> Result<Order> {
    let mut e = FieldErrors::new();
    let payment = settings.payment(valid.payment_method);
    if payment.is_none() {
        e.add("payment_method", Problem::NotOffered);
    }
    let country = &valid.address.country;
    let shipping = match &valid.shipping_option {
        Some(id) => match settings.shipping(id) {
            None => {
                e.add("shipping_option", Problem::NotOffered);
                None
            }
            Some(s) if !s.ships_to(country) => {
                e.add("shipping.country", Problem::NotShippedThere);
                None
            }
            Some(s) => Some(s),
        },
        None => {
            let s = settings
                .shipping_options
                .iter()
                .find(|s| s.ships_to(country));
            if s.is_none() {
                e.add(
                    "shipping.country",
                    if settings.shipping_options.is_empty() {
                        Problem::NotOffered
                    } else {
                        Problem::NotShippedThere
                    },
                );
            }
            s
        }
    };
    let mut lines: Vec<OrderLine> = Vec::new();
    for (i, l) in valid.lines.iter().enumerate() {
        let f = |n: &str| format!("lines[{i}].{n}");
        let product = match db::products::for_sale(store, &l.product).await? {
            Some(p) if p.shop_id == shop.id && p.is_public() => p,
            _ => {
                e.add(f("product"), Problem::NotForSale);
                continue;
            }
        };
        match line(&product, l.variant.as_deref(), l.quantity) {
            Ok(line) => lines.push(line),
            Err((field, p)) => e.add(f(field), p),
        }
    }
    e.into_result()?;
    let currency = lines[0].unit_price.currency;
    let mut subtotal = Money::zero(currency);
    for (i, l) in lines.iter().enumerate() {
        if l.unit_price.currency != currency {
            return Err(Error::field(
                &format!("lines[{i}].product"),
                Problem::CurrencyMismatch,
            ));
        }
        subtotal = subtotal
            .checked_add(l.line_total)
            .ok_or_else(|| Error::field("lines", Problem::NumberTooLarge))?;
    }
    let shipping = shipping.expect("checked above");
    let shipping_price = shipping
        .money()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("stored shipping price")))?;
    if shipping_price.currency != currency {
        return Err(Error::field("shipping_option", Problem::CurrencyMismatch));
    }
    let total = subtotal
        .checked_add(shipping_price)
        .ok_or_else(|| Error::field("lines", Problem::NumberTooLarge))?;
    let payment = payment.expect("checked above");
    let number = new_number();
    let hold_until = valid
        .payment_method
        .paid_in_advance()
        .then_some(now + settings.hold_hours * 3_600_000);
    Ok(Order {
        id: uuid::Uuid::now_v7().to_string(),
        payment_instructions: notices::payment_instructions(payment, &number, total),
        number,
        shop_id: shop.id.clone(),
        status: OrderStatus::Pending,
        buyer: buyer.clone(),
        email: valid.email.clone(),
        address: valid.address.clone(),
        buyer_note: valid.note.clone(),
        shipping_option: shipping.name.clone(),
        shipping: shipping_price,
        payment_method: valid.payment_method,
        payment_url: payment.url.clone(),
        lines,
        subtotal,
        total,
        carrier: None,
        tracking: None,
        reason: None,
        hold_until,
        created_at: now,
        updated_at: now,
        paid_at: None,
        shipped_at: None,
        delivered_at: None,
        closed_at: None,
        address_erased: false,
    })
}

/// One priced line, or the (field, problem) that stops it.
fn line(
    product: &Product,
    variant: Option<&str>,
    qty: i64,
) -> std::result::Result<OrderLine, (&'static str, Problem)> {
    let (variant_id, variant_title, sku, unit, available) =
        match (product.variants.is_empty(), variant) {
            (true, None) => (
                None,
                String::new(),
                product.sku.clone().unwrap_or_default(),
                product.price,
                product.stock,
            ),
            (true, Some(_)) => return Err(("variant", Problem::UnknownVariant)),
            (false, None) => return Err(("variant", Problem::VariantRequired)),
            (false, Some(v)) => {
                let found = product
                    .variants
                    .iter()
                    .find(|x| x.id.as_str() == v || x.sku == v)
                    .ok_or(("variant", Problem::UnknownVariant))?;
                (
                    Some(found.id.to_string()),
                    found.title.clone(),
                    found.sku.clone(),
                    found.price,
                    found.stock,
                )
            }
        };
    if available < qty {
        return Err((
            "quantity",
            Problem::OutOfStock {
                available: available.max(0),
            },
        ));
    }
    let total = unit
        .checked_mul(qty)
        .ok_or(("quantity", Problem::NumberTooLarge))?;
    Ok(OrderLine {
        product_id: product.id.clone(),
        variant_id,
        title: product.title.clone(),
        variant_title,
        sku,
        unit_price: unit,
        quantity: qty,
        line_total: total,
    })
}

/// Reserves the stock and stores the order, its first log entry, its event and its mails in
/// one transaction. Too little stock rolls everything back.
async fn write_new(
    store: &Store,
    urls: &Urls,
    shop: &Shop,
    settings: &CheckoutSettings,
    order: &Order,
    meta: &NewOrderMeta<'_>,
    secret: &str,
) -> Result<()> {
    let _turn = store.write_turn().await;
    let mut tx = store.begin().await?;
    let mut sold_out: Vec<&ProductId> = Vec::new();
    for (i, l) in order.lines.iter().enumerate() {
        let left = orders::reserve(
            &mut tx,
            &shop.id,
            &l.product_id,
            l.variant_id.as_deref(),
            l.quantity,
        )
        .await?;
        match left {
            Some(0) => sold_out.push(&l.product_id),
            Some(_) => {}
            None => {
                tx.rollback().await?;
                let available = available_now(store, l).await?;
                return Err(Error::field(
                    &format!("lines[{i}].quantity"),
                    Problem::OutOfStock { available },
                ));
            }
        }
    }
    orders::insert(&mut tx, order, meta).await?;
    let by = match &order.buyer {
        Buyer::Remote { actor, .. } => actor.clone(),
        _ => Party::Buyer.as_str().to_string(),
    };
    let offer = match &order.buyer {
        Buyer::Remote { offer_id, .. } => Some(offer_id.as_str()),
        _ => None,
    };
    orders::add_event(
        &mut tx,
        &order.id,
        &OrderEvent {
            from: String::new(),
            to: OrderStatus::Pending.as_str().to_string(),
            actor: by,
            reason: String::new(),
            created_at: order.created_at,
        },
        offer,
    )
    .await?;
    // Only a remote buyer is told through an activity (the shop's Accept).
    if matches!(order.buyer, Buyer::Remote { .. }) {
        events::record(
            &mut tx,
            &Event::OrderPlaced {
                order_id: order.id.clone(),
            },
            order.created_at,
        )
        .await?;
    }
    sold_out.dedup();
    for p in sold_out {
        product_changed(&mut tx, p, order.created_at).await?;
    }
    for m in notices::placed(urls, shop, settings, order, secret) {
        db::mail::enqueue(&mut tx, &m.to, &m.subject, &m.body, order.created_at).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn available_now(store: &Store, l: &OrderLine) -> Result<i64> {
    let Some(p) = db::products::for_sale(store, &l.product_id).await? else {
        return Ok(0);
    };
    Ok(match &l.variant_id {
        None => p.stock,
        Some(v) => p
            .variants
            .iter()
            .find(|x| x.id.as_str() == v)
            .map_or(0, |x| x.stock),
    }
    .max(0))
}

/// Availability changed (sold out, or back): followers get the product's Update.
pub(super) async fn product_changed(tx: &mut Tx, product: &ProductId, now: i64) -> Result<()> {
    events::record(
        tx,
        &Event::ProductChanged {
            product_id: product.to_string(),
        },
        now,
    )
    .await
}

/// Ten characters of Crockford base32 (no I, L, O, U), as `XXXXX-XXXXX`: about 50 bits.
pub fn new_number() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::thread_rng();
    let mut s = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            s.push('-');
        }
        s.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    s
}

pub async fn by_id(store: &Store, id: &str) -> Result<Order> {
    orders::by_id(store, id)
        .await?
        .ok_or_else(|| Error::not_found("order"))
}

/// The order behind a secret link (guests). A wrong secret looks like a missing order.
pub async fn by_secret(store: &Store, id: &str, secret: &str) -> Result<Order> {
    let stored = orders::secret_hash(store, id).await?;
    let given = secret_hash(secret);
    match stored {
        Some(h) if bool::from(h.as_bytes().ct_eq(given.as_bytes())) => by_id(store, id).await,
        _ => Err(Error::not_found("order")),
    }
}

/// An order as seen by the member who placed it.
pub async fn for_member(store: &Store, user: &User, id: &str) -> Result<Order> {
    let order = by_id(store, id).await?;
    if order.buyer != Buyer::Member(user.id.clone()) {
        return Err(Error::not_found("order"));
    }
    Ok(order)
}

/// An order as seen by the shop's manager, with the shop.
pub async fn for_seller(store: &Store, user: &User, id: &str) -> Result<(Order, Shop)> {
    let order = by_id(store, id).await?;
    let shop = catalog::shop_by_id(store, &order.shop_id).await?;
    if !catalog::can_manage(user, &shop) {
        return Err(Error::not_found("order"));
    }
    Ok((order, shop))
}

pub use super::history::shop_orders;
pub use super::status::{
    buyer_change, erase_old_addresses, expire_due, remote_buyer_change, seller_change,
};
